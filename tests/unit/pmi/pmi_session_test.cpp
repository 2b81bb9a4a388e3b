#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "pmi/local_pmi_job.hpp"
#include "pmi/pmi_session.hpp"

using namespace meshrun;

namespace {

// One scripted rank: what it was sent, as whole lines.
struct Rank {
  std::string out;
  std::vector<Error> failures;
  std::unique_ptr<PmiSession> session;

  Rank(PmiJob& job, int rank)
      : session(std::make_unique<PmiSession>(
            job, rank, [this](std::string_view b) { out.append(b); }, PmiLimits{},
            [this](const Error& e) { failures.push_back(e); })) {}

  // Feeds `lines` and returns what was sent back in response.
  std::string say(const std::string& lines) {
    out.clear();
    auto st = session->feed(lines);
    REQUIRE(st.ok());
    return out;
  }
  Error fails(const std::string& lines) {
    auto st = session->feed(lines);
    REQUIRE_FALSE(st.ok());
    return st.error();
  }
  void init() {
    REQUIRE(say("cmd=init pmi_version=1 pmi_subversion=1\n") ==
            "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0\n");
  }
};

}  // namespace

TEST_CASE("a session answers MPICH's start-up queries", "[pmi][session]") {
  LocalPmiJob job(3, "kvs_42", 5);
  Rank r(job, 1);
  r.init();
  CHECK(r.session->state() == PmiSessionState::initialized);
  CHECK(r.say("cmd=get_maxes\n") ==
        "cmd=maxes rc=0 kvsname_max=256 keylen_max=64 vallen_max=1024\n");
  CHECK(r.say("cmd=get_appnum\n") == "cmd=appnum rc=0 appnum=5\n");
  CHECK(r.say("cmd=get_universe_size\n") == "cmd=universe_size rc=0 size=3\n");
  CHECK(r.say("cmd=get_my_kvsname\n") == "cmd=my_kvsname rc=0 kvsname=kvs_42\n");
  CHECK(r.say("cmd=get kvsname=kvs_42 key=PMI_process_mapping\n") ==
        "cmd=get_result rc=0 msg=success value=(vector,(0,1,3))\n");
  CHECK(r.say("cmd=finalize\n") == "cmd=finalize_ack\n");
  CHECK(job.finalized_count() == 1);
  auto end = r.session->end_of_stream();
  REQUIRE(end.ok());
  CHECK(*end == PmiEnd::finalized);
}

TEST_CASE("a session refuses an unknown PMI version", "[pmi][session]") {
  LocalPmiJob job(1);
  Rank r(job, 0);
  CHECK(r.say("cmd=init pmi_version=2 pmi_subversion=0\n") ==
        "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=-1\n");
  CHECK(r.session->state() == PmiSessionState::fresh);
}

TEST_CASE("responses do not depend on how the bytes are split", "[pmi][session]") {
  LocalPmiJob job(1);
  Rank whole(job, 0), bytewise(job, 0);
  std::string script =
      "cmd=init pmi_version=1 pmi_subversion=1\ncmd=get_maxes\ncmd=put kvsname=meshrun_kvs_0 "
      "key=k value=v\ncmd=get kvsname=meshrun_kvs_0 key=k\ncmd=finalize\n";
  std::string expected = whole.say(script);
  CHECK(expected.find("cmd=get_result rc=0 msg=success value=v\n") != std::string::npos);
  std::string got;
  for (char c : script)
    got += bytewise.say(std::string(1, c));
  CHECK(got == expected);
}

TEST_CASE("put and get go through the job's KVS", "[pmi][session]") {
  LocalPmiJob job(2);
  Rank a(job, 0), b(job, 1);
  a.init();
  b.init();
  CHECK(a.say("cmd=put kvsname=meshrun_kvs_0 key=P0-businesscard value=port#1$h=x\n") ==
        "cmd=put_result rc=0 msg=success\n");
  CHECK(job.kvs().at("P0-businesscard") == "port#1$h=x");
  CHECK(b.say("cmd=get kvsname=meshrun_kvs_0 key=P0-businesscard\n") ==
        "cmd=get_result rc=0 msg=success value=port#1$h=x\n");
  CHECK(b.say("cmd=get kvsname=meshrun_kvs_0 key=nope\n") ==
        "cmd=get_result rc=-1 msg=key_nope_not_found value=unknown\n");
  CHECK(b.say("cmd=get kvsname=other key=P0-businesscard\n") ==
        "cmd=get_result rc=-1 msg=kvs_other_not_found value=unknown\n");
  CHECK(a.say("cmd=put kvsname=meshrun_kvs_0 key=" + std::string(65, 'k') + " value=v\n") ==
        "cmd=put_result rc=-1 msg=key_too_long\n");
  CHECK(a.say("cmd=put kvsname=meshrun_kvs_0 key=k value=" + std::string(1025, 'v') + "\n") ==
        "cmd=put_result rc=-1 msg=value_too_long\n");
  CHECK(a.say("cmd=put kvsname=meshrun_kvs_0 key=k\n") ==
        "cmd=put_result rc=-1 msg=put_needs_key_and_value\n");
  CHECK(job.kvs().count("k") == 0);
}

