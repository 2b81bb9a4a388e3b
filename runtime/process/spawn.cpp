// spawn_process: clone(CLONE_VM | CLONE_VFORK) like glibc's posix_spawn, so a
// spawn costs no page-table copy. Everything that allocates or may fail in a
// non async-signal-safe way happens in the parent before the clone; the child
// runs on its own small stack and only makes raw system calls.
#include "process/spawn.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

#include "process/cpu_binding.hpp"
#include "util/fd_limit.hpp"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

// Under ThreadSanitizer the child is made with fork(), not a CLONE_VM clone:
// TSan's interceptors (sigaction, close, dup2) keep state in memory the clone
// would share, so the child resetting its handlers would also reset them in
// TSan's table of the parent, and TSan only knows fork() (it takes its
// internal locks around it and goes quiet in a multi-threaded fork's child).
#if defined(__SANITIZE_THREAD__)
#define MESHRUN_SPAWN_FORK 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MESHRUN_SPAWN_FORK 1
#endif
#endif
#ifndef MESHRUN_SPAWN_FORK
#define MESHRUN_SPAWN_FORK 0
#endif

namespace meshrun {
namespace {

// Where the child failed; only `exec` failures are told apart by errno.
enum class Stage : int {
  none = 0,
  cgroup,
  setpgid,
  pdeathsig,
  fds,
  chdir,
  affinity,
  exec,
  unshare
};

struct FdMove {
  int target;
  int source;
  bool via_temp;  // the source is also some target: park it above all targets first
  bool optional;  // an inherited 0/1/2 that may be closed in the parent
};

// Shared between parent and child (CLONE_VM): the child reads the plan and
// writes `stage`/`err` on failure before _exit.
struct ChildArgs {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;  // nullptr: inherit
  FdMove* moves = nullptr;
  int* temps = nullptr;
  size_t n_moves = 0;
  const int* keep = nullptr;  // sorted, unique targets
  size_t n_keep = 0;
  int temp_base = 3;    // above every target and source
  unsigned max_fd = 0;  // close() loop bound when close_range is missing
  pid_t parent = 0;
  bool new_group = false;
  bool die_with_parent = false;
  int cgroup_fd = -1;
  // Non-zero: the child shares our fd table (CLONE_FILES) and makes its own
  // from the descriptors below this, where its sources were parked.
  unsigned unshare_below = 0;
  bool reset_nofile = false;  // give the child the soft open-file limit we started with
  struct rlimit nofile = {};
  const cpu_set_t* cpus = nullptr;  // nullptr: the parent's CPUs
  size_t cpus_size = 0;
  uint64_t mask = 0;   // the parent's signal mask, restored just before exec
  int report_fd = -1;  // fork only: where the child writes {stage, err}; above temp_base
  volatile int stage = 0;
  volatile int err = 0;
};

#if !MESHRUN_SPAWN_FORK
constexpr size_t kChildStack = 64 * 1024;
#endif

// Code that runs in the child, on a stack the sanitizers do not know about.
#define MESHRUN_CHILD_SIDE __attribute__((no_sanitize("address", "undefined")))

// The kernel's sigset is 64 bits; glibc's sigprocmask refuses to block its
// internal signals, the raw call does not (a handler must never run in the
// child while it shares our memory).
MESHRUN_CHILD_SIDE long raw_sigmask(int how, const uint64_t* set, uint64_t* old) {
  return syscall(SYS_rt_sigprocmask, how, set, old, sizeof(uint64_t));
}

[[noreturn]] MESHRUN_CHILD_SIDE void child_fail(ChildArgs* a, Stage stage, int err) {
  a->err = err;
  a->stage = static_cast<int>(stage);
  if (a->report_fd >= 0) {
    const int report[2] = {static_cast<int>(stage), err};
    [[maybe_unused]] ssize_t n = write(a->report_fd, report, sizeof report);
  }
  _exit(127);
}

MESHRUN_CHILD_SIDE void close_from_to(ChildArgs* a, unsigned lo, unsigned hi) {
  if (lo > hi) return;
  if (syscall(SYS_close_range, lo, hi, 0) == 0) return;
  unsigned end = std::min(hi, a->max_fd);
  for (unsigned fd = lo; fd <= end; ++fd)
    close(static_cast<int>(fd));
}

MESHRUN_CHILD_SIDE int child_main(void* p) {
  auto* a = static_cast<ChildArgs*>(p);

  // Signals are all blocked here (the parent blocked them). Reset handlers so
  // none of ours can run once the mask is restored; exec would reset them
  // too, but only after the window where the mask is already open.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) != 0) continue;  // SIGKILL, glibc-internal ones
    if (sa.sa_handler == SIG_DFL) continue;
    if (sa.sa_handler == SIG_IGN && sig != SIGPIPE) continue;
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, nullptr);
  }

