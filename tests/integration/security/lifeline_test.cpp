// The launcher or a host agent vanishing at the worst moments: whatever
// dies, every process of the job is gone within a bounded time, and the
// user is told which host failed.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "harness.hpp"
#include "live_job.hpp"

using namespace meshrun::test;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

std::string hang_job(int hosts, int procs) {
  return "[job]\nname = \"lifeline\"\n[hosts]\nlauncher = \"local\"\ncount = " +
         std::to_string(hosts) + "\n[procs]\nextent = { procs = " + std::to_string(procs) +
         " }\n[actors]\nplugin = \"" MESHRUN_TESTACTORS
         "\"\ntype = \"TestActor\"\n"
         "[cast]\nmessage = \"Hang\"\ntimeout = \"60s\"\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A host agent of the job (not a proc): its argv is "meshrun-agent bootstrap".
pid_t find_agent(const std::string& marker) {
  for (pid_t pid : processes_with_marker(marker)) {
    const auto cmd = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (cmd.find("meshrun-agent") != std::string::npos &&
        cmd.find("bootstrap") != std::string::npos)
      return pid;
  }
  return -1;
}

}  // namespace

TEST_CASE("a host agent stopped with SIGSTOP is found by the heartbeat and named", "[faults]") {
  LiveJob job(hang_job(2, 1), {"--heartbeat-timeout", "1s", "--grace", "1s"});
  INFO("stderr: " << job.err());
  // meshrun, 2 agents and their keepers, 2 procs.
  REQUIRE_FALSE(job.wait_ready(2, 7, milliseconds(20000)).empty());
  const pid_t agent = find_agent(job.marker());
  REQUIRE(agent > 0);
  REQUIRE(::kill(agent, SIGSTOP) == 0);
  auto status = job.wait_exit(milliseconds(20000));
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  CHECK(job.err().find("silent") != std::string::npos);
  CHECK(job.err().find("host ") != std::string::npos);
  // The stopped agent is killed by its launcher; its procs die with it.
  CHECK(meshrun_test::wait_until([&] { return processes_with_marker(job.marker()).empty(); },
                                 milliseconds(15000)));
}

TEST_CASE("meshrun killed with SIGKILL while hosts are starting leaves nothing", "[faults]") {
  LiveJob job(hang_job(4, 4));
  INFO("stderr: " << job.err());
  // The moment the first process of the job other than meshrun exists.
  REQUIRE(meshrun_test::wait_until([&] { return processes_with_marker(job.marker()).size() >= 2; },
                                   milliseconds(20000)));
  REQUIRE(::kill(job.pid(), SIGKILL) == 0);
  REQUIRE(job.wait_exit(milliseconds(10000)).has_value());
  CHECK(meshrun_test::wait_until([&] { return processes_with_marker(job.marker()).empty(); },
                                 milliseconds(15000)));
}

TEST_CASE("meshrun killed with SIGKILL during shutdown leaves nothing", "[faults]") {
  // Ranks that ignore SIGTERM keep the shutdown waiting out a long grace.
  LiveJob job(
      "[job]\ntimeout = \"1s\"\ngrace = \"30s\"\n[hosts]\nlauncher = \"local\"\ncount = 2\n"
      "[procs]\nextent = { procs = 2 }\ncommand = [\"/bin/sh\", \"-c\", "
      "'''trap '' TERM; echo ready; while :; do sleep 0.2; done''']\n");
  INFO("stderr: " << job.err());
  REQUIRE(meshrun_test::wait_until([&] { return job.err().find("timed out") != std::string::npos; },
                                   milliseconds(20000)));
  REQUIRE(::kill(job.pid(), SIGKILL) == 0);
  REQUIRE(job.wait_exit(milliseconds(10000)).has_value());
  CHECK(meshrun_test::wait_until([&] { return processes_with_marker(job.marker()).empty(); },
                                 milliseconds(15000)));
}
