// cgroup v2 process tracking: a job's processes in a cgroup of their own,
// which holds everything they start whatever they do with sessions and
// process groups, and which can be killed as a whole.
#pragma once

#include <chrono>
#include <string>

#include "util/result.hpp"

namespace meshrun {

// The directory of this process's own cgroup v2, from the cgroup2 mount in
// /proc/self/mountinfo (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a
// hybrid layout) and the "0::" line of /proc/self/cgroup.
Result<std::string> own_cgroup_dir();
// Where a cgroup v2 that /proc/PID/cgroup names ("0::PLACE") is mounted.
Result<std::string> cgroup_dir(const std::string& place);

// A cgroup made for a job below this process's own. Processes join it by
// writing "0" to procs_fd() (a spawned child does so before it execs).
class JobCgroup {
 public:
  // Makes `name` below this process's cgroup, or says why it cannot: no
  // cgroup v2, or no write access to it (not root and not delegated).
  static Result<JobCgroup> create(const std::string& name);
  JobCgroup(JobCgroup&& other) noexcept;
  JobCgroup& operator=(JobCgroup&&) = delete;
  ~JobCgroup();  // closes procs_fd(); the cgroup stays until cgroup_remove()

  const std::string& path() const { return path_; }
  int procs_fd() const { return procs_fd_; }

 private:
  JobCgroup() = default;
  std::string path_;
  int procs_fd_ = -1;
};

// "cgroup.kill" where the kernel has it (5.14+), else "cgroup.freeze"
// (freeze, SIGKILL each process, thaw), else "" (SIGKILL each process).
std::string cgroup_kill_method(const std::string& path);
// Kills every process in the cgroup at `path` and in the cgroups below it,
// with the best method the kernel offers. Does not wait.
void cgroup_kill(const std::string& path);
// True while a process is in the cgroup or below it; false once it is empty
// or gone.
bool cgroup_populated(const std::string& path);
// Removes the cgroup and the (empty) cgroups below it; true if it is gone.
bool cgroup_remove(const std::string& path);
// Kills, waits (at most `limit`) until the cgroup is empty, and removes it.
// Blocks: for a process with nothing else to do (the keeper).
bool cgroup_kill_and_remove(const std::string& path, std::chrono::milliseconds limit);

}  // namespace meshrun