  if (a->cgroup_fd >= 0 && pwrite(a->cgroup_fd, "0", 1, 0) != 1)
    child_fail(a, Stage::cgroup, errno);
  if (a->new_group && setpgid(0, 0) != 0) child_fail(a, Stage::setpgid, errno);
  if (a->die_with_parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(a, Stage::pdeathsig, errno);
    // The parent died before the prctl took effect: nobody waits for us.
    if (getppid() != a->parent) _exit(127);
  }
  // A table of our own with only the low descriptors: the parent's thousands
  // (a host agent's pipes and sockets of every rank) are never copied, nor
  // closed one by one.
  if (a->unshare_below != 0 &&
      syscall(SYS_close_range, a->unshare_below, ~0U, CLOSE_RANGE_UNSHARE) != 0)
    child_fail(a, Stage::unshare, errno);

  for (size_t i = 0; i < a->n_moves; ++i) {
    FdMove& m = a->moves[i];
    a->temps[i] = -1;
    if (!m.via_temp) continue;
    a->temps[i] = fcntl(m.source, F_DUPFD_CLOEXEC, a->temp_base);
    if (a->temps[i] < 0 && !(m.optional && errno == EBADF)) child_fail(a, Stage::fds, errno);
  }
  for (size_t i = 0; i < a->n_moves; ++i) {
    FdMove& m = a->moves[i];
    int r;
    if (m.via_temp) {
      r = a->temps[i] < 0 ? 0 : dup2(a->temps[i], m.target);
    } else if (m.source == m.target) {
      r = fcntl(m.target, F_SETFD, 0);  // dup2 onto itself would keep FD_CLOEXEC
    } else {
      r = dup2(m.source, m.target);
    }
    if (r < 0 && !(m.optional && errno == EBADF)) child_fail(a, Stage::fds, errno);
  }
  // Close everything but the targets; the parked temps lie above them all.
  unsigned next = 3;
  for (size_t i = 0; i < a->n_keep; ++i) {
    auto t = static_cast<unsigned>(a->keep[i]);
    if (t < next) continue;
    if (t > next) close_from_to(a, next, t - 1);
    next = t + 1;
  }
  if (a->report_fd >= 0) {
    close_from_to(a, next, static_cast<unsigned>(a->report_fd) - 1);  // it is close-on-exec
    next = static_cast<unsigned>(a->report_fd) + 1;
  }
  close_from_to(a, next, ~0U);
  if (a->reset_nofile) setrlimit(RLIMIT_NOFILE, &a->nofile);

  if (a->cwd != nullptr && chdir(a->cwd) != 0) child_fail(a, Stage::chdir, errno);
  if (a->cpus != nullptr && syscall(SYS_sched_setaffinity, 0, a->cpus_size, a->cpus) != 0)
    child_fail(a, Stage::affinity, errno);

  raw_sigmask(SIG_SETMASK, &a->mask, nullptr);
  execve(a->path, a->argv, a->envp);
  child_fail(a, Stage::exec, errno);
}

std::string err_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

SpawnFailure classify_exec_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return SpawnFailure::not_found;
    case EACCES:
    case EPERM:
    case ENOEXEC:
    case EISDIR:
    case ELIBBAD:
      return SpawnFailure::not_executable;
    default:
      return SpawnFailure::other;
  }
}

Error spawn_error(SpawnError* detail, SpawnFailure kind, int err, std::string message) {
  if (detail != nullptr) *detail = SpawnError{kind, err, message};
  return make_error(Errc::spawn, std::move(message));
}

struct Candidate {
  std::string path;
  int err = ENOENT;  // 0: executable; EACCES: exists but cannot be run
};

std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// execvp's search: the first executable regular file wins; a non-executable
// match is remembered so the failure reads EACCES, not ENOENT.
Candidate search_path(const std::string& program, const std::string& path_env,
                      const std::string& cwd) {
  Candidate denied;
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t colon = path_env.find(':', start);
    if (colon == std::string::npos) colon = path_env.size();
    std::string dir = path_env.substr(start, colon - start);
    start = colon + 1;
    if (dir.empty()) dir = ".";
    // A relative entry means relative to where the child will run.
    if (dir[0] != '/' && !cwd.empty()) dir = join(cwd, dir);
    std::string candidate = join(dir, program);
    struct stat st;
    if (stat(candidate.c_str(), &st) != 0) continue;
    if (S_ISREG(st.st_mode) && faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0) {
      return Candidate{candidate, 0};
    }
    if (denied.err != EACCES) denied = Candidate{candidate, EACCES};
  }
  return denied;
}

