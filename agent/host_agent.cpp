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

#include "util/log.hpp"
#include "wire/actor_frames.hpp"

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr Millis kPeerHandshakeTimeout{5000};
// Bytes queued to one proc, child host or peer host before this agent stops
// reading more casts, and until when.
constexpr size_t kHighWater = 2u << 20;
constexpr size_t kLowWater = 512u << 10;

// Counts what a peer or proc sent that it may not: a few in full, then at
// powers of ten, as RefusalLog does for connections.
class DropLog {
 public:
  void dropped(const std::string& what) {
    ++count_;
    if (count_ <= 3 || count_ == next_) {
      log::warn(what + (count_ > 3 ? " (" + std::to_string(count_) + " dropped so far)" : ""));
      if (count_ > 3) next_ *= 10;
    }
  }

 private:
  uint64_t count_ = 0;
  uint64_t next_ = 10;
};
}  // namespace

HostAgent::HostAgent(asio::io_context& io, ConnectionPtr upstream,
                     std::unique_ptr<Listener> listener, const Secret& secret,
                     std::shared_ptr<TlsContext> tls, std::string tls_bundle,
                     const BecomeHost& config, std::string agent_path)
    : io_(io),
      upstream_(upstream),
      listener_(std::move(listener)),
      secret_(secret),
      tls_(tls),
      tls_bundle_(std::move(tls_bundle)),
      config_(config),
      procs_(
          io, upstream, std::move(agent_path), config.host_rank,
          ProcEvents{
              [this](uint32_t proc, std::string frame) { on_proc_frame(proc, std::move(frame)); },
              [this](uint32_t proc, const std::string& cause) { on_proc_gone(proc, cause); },
              [this] { return behind(); },
              [this]() -> asio::awaitable<void> { co_await hold_back(); },
          }),
      peers_(io, config.host_rank, secret, tls,
             [this](uint32_t host, std::string frame, const std::string& why) {
               undelivered_frame(host, std::move(frame), why);
             }),
      calls_(io, config.host_rank,
             [this](const PortRef& port, std::string frame) {
               send_toward(port.owner, std::move(frame));
             }),
      children_changed_(io.get_executor()),
      heartbeat_timer_(io),
      gate_(io.get_executor()) {
  for (const auto& h : config_.subtree.hosts) {
    children_[h.rank] = ChildHost{};
    child_ranks_.push_back(h.rank);
  }
  std::sort(child_ranks_.begin(), child_ranks_.end());
  pending_.set_limit(kSparePendingHandshakes + children_.size() + config_.num_hosts);
}

HostAgent::~HostAgent() {
  OPENSSL_cleanse(tls_bundle_.data(), tls_bundle_.size());
}

asio::awaitable<int> HostAgent::run() {
  // A signal to the agent (SLURM's time limit, scancel) stops its procs
  // while the launcher still listens, so it hears how each ended; then the
  // agent leaves as it does when the launcher is lost.
  asio::signal_set signals(io_, SIGTERM, SIGINT, SIGHUP);
  signals.async_wait([this](asio::error_code ec, int sig) {
    if (ec) return;
    log::warn(std::string("received ") + ::strsignal(sig) + "; stopping " +
              std::to_string(procs_.live()) + " procs");
    signal_ = sig;
    asio::co_spawn(io_, stop_for_signal(), asio::detached);
  });
  upstream_->send(HostReady{config_.host_rank});
  asio::co_spawn(io_, heartbeat(), asio::detached);
  if (listener_) asio::co_spawn(io_, accept_peers(), asio::detached);
  start_subtree();
  const bool stop_requested = co_await serve_upstream();
  heartbeat_timer_.cancel();
  if (listener_) listener_->close();
  co_await peers_.close();
  if (!stop_requested) {
    if (signal_ == 0 || procs_.live() > 0)
      log::warn("lost the launcher; stopping " + std::to_string(procs_.live()) + " procs");
    stopping_ = true;
    // Children notice their lost upstream and stop their own procs.
    for (auto& [rank, c] : children_)
      if (c.conn) c.conn->close();
    co_await procs_.stop_all(std::min(grace_, Millis(2000)));
    if (subtree_) co_await subtree_->reap(Millis(3000));
    co_await gate_.close(std::chrono::steady_clock::now() + Millis(2000));
    co_return 1;
  }
  signals.cancel();
  if (subtree_) co_await subtree_->reap(Millis(5000));
  co_await gate_.close(std::chrono::steady_clock::now() + Millis(2000));
  co_return 0;
}

asio::awaitable<void> HostAgent::stop_for_signal() {
  auto hold = gate_.enter();
  if (!hold) co_return;
  stopping_ = true;  // no new peers or children meanwhile
  co_await procs_.end_by_signal(signal_, std::min(grace_, Millis(2000)));
  // The procs' statuses are queued: they leave before the connection does.
  co_await upstream_->flush();
  upstream_->close();
}

