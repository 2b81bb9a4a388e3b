// Running real meshrun processes from tests: start with args and env, capture
// output, wait under a deadline, and find every process of one job by a marker
// variable that agents and procs inherit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace meshrun_test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline constexpr const char* kMarkerVar = "MESHRUN_TEST_MARKER";

// A private directory, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct Outcome {
  bool exited = false;  // exit code in `code`
  int code = -1;
  int signal = 0;          // when killed by a signal
  bool timed_out = false;  // we killed it at the deadline
  std::string out, err;
  Clock::duration took{};
};
std::string describe(const Outcome& o);  // for INFO()

// A started process. Its stdout/stderr go to files (never a pipe a leftover
// grandchild could hold open); stdin is /dev/null.
class Process {
 public:
  // argv[0] is a path. `env` ("KEY=VALUE") is added to this process's environment.
  Process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
          const std::string& output_dir);
  ~Process();  // SIGKILLs and reaps it if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Waits for exit; past `limit` it is SIGKILLed and the outcome says timed_out.
  Outcome wait(Clock::duration limit);
  std::string stdout_so_far() const;
  std::string stderr_so_far() const;

 private:
  bool reap(bool block);
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string out_path_, err_path_;
  Clock::time_point started_;
};

Outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& output_dir, Clock::duration limit);

std::string random_marker();
// Live (non-zombie) processes whose environment has MESHRUN_TEST_MARKER=marker.
std::vector<pid_t> job_pids(const std::string& marker);
std::vector<std::string> cmdline(pid_t pid);
// True if argv[0]'s base name is `program` and the remaining args start with `args`.
bool cmdline_is(pid_t pid, const std::string& program, const std::vector<std::string>& args = {});

// Polls `pred` every few milliseconds until it holds or `limit` passes.
bool wait_until(const std::function<bool()>& pred, Clock::duration limit);

bool wait_no_job_processes(const std::string& marker, Clock::duration limit);
// SIGKILLs every process of the job (by pid, repeatedly, as some may still be
// forking) and returns the pids it found.
std::vector<pid_t> kill_job(const std::string& marker);

// One job's identity in a test: the marker, and at scope exit a check that no
// process of the job is left. Survivors are SIGKILLed and fail the test.
class JobGuard {
 public:
  JobGuard();
  ~JobGuard();
  JobGuard(const JobGuard&) = delete;
  JobGuard& operator=(const JobGuard&) = delete;
  const std::string& marker() const { return marker_; }
  std::string env() const { return std::string(kMarkerVar) + "=" + marker_; }

 private:
  std::string marker_;
};

}  // namespace meshrun_test