const std::string* env_lookup(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& kv : env) {
    if (kv.size() > key.size() && kv[key.size()] == '=' && kv.compare(0, key.size(), key) == 0) {
      return &kv;
    }
  }
  return nullptr;
}

#if !MESHRUN_SPAWN_FORK
std::atomic<bool> g_clone_pidfd{true};
#endif

unsigned nofile_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1u << 20;
  return static_cast<unsigned>(std::min<rlim_t>(rl.rlim_cur, 1u << 20));
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

#if !MESHRUN_SPAWN_FORK
// Low slots: a few descriptors near the bottom of the table, kept open on
// /dev/null, one set per spawning thread. A spawn parks the descriptors its
// child needs there, so the child can take a table of its own with only the
// lowest descriptors (close_range CLOSE_RANGE_UNSHARE) instead of copying the
// parent's whole table and closing it: with thousands of descriptors open
// (a host agent's ranks' pipes), that copy and those closes cost more than
// the spawn itself, for every spawn.
constexpr size_t kLowSlots = 8;
// Past this the copy is no longer small: a table that crowded from the start
// gains nothing.
constexpr int kLowSlotsLimit = 256;
std::atomic<bool> g_unshare_works{true};

struct LowSlots {
  int devnull = -1;
  std::vector<int> fds;
  int bound = 0;  // one above the highest slot
  bool usable = false;
  LowSlots() {
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) return;
    for (size_t i = 0; i < kLowSlots; ++i) {
      const int fd = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) return;
      fds.push_back(fd);
      bound = std::max(bound, fd + 1);
    }
    usable = bound <= kLowSlotsLimit;
  }
};

LowSlots& thread_slots() {
  static thread_local LowSlots slots;
  return slots;
}

// Rewrites the sources of `moves` to this thread's slots (`parked` says what
// goes where); returns the bound the child unshares below, or 0 (and `moves`
// as they were) when the slots cannot be used.
unsigned park_in_low_slots(std::vector<FdMove>& moves, std::vector<std::pair<int, int>>& parked) {
  if (!g_unshare_works.load(std::memory_order_relaxed)) return 0;
  LowSlots& slots = thread_slots();
  if (!slots.usable) return 0;
  // An inherited 0/1/2 is copied with the low part of the table anyway.
  auto needs_slot = [](const FdMove& m) { return !(m.source == m.target && m.target < 3); };
  if (static_cast<size_t>(std::count_if(moves.begin(), moves.end(), needs_slot)) > slots.fds.size())
    return 0;
  for (const auto& m : moves) {
    if (!needs_slot(m)) continue;
    const int slot = slots.fds[parked.size()];
    if (dup2(m.source, slot) < 0) {
      for (const auto& p : parked)
        dup2(slots.devnull, p.first);
      parked.clear();
      return 0;
    }
    parked.emplace_back(slot, m.source);
  }
  size_t next = 0;
  for (auto& m : moves)
    if (needs_slot(m)) m.source = parked[next++].first;
  return static_cast<unsigned>(slots.bound);
}

// Back to /dev/null once the child has its own table: the slots must not
// keep the child's pipe ends open.
struct ParkedSlots {
  std::vector<std::pair<int, int>> slots;
  void release() {
    const int devnull = thread_slots().devnull;
    for (const auto& slot : slots)
      dup2(devnull, slot.first);
    slots.clear();
  }
  ~ParkedSlots() { release(); }
};
#endif

}  // namespace

void prepare_spawning_thread() {
#if !MESHRUN_SPAWN_FORK
  thread_slots();
#endif
}

std::string find_in_path(const std::string& program, const std::string& path_env) {
  if (program.empty()) return {};
  if (program.find('/') != std::string::npos) return program;
  Candidate c = search_path(program, path_env, {});
  return c.err == 0 ? c.path : std::string();
}