asio::awaitable<bool> HostAgent::serve_upstream() {
  for (;;) {
    auto frame = co_await upstream_->read();
    if (!frame) {
      log::verbose("launcher connection: " + frame.error().message);
      co_return false;
    }
    auto type = peek_type(*frame);
    if (!type) {
      log::warn("dropping the launcher connection: " + type.error().message);
      upstream_->close();
      co_return false;
    }
    switch (*type) {
      case MsgType::heartbeat:
        break;
      case MsgType::actor_cast:
        route_cast(std::move(*frame), CastSource::upstream);
        if (behind()) co_await hold_back();
        break;
      case MsgType::port_reply: {
        // The controller answering a port an actor gave it.
        auto head = peek_reply_head(*frame);
        if (head) route_reply(std::move(*frame), *head);
        break;
      }
      default: {
        auto msg = decode(*frame);
        if (!msg) {
          log::warn("dropping the launcher connection: " + msg.error().message);
          upstream_->close();
          co_return false;
        }
        if (auto* routed = std::get_if<Routed>(&*msg)) {
          to_child(routed->host_rank, routed->payload);
        } else if (auto* spawn = std::get_if<SpawnActors>(&*msg)) {
          meshes_[spawn->mesh.mesh] = spawn->mesh;
          to_local_procs_of(spawn->mesh, *frame);
        } else if (auto* stop = std::get_if<StopActors>(&*msg)) {
          auto it = meshes_.find(stop->mesh);
          if (it != meshes_.end()) {
            to_local_procs_of(it->second, *frame);
            meshes_.erase(it);
          }
        } else if (auto* dir = std::get_if<HostDirectory>(&*msg)) {
          peers_.set_directory(dir->addresses);
        } else if (auto* create = std::get_if<CreateProcs>(&*msg)) {
          procs_.create(*create);
        } else if (auto* sig = std::get_if<SignalProcs>(&*msg)) {
          procs_.signal_all(sig->signal);
          // After Ctrl-Z has stopped the ranks, meshrun stops itself: silent
          // until SIGCONT, not lost (its connection still shows if it dies).
          if (sig->signal == SIGTSTP || sig->signal == SIGCONT)
            launcher_stopped_ = sig->signal == SIGTSTP;
        } else if (auto* stop_mesh = std::get_if<StopProcs>(&*msg);
                   stop_mesh && !stop_mesh->mesh.empty()) {
          // One proc mesh, while the job goes on: the upstream is not held.
          if (auto hold = gate_.enter())
            asio::co_spawn(
                io_,
                [this, mesh = stop_mesh->mesh, grace = Millis(stop_mesh->grace_ms),
                 h = std::move(*hold)]() -> asio::awaitable<void> {
                  co_await procs_.stop_mesh(mesh, grace);
                },
                asio::detached);
        } else if (auto* stop_procs = std::get_if<StopProcs>(&*msg)) {
          stopping_ = true;
          grace_ = Millis(stop_procs->grace_ms);
          to_children(*frame);
          co_await procs_.stop_all(grace_);
          // The launcher waits for every host; a parent that left first
          // would cut its children's reports off.
          co_await wait_children_stopped(2 * grace_ + Millis(5000));
          upstream_->send(HostStopped{config_.host_rank});
          co_await upstream_->flush();
          if (stop_procs->exit_after) co_return true;
        } else if (procs_.handle(*msg)) {
        } else {
          log::warn("unexpected " + std::string(type_name(*type)) + " from the launcher");
        }
      }
    }
  }
}

// ---- actor traffic ----

void HostAgent::route_cast(std::string frame, CastSource source) {
  auto parts = peek_cast_parts(frame);
  const MeshRef* target = parts ? targets_.get(parts->target) : nullptr;
  if (!target || target->is_procs()) {
    log::warn("dropping a malformed actor message");
    return;
  }
  const CastHops hops = route_cast_hops(*target, source);
  if (!hops.peers.empty()) {
    std::string passed = frame;
    patch_cast_local_only(passed);
    for (size_t i = 0; i < hops.peers.size(); ++i)
      peers_.send(hops.peers[i],
                  i + 1 == hops.peers.size() ? std::move(passed) : std::string(passed));
  }
  for (uint32_t child : hops.children)
    to_child(child, frame);
  if (hops.local || !hops.children.empty())
    deliver_cast(frame, parts->head, *target, hops.children);
}

CastHops HostAgent::route_cast_hops(const MeshRef& target, CastSource source) const {
  return meshrun::route_cast(config_.host_rank, target, source, child_ranks_);
}

