// The process tree as /proc shows it: what runs below a process, for
// tracking a job's processes where no cgroup can be made. With a child
// subreaper above them, orphans stay below it, so nothing a rank starts
// leaves the tree.
#pragma once

#include <sys/types.h>

#include <vector>

#include "process/proc_stat.hpp"

namespace meshrun {

// Live (not zombie) processes below `root`, leaving out `skip` and
// everything below it (0: nothing left out).
std::vector<ProcStat> descendants(pid_t root, pid_t skip = 0);

// SIGKILLs each process that is still the one listed (same start time, so a
// reused pid is never hit); returns how many it signalled.
size_t kill_processes(const std::vector<ProcStat>& procs);

}  // namespace meshrun