Result<Spawned> spawn_process(const SpawnOptions& o, SpawnError* detail) {
  const std::string& program = !o.program.empty() ? o.program
                               : !o.argv.empty()  ? o.argv.front()
                                                  : o.program;
  if (program.empty()) {
    return spawn_error(detail, SpawnFailure::not_found, ENOENT, "spawn: empty program name");
  }

  std::string path = program;
  if (program.find('/') == std::string::npos) {
    const std::string* path_kv = env_lookup(o.env, "PATH");
    // glibc's execvp default when PATH is unset.
    std::string path_env = path_kv != nullptr ? path_kv->substr(5) : std::string("/bin:/usr/bin");
    Candidate c = search_path(program, path_env, o.cwd);
    if (c.err != 0) {
      return spawn_error(detail,
                         c.err == EACCES ? SpawnFailure::not_executable : SpawnFailure::not_found,
                         c.err, program + ": " + err_text(c.err));
    }
    path = std::move(c.path);
  }

  // execve does not write through these; the const_casts only satisfy its signature.
  std::vector<char*> argv;
  argv.reserve(o.argv.size() + 1);
  if (o.argv.empty()) argv.push_back(const_cast<char*>(program.c_str()));
  for (const auto& s : o.argv)
    argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(o.env.size() + 1);
  for (const auto& s : o.env)
    envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);

  FdCloser devnull;
  if (o.stdin_fd < 0) {
    devnull.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull.fd < 0) {
      int err = errno;
      return spawn_error(detail, SpawnFailure::other, err,
                         program + ": /dev/null: " + err_text(err));
    }
  }

  std::vector<FdMove> moves;
  moves.reserve(3 + o.fds.size());
  moves.push_back({0, o.stdin_fd < 0 ? devnull.fd : o.stdin_fd, false, false});
  moves.push_back({1, o.stdout_fd < 0 ? 1 : o.stdout_fd, false, o.stdout_fd < 0});
  moves.push_back({2, o.stderr_fd < 0 ? 2 : o.stderr_fd, false, o.stderr_fd < 0});
  for (const auto& [child_fd, parent_fd] : o.fds) {
    if (child_fd < 0 || parent_fd < 0) {
      return spawn_error(detail, SpawnFailure::other, EBADF,
                         program + ": invalid fd mapping " + std::to_string(parent_fd) + " -> " +
                             std::to_string(child_fd));
    }
    moves.push_back({child_fd, parent_fd, false, false});
  }
#if !MESHRUN_SPAWN_FORK
  ParkedSlots parked;  // {slot, the parent's descriptor}; released on every return
  const unsigned unshare_below = park_in_low_slots(moves, parked.slots);
#endif
  std::vector<int> keep;
  keep.reserve(moves.size());
  int temp_base = 3;
  for (const auto& m : moves) {
    keep.push_back(m.target);
    temp_base = std::max({temp_base, m.target + 1, m.source + 1});
  }
  std::sort(keep.begin(), keep.end());
  if (auto dup = std::adjacent_find(keep.begin(), keep.end()); dup != keep.end()) {
    return spawn_error(detail, SpawnFailure::other, EINVAL,
                       program + ": child fd " + std::to_string(*dup) + " mapped twice");
  }
  for (auto& m : moves) {
    m.via_temp = m.source != m.target && std::binary_search(keep.begin(), keep.end(), m.source);
  }
  std::vector<int> temps(moves.size(), -1);

  ChildArgs args;
  args.path = path.c_str();
  args.argv = argv.data();
  args.envp = envp.data();
  args.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  args.moves = moves.data();
  args.temps = temps.data();
  args.n_moves = moves.size();
  args.keep = keep.data();
  args.n_keep = keep.size();
  args.temp_base = temp_base;
  args.max_fd = nofile_limit();
  args.parent = getpid();
  args.new_group = o.new_process_group;
  // We may have raised our own soft limit (util/fd_limit.hpp); a program
  // expects the one it would have had (select() breaks above 1024).
  if (struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                        original_fd_limit() < rl.rlim_cur) {
    args.reset_nofile = true;
    args.nofile = {static_cast<rlim_t>(original_fd_limit()), rl.rlim_max};
  }
  args.die_with_parent = o.die_with_parent;
  args.cgroup_fd = o.cgroup_procs_fd;
#if !MESHRUN_SPAWN_FORK
  args.unshare_below = unshare_below;
#endif
  std::unique_ptr<cpu_set_t, void (*)(cpu_set_t*)> cpus(nullptr, [](cpu_set_t* s) { CPU_FREE(s); });
  if (!o.cpus.empty()) {
    const int count = *std::max_element(o.cpus.begin(), o.cpus.end()) + 1;
    cpus.reset(CPU_ALLOC(count));
    if (!cpus)
      return spawn_error(detail, SpawnFailure::other, ENOMEM, program + ": CPU_ALLOC failed");
    args.cpus_size = CPU_ALLOC_SIZE(count);
    CPU_ZERO_S(args.cpus_size, cpus.get());
    for (int c : o.cpus)
      if (c >= 0) CPU_SET_S(static_cast<size_t>(c), args.cpus_size, cpus.get());
    args.cpus = cpus.get();
  }

  const uint64_t all = ~uint64_t{0};
  int pidfd = -1;
  bool use_clone_pidfd = false;
  pid_t pid = -1;
  int clone_err = 0;