void HostAgent::deliver_cast(const std::string& frame, const CastHead& head, const MeshRef& target,
                             const std::vector<uint32_t>& children) {
  std::vector<PendingCalls::Owed> owed;
  std::vector<uint32_t> unreachable;
  std::string gone;
  for (uint64_t r : target.proc_ranks_on(config_.host_rank)) {
    const auto proc = static_cast<uint32_t>(target.proc_base + r);
    const uint32_t rank = target.actor_rank(r);
    if (procs_.send_to(proc, std::string_view(frame))) {
      owed.push_back({rank, proc});
    } else {
      unreachable.push_back(rank);
      if (gone.empty()) gone = "proc " + std::to_string(proc);
    }
  }
  if (head.port.valid() && head.port.reducer != ReducerKind::none)
    for (uint32_t child : children)
      for (uint64_t r : target.proc_ranks_on(child))
        owed.push_back({target.actor_rank(r), kNoProc});
  // A call's fresh port: this host answers for these ranks. (A port an actor
  // handed on already has its slot; its answer just passes through.)
  if (head.port.valid() && head.port.slot == kAnySlot)
    calls_.expect(head, std::move(owed), config_.tree_depth);
  if (!unreachable.empty())
    undeliverable(frame, head, target, unreachable,
                  gone + " of host " + std::to_string(config_.host_rank) + " is not running");
}

void HostAgent::undeliverable(std::string_view frame, const CastHead& head, const MeshRef& target,
                              const std::vector<uint32_t>& ranks, const std::string& cause) {
  if (head.port.valid()) {
    for (uint32_t rank : ranks) {
      PortReply r;
      r.from = {config_.host_rank, kNoProc, 0, 0};
      r.port = head.port;
      if (r.port.slot == kAnySlot) r.port.slot = rank;
      r.kind = ReplyKind::failure;
      r.value = "undeliverable: " + cause;
      send_toward(head.port.owner, encode(r));
    }
    return;
  }
  auto msg = decode(frame);
  Undeliverable u;
  u.to = head.from;
  u.message = msg && std::holds_alternative<ActorCast>(*msg) ? std::get<ActorCast>(*msg).message
                                                             : std::string("?");
  u.target = target.name + "[";
  for (size_t i = 0; i < ranks.size() && i < 8; ++i)
    u.target += (i ? "," : "") + std::to_string(ranks[i]);
  u.target += ranks.size() > 8 ? ",...]" : "]";
  u.cause = cause;
  send_toward(head.from, encode(u));
}

void HostAgent::undelivered_frame(uint32_t host, std::string frame, const std::string& cause) {
  auto type = peek_type(frame);
  if (!type || *type != MsgType::actor_cast) {
    log::verbose("a reply could not be passed on: " + cause);
    return;
  }
  auto head = peek_cast_head(frame);
  auto target = peek_cast_target(frame);
  if (!head || !target) return;
  // The ranks the unreachable host was to deliver to.
  std::vector<uint32_t> ranks;
  for (uint64_t r : target->proc_ranks_on(host))
    ranks.push_back(target->actor_rank(r));
  undeliverable(frame, *head, *target, ranks, cause);
}

void HostAgent::route_reply(std::string frame, const ReplyHead& head) {
  if (calls_.on_reply(head, frame)) return;
  send_toward(head.port.owner, std::move(frame));
}

void HostAgent::route_undeliverable(std::string frame) {
  auto msg = decode(frame);
  if (!msg || !std::holds_alternative<Undeliverable>(*msg)) return;
  send_toward(std::get<Undeliverable>(*msg).to, std::move(frame));
}

void HostAgent::send_toward(const Endpoint& to, std::string frame) {
  switch (meshrun::route_reply(config_.host_rank, to)) {
    case ReplyHop::local_proc:
      if (!procs_.send_to(to.proc, std::move(frame)))
        log::debug("a message for proc " + std::to_string(to.proc) + ", which is gone, dropped");
      break;
    case ReplyHop::upstream:
      upstream_->send_payload(std::move(frame));
      break;
    case ReplyHop::peer:
      peers_.send(to.host, std::move(frame));
      break;
  }
}

void HostAgent::on_proc_frame(uint32_t, std::string frame) {
  auto type = peek_type(frame);
  if (!type) return;
  switch (*type) {
    case MsgType::actor_cast:
      route_cast(std::move(frame), CastSource::own_proc);
      break;
    case MsgType::port_reply:
      if (auto head = peek_reply_head(frame)) route_reply(std::move(frame), *head);
      break;
    case MsgType::undeliverable:
      route_undeliverable(std::move(frame));
      break;
    case MsgType::actor_status:
      upstream_->send_payload(std::move(frame));
      break;
    default:
      break;  // the proc manager lets no other type through
  }
}

