// The launcher's host agents: it serves the bootstrap channel, authenticates
// each agent as it dials in, trampolines it into a host agent, and then
// holds its connection (direct, or through the first-level host it hangs off
// in a tree launch), with heartbeats both ways. Messages from hosts are
// handed to the owner decoded and attributed to the host that sent them.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alloc/allocator.hpp"
#include "auth/secret.hpp"
#include "channel/listener.hpp"
#include "channel/pending_handshakes.hpp"
#include "control/job_state.hpp"
#include "mesh/meshes.hpp"
#include "util/gate.hpp"
#include "util/notifier.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class HostSet {
 public:
  using Clock = std::chrono::steady_clock;
  // A message from `host` (already unwrapped from Routed, checked to come
  // from that host or its first-level parent).
  using OnMessage = std::function<void(uint32_t host, Message&& msg)>;
  // Host `host` is gone (its connection broke, or its parent says so).
  using OnLost = std::function<void(uint32_t host, const std::string& why)>;

  HostSet(asio::io_context& io, const Secret& secret, Millis heartbeat_timeout, JobState& job,
          OnMessage on_message, OnLost on_lost);
  ~HostSet();

  Status listen(const Address& address);
  const Address& address() const;
  void set_job_id(std::string id) { job_id_ = std::move(id); }
  void use_tls(std::shared_ptr<TlsContext> tls) { tls_ = std::move(tls); }

  // Starts the allocator's agents, authenticates each as it dials in, and
  // trampolines every one into a host agent; then tells every host where
  // the others listen (for actors' messages between hosts).
  asio::awaitable<Result<HostMesh>> allocate(Allocator& allocator, AgentLaunch launch,
                                             Millis start_timeout);
  // Directly, or wrapped in Routed through the host's parent.
  void send(uint32_t host, std::string_view payload);
  void send(uint32_t host, std::string&& payload);
  template <class M>
  requires requires { M::kType; }
  void send(uint32_t host, const M& msg) { send(host, encode(msg)); }
  // To every host that is connected directly (first-level hosts pass
  // what they must on to their children).
  void send_to_first_level(std::string_view payload);
  std::optional<uint32_t> via(uint32_t host) const;
  // Whether `host` may speak for `claimed` (itself, or a child it relays).
  bool speaks_for(uint32_t host, uint32_t claimed) const;

  // Back-pressure for one-way sends: until at most `max_queued` bytes wait
  // for every host, or `deadline` (an error naming the host then).
  asio::awaitable<Status> drain(size_t max_queued, Clock::time_point deadline);
  // StopProcs to every host (the tree passes it down), then waits until
  // every host reported stopped or is lost; closes and reaps.
  asio::awaitable<void> shutdown(Millis grace, Millis timeout);
  bool shutting_down() const { return shutting_down_; }
  // After meshrun itself was stopped (Ctrl-Z): the hosts' silence until now
  // is not theirs; judge it again from one heartbeat timeout on.
  void excuse_silence() { excused_until_ = Clock::now() + heartbeat_timeout_; }

  const std::vector<Host>& hosts() const { return hosts_; }
  size_t size() const { return hosts_.size(); }
  std::function<void(const std::string&)> on_progress;

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> greet(ConnectionPtr conn, PendingHandshakes::Slot slot);
  asio::awaitable<void> serve(uint32_t rank);
  asio::awaitable<void> heartbeat();
  void greet_routed(uint32_t parent, AgentHello&& hello);
  // Handles what the host set owns; false to pass `msg` on.
  bool handle(uint32_t host, Message& msg);
  void lost(uint32_t rank, const std::string& why, bool started);
  bool is_child(uint32_t parent, uint32_t host) const;

  asio::io_context& io_;
  const Secret& secret_;
  std::shared_ptr<TlsContext> tls_;
  Millis heartbeat_timeout_;
  Clock::time_point excused_until_{};
  JobState& job_;
  OnMessage on_message_;
  OnLost on_lost_;
  std::unique_ptr<Listener> listener_;
  PendingHandshakes pending_;
  Allocator* allocator_ = nullptr;
  std::vector<Host> hosts_;
  std::string job_id_;
  bool shutting_down_ = false;
  bool closed_ = false;
  Notifier changed_;
  std::unique_ptr<asio::steady_timer> heartbeat_timer_;
  Gate gate_;
};

}  // namespace meshrun
