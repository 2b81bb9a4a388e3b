// Actor mode as a user runs it: specs with several meshes and a sequence of
// casts against the same live actors, reductions, --json, controllers that
// spawn meshes and make actors call each other, failures, undeliverable
// messages, timeouts, and the checks made before anything starts. Every job
// is a real meshrun with real agents and procs; none may leave a process.
#include <nlohmann/json.hpp>

#include "meshrun_it.hpp"

using namespace meshrun_it;

namespace {

const std::string kProbe = MESHRUN_PROBE;

// A local job of `hosts` hosts x `procs` procs; `body` is the rest of the spec.
std::string spec_of(uint32_t hosts, uint32_t procs, const std::string& body) {
  return "[job]\nname = \"actors-it\"\n[hosts]\nlauncher = \"local\"\ncount = " +
         std::to_string(hosts) +
         "\n[procs]\nname = \"p0\"\nextent = { procs = " + std::to_string(procs) + " }\n" + body;
}

std::string probe_controller(const std::string& scenario) {
  return "[controller]\nplugin = \"" + kProbe + "\"\ntype = \"ProbeMain\"\n[controller.params]\n" +
         "scenario = \"" + scenario + "\"\n";
}

Outcome run_job(World& w, const std::string& spec, std::vector<std::string> flags = {},
                Clock::duration limit = 60s) {
  flags.push_back(w.spec(spec));
  return w.meshrun(flags, limit);
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  for (const auto& l : lines_of(out))
    lines.push_back(nlohmann::json::parse(l));
  return lines;
}

}  // namespace

