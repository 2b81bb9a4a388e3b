// The command line: spec errors, --check, and command mode.
#include <filesystem>

#include "meshrun_it.hpp"

using namespace meshrun_it;

namespace {

// A stand-in agent that only records that it was started. Nothing under test
// should start one, so it never needs to behave like a real agent.
std::string fake_agent(const World& w) {
  const auto path = w.dir.write("fake-agent", "#!/bin/sh\ntouch \"$0.started\"\nexit 3\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

bool fake_agent_started(const std::string& agent) {
  return std::filesystem::exists(agent + ".started");
}

}  // namespace

TEST_CASE("an unknown key is a spec error with file:line:column, exit 2", "[cli]") {
  World w;
  const auto agent = fake_agent(w);
  const auto spec = w.spec("[job]\nname = \"x\"\n\n[hosts]\n  launcher = \"local\"\n  bogus = 1\n");
  const auto o = w.meshrun({spec}, 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 2);
  REQUIRE_THAT(o.err, Catch::Contains(spec + ":6:3") && Catch::Contains("bogus"));
  REQUIRE_FALSE(fake_agent_started(agent));
}

TEST_CASE("a missing plugin is a clear error and nothing starts", "[cli]") {
  World w;
  const auto agent = fake_agent(w);
  const auto spec = w.spec(
      "[hosts]\nlauncher = \"local\"\ncount = 2\n"
      "[actors]\nplugin = \"no_such_plugin\"\ntype = \"TestActor\"\n");
  const auto o = w.meshrun({spec}, 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code != 0);
  REQUIRE_THAT(o.err, Catch::Contains("no_such_plugin") && Catch::Contains("not found"));
  REQUIRE_FALSE(fake_agent_started(agent));

  SECTION("also when the plugin is given by a path") {
    const auto by_path = w.spec(
        "[hosts]\nlauncher = \"local\"\n"
        "[actors]\nplugin = \"" +
            w.dir.path() + "/nope.so\"\ntype = \"TestActor\"\n",
        "path.toml");
    const auto p = w.meshrun({by_path}, 10s, {"MESHRUN_AGENT=" + agent});
    INFO(describe(p));
    REQUIRE(p.code != 0);
    REQUIRE_THAT(p.err, Catch::Contains(w.dir.path() + "/nope.so"));
    REQUIRE_FALSE(fake_agent_started(agent));
  }
}

TEST_CASE("meshrun --check on a good spec exits 0 and starts nothing", "[cli]") {
  World w;
  const auto agent = fake_agent(w);
  const auto spec = w.spec(actor_spec(2, "{ procs = 2 }", "message = \"GetActorId\"\n"));
  const auto o = w.meshrun({"--check", spec}, 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  REQUIRE_THAT(o.out, Catch::Contains("ok"));
  REQUIRE_FALSE(fake_agent_started(agent));

  SECTION("and fails a bad one with exit 2") {
    const auto bad = w.spec("[procs]\nextent = { procs = 0 }\n", "bad.toml");
    const auto b = w.meshrun({"--check", bad}, 10s, {"MESHRUN_AGENT=" + agent});
    INFO(describe(b));
    REQUIRE(b.code == 2);
    REQUIRE_THAT(b.err, Catch::Contains("bad.toml:2"));
  }
}

TEST_CASE("command mode: -l tags each rank's line", "[cli][command]") {
  World w;
  const auto o = w.meshrun({"-n", "4", "-l", "--", "sh", "-c", "echo r$MESHRUN_RANK"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  auto lines = lines_of(o.out);
  std::sort(lines.begin(), lines.end());
  REQUIRE(lines == std::vector<std::string>{"[0] r0", "[1] r1", "[2] r2", "[3] r3"});
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode: a rank's non-zero exit is the job's exit status", "[cli][command]") {
  World w;
  const auto o =
      w.meshrun({"-n", "3", "--", "sh", "-c", "if [ $MESHRUN_RANK = 1 ]; then exit 1; fi"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 1);
  REQUIRE_THAT(o.err, Catch::Contains("rank 1") && Catch::Contains("exit code 1"));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode: 'exit $MESHRUN_RANK' exits with the lowest failing rank's code",
          "[cli][command]") {
  // Ranks 1 and 2 fail at the same moment. The status is the lowest failing
  // rank's (PRRTE's rule), but when rank 2's failure aborts the job first,
  // rank 1 may be stopped by that abort before its own exit: then 2 is right.
  World w;
  const auto o = w.meshrun({"-n", "3", "--", "sh", "-c", "exit $MESHRUN_RANK"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE((o.code == 1 || o.code == 2));
  REQUIRE_THAT(o.err, (Catch::Contains("rank 1") && Catch::Contains("exit code 1")) ||
                          (Catch::Contains("rank 2") && Catch::Contains("exit code 2")));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode: a command that does not exist exits 127", "[cli][command]") {
  World w;
  const auto o = w.meshrun({"-n", "2", "--", "meshrun-no-such-command-xyz"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 127);
  REQUIRE_THAT(o.err, Catch::Contains("meshrun-no-such-command-xyz"));
}
