// Whole jobs that should succeed: hosts, procs, actors, casts, clean exit.
#include "meshrun_it.hpp"

using namespace meshrun_it;

TEST_CASE("2 hosts x 1 proc: GetActorId answers with the id of each actor of a0", "[lifecycle]") {
  World w;
  const auto spec =
      w.spec(actor_spec(2, "{ procs = 1 }", "message = \"GetActorId\"\ntimeout = \"10s\"\n"));
  const auto o = w.meshrun({spec});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  const auto replies = cast_replies(o.out);
  REQUIRE(replies == std::map<uint32_t, std::string>{{0, "p0[0].a0[0]"}, {1, "p0[1].a0[0]"}});
  REQUIRE_THAT(o.out, Catch::Contains("2 of 2 actors replied"));
  // meshrun reaps its agents, and they their procs, before it exits.
  REQUIRE(job_pids(w.job.marker()).empty());
}

TEST_CASE("a 2 x 3 mesh answers casts to all of it and to slices", "[lifecycle]") {
  World w;
  struct Case {
    std::string slice;
    std::vector<uint32_t> ranks;
  };
  const auto c = GENERATE(Case{"", {0, 1, 2, 3, 4, 5}}, Case{"slice = { procs = 1 }\n", {1, 4}},
                          Case{"slice = { hosts = 1, procs = \"0..2\" }\n", {3, 4}});
  CAPTURE(c.slice);
  const auto spec = w.spec(
      actor_spec(2, "{ procs = 3 }", "message = \"GetActorId\"\ntimeout = \"10s\"\n" + c.slice));
  const auto o = w.meshrun({spec});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  std::map<uint32_t, std::string> expected;
  for (uint32_t r : c.ranks)
    expected[r] = "p0[" + std::to_string(r) + "].a0[0]";
  REQUIRE(cast_replies(o.out) == expected);
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("Echo returns the payload from every actor", "[lifecycle]") {
  World w;
  const auto spec =
      w.spec(actor_spec(2, "{ procs = 2 }", "message = \"Echo\"\npayload = \"ping 42\"\n"));
  const auto o = w.meshrun({spec});
  INFO(describe(o));
  REQUIRE(o.code == 0);
  const auto replies = cast_replies(o.out);
  REQUIRE(replies.size() == 4);
  for (const auto& [rank, payload] : replies)
    REQUIRE(payload == "ping 42");
}

TEST_CASE("configs/local.toml runs and leaves no agent behind", "[lifecycle]") {
  World w;
  const auto o = w.meshrun({kSourceDir + "/configs/local.toml"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  REQUIRE(cast_replies(o.out).size() == 4);  // 2 hosts x 2 procs
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}
