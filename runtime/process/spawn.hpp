// Starting an OS process: the one place where meshrun forks and execs.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace meshrun {

struct SpawnOptions {
  std::string program;            // a path, or a bare name looked up in PATH of `env`
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the child's whole environment, "KEY=VALUE"
  std::string cwd;                // empty: inherit
  int stdin_fd = -1;              // -1: /dev/null
  int stdout_fd = -1;             // -1: inherit
  int stderr_fd = -1;             // -1: inherit
  // Extra descriptors: {child_fd, parent_fd}; everything else is closed.
  std::vector<std::pair<int, int>> fds;
  bool new_process_group = true;  // the child leads its own group
  // PR_SET_PDEATHSIG(SIGKILL) in the child and exit if the parent already
  // changed, so a child never outlives the process that spawned it.
  bool die_with_parent = true;
  // An open cgroup.procs of a cgroup v2 the child joins before it execs, so
  // nothing it runs ever starts outside it (process/cgroup.hpp); -1: none.
  int cgroup_procs_fd = -1;
  // Non-empty: the child runs only on these CPUs (sched_setaffinity before exec).
  std::vector<int> cpus;
};

// Why exec failed, told apart so launchers can exit 127 / 126.
enum class SpawnFailure { none, not_found, not_executable, other };

struct SpawnError {
  SpawnFailure kind = SpawnFailure::other;
  int err = 0;          // errno
  std::string message;  // "PROGRAM: No such file or directory"
};

struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;             // pidfd_open(pid), O_CLOEXEC; the caller owns it
  bool group_leader = false;  // spawned with new_process_group
};

// Returns only after the child has exec'd or failed to: an exec failure is
// reported here as an error (Errc::spawn, "PROGRAM: strerror", the kind in
// `detail`), never as a child that exits 127.
// The child starts with every signal handler reset to SIG_DFL (and SIGPIPE
// too, which meshrun ignores for its sockets), the caller's signal mask, and
// only fds 0, 1, 2 and those in `fds` open.
// die_with_parent ties the child to the calling *thread*: spawn from a thread
// that lives as long as the child should.
Result<Spawned> spawn_process(const SpawnOptions& options, SpawnError* detail = nullptr);

// Takes this thread's few low descriptors for spawning (see spawn.cpp's
// LowSlots) now, while the descriptor table is still short; a thread that
// will spawn many children beside many open descriptors calls it first.
// Otherwise its first spawn_process does.
void prepare_spawning_thread();

// Resolves `program` against PATH the way execvp would; empty when not found.
// A name containing '/' is returned unchanged; an empty PATH entry means ".".
std::string find_in_path(const std::string& program, const std::string& path_env);

}  // namespace meshrun