TEST_CASE("a barrier of 3 ranks opens only when all have entered", "[pmi][session]") {
  LocalPmiJob job(3);
  Rank r0(job, 0), r1(job, 1), r2(job, 2);
  for (auto* r : {&r0, &r1, &r2})
    r->init();

  CHECK(r0.say("cmd=put kvsname=meshrun_kvs_0 key=card0 value=zero\ncmd=barrier_in\n") ==
        "cmd=put_result rc=0 msg=success\n");
  CHECK(r0.session->waiting());
  CHECK(r2.say("cmd=barrier_in\n").empty());
  CHECK(job.ranks_in_barrier() == 2);
  CHECK(r0.out.find("barrier_out") == std::string::npos);

  r0.out.clear();
  r2.out.clear();
  CHECK(r1.say("cmd=barrier_in\n") == "cmd=barrier_out\n");
  CHECK(r0.out == "cmd=barrier_out\n");
  CHECK(r2.out == "cmd=barrier_out\n");
  CHECK(job.barriers_completed() == 1);
  CHECK_FALSE(r0.session->waiting());
  CHECK(r2.say("cmd=get kvsname=meshrun_kvs_0 key=card0\n") ==
        "cmd=get_result rc=0 msg=success value=zero\n");

  // The next barrier is a fresh count.
  CHECK(r1.say("cmd=barrier_in\n").empty());
  CHECK(job.ranks_in_barrier() == 1);
}

TEST_CASE("lines sent behind a barrier wait for it to open", "[pmi][session]") {
  LocalPmiJob job(2);
  Rank r0(job, 0), r1(job, 1);
  r0.init();
  r1.init();
  CHECK(r0.say("cmd=barrier_in\ncmd=get kvsname=meshrun_kvs_0 key=late\ncmd=finalize\n").empty());
  r0.out.clear();
  CHECK(r1.say("cmd=put kvsname=meshrun_kvs_0 key=late value=1\ncmd=barrier_in\n") ==
        "cmd=put_result rc=0 msg=success\ncmd=barrier_out\n");
  CHECK(r0.out == "cmd=barrier_out\ncmd=get_result rc=0 msg=success value=1\ncmd=finalize_ack\n");
  CHECK(r0.session->state() == PmiSessionState::finalized);
}

TEST_CASE("a broken line queued behind a barrier fails the session when it opens",
          "[pmi][session]") {
  LocalPmiJob job(2);
  Rank r0(job, 0), r1(job, 1);
  r0.init();
  r1.init();
  CHECK(r0.say("cmd=barrier_in\ngarbage\n").empty());
  CHECK(r0.failures.empty());
  r1.say("cmd=barrier_in\n");
  REQUIRE(r0.failures.size() == 1);
  CHECK(r0.failures[0].message.find("rank 0") != std::string::npos);
  CHECK(r0.session->state() == PmiSessionState::failed);
  CHECK_FALSE(r0.session->end_of_stream().ok());
}

TEST_CASE("a session that goes away during a barrier is not called back", "[pmi][session]") {
  LocalPmiJob job(2);
  Rank r0(job, 0), r1(job, 1);
  r0.init();
  r1.init();
  r0.say("cmd=barrier_in\n");
  r0.session.reset();
  CHECK(r1.say("cmd=barrier_in\n") == "cmd=barrier_out\n");
}

TEST_CASE("abort hands the rank's exit code to the job and ends the conversation",
          "[pmi][session]") {
  LocalPmiJob job(3);
  std::vector<PmiAbort> aborts;
  job.set_abort_handler([&](const PmiAbort& a) { aborts.push_back(a); });
  Rank r1(job, 1);
  r1.init();
  // Under Hydra an aborting rank gets no answer; it waits to be killed.
  CHECK(r1.say("cmd=abort exitcode=7\ncmd=get_maxes\n").empty());
  REQUIRE(aborts.size() == 1);
  CHECK(aborts[0].rank == 1);
  CHECK(aborts[0].code == 7);
  REQUIRE(job.first_abort().has_value());
  CHECK(job.first_abort()->code == 7);
  CHECK(r1.session->state() == PmiSessionState::aborted);
  CHECK(r1.say("cmd=anything\n").empty());
  auto end = r1.session->end_of_stream();
  REQUIRE(end.ok());
  CHECK(*end == PmiEnd::aborted);

  Rank r2(job, 2);
  r2.init();
  r2.say("cmd=abort exitcode=3 error_msg=out_of_cheese\n");
  REQUIRE(aborts.size() == 2);
  CHECK(aborts[1].message == "out_of_cheese");
  CHECK(job.first_abort()->rank == 1);
}

