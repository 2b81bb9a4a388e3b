#include "process/proc_tree.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>

namespace meshrun {

std::vector<ProcStat> descendants(pid_t root, pid_t skip) {
  std::multimap<pid_t, ProcStat> by_parent;
  for (const auto& p : all_processes())
    by_parent.emplace(p.ppid, p);
  std::vector<ProcStat> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [it, end] = by_parent.equal_range(parent);
    for (; it != end; ++it) {
      const ProcStat& p = it->second;
      if (p.pid == skip || p.pid == root) continue;
      todo.push_back(p.pid);  // a zombie's children are re-parented, not gone
      if (p.state != 'Z') out.push_back(p);
    }
  }
  return out;
}

size_t kill_processes(const std::vector<ProcStat>& procs) {
  size_t n = 0;
  for (const auto& p : procs) {
    // The pidfd holds the process: once it is checked, the signal cannot
    // reach another that took its pid.
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0));
    if (fd < 0) continue;
    const auto now = read_proc_stat(p.pid);
    if (now && now->start_time == p.start_time &&
        ::syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0) == 0)
      ++n;
    ::close(fd);
  }
  return n;
}

}  // namespace meshrun
