#include "agent/host_agent.hpp"

#include <openssl/crypto.h>

#include <signal.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>

#include "mesh/extent.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr Millis kPeerHandshakeTimeout{5000};
// Bytes queued to one proc or child host before casts from upstream wait,
// and until when.
constexpr size_t kProcHighWater = 2u << 20;
constexpr size_t kProcLowWater = 512u << 10;

// The ranks of `slice` are row-major over its dims; a proc is in it when each
// of its coordinates is in range.
bool in_slice(const std::vector<SliceDim>& slice, uint64_t rank) {
  for (size_t i = slice.size(); i-- > 0;) {
    const auto& d = slice[i];
    if (d.size == 0) return false;
    const uint64_t c = rank % d.size;
    rank /= d.size;
    if (c < d.begin || c >= d.end) return false;
  }
  return rank == 0;
}
}  // namespace

HostAgent::HostAgent(asio::io_context& io, ConnectionPtr upstream,
                     std::unique_ptr<Listener> listener, const Secret& secret,
                     std::shared_ptr<TlsContext> tls, std::string tls_bundle,
                     const BecomeHost& config, std::string agent_path)
    : io_(io),
      upstream_(upstream),
      listener_(std::move(listener)),
      secret_(secret),
      tls_(std::move(tls)),
      tls_bundle_(std::move(tls_bundle)),
      config_(config),
      procs_(io, upstream, std::move(agent_path), config.host_rank),
      children_changed_(io.get_executor()) {
  for (const auto& h : config_.subtree.hosts)
    children_[h.rank] = ChildHost{};
  pending_.set_limit(kSparePendingHandshakes + children_.size());
}

HostAgent::~HostAgent() {
  OPENSSL_cleanse(tls_bundle_.data(), tls_bundle_.size());
}

asio::awaitable<int> HostAgent::run() {
  // A signal to the agent stops its procs the same way a lost launcher does.
  asio::signal_set signals(io_, SIGTERM, SIGINT, SIGHUP);
  signals.async_wait([this](asio::error_code ec, int sig) {
    if (ec) return;
    log::warn(std::string("received ") + ::strsignal(sig) + "; stopping procs");
    upstream_->close();
  });
  upstream_->send(HostReady{config_.host_rank});
  asio::co_spawn(io_, heartbeat(), asio::detached);
  if (listener_) asio::co_spawn(io_, accept_peers(), asio::detached);
  start_subtree();
  const bool stop_requested = co_await serve(upstream_);
  if (listener_) listener_->close();
  if (!stop_requested) {
    log::warn("lost the launcher; stopping " + std::to_string(procs_.live()) + " procs");
    stopping_ = true;
    // Children notice their lost upstream and stop their own procs.
    for (auto& [rank, c] : children_)
      if (c.conn) c.conn->close();
    co_await procs_.stop_all(std::min(grace_, Millis(2000)));
    if (subtree_) co_await subtree_->reap(Millis(3000));
    co_return 1;
  }
  signals.cancel();
  if (subtree_) co_await subtree_->reap(Millis(5000));
  co_return 0;
}

