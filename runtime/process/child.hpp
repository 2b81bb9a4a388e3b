// A spawned child watched from the event loop through its pidfd.
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "process/spawn.hpp"

namespace meshrun {

struct ExitStatus {
  bool exited = false;  // normal exit with `code`
  int code = 0;
  int signal = 0;  // killed by `signal` when !exited
  bool core_dumped = false;

  bool success() const { return exited && code == 0; }
  // Shell convention: code, or 128 + signal.
  int shell_status() const { return exited ? code : 128 + signal; }
  // "exit code 3", "signal SIGSEGV (core dumped)"; "unknown exit status" when
  // the child was reaped by someone else (SIGCHLD ignored).
  std::string describe() const;
};

// Owns the pidfd; reaps the child exactly once.
class Child {
 public:
  Child(asio::io_context& io, Spawned spawned);
  ~Child();  // does not kill: the owner decides when a process ends
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool reaped() const { return reaped_; }
  const ExitStatus& status() const { return status_; }

  // Completes when the child has exited and been reaped. If the wait is
  // cancelled first it returns with reaped() still false. The Child must
  // outlive a pending wait.
  asio::awaitable<ExitStatus> wait();
  // Non-blocking: reaps if it already exited; true once reaped.
  bool try_reap();

  // Signal the child's process group (or the child alone when it has none);
  // does nothing once reaped, so a recycled pid is never hit.
  void signal_group(int sig);
  void signal(int sig);

 private:
  void mark_reaped(const ExitStatus& status);

  pid_t pid_;
  asio::posix::stream_descriptor pidfd_;  // closed once reaped
  bool group_leader_ = false;
  bool reaped_ = false;
  ExitStatus status_;
};

// "SIGSEGV", "SIGRTMIN+2"; "signal N" for a number with no name.
std::string signal_name(int sig);
// The signal a name stands for: "INT", "int", "SIGINT" or "2".
std::optional<int> parse_signal_name(std::string_view name);

}  // namespace meshrun
