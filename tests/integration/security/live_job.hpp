// A real meshrun job started from a test, findable by its environment marker,
// and the raw-socket tools an intruder uses against it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshrun::test {

using Millis = std::chrono::milliseconds;

// Pids of our processes whose environment holds MESHRUN_TEST_MARKER=marker.
std::vector<pid_t> processes_with_marker(const std::string& marker);
// NUL-separated /proc/<pid>/<what> ("cmdline", "environ") split into strings.
std::vector<std::string> proc_strings(pid_t pid, const char* what);

class LiveJob {
 public:
  // Writes `toml` to a fresh temp dir (also the job's TMPDIR) and starts
  // meshrun on it with a unique marker in its environment. A given `tmpdir`
  // is used instead, and left in place.
  explicit LiveJob(const std::string& toml, std::vector<std::string> extra_args = {},
                   std::string tmpdir = {});
  ~LiveJob();  // stops whatever is left of the job, by pid, and removes the temp dir
  LiveJob(const LiveJob&) = delete;
  LiveJob& operator=(const LiveJob&) = delete;

  const std::string& marker() const { return marker_; }
  const std::string& tmpdir() const { return tmp_; }
  pid_t pid() const { return pid_; }

  // The job's private directory ($TMPDIR/meshrun-<id>-XXXXXX), once it holds
  // bootstrap.sock and agent-0.sock .. agent-(hosts-1).sock, and `procs`
  // processes carry the marker. Empty on timeout.
  std::string wait_ready(int hosts, size_t procs, Millis timeout);
  // meshrun's wait status, or nothing if it is still running at the deadline.
  std::optional<int> wait_exit(Millis timeout);
  std::string out() const;
  std::string err() const;

 private:
  std::string tmp_;
  std::string marker_;
  bool own_tmp_ = true;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Client side of a unix socket, with deadlines on every read.
class Intruder {
 public:
  explicit Intruder(const std::string& socket_path);
  ~Intruder();
  Intruder(const Intruder&) = delete;
  Intruder& operator=(const Intruder&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);  // false once the peer is gone
  void shut_write();
  // Exactly n bytes, or nothing if the peer closed or the deadline passed.
  std::optional<std::string> read_exact(size_t n, Millis timeout);
  // True when the peer closes (EOF or reset) within the timeout; whatever it
  // sent before closing is appended to `got`.
  bool closed_within(Millis timeout, std::string* got = nullptr);

 private:
  int fd_ = -1;
};

}  // namespace meshrun::test