asio::awaitable<bool> HostAgent::serve(ConnectionPtr conn) {
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) {
      if (conn == upstream_) log::verbose("launcher connection: " + frame.error().message);
      co_return false;
    }
    auto type = peek_type(*frame);
    if (!type) {
      log::warn("dropping " + conn->peer() + ": " + type.error().message);
      conn->close();
      co_return false;
    }
    switch (*type) {
      case MsgType::heartbeat:
        break;
      case MsgType::cast:
        to_children(*frame);
        dispatch_cast(std::move(*frame));
        if (behind()) co_await hold_back();
        break;
      case MsgType::spawn_actors:
        procs_.forward(std::move(*frame), [](uint32_t) { return true; });
        break;
      default: {
        auto msg = decode(*frame);
        if (!msg) {
          log::warn("dropping " + conn->peer() + ": " + msg.error().message);
          conn->close();
          co_return false;
        }
        if (auto* routed = std::get_if<Routed>(&*msg)) {
          auto it = children_.find(routed->host_rank);
          if (conn == upstream_ && it != children_.end() && it->second.conn)
            it->second.conn->send_payload(routed->payload);
        } else if (auto* create = std::get_if<CreateProcs>(&*msg)) {
          procs_.create(*create);
        } else if (auto* sig = std::get_if<SignalProcs>(&*msg)) {
          procs_.signal_all(sig->signal);
          // After Ctrl-Z has stopped the ranks, meshrun stops itself: silent
          // until SIGCONT, not lost (its connection still shows if it dies).
          if (sig->signal == SIGTSTP || sig->signal == SIGCONT)
            launcher_stopped_ = sig->signal == SIGTSTP;
        } else if (auto* stop = std::get_if<StopProcs>(&*msg)) {
          stopping_ = true;
          grace_ = Millis(stop->grace_ms);
          to_children(*frame);
          co_await procs_.stop_all(grace_);
          // The launcher waits for every host; a parent that left first
          // would cut its children's reports off.
          co_await wait_children_stopped(2 * grace_ + Millis(5000));
          upstream_->send(HostStopped{config_.host_rank});
          co_await upstream_->flush();
          if (stop->exit_after) co_return true;
        } else if (procs_.handle(*msg)) {
        } else {
          log::warn("unexpected " + std::string(type_name(*type)) + " from " + conn->peer());
        }
      }
    }
  }
}

void HostAgent::dispatch_cast(std::string payload) {
  Reader r(std::string_view(payload).substr(2));
  std::string mesh;
  std::vector<SliceDim> slice;
  r(mesh, slice);
  if (!r.ok()) {
    log::warn("dropping a malformed cast");
    return;
  }
  procs_.forward(std::move(payload), [&](uint32_t rank) { return in_slice(slice, rank); });
}

// Back-pressure: while a proc or a child host is 2 MiB behind, stop reading
// casts, so a sender that outruns its actors fills the sockets, not our
// memory. Bounded by half the heartbeat timeout, so that a proc stuck in a
// handler does not make the launcher look silent.
bool HostAgent::behind() const {
  if (procs_.max_queued() > kProcHighWater) return true;
  for (const auto& [rank, c] : children_)
    if (c.conn && c.conn->queued_bytes() > kProcHighWater) return true;
  return false;
}

asio::awaitable<void> HostAgent::hold_back() {
  const auto deadline = std::chrono::steady_clock::now() + Millis(config_.heartbeat_timeout_ms / 2);
  co_await procs_.wait_queued_below(kProcLowWater, deadline);
  for (auto& [rank, c] : children_) {
    auto conn = c.conn;  // a copy: the child may go away while we wait
    if (conn) co_await conn->wait_queued_below(kProcLowWater, deadline);
  }
}

asio::awaitable<void> HostAgent::heartbeat() {
  const Millis timeout(config_.heartbeat_timeout_ms);
  const Millis period = std::max(Millis(50), timeout / 4);
  asio::steady_timer timer(io_);
  while (upstream_->is_open() && !stopping_) {
    timer.expires_after(period);
    co_await timer.async_wait(kTuple);
    const auto now = std::chrono::steady_clock::now();
    if (now - upstream_->last_receive() > timeout && !launcher_stopped_) {
      log::warn("no word from the launcher for " + std::to_string(timeout.count()) + " ms");
      upstream_->close();
      co_return;
    }
    if (now - upstream_->last_send() >= period) upstream_->send(Heartbeat{});
    for (auto& [rank, c] : children_) {
      if (!c.conn || !c.conn->is_open()) continue;
      if (now - c.conn->last_receive() > timeout) {
        c.conn->close();  // serve_child reports it
        continue;
      }
      if (now - c.conn->last_send() >= period) c.conn->send(Heartbeat{});
    }
  }
}

