// Host mode: what a bootstrap process becomes after the trampoline. It obeys
// only its launcher's connection (or, in a tree launch, its first-level
// host's), runs the proc manager, and routes actor messages (route/router.hpp):
// to its own procs, to other host agents over direct links, and replies
// back to their ports, folding them on the way where a call asked for a
// reducer (route/pending_calls.hpp). A first-level host of a tree also
// starts its share of hosts, relays their traffic (Routed), and passes
// casts and StopProcs down.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <map>
#include <memory>

#include "agent/peer_links.hpp"
#include "agent/proc_manager.hpp"
#include "alloc/ssh_allocator.hpp"
#include "auth/secret.hpp"
#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "channel/pending_handshakes.hpp"
#include "channel/refusal_log.hpp"
#include "mesh/ref_cache.hpp"
#include "route/pending_calls.hpp"
#include "route/router.hpp"
#include "util/gate.hpp"
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
  asio::awaitable<bool> serve_upstream();  // true: stop requested
  asio::awaitable<void> stop_for_signal();
  asio::awaitable<void> heartbeat();
  asio::awaitable<void> accept_peers();
  asio::awaitable<void> serve_peer(ConnectionPtr conn, uint32_t host);

  // Actor traffic.
  void route_cast(std::string frame, CastSource source);
  CastHops route_cast_hops(const MeshRef& target, CastSource source) const;
  void deliver_cast(const std::string& frame, const CastHead& head, const MeshRef& target,
                    const std::vector<uint32_t>& children);
  void route_reply(std::string frame, const ReplyHead& head);
  void route_undeliverable(std::string frame);
  // To an endpoint's host: a local proc, upstream, or a peer.
  void send_toward(const Endpoint& to, std::string frame);
  // A message that reached no one: a call's ranks fail, a send bounces.
  void undeliverable(std::string_view frame, const CastHead& head, const MeshRef& target,
                     const std::vector<uint32_t>& ranks, const std::string& cause);
  // A frame a peer link could not take to `host`.
  void undelivered_frame(uint32_t host, std::string frame, const std::string& cause);
  void on_proc_frame(uint32_t proc, std::string frame);
  void on_proc_gone(uint32_t proc, const std::string& cause);
  void to_local_procs_of(const MeshRef& mesh, const std::string& frame);

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
  void to_child(uint32_t rank, std::string_view payload);
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
  PeerLinks peers_;
  PendingCalls calls_;
  std::map<uint32_t, MeshRef> meshes_;  // actor meshes with procs on this host, by id
  RefCache targets_;                    // the targets of casts passing through
  std::vector<uint32_t> child_ranks_;   // sorted
  Millis grace_{5000};
  bool stopping_ = false;
  int signal_ = 0;                 // SIGTERM, SIGINT or SIGHUP from outside: stopping on our own
  bool launcher_stopped_ = false;  // by Ctrl-Z: its silence is expected
  std::unique_ptr<SshAllocator> subtree_;
  std::map<uint32_t, ChildHost> children_;  // by job-wide host rank
  Notifier children_changed_;
  asio::steady_timer heartbeat_timer_;
  Gate gate_;
};

}  // namespace meshrun