TEST_CASE("a stateful mesh: Put then Get with [[cast]] alone, reduced by every host", "[actors]") {
  World w;
  const auto o = w.meshrun({kSourceDir + "/configs/kv_casts.toml"});
  INFO(describe(o));
  REQUIRE(o.exited);
  CHECK(o.code == 0);
  CHECK_THAT(o.out,
             Catch::Contains("cast Put to kv{hosts=0..2, procs=0..2}: 4 of 4 actors replied"));
  CHECK_THAT(o.out, Catch::Contains("(reduce all_equal): 4 of 4 actors replied\n  value: hello"));
  CHECK_THAT(o.out, Catch::Contains("(reduce sum): 4 of 4 actors replied\n  value: 4"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("json output: one object per cast, replies by rank or the reduced value, then the exit",
          "[actors]") {
  World w;
  const auto o = w.meshrun({"--json", kSourceDir + "/configs/kv_casts.toml"});
  INFO(describe(o));
  REQUIRE(o.code == 0);
  const auto lines = json_lines(o.out);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0]["type"] == "cast");
  CHECK(lines[0]["mesh"] == "kv");
  CHECK(lines[0]["message"] == "Put");
  CHECK(lines[0]["replies"].size() == 4);
  CHECK(lines[0]["replies"]["3"] == "ok");
  CHECK(lines[1]["reduce"] == "all_equal");
  CHECK(lines[1]["value"] == "hello");
  CHECK(lines[2]["value"] == "4");
  for (int i = 0; i < 3; ++i) {
    CHECK(lines[i]["ok"] == true);
    CHECK(lines[i]["failures"].empty());
    CHECK(lines[i]["missing"].empty());
  }
  CHECK(lines[3] == nlohmann::json{{"type", "exit"}, {"status", 0}});
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("json output escapes replies that are not UTF-8, and the human format escapes them too",
          "[actors]") {
  World w;
  // Echo hands the payload back: a TOML string with a control character and
  // a lone byte that is not UTF-8 (written as \u00ff in TOML, so UTF-8 there).
  const std::string body = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS
                           "\"\ntype = \"TestActor\"\n[[cast]]\nmessage = \"Echo\"\n"
                           "payload = \"tab\\there\\u0001\"\n";
  auto o = run_job(w, spec_of(1, 1, body), {"--json"});
  INFO(describe(o));
  REQUIRE(o.code == 0);
  auto lines = json_lines(o.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["replies"]["0"] == "tab\there\x01");
  o = run_job(w, spec_of(1, 1, body));
  CHECK_THAT(o.out, Catch::Contains("rank 0: tab\\x09here\\x01"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("several meshes, each on its part of the procs, cast to in order", "[actors]") {
  World w;
  const std::string body =
      "[[actors]]\nname = \"first\"\nplugin = \"" MESHRUN_TESTACTORS
      "\"\ntype = \"TestActor\"\n"
      "procs = { hosts = 0 }\n"
      "[[actors]]\nname = \"second\"\nplugin = \"" MESHRUN_TESTACTORS
      "\"\ntype = \"TestActor\"\n"
      "procs = { procs = 1 }\n"
      "[[cast]]\nmesh = \"second\"\nmessage = \"GetActorId\"\n"
      "[[cast]]\nmesh = \"first\"\nmessage = \"Count\"\n"
      "[[cast]]\nmesh = \"first\"\nmessage = \"GetCount\"\nexpect = \"1 0 0\"\n"
      "[[cast]]\nmesh = \"second\"\nmessage = \"GetCount\"\nreduce = \"concat\"\nexpect = \"0 0 00 "
      "0 0\"\n";
  const auto o = run_job(w, spec_of(2, 2, body));
  INFO(describe(o));
  REQUIRE(o.code == 0);
  // Ranks are the mesh's own: second lives on procs 1 and 3 as ranks 0 and 1.
  CHECK_THAT(o.out, Catch::Contains("cast GetActorId to second{hosts=0..2, procs=0}: 2 of 2"));
  CHECK_THAT(o.out, Catch::Contains("  rank 0: p0[1].second[0]\n  rank 1: p0[3].second[0]"));
  CHECK_THAT(o.out, Catch::Contains("cast Count to first{hosts=0, procs=0..2}: 2 of 2"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("a cast whose replies are not what the spec expects fails the job, naming both",
          "[actors]") {
  World w;
  const std::string body = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS
                           "\"\ntype = \"TestActor\"\n[[cast]]\nmessage = \"GetActorId\"\n"
                           "reduce = \"all_equal\"\n";
  const auto o = run_job(w, spec_of(2, 1, body));
  INFO(describe(o));
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("replies differ: rank 0 replied 'p0[0].a[0]', rank 1 replied "
                                    "'p0[1].a[0]'"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("an actor that throws: its rank, host and cause, and the other replies are kept",
          "[actors]") {
  World w;
  const std::string body =
      "[[actors]]\nname = \"a\"\nplugin = \"" + kProbe +
      "\"\ntype = \"Prober\"\n[[cast]]\nmessage = \"FailOn\"\npayload = \"2\"\n";
  const auto o = run_job(w, spec_of(2, 2, body), {"--json"});
  INFO(describe(o));
  CHECK(o.code == 1);
  const auto lines = json_lines(o.out);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["replies"].size() == 3);
  REQUIRE(lines[0]["failures"].size() == 1);
  CHECK(lines[0]["failures"][0]["rank"] == 2);
  CHECK(lines[0]["failures"][0]["host"] == 1);
  CHECK_THAT(lines[0]["failures"][0]["cause"].get<std::string>(), Catch::Contains("FailOn 2"));
  CHECK(lines[1]["type"] == "exit");
  CHECK(lines[1]["status"] == 1);
  CHECK_THAT(o.err, Catch::Contains("FailOn 2") && Catch::Contains("host 1"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("no reply within the cast's timeout names the silent ranks, and --timeout gives 124",
          "[actors]") {
  World w;
  const std::string body = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS
                           "\"\ntype = \"TestActor\"\n[[cast]]\nmessage = \"Hang\"\n"
                           "timeout = \"1s\"\n";
  auto o = run_job(w, spec_of(2, 1, body));
  INFO(describe(o));
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("no reply within 1s from 2 rank(s): 0, 1"));
  // The job's own deadline wins over a cast's longer one.
  const std::string slow = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS
                           "\"\ntype = \"TestActor\"\n[[cast]]\nmessage = \"Hang\"\n"
                           "timeout = \"60s\"\n";
  o = run_job(w, spec_of(2, 1, slow), {"--timeout", "2s"});
  INFO(describe(o));
  CHECK(o.code == 124);
  CHECK(o.took < 30s);
  CHECK_THAT(o.err, Catch::Contains("timed out after 2s waiting for Hang"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("the examples run from configs/ and check themselves", "[actors][examples]") {
  World w;
  struct Case {
    std::string config, line;
  };
  const auto c = GENERATE(Case{"kv", "kv: 4 actors agree: greeting = hello (4 keys in all)"},
                          Case{"ring", "ring: every actor saw the token 101 times, in order"},
                          Case{"paramserver", "the workers added 60, the server holds 60"});
  CAPTURE(c.config);
  const auto o = w.meshrun({kSourceDir + "/configs/" + c.config + ".toml"}, 120s);
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains(c.line));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("a controller's calls come out as JSON lines, its prints too", "[actors][examples]") {
  World w;
  const auto o = w.meshrun({"--json", kSourceDir + "/configs/kv.toml"}, 120s);
  INFO(describe(o));
  REQUIRE(o.code == 0);
  const auto lines = json_lines(o.out);
  REQUIRE(lines.size() >= 4);
  CHECK(lines.front()["type"] == "call");
  bool reduced = false, printed = false;
  for (const auto& l : lines) {
    if (l["type"] == "call" && l.contains("reduce") && l["reduce"] == "all_equal")
      reduced = l["value"] == "hello";
    if (l["type"] == "print")
      printed = l["text"].get<std::string>().find("4 actors agree") != std::string::npos;
  }
  CHECK(reduced);
  CHECK(printed);
  CHECK(lines.back() == nlohmann::json{{"type", "exit"}, {"status", 0}});
}

TEST_CASE("actors call actors across hosts, hand ports on, answer later, choose a free one",
          "[actors][controller]") {
  World w;
  const auto o = run_job(w, spec_of(2, 2, probe_controller("actors")));
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("ok actors"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE(
    "undeliverable: a send to a stopped mesh comes back to its sender, and a call to it fails",
    "[actors][controller]") {
  World w;
  const auto o = run_job(w, spec_of(2, 2, probe_controller("undeliverable")));
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("ok undeliverable: ") && Catch::Contains("no actor of mesh x"));
  CHECK_THAT(o.out, Catch::Contains("call: undeliverable"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("a controller hears of failures and goes on, and without it the job fails",
          "[actors][controller]") {
  World w;
  auto o = run_job(w, spec_of(2, 2, probe_controller("supervise")));
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("ok supervise: 2 events"));
  CHECK_THAT(o.out, Catch::Contains("actor a[1] on host 0") && Catch::Contains("FailOn 1"));
  CHECK_THAT(o.out, Catch::Contains("proc p0[2] on host 1") && Catch::Contains("SIGABRT"));
  o = run_job(w, spec_of(2, 2, probe_controller("unhandled")));
  INFO(describe(o));
  CHECK(o.code == 1);
  CHECK_THAT(o.err, Catch::Contains("actor a[1] (host 0") && Catch::Contains("FailOn 1"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE(
    "a controller hears that a host was lost, its call names the rank there, the rest goes on",
    "[actors][controller]") {
  World w;
  auto o = run_job(w, spec_of(2, 2, probe_controller("hostlost")));
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("ok hostlost"));
  CHECK_THAT(o.out, Catch::Contains("host 1 (") && Catch::Contains("was lost"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("a controller's call times out naming the ranks, and the job's deadline gives 124",
          "[actors][controller]") {
  World w;
  auto o = run_job(w, spec_of(1, 2, probe_controller("timeout")));
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("ok timeout: no answer from ranks 0, 1"));
  o = run_job(w, spec_of(1, 2, probe_controller("jobtimeout")), {"--timeout", "2s"});
  INFO(describe(o));
  CHECK(o.code == 124);
  CHECK_THAT(o.err, Catch::Contains("still waiting for: Hang to a{hosts=0, procs=0..2}"));
  o = run_job(w, spec_of(1, 1, probe_controller("exit")));
  CHECK(o.code == 7);
  CHECK_THAT(o.err, Catch::Contains("the probe asked for 7"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("a plugin that forges frames on its socket speaks for no one", "[actors][security]") {
  World w;
  const auto o = run_job(w, spec_of(2, 2, probe_controller("forge")));
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.out, Catch::Contains("ok forge"));
  CHECK_THAT(o.out, !Catch::Contains("FORGED"));
  CHECK_THAT(o.err, !Catch::Contains("MPI_Abort"));
  CHECK_THAT(o.err, Catch::Contains("which a proc may not send; dropped"));
  CHECK(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("check loads the plugins: an unknown type, message or controller is refused",
          "[actors][check]") {
  World w;
  const std::string actors = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS "\"\n";
  struct Case {
    std::string body, error;
  };
  const auto c = GENERATE(
      Case{"type = \"NoSuchType\"\n", "has no type 'NoSuchType'; it has: Greeter, TestActor"},
      Case{"type = \"TestActor\"\n[[cast]]\nmessage = \"Nope\"\n",
           "type 'TestActor' has no message 'Nope'; it handles: GetActorId"},
      Case{"type = \"TestActor\"\n[controller]\nplugin = \"" MESHRUN_TESTACTORS
           "\"\ntype = \"TestActor\"\n",
           "is an actor, not a controller"});
  CAPTURE(c.body);
  const auto spec = w.spec(spec_of(1, 1, actors + c.body));
  auto o = w.meshrun({"--check", spec});
  CHECK(o.code == 2);
  CHECK_THAT(o.err, Catch::Contains(c.error));
  CHECK_THAT(o.err, Catch::Contains("job.toml:"));
  o = w.meshrun({spec});  // a run refuses it the same way, before anything starts
  CHECK(o.code == 2);
  CHECK(job_pids(w.job.marker()).empty());
}

TEST_CASE("a slice valid in the spec but not after -N 1 is refused before anything starts",
          "[actors][check]") {
  World w;
  const std::string body = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS
                           "\"\ntype = \"TestActor\"\n[[cast]]\nslice = { hosts = 1 }\n";
  const auto spec = w.spec(spec_of(2, 1, body));
  REQUIRE(w.meshrun({"--check", spec}).code == 0);
  for (const std::string flag : {"--check", "--dry-run", ""}) {
    CAPTURE(flag);
    std::vector<std::string> args{"-N", "1"};
    if (!flag.empty()) args.push_back(flag);
    args.push_back(spec);
    const auto o = w.meshrun(args);
    CHECK(o.code == 2);
    CHECK_THAT(o.err, Catch::Contains("job.toml:") && Catch::Contains("slice.hosts") &&
                          Catch::Contains("outside"));
    CHECK(job_pids(w.job.marker()).empty());
  }
}

TEST_CASE("a cast payload over the message limit is refused by check, naming the limit",
          "[actors][check]") {
  World w;
  const std::string big(64u << 20, 'x');
  const std::string body = "[[actors]]\nname = \"a\"\nplugin = \"" MESHRUN_TESTACTORS
                           "\"\ntype = \"TestActor\"\n[[cast]]\nmessage = \"Echo\"\npayload = \"" +
                           big + "\"\n";
  const auto o = w.meshrun({"--check", w.spec(spec_of(1, 1, body))});
  CHECK(o.code == 2);
  CHECK_THAT(o.err, Catch::Contains("cast.payload") && Catch::Contains("67043328 bytes"));
}