void HostAgent::on_proc_gone(uint32_t proc, const std::string& cause) {
  calls_.proc_gone(proc, cause + " on host " + std::to_string(config_.host_rank));
}

void HostAgent::to_local_procs_of(const MeshRef& mesh, const std::string& frame) {
  for (uint64_t r = 0; r < mesh.per_host; ++r) {
    const uint64_t rank = static_cast<uint64_t>(config_.host_rank) * mesh.per_host + r;
    if (mesh.in_region(rank))
      procs_.send_to(static_cast<uint32_t>(mesh.proc_base + rank), std::string_view(frame));
  }
}

// Back-pressure: while a proc, a child host or a peer host is 2 MiB behind,
// stop reading casts, so a sender that outruns its actors fills the
// sockets, not our memory. Bounded by half the heartbeat timeout, so that
// a proc stuck in a handler does not make the launcher look silent.
bool HostAgent::behind() const {
  if (procs_.max_queued() > kHighWater || peers_.max_queued() > kHighWater) return true;
  for (const auto& [rank, c] : children_)
    if (c.conn && c.conn->queued_bytes() > kHighWater) return true;
  return false;
}

asio::awaitable<void> HostAgent::hold_back() {
  const auto deadline = std::chrono::steady_clock::now() + Millis(config_.heartbeat_timeout_ms / 2);
  co_await procs_.wait_queued_below(kLowWater, deadline);
  co_await peers_.wait_queued_below(kLowWater, deadline);
  for (auto& [rank, c] : children_) {
    auto conn = c.conn;  // a copy: the child may go away while we wait
    if (conn) co_await conn->wait_queued_below(kLowWater, deadline);
  }
}

asio::awaitable<void> HostAgent::heartbeat() {
  auto hold = gate_.enter();
  if (!hold) co_return;
  const Millis timeout(config_.heartbeat_timeout_ms);
  const Millis period = std::max(Millis(50), timeout / 4);
  auto& timer = heartbeat_timer_;
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
    auto hold = gate_.enter();
    if (!hold) co_return;
    asio::co_spawn(
        io_,
        [this, conn, slot, h = std::move(*hold)]() -> asio::awaitable<void> {
          auto ok = co_await conn->authenticate_server(secret_, kPeerHandshakeTimeout, tls_);
          slot->release();
          if (!ok) {
            refusals_.refused(ok.error().message);
            co_return;
          }
          // The first message tells a child of this host's subtree (its
          // hello) from another host agent (a link for actors' messages).
          auto frame = co_await conn->read_within(kPeerHandshakeTimeout);
          if (!frame) co_return;
          auto msg = decode(*frame);
          if (msg && std::holds_alternative<PeerHello>(*msg)) {
            const uint32_t host = std::get<PeerHello>(*msg).host_rank;
            if (host >= config_.num_hosts || host == config_.host_rank || stopping_) {
              log::warn("a link from host " + std::to_string(host) +
                        ", which is not another host of this job; dropped");
              conn->close();
              co_return;
            }
            conn->set_peer("host " + std::to_string(host));
            co_await serve_peer(conn, host);
            co_return;
          }
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

// Another host agent's link: actors' messages only, each from that host.
asio::awaitable<void> HostAgent::serve_peer(ConnectionPtr conn, uint32_t host) {
  DropLog drops;
  auto refuse = [&](const std::string& what) {
    drops.dropped("host " + std::to_string(host) + " sent " + what + " on its link; dropped");
  };
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) co_return;
    auto type = peek_type(*frame);
    if (!type) {
      conn->close();
      co_return;
    }
    switch (*type) {
      case MsgType::heartbeat:
        break;
      case MsgType::actor_cast: {
        auto head = peek_cast_head(*frame);
        if (!head || head->from.host != host) {
          refuse("a message in another host's name");
          break;
        }
        route_cast(std::move(*frame), CastSource::peer);
        if (behind()) co_await hold_back();
        break;
      }
      case MsgType::port_reply: {
        auto head = peek_reply_head(*frame);
        if (!head || head->from.host != host) {
          refuse("a reply in another host's name");
          break;
        }
        route_reply(std::move(*frame), *head);
        break;
      }
      case MsgType::undeliverable:
        route_undeliverable(std::move(*frame));
        break;
      default:
        refuse(std::string(type_name(*type)));
    }
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

void HostAgent::to_child(uint32_t rank, std::string_view payload) {
  auto it = children_.find(rank);
  if (it != children_.end() && it->second.conn && it->second.conn->is_open())
    it->second.conn->send_payload(payload);
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
    // A child's reply to a call this host folds is folded here.
    if (type && *type == MsgType::port_reply)
      if (auto head = peek_reply_head(*frame);
          head && head->from.host == rank && calls_.on_reply(*head, *frame))
        continue;
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