TEST_CASE("protocol violations fail the session with a reason", "[pmi][session]") {
  LocalPmiJob job(1);
  SECTION("a command before init") {
    Rank r(job, 0);
    CHECK(r.fails("cmd=get_maxes\n").message.find("before init") != std::string::npos);
    CHECK(r.session->state() == PmiSessionState::failed);
    // Failed stays failed.
    CHECK_FALSE(r.session->feed("cmd=init pmi_version=1 pmi_subversion=1\n").ok());
  }
  SECTION("init twice") {
    Rank r(job, 0);
    r.init();
    CHECK(r.fails("cmd=init pmi_version=1 pmi_subversion=1\n").message.find("twice") !=
          std::string::npos);
  }
  SECTION("an unknown command") {
    Rank r(job, 0);
    r.init();
    CHECK(r.fails("cmd=frobnicate\n").message.find("frobnicate") != std::string::npos);
  }
  SECTION("a command after finalize") {
    Rank r(job, 0);
    r.init();
    r.say("cmd=finalize\n");
    CHECK(r.fails("cmd=get_maxes\n").message.find("after finalize") != std::string::npos);
  }
  SECTION("the PMI_PORT handshake") {
    Rank r(job, 0);
    CHECK(r.fails("cmd=initack pmiid=0\n").message.find("PMI_FD") != std::string::npos);
  }
  SECTION("a line that never ends") {
    Rank r(job, 0);
    r.init();
    std::string chunk(16 * 1024, 'x');
    auto st = r.session->feed("cmd=put key=k value=");
    for (int i = 0; i < 4 && st.ok(); ++i)
      st = r.session->feed(chunk);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message.find("longer than") != std::string::npos);
  }
}

TEST_CASE("end of stream tells an unused connection from a vanished rank", "[pmi][session]") {
  LocalPmiJob job(1);
  Rank unused(job, 0);
  auto end = unused.session->end_of_stream();
  REQUIRE(end.ok());
  CHECK(*end == PmiEnd::unused);

  Rank vanished(job, 0);
  vanished.init();
  auto gone = vanished.session->end_of_stream();
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().code == Errc::closed);
  CHECK(gone.error().message.find("before finalize") != std::string::npos);
}

TEST_CASE("spawn is consumed as a whole and refused", "[pmi][session]") {
  LocalPmiJob job(1);
  Rank r(job, 0);
  r.init();
  CHECK(r.say("mcmd=spawn\nnprocs=2\nexecname=/bin/true\n").empty());
  CHECK(r.say("endcmd\n") == "cmd=spawn_result rc=-1 errmsg=meshrun_does_not_spawn_processes\n");
  CHECK(job.spawns_refused() == 1);
  CHECK(r.say("cmd=get_appnum\n") == "cmd=appnum rc=0 appnum=0\n");
}

TEST_CASE("names are published, looked up and unpublished job-wide", "[pmi][session][names]") {
  LocalPmiJob job(2);
  Rank a(job, 0), b(job, 1);
  a.init();
  b.init();
  CHECK(b.say("cmd=lookup_name service=MyTest\n") == "cmd=lookup_result rc=-1 msg=not_found\n");
  CHECK(a.say("cmd=publish_name service=MyTest port=otherhost:122\n") ==
        "cmd=publish_result rc=0 msg=success\n");
  CHECK(a.say("cmd=publish_name service=MyTest port=again\n") ==
        "cmd=publish_result rc=-1 msg=duplicate\n");
  CHECK(b.say("cmd=lookup_name service=MyTest\n") ==
        "cmd=lookup_result rc=0 msg=success port=otherhost:122\n");
  CHECK(b.say("cmd=unpublish_name service=MyTest\n") == "cmd=unpublish_result rc=0 msg=success\n");
  CHECK(a.say("cmd=lookup_name service=MyTest\n") == "cmd=lookup_result rc=-1 msg=not_found\n");
  CHECK(a.say("cmd=unpublish_name service=MyTest\n") ==
        "cmd=unpublish_result rc=-1 msg=not_found\n");
  CHECK(a.say("cmd=publish_name service=x\n") == "cmd=publish_result rc=-1 msg=port_missing\n");
  CHECK(a.say("cmd=lookup_name\n") == "cmd=lookup_result rc=-1 msg=service_missing\n");
}
