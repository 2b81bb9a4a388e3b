#include "control/host_set.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "util/duration_text.hpp"
#include "util/exit_status.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr Millis kHandshakeTimeout{5000};
}  // namespace

HostSet::HostSet(asio::io_context& io, const Secret& secret, Millis heartbeat_timeout,
                 JobState& job, OnMessage on_message, OnLost on_lost)
    : io_(io),
      secret_(secret),
      heartbeat_timeout_(heartbeat_timeout),
      job_(job),
      on_message_(std::move(on_message)),
      on_lost_(std::move(on_lost)),
      changed_(io.get_executor()),
      gate_(io.get_executor()) {
  job_.watch(changed_);
}

HostSet::~HostSet() {
  closed_ = true;
  for (auto& h : hosts_)
    if (h.conn) h.conn->close();
}

Status HostSet::listen(const Address& address) {
  auto l = Listener::listen(io_, address);
  if (!l) return l.error();
  listener_ = std::move(*l);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return {};
}

const Address& HostSet::address() const {
  return listener_->local_address();
}

asio::awaitable<void> HostSet::accept_loop() {
  auto hold = gate_.enter();
  while (!closed_) {
    auto socket = co_await listener_->accept();
    if (!socket) co_return;
    auto conn = Connection::make(std::move(*socket), "an agent");
    auto slot = pending_.admit(conn);
    asio::co_spawn(io_, greet(conn, std::move(slot)), asio::detached);
  }
}

// Authenticate, then read AgentHello: only then is a connection a host.
asio::awaitable<void> HostSet::greet(ConnectionPtr conn, PendingHandshakes::Slot slot) {
  auto hold = gate_.enter();
  if (!hold) co_return;
  auto ok = co_await conn->authenticate_server(secret_, kHandshakeTimeout, tls_);
  slot.release();
  if (!ok) {
    log::verbose("refused a connection: " + ok.error().message);
    co_return;
  }
  auto frame = co_await conn->read_within(kHandshakeTimeout);
  if (!frame) co_return;
  auto msg = decode(*frame);
  if (!msg || !std::holds_alternative<AgentHello>(*msg)) {
    log::warn("an agent of this job sent something other than its hello; dropped");
    conn->close();
    co_return;
  }
  auto& hello = std::get<AgentHello>(*msg);
  if (hello.host_index >= hosts_.size() || hosts_[hello.host_index].conn) {
    log::warn("an agent claimed host index " + std::to_string(hello.host_index) +
              ", which is out of range or taken; dropped");
    conn->close();
    co_return;
  }
  auto& host = hosts_[hello.host_index];
  host.conn = conn;
  host.hostname = hello.hostname;
  host.address = hello.address;
  host.pid = hello.pid;
  conn->set_peer("host " + std::to_string(host.rank) + " (" + host.name + ")");
  log::debug("host " + std::to_string(host.rank) + " connected from " + hello.hostname +
             ", listening on " + hello.address);
  changed_.notify();
  asio::co_spawn(io_, serve(host.rank), asio::detached);
}

void HostSet::lost(uint32_t rank, const std::string& why, bool started) {
  auto& host = hosts_[rank];
  if (host.lost) return;
  host.lost = true;
  if (!host.stopped && !shutting_down_) {
    if (!started)
      job_.fail({"host " + std::to_string(rank) + " (" + host.name + ") failed to start: " + why,
                 exit_status::kLaunchFailed});
    else if (on_lost_)
      on_lost_(rank, why);
  }
  changed_.notify();
}

asio::awaitable<void> HostSet::serve(uint32_t rank) {
  auto hold = gate_.enter();
  auto conn = hosts_[rank].conn;
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) {
      if (closed_) co_return;
      // Said after "host N (name) ", in the job's error and to a controller.
      lost(rank,
           frame.error().code == Errc::closed
               ? "was lost: its connection closed (the agent exited or was killed, or the host "
                 "went down)"
               : "was lost: " + frame.error().message,
           true);
      // Its children are unreachable now; their lifeline stops them.
      for (auto& h : hosts_)
        if (h.via == rank)
          lost(h.rank, "was lost with its first-level host " + std::to_string(rank), true);
      co_return;
    }
    auto msg = decode(*frame);
    uint32_t from = rank;
    if (msg && std::holds_alternative<Routed>(*msg)) {
      auto& routed = std::get<Routed>(*msg);
      from = routed.host_rank;
      msg = decode(routed.payload);
      if (msg && std::holds_alternative<AgentHello>(*msg)) {
        greet_routed(rank, std::move(std::get<AgentHello>(*msg)));
        continue;
      }
      if (from >= hosts_.size() || hosts_[from].via != rank) {
        job_.fail({"host " + std::to_string(rank) + " routed a message for host " +
                       std::to_string(from) + ", which is not its child",
                   1});
        conn->close();
        co_return;
      }
    }
    if (!msg) {
      job_.fail(
          {"host " + std::to_string(from) + " sent a bad message: " + msg.error().message, 1});
      conn->close();
      co_return;
    }
    if (!handle(from, *msg) && on_message_) on_message_(from, std::move(*msg));
  }
}

