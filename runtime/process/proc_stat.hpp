// What /proc says about a process: its parent, state and start time. A pid
// alone may be reused; a pid with its start time names one process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshrun {

struct ProcStat {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';         // 'R', 'S', 'T' (stopped), 'Z' (zombie), ...
  uint64_t start_time = 0;  // clock ticks after boot
};

std::optional<ProcStat> read_proc_stat(pid_t pid);
// Every process /proc shows (those that vanish meanwhile are left out).
std::vector<ProcStat> all_processes();

// "PID START_TIME": who owns something that must not outlive its owner.
struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;
  static ProcessIdentity self();
  static std::optional<ProcessIdentity> parse(const std::string& text);
  std::string to_string() const;
  // The same process still runs (a reused pid has another start time).
  bool alive() const;
};

}  // namespace meshrun
