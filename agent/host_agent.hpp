// Host mode: what a bootstrap process becomes after the trampoline. It obeys
// only its launcher's connection (and authenticated peers of its own job),
// runs the proc manager, and routes casts to its procs and replies upward.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <memory>

#include "agent/proc_manager.hpp"
#include "auth/secret.hpp"
#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class HostAgent {
 public:
  HostAgent(asio::io_context& io, ConnectionPtr upstream, std::unique_ptr<Listener> listener,
            const Secret& secret, std::shared_ptr<TlsContext> tls, const BecomeHost& config,
            std::string agent_path);

  // Serves until told to stop (exit 0) or until the launcher is lost (exit 1,
  // after stopping every proc).
  asio::awaitable<int> run();

 private:
  asio::awaitable<bool> serve(ConnectionPtr conn);  // true: stop requested
  asio::awaitable<void> heartbeat();
  asio::awaitable<void> accept_peers();
  void dispatch_cast(const std::string& payload);

  asio::io_context& io_;
  ConnectionPtr upstream_;
  std::unique_ptr<Listener> listener_;
  const Secret& secret_;
  std::shared_ptr<TlsContext> tls_;  // for TCP peers; null: plain
  BecomeHost config_;
  ProcManager procs_;
  Millis grace_{5000};
  bool stopping_ = false;
};

}  // namespace meshrun
