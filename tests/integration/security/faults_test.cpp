// Procs that do not go quietly, and many jobs in a row: whatever the procs
// do, nothing of the job is left running and nothing is left on disk.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>

#include "live_job.hpp"

using namespace meshrun::test;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

std::string command_job(const std::string& shell, const std::string& extra_job_keys = {},
                        int procs = 2) {
  return "[job]\n" + extra_job_keys +
         "\n[hosts]\nlauncher = \"local\"\ncount = 1\n[procs]\nextent = { procs = " +
         std::to_string(procs) + " }\ncommand = [\"/bin/sh\", \"-c\", '''" + shell + "''']\n";
}

int exit_code(LiveJob& job, milliseconds timeout) {
  auto status = job.wait_exit(timeout);
  REQUIRE(status.has_value());
  REQUIRE(WIFEXITED(*status));
  return WEXITSTATUS(*status);
}

}  // namespace

TEST_CASE("a proc that ignores SIGTERM is killed after the grace period") {
  // The shell and its sleeps all ignore SIGTERM (ignored signals survive exec).
  LiveJob job(command_job("trap '' TERM; echo ready; while :; do sleep 0.2; done",
                          "timeout = \"2s\"\ngrace = \"1s\""));
  const auto start = Clock::now();
  INFO("stderr: " << job.err());
  CHECK(exit_code(job, milliseconds(20000)) == 124);
  const auto took = Clock::now() - start;
  CHECK(job.out().find("ready") != std::string::npos);
  // The grace was waited out before SIGKILL, and not much longer.
  CHECK(took >= milliseconds(2900));
  CHECK(took < milliseconds(2000 + 1000 + 6000));
  CHECK(processes_with_marker(job.marker()).empty());
}

TEST_CASE("a grandchild of a proc dies with the job when the job is stopped") {
  LiveJob job(command_job("sleep 300 & echo started; wait", "timeout = \"2s\"\ngrace = \"1s\""));
  INFO("stderr: " << job.err());
  CHECK(exit_code(job, milliseconds(20000)) == 124);
  CHECK(job.out().find("started") != std::string::npos);
  CHECK(processes_with_marker(job.marker()).empty());
}

// The proc's process group outlives the proc: a background child left behind
// by a proc that exited is part of the job and must not outlive it.
TEST_CASE("a grandchild left behind by a proc that exited does not outlive the job", "[faults]") {
  LiveJob job(command_job("sleep 300 >/dev/null 2>&1 & echo started", "timeout = \"30s\""));
  INFO("stderr: " << job.err());
  CHECK(exit_code(job, milliseconds(20000)) == 0);
  CHECK(job.out().find("started") != std::string::npos);
  CHECK(processes_with_marker(job.marker()).empty());
}

TEST_CASE("200 jobs in a row leave no processes, sockets or job directories behind") {
  std::string tmpl = "/tmp/msec-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()));
  const std::string tmp = tmpl;
  struct RemoveAtEnd {
    std::string path;
    ~RemoveAtEnd() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  } cleanup{tmp};
  const std::string toml = command_job("echo $MESHRUN_RANK", "", 2);
  for (int i = 0; i < 200; ++i) {
    LiveJob job(toml, {}, tmp);
    INFO("job " << i << " stderr: " << job.err());
    REQUIRE(exit_code(job, milliseconds(20000)) == 0);
    const auto out = job.out();
    REQUIRE(out.size() == 4);  // both ranks' lines, in either order
    REQUIRE(out.find("0\n") != std::string::npos);
    REQUIRE(out.find("1\n") != std::string::npos);
    REQUIRE(processes_with_marker(job.marker()).empty());
  }
  size_t left = 0;
  for (const auto& e : fs::directory_iterator(tmp)) {
    const auto name = e.path().filename().string();
    INFO("left behind: " << name);
    CHECK((name == "job.toml" || name == "out" || name == "err"));
    ++left;
  }
  CHECK(left == 3);
}