bool HostSet::handle(uint32_t host, Message& msg) {
  if (std::holds_alternative<Heartbeat>(msg)) return true;
  if (auto* ready = std::get_if<HostReady>(&msg)) {
    if (ready->host_rank == host) hosts_[host].ready = true;
    changed_.notify();
    return true;
  }
  if (auto* stopped = std::get_if<HostStopped>(&msg)) {
    if (stopped->host_rank == host) hosts_[host].stopped = true;
    changed_.notify();
    return true;
  }
  if (auto* failed = std::get_if<HostFailed>(&msg)) {
    if (is_child(host, failed->host_rank))
      lost(failed->host_rank, (hosts_[failed->host_rank].ready ? "was lost: " : "") + failed->why,
           hosts_[failed->host_rank].ready);
    else
      log::warn("host " + std::to_string(host) + " reported host " +
                std::to_string(failed->host_rank) + ", which is not its child; ignored");
    return true;
  }
  return false;
}

void HostSet::greet_routed(uint32_t parent, AgentHello&& hello) {
  const uint32_t i = hello.host_index;
  if (i >= hosts_.size() || hosts_[i].conn) {
    log::warn("host " + std::to_string(parent) + " routed a hello from host " + std::to_string(i) +
              ", which is out of range or taken; ignored");
    return;
  }
  if (!is_child(parent, i)) {
    log::warn("host " + std::to_string(parent) + " routed a hello from host " + std::to_string(i) +
              ", which is not in its share; ignored");
    return;
  }
  auto& host = hosts_[i];
  host.conn = hosts_[parent].conn;
  host.via = parent;
  host.hostname = hello.hostname;
  host.address = hello.address;
  host.pid = hello.pid;
  log::debug("host " + std::to_string(i) + " connected through host " + std::to_string(parent) +
             " from " + hello.hostname + ", listening on " + hello.address);
  changed_.notify();
}

void HostSet::send(uint32_t host, std::string_view payload) {
  if (host >= hosts_.size()) return;
  auto& h = hosts_[host];
  if (!h.conn || !h.conn->is_open()) return;
  if (h.via)
    h.conn->send(Routed{host, std::string(payload)});
  else
    h.conn->send_payload(payload);
}

void HostSet::send(uint32_t host, std::string&& payload) {
  if (host >= hosts_.size()) return;
  auto& h = hosts_[host];
  if (!h.conn || !h.conn->is_open()) return;
  if (h.via)
    h.conn->send(Routed{host, std::move(payload)});
  else
    h.conn->send_payload(std::move(payload));
}

void HostSet::send_to_first_level(std::string_view payload) {
  for (auto& h : hosts_)
    if (!h.via) send(h.rank, payload);
}

std::optional<uint32_t> HostSet::via(uint32_t host) const {
  return host < hosts_.size() ? hosts_[host].via : std::nullopt;
}

bool HostSet::speaks_for(uint32_t host, uint32_t claimed) const {
  return claimed == host;  // routed messages were already attributed to the child
}

bool HostSet::is_child(uint32_t parent, uint32_t host) const {
  if (!allocator_ || host >= hosts_.size()) return false;
  for (const auto& h : allocator_->subtree(parent).hosts)
    if (h.rank == host) return true;
  return false;
}

asio::awaitable<void> HostSet::heartbeat() {
  auto hold = gate_.enter();
  if (!hold) co_return;
  const Millis period = std::max(Millis(50), heartbeat_timeout_ / 4);
  heartbeat_timer_ = std::make_unique<asio::steady_timer>(io_);
  auto& timer = *heartbeat_timer_;
  while (!closed_ && !shutting_down_) {
    timer.expires_after(period);
    co_await timer.async_wait(kTuple);
    if (closed_ || shutting_down_) co_return;
    const auto now = Clock::now();
    for (auto& h : hosts_) {
      if (!h.conn || !h.conn->is_open() || h.via) continue;
      if (now - h.conn->last_receive() > heartbeat_timeout_ && now >= excused_until_) {
        lost(h.rank,
             "has been silent for " + duration_text(heartbeat_timeout_) + "; it is considered lost",
             true);
        h.conn->close();
        continue;
      }
      if (now - h.conn->last_send() >= period) h.conn->send(Heartbeat{});
    }
  }
}