#if MESHRUN_SPAWN_FORK
  constexpr const char* kCall = "fork";
  // The child's memory is its own: a failure comes back through a pipe that
  // exec closes, so end of file also says the exec happened.
  FdCloser report_r, report_w;
  {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
      int err = errno;
      return spawn_error(detail, SpawnFailure::other, err, program + ": pipe: " + err_text(err));
    }
    report_r.fd = p[0];
    // Above every target and source, where the child's fd shuffling cannot hit it.
    report_w.fd = fcntl(p[1], F_DUPFD_CLOEXEC, temp_base);
    int err = errno;
    close(p[1]);
    if (report_w.fd < 0)
      return spawn_error(detail, SpawnFailure::other, err, program + ": fcntl: " + err_text(err));
  }
  args.report_fd = report_w.fd;
  raw_sigmask(SIG_SETMASK, &all, &args.mask);
  pid = fork();
  if (pid == 0) child_main(&args);
  clone_err = errno;
  raw_sigmask(SIG_SETMASK, &args.mask, nullptr);
  close(report_w.fd);
  report_w.fd = -1;
  if (pid > 0) {
    int report[2] = {0, 0};
    ssize_t n;
    while ((n = read(report_r.fd, report, sizeof report)) < 0 && errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof report)) {
      args.stage = report[0];
      args.err = report[1];
    }
  }
#else
  constexpr const char* kCall = "clone";
  static thread_local char* stack = nullptr;
  if (stack == nullptr) stack = new char[kChildStack];  // one per spawning thread, kept

  raw_sigmask(SIG_SETMASK, &all, &args.mask);
  use_clone_pidfd = g_clone_pidfd.load(std::memory_order_relaxed);
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (unshare_below ? CLONE_FILES : 0);
  pid = clone(child_main, stack + kChildStack, flags | (use_clone_pidfd ? CLONE_PIDFD : 0), &args,
              &pidfd);
  clone_err = errno;
  if (pid < 0 && use_clone_pidfd && clone_err == EINVAL) {
    g_clone_pidfd.store(false, std::memory_order_relaxed);
    use_clone_pidfd = false;
    pidfd = -1;
    pid = clone(child_main, stack + kChildStack, flags, &args);
    clone_err = errno;
  }
  raw_sigmask(SIG_SETMASK, &args.mask, nullptr);
  parked.release();
  if (pid > 0 && args.stage == static_cast<int>(Stage::unshare)) {
    // A kernel without CLOSE_RANGE_UNSHARE (before 5.9): the old way, from now on.
    if (pidfd >= 0) close(pidfd);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    g_unshare_works.store(false, std::memory_order_relaxed);
    return spawn_process(o, detail);
  }
#endif

  if (pid < 0) {
    return spawn_error(detail, SpawnFailure::other, clone_err,
                       program + ": " + kCall + ": " + err_text(clone_err));
  }
  if (args.stage != 0) {
    // The child has _exit'ed (CLONE_VFORK resumed us): reap it here so a
    // failed spawn leaves no zombie.
    if (pidfd >= 0) close(pidfd);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    int err = args.err;
    auto stage = static_cast<Stage>(args.stage);
    switch (stage) {
      case Stage::exec:
        return spawn_error(detail, classify_exec_errno(err), err, program + ": " + err_text(err));
      case Stage::chdir:
        return spawn_error(
            detail, SpawnFailure::other, err,
            program + ": cannot change directory to " + o.cwd + ": " + err_text(err));
      case Stage::affinity:
        return spawn_error(
            detail, SpawnFailure::other, err,
            program + ": cannot bind to CPUs " + cpu_list(o.cpus) + ": " + err_text(err));
      case Stage::fds:
        return spawn_error(detail, SpawnFailure::other, err,
                           program + ": cannot set up descriptors: " + err_text(err));
      case Stage::cgroup:
        return spawn_error(detail, SpawnFailure::other, err,
                           program + ": cannot join the job's cgroup: " + err_text(err));
      default:
        return spawn_error(detail, SpawnFailure::other, err,
                           program + ": child setup failed: " + err_text(err));
    }
  }
  if (!use_clone_pidfd) {
    pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    // The child runs already; without a pidfd Child falls back to polling.
  }
  return Spawned{pid, pidfd, o.new_process_group};
}

}  // namespace meshrun
