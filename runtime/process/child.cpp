#include "process/child.hpp"

#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>

namespace meshrun {
namespace {

// Only when the kernel gave us no pidfd (which 6.x always does).
constexpr std::chrono::milliseconds kPollInterval{20};

std::string_view abbrev(int sig) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  if (const char* name = sigabbrev_np(sig); name != nullptr) return name;
  return {};
#else
  switch (sig) {
    case SIGHUP:
      return "HUP";
    case SIGINT:
      return "INT";
    case SIGQUIT:
      return "QUIT";
    case SIGILL:
      return "ILL";
    case SIGTRAP:
      return "TRAP";
    case SIGABRT:
      return "ABRT";
    case SIGBUS:
      return "BUS";
    case SIGFPE:
      return "FPE";
    case SIGKILL:
      return "KILL";
    case SIGUSR1:
      return "USR1";
    case SIGSEGV:
      return "SEGV";
    case SIGUSR2:
      return "USR2";
    case SIGPIPE:
      return "PIPE";
    case SIGALRM:
      return "ALRM";
    case SIGTERM:
      return "TERM";
    case SIGCHLD:
      return "CHLD";
    case SIGCONT:
      return "CONT";
    case SIGSTOP:
      return "STOP";
    case SIGTSTP:
      return "TSTP";
    case SIGTTIN:
      return "TTIN";
    case SIGTTOU:
      return "TTOU";
    case SIGURG:
      return "URG";
    case SIGXCPU:
      return "XCPU";
    case SIGXFSZ:
      return "XFSZ";
    case SIGVTALRM:
      return "VTALRM";
    case SIGPROF:
      return "PROF";
    case SIGWINCH:
      return "WINCH";
    case SIGIO:
      return "IO";
    case SIGSYS:
      return "SYS";
    default:
      return {};
  }
#endif
}

}  // namespace

std::string signal_name(int sig) {
  if (std::string_view a = abbrev(sig); !a.empty()) return "SIG" + std::string(a);
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  return "signal " + std::to_string(sig);
}

std::optional<int> parse_signal_name(std::string_view name) {
  std::string upper;
  for (char c : name)
    upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (upper.rfind("SIG", 0) == 0) upper.erase(0, 3);
  if (!upper.empty() && upper.find_first_not_of("0123456789") == std::string::npos &&
      upper.size() < 3) {
    const int n = std::stoi(upper);
    if (n > 0 && n < NSIG) return n;
    return std::nullopt;
  }
  for (int sig = 1; sig < SIGRTMIN; ++sig)
    if (!upper.empty() && abbrev(sig) == upper) return sig;
  return std::nullopt;
}

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  if (signal <= 0) return "unknown exit status";
  std::string name = signal_name(signal);
  std::string text = name.rfind("SIG", 0) == 0 ? "signal " + name : name;
  if (core_dumped) text += " (core dumped)";
  return text;
}

Child::Child(asio::io_context& io, Spawned spawned)
    : pid_(spawned.pid), pidfd_(io), group_leader_(spawned.group_leader) {
  int fd = spawned.pidfd;
  if (fd < 0 && pid_ > 0) fd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (fd >= 0) {
    asio::error_code ec;
    pidfd_.assign(fd, ec);
    if (ec) close(fd);
  }
}

Child::~Child() {
  try_reap();
}

void Child::mark_reaped(const ExitStatus& status) {
  status_ = status;
  reaped_ = true;
  asio::error_code ec;
  pidfd_.close(ec);  // one fd per rank adds up; also wakes a pending wait()
}

bool Child::try_reap() {
  if (reaped_) return true;
  if (pid_ <= 0) return false;
  siginfo_t info{};
  // P_PID is safe: the pid stays ours (a zombie at worst) until we reap it.
  int r;
  do {
    r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == ECHILD) mark_reaped(ExitStatus{});  // reaped elsewhere: status lost
    return reaped_;
  }
  if (info.si_pid == 0) return false;
  ExitStatus st;
  switch (info.si_code) {
    case CLD_EXITED:
      st.exited = true;
      st.code = info.si_status;
      break;
    case CLD_DUMPED:
      st.core_dumped = true;
      st.signal = info.si_status;
      break;
    default:  // CLD_KILLED
      st.signal = info.si_status;
      break;
  }
  mark_reaped(st);
  return true;
}

asio::awaitable<ExitStatus> Child::wait() {
  while (!try_reap()) {
    asio::error_code ec;
    if (pidfd_.is_open()) {
      co_await pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (!ec) continue;
      if (ec == asio::error::operation_aborted) {
        try_reap();
        co_return status_;
      }
    }
    asio::steady_timer timer(co_await asio::this_coro::executor, kPollInterval);
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return status_;
  }
  co_return status_;
}

void Child::signal_group(int sig) {
  if (reaped_) return;
  // A zombie leader still holds its group id, so the group is reachable
  // until we reap; ESRCH means the child left its group (setsid).
  if (group_leader_ && kill(-pid_, sig) == 0) return;
  signal(sig);
}

void Child::signal(int sig) {
  if (reaped_) return;
  if (pidfd_.is_open() &&
      syscall(SYS_pidfd_send_signal, pidfd_.native_handle(), sig, nullptr, 0) == 0) {
    return;
  }
  kill(pid_, sig);
}

}  // namespace meshrun