asio::awaitable<void> HostAgent::accept_peers() {
  for (;;) {
    auto socket = co_await listener_->accept();
    if (!socket) co_return;
    auto conn = Connection::make(std::move(*socket), "peer");
    auto slot = std::make_shared<PendingHandshakes::Slot>(pending_.admit(conn));
    asio::co_spawn(
        io_,
        [this, conn, slot]() -> asio::awaitable<void> {
          auto ok = co_await conn->authenticate_server(secret_, kPeerHandshakeTimeout, tls_);
          slot->release();
          if (!ok) {
            refusals_.refused(ok.error().message);
            co_return;
          }
          // The first message tells a child of this host's subtree from a peer.
          auto frame = co_await conn->read_within(kPeerHandshakeTimeout);
          if (!frame) co_return;
          auto msg = decode(*frame);
          if (!msg || !std::holds_alternative<AgentHello>(*msg)) {
            log::warn("a peer sent something other than a hello; dropped");
            conn->close();
            co_return;
          }
          const uint32_t rank = std::get<AgentHello>(*msg).host_index;
          auto it = children_.find(rank);
          if (it == children_.end() || it->second.conn || stopping_) {
            log::warn("host " + std::to_string(rank) +
                      " dialed in, but it is not a child of this host or already here");
            conn->close();
            co_return;
          }
          it->second.conn = conn;
          conn->set_peer("host " + std::to_string(rank));
          upstream_->send(Routed{rank, *frame});
          co_await serve_child(conn, rank);
        },
        asio::detached);
  }
}

void HostAgent::start_subtree() {
  if (children_.empty()) return;
  const auto& t = config_.subtree;
  if (!listener_) {
    for (const auto& h : t.hosts)
      report_child(h.rank, "its parent host " + std::to_string(config_.host_rank) +
                               " has no listener to start it with");
    return;
  }
  subtree_ = std::make_unique<SshAllocator>(io_, subtree_hosts(t), subtree_options(t));
  AgentLaunch launch;
  launch.bootstrap_addresses = listener_->local_address().to_string();
  launch.secret_hex = secret_.to_hex();
  launch.tls_bundle = tls_bundle_;
  launch.agent_path = t.agent_path;
  launch.env = t.env;
  subtree_->on_change([this] { report_child_failures(); });
  log::verbose("starting " + std::to_string(t.hosts.size()) + " child hosts (" +
               std::to_string(t.hosts.front().rank) + "-" + std::to_string(t.hosts.back().rank) +
               "), dialing back to " + launch.bootstrap_addresses);
  if (auto st = subtree_->start(launch); !st) {
    for (const auto& h : t.hosts)
      report_child(h.rank, st.error().message);
    return;
  }
  std::fill(launch.secret_hex.begin(), launch.secret_hex.end(), '\0');
  OPENSSL_cleanse(launch.tls_bundle.data(), launch.tls_bundle.size());
}

void HostAgent::report_child_failures() {
  const auto& t = config_.subtree;
  for (size_t i = 0; i < t.hosts.size(); ++i)
    if (auto why = subtree_->failure(i)) report_child(t.hosts[i].rank, *why);
}

void HostAgent::report_child(uint32_t rank, const std::string& why) {
  auto& c = children_[rank];
  if (c.reported || c.stopped || stopping_) return;
  c.reported = true;
  upstream_->send(HostFailed{rank, why});
  children_changed_.notify();
}

void HostAgent::to_children(const std::string& payload) {
  for (auto& [rank, c] : children_)
    if (c.conn && c.conn->is_open()) c.conn->send_payload(payload);
}

asio::awaitable<void> HostAgent::serve_child(ConnectionPtr conn, uint32_t rank) {
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) {
      report_child(rank, "its connection to its parent, host " + std::to_string(config_.host_rank) +
                             ", ended: " + frame.error().message);
      conn->close();
      children_changed_.notify();
      co_return;
    }
    auto type = peek_type(*frame);
    if (type && *type == MsgType::heartbeat) continue;
    if (type && *type == MsgType::host_stopped) {
      children_[rank].stopped = true;
      children_changed_.notify();
    }
    upstream_->send(Routed{rank, std::move(*frame)});
  }
}

asio::awaitable<void> HostAgent::wait_children_stopped(Millis timeout) {
  co_await children_changed_.wait_until(
      [this] {
        for (const auto& [rank, c] : children_)
          if (c.conn && c.conn->is_open() && !c.stopped) return false;
        return true;
      },
      std::chrono::steady_clock::now() + timeout);
}

}  // namespace meshrun
