// A spawned child watched from the event loop through its pidfd.
#pragma once

#include <sys/types.h>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <string>

#include "process/spawn.hpp"

namespace meshrun {

struct ExitStatus {
  bool exited = false;    // normal exit with `code`
  int code = 0;
  int signal = 0;         // killed by `signal` when !exited
  bool core_dumped = false;

  bool success() const { return exited && code == 0; }
  // Shell convention: code, or 128 + signal.
  int shell_status() const { return exited ? code : 128 + signal; }
  // "exit code 3", "signal SIGSEGV (core dumped)".
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

  // Completes when the child has exited and been reaped.
  asio::awaitable<ExitStatus> wait();
  // Non-blocking: reaps if it already exited.
  bool try_reap();

  // Signal the child's process group (or the child alone when it has none);
  // does nothing once reaped.
  void signal_group(int sig);
  void signal(int sig);

 private:
  pid_t pid_;
  asio::posix::stream_descriptor pidfd_;
  bool reaped_ = false;
  ExitStatus status_;
};

std::string signal_name(int sig);  // "SIGSEGV"

}  // namespace meshrun
