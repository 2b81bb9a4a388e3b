#include "agent/keeper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "process/cgroup.hpp"
#include "process/proc_tree.hpp"
#include "util/job_dir.hpp"
#include "util/log.hpp"

namespace meshrun::keeper {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// How long the sweep after the agent may take, per step.
constexpr Millis kSweepLimit{5000};

pid_t g_keeper = 0;
int g_pipe = -1;  // agent side: write end

void send_line(const std::string& line) {
  if (g_pipe < 0) return;
  const std::string text = line + "\n";
  // Short lines are written whole or not at all (PIPE_BUF); a full pipe
  // means the keeper is not reading, and a beat more changes nothing.
  [[maybe_unused]] auto n = ::write(g_pipe, text.data(), text.size());
}

class Keeper {
 public:
  Keeper(pid_t agent, int pipe) : agent_(agent), pipe_(pipe) {}

  [[noreturn]] void run() {
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP})
      sigaddset(&mask, sig);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    const int sigfd = ::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    last_word_ = Clock::now();
    while (!reap()) {
      pollfd fds[2] = {{sigfd, POLLIN, 0}, {pipe_, POLLIN, 0}};
      int timeout = -1;
      if (silence_.count() > 0) {
        const auto left = std::chrono::duration_cast<Millis>(last_word_ + silence_ - Clock::now());
        timeout = static_cast<int>(std::max<Millis::rep>(0, left.count())) + 1;
      }
      if (sigfd < 0 && (timeout < 0 || timeout > 50)) timeout = 50;  // look for SIGCHLD's news
      ::poll(fds, pipe_ >= 0 ? 2 : 1, timeout);
      if (fds[0].revents) read_signals(sigfd);
      if (pipe_ >= 0 && fds[1].revents) read_pipe();
      if (silence_.count() > 0 && Clock::now() - last_word_ > silence_ && !agent_done_) {
        log::warn("the host agent (pid " + std::to_string(agent_) + ") has said nothing for " +
                  std::to_string(silence_.count()) +
                  " ms (stopped or hung): killing it and every process of its job");
        ::kill(agent_, SIGKILL);
        silence_ = Millis(0);
      }
    }
    sweep();
    finish();
  }

 private:
  // Reaps every child that exited (orphans of the job included); true once
  // the agent is among them.
  bool reap() {
    for (;;) {
      int status = 0;
      const pid_t p = ::waitpid(-1, &status, WNOHANG);
      if (p <= 0) break;
      if (p == agent_) {
        agent_done_ = true;
        agent_status_ = status;
      }
    }
    return agent_done_;
  }

  void read_pipe() {
    char buf[4096];
    const ssize_t n = ::read(pipe_, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return;
      // Only the agent holds the other end: it is exiting.
      ::close(pipe_);
      pipe_ = -1;
      return;
    }
    last_word_ = Clock::now();
    lines_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = lines_.find('\n')) != std::string::npos) {
      const std::string line = lines_.substr(0, nl);
      lines_.erase(0, nl + 1);
      if (line.starts_with("silence "))
        silence_ = Millis(std::strtoll(line.c_str() + 8, nullptr, 10));
      else if (line.starts_with("cgroup "))
        cgroup_ = line.substr(7);
    }
  }

  void read_signals(int sigfd) {
    signalfd_siginfo si;
    while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      const int sig = static_cast<int>(si.ssi_signo);
      if (sig == SIGCHLD) continue;  // reap() looks
      // Asked to end: the agent stops its job (a stopped agent is woken to
      // do so); its silence limit still applies.
      ::kill(agent_, sig);
      ::kill(agent_, SIGCONT);
    }
  }

  // What the agent could not end: its cgroup, and whatever else is left
  // below this subreaper.
  void sweep() {
    if (!cgroup_.empty() && !cgroup_kill_and_remove(cgroup_, kSweepLimit))
      log::warn("cannot remove the job's cgroup " + cgroup_);
    const auto deadline = Clock::now() + kSweepLimit;
    for (;;) {
      reap();
      const auto left = descendants(::getpid());
      if (left.empty()) break;
      if (Clock::now() >= deadline) {
        log::warn(std::to_string(left.size()) + " processes of the job did not die");
        break;
      }
      kill_processes(left);
      std::this_thread::sleep_for(Millis(2));
    }
    // A killed agent's own job directory (its ranks' files), and its
    // launcher's if that died beside it.
    remove_stale_job_dirs();
  }

  // Ends like the agent did, so its launcher sees its status.
  [[noreturn]] void finish() {
    if (WIFSIGNALED(agent_status_)) {
      const int sig = WTERMSIG(agent_status_);
      ::signal(sig, SIG_DFL);
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, sig);
      ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
      ::raise(sig);
      _exit(128 + sig);
    }
    _exit(WIFEXITED(agent_status_) ? WEXITSTATUS(agent_status_) : 1);
  }

  pid_t agent_;
  int pipe_;
  std::string lines_;
  Millis silence_{0};
  Clock::time_point last_word_;
  std::string cgroup_;
  bool agent_done_ = false;
  int agent_status_ = 0;
};

}  // namespace

bool start(char** argv, std::string& why) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    why = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  const pid_t keeper = ::getpid();
  // Orphans of the job are re-parented to the nearest subreaper: us.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t agent = ::fork();
  if (agent < 0) {
    why = std::string("fork: ") + std::strerror(errno);
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (agent == 0) {
    ::close(fds[0]);
    g_pipe = fds[1];
    ::fcntl(g_pipe, F_SETFL, O_NONBLOCK);
    g_keeper = keeper;
    // Should the keeper go, the agent stops its job and exits.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != keeper) ::raise(SIGTERM);
    return true;
  }
  ::close(fds[1]);
  // Named apart from the agent in ps and /proc (its argv is "bootstrap").
  if (argv[1] != nullptr && std::strlen(argv[1]) >= std::strlen("keeper")) {
    const size_t len = std::strlen(argv[1]);
    std::memset(argv[1], 0, len);
    std::memcpy(argv[1], "keeper", 6);
  }
  ::prctl(PR_SET_NAME, "meshrun-keeper");
  // The secret and ssh's channel are the agent's; the keeper keeps only
  // stderr, for what it has to say.
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::close(devnull);
  }
  std::string name = log::program();
  if (name.ends_with("]")) name.insert(name.size() - 1, " keeper");
  log::set_program(name);
  Keeper(agent, fds[0]).run();
}

pid_t pid() {
  return g_keeper;
}

void set_silence_limit(std::chrono::milliseconds silence) {
  send_line("silence " + std::to_string(silence.count()));
}

void set_cgroup(const std::string& path) {
  send_line("cgroup " + path);
}

void beat() {
  send_line("b");
}

}  // namespace meshrun::keeper