asio::awaitable<Result<HostMesh>> HostSet::allocate(Allocator& allocator, AgentLaunch launch,
                                                    Millis start_timeout) {
  allocator_ = &allocator;
  const size_t n = allocator.num_hosts();
  pending_.set_limit(kSparePendingHandshakes + n);
  hosts_.assign(n, Host{});
  for (size_t i = 0; i < n; ++i) {
    hosts_[i].rank = static_cast<uint32_t>(i);
    hosts_[i].name = allocator.host_name(i);
  }
  allocator.on_change([this] { changed_.notify(); });
  if (auto st = allocator.start(launch); !st) co_return st.error();

  const auto deadline = Clock::now() + start_timeout;
  size_t connected = 0, ready = 0;
  auto progress = [&] {
    if (on_progress)
      on_progress("hosts connected " + std::to_string(connected) + "/" + std::to_string(n) +
                  ", ready " + std::to_string(ready) + "/" + std::to_string(n));
  };
  auto all = [&](auto pred) {
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
      if (pred(hosts_[i]))
        ++k;
      else if (auto why = allocator.failure(i))
        lost(static_cast<uint32_t>(i), *why, false);  // "failed to start: why"
    }
    return k;
  };
  // Trampoline each host as soon as it says hello, not after the slowest.
  std::vector<bool> sent(n, false);
  BecomeHost become;
  become.job_id = job_id_;
  become.heartbeat_timeout_ms = static_cast<uint32_t>(heartbeat_timeout_.count());
  become.num_hosts = static_cast<uint32_t>(n);
  const bool ok = co_await changed_.wait_until(
      [&] {
        connected = all([](const Host& h) { return h.conn != nullptr; });
        for (size_t i = 0; i < n; ++i)
          if (hosts_[i].conn && !sent[i]) {
            become.host_rank = static_cast<uint32_t>(i);
            become.tree_depth = hosts_[i].via ? 1 : 0;
            become.subtree = allocator.subtree(i);
            send(static_cast<uint32_t>(i), become);
            sent[i] = true;
          }
        ready = all([](const Host& h) { return h.ready; });
        progress();
        return job_.failed() || ready == n;
      },
      deadline);
  if (job_.failed()) co_return make_error(Errc::failed, job_.failure()->message);
  if (!ok) {
    std::string missing;
    size_t shown = 0;
    for (size_t i = 0; i < n; ++i)
      if (!hosts_[i].ready && shown++ < 8)
        missing += (missing.empty() ? "" : ", ") + std::to_string(i) + " (" + hosts_[i].name + ")";
    if (shown > 8) missing += ", ...";
    job_.fail({"hosts did not start within " + duration_text(start_timeout) + ": " + missing,
               exit_status::kLaunchFailed});
    co_return make_error(Errc::timeout, job_.failure()->message);
  }
  HostDirectory dir;
  for (const auto& h : hosts_)
    dir.addresses.push_back(h.address);
  const std::string frame = encode(dir);
  for (const auto& h : hosts_)
    send(h.rank, frame);
  asio::co_spawn(io_, heartbeat(), asio::detached);
  auto extent = Extent::make({{"hosts", static_cast<uint32_t>(n)}});
  if (!extent) co_return extent.error();
  co_return HostMesh{*extent};
}

asio::awaitable<Status> HostSet::drain(size_t max_queued, Clock::time_point deadline) {
  for (size_t i = 0; i < hosts_.size(); ++i) {
    auto conn = hosts_[i].conn;
    if (hosts_[i].via || !conn || !conn->is_open()) continue;
    const bool ok = co_await conn->wait_queued_below(max_queued, deadline);
    if (job_.failed()) co_return make_error(Errc::failed, job_.failure()->message);
    if (!ok && conn->is_open())
      co_return make_error(Errc::timeout, "host " + std::to_string(i) + " took no more in time");
  }
  co_return Status{};
}

asio::awaitable<void> HostSet::shutdown(Millis grace, Millis timeout) {
  shutting_down_ = true;
  StopProcs stop;
  stop.grace_ms = static_cast<uint32_t>(grace.count());
  // Teardown follows the tree: a first-level host stops its children and
  // reports its own stop after theirs.
  send_to_first_level(encode(stop));
  // Each host needs up to two graces (stop, then SIGTERM) before SIGKILL.
  const auto deadline = Clock::now() + 2 * grace + timeout;
  co_await changed_.wait_until(
      [&] {
        for (const auto& h : hosts_)
          if (h.conn && !h.stopped && !h.lost) return false;
        return true;
      },
      deadline);
  closed_ = true;
  if (heartbeat_timer_) heartbeat_timer_->cancel();
  for (auto& h : hosts_)
    if (h.conn) h.conn->close();
  if (listener_) listener_->close();
  if (allocator_) co_await allocator_->reap(timeout);
  co_await gate_.close(Clock::now() + Millis(2000));
}

}  // namespace meshrun
