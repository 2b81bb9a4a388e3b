// Host mode: what a bootstrap process becomes after the trampoline. It obeys
// only its launcher's connection, runs the proc manager, and routes casts to
// its procs and replies upward. In a tree launch a first-level host also
// starts its share of hosts, which dial its listener with the job's secret;
// it relays their traffic (Routed) and passes casts and StopProcs down.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <map>
#include <memory>

#include "agent/proc_manager.hpp"
#include "alloc/ssh_allocator.hpp"
#include "auth/secret.hpp"
#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "channel/pending_handshakes.hpp"
#include "channel/refusal_log.hpp"
#include "util/notifier.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class HostAgent {
 public:
  HostAgent(asio::io_context& io, ConnectionPtr upstream, std::unique_ptr<Listener> listener,
            const Secret& secret, std::shared_ptr<TlsContext> tls, std::string tls_bundle,
            const BecomeHost& config, std::string agent_path);
  ~HostAgent();

  // Serves until told to stop (exit 0) or until the launcher is lost (exit 1,
  // after stopping every proc).
  asio::awaitable<int> run();

 private:
  asio::awaitable<bool> serve(ConnectionPtr conn);  // true: stop requested
  asio::awaitable<void> heartbeat();
  asio::awaitable<void> accept_peers();
  void dispatch_cast(std::string payload);

  // Tree launch: this host starts the hosts of config_.subtree over ssh; they
  // dial this agent's listener, and it relays between them and the launcher.
  struct ChildHost {
    ConnectionPtr conn;
    bool stopped = false;
    bool reported = false;  // its failure went up (once is enough)
  };
  void start_subtree();
  void report_child_failures();
  void report_child(uint32_t rank, const std::string& why);
  void to_children(const std::string& payload);
  bool behind() const;
  asio::awaitable<void> hold_back();
  asio::awaitable<void> serve_child(ConnectionPtr conn, uint32_t rank);
  asio::awaitable<void> wait_children_stopped(Millis timeout);

  asio::io_context& io_;
  ConnectionPtr upstream_;
  std::unique_ptr<Listener> listener_;
  PendingHandshakes pending_;
  RefusalLog refusals_{"this agent"};
  const Secret& secret_;
  std::shared_ptr<TlsContext> tls_;  // for TCP peers; null: plain
  std::string tls_bundle_;           // for children of a tree launch; wiped when done
  BecomeHost config_;
  ProcManager procs_;
  Millis grace_{5000};
  bool stopping_ = false;
  bool launcher_stopped_ = false;  // by Ctrl-Z: its silence is expected
  std::unique_ptr<SshAllocator> subtree_;
  std::map<uint32_t, ChildHost> children_;  // by job-wide host rank
  Notifier children_changed_;
};

}  // namespace meshrun
