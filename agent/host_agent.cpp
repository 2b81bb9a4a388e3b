#include "agent/host_agent.hpp"

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
                     std::shared_ptr<TlsContext> tls, const BecomeHost& config,
                     std::string agent_path)
    : io_(io),
      upstream_(upstream),
      listener_(std::move(listener)),
      secret_(secret),
      tls_(std::move(tls)),
      config_(config),
      procs_(io, upstream, std::move(agent_path), config.host_rank) {}

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
  const bool stop_requested = co_await serve(upstream_);
  if (listener_) listener_->close();
  if (!stop_requested) {
    log::warn("lost the launcher; stopping " + std::to_string(procs_.live()) + " procs");
    stopping_ = true;
    co_await procs_.stop_all(std::min(grace_, Millis(2000)));
    co_return 1;
  }
  signals.cancel();
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
        dispatch_cast(*frame);
        break;
      case MsgType::spawn_actors:
        procs_.forward(*frame, [](uint32_t) { return true; });
        break;
      default: {
        auto msg = decode(*frame);
        if (!msg) {
          log::warn("dropping " + conn->peer() + ": " + msg.error().message);
          conn->close();
          co_return false;
        }
        if (auto* create = std::get_if<CreateProcs>(&*msg)) {
          procs_.create(*create);
        } else if (auto* sig = std::get_if<SignalProcs>(&*msg)) {
          procs_.signal_all(sig->signal);
        } else if (auto* stop = std::get_if<StopProcs>(&*msg)) {
          stopping_ = true;
          grace_ = Millis(stop->grace_ms);
          co_await procs_.stop_all(grace_);
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

void HostAgent::dispatch_cast(const std::string& payload) {
  Reader r(std::string_view(payload).substr(2));
  std::string mesh;
  std::vector<SliceDim> slice;
  r(mesh, slice);
  if (!r.ok()) {
    log::warn("dropping a malformed cast");
    return;
  }
  procs_.forward(payload, [&](uint32_t rank) { return in_slice(slice, rank); });
}

asio::awaitable<void> HostAgent::heartbeat() {
  const Millis timeout(config_.heartbeat_timeout_ms);
  const Millis period = std::max(Millis(50), timeout / 4);
  asio::steady_timer timer(io_);
  while (upstream_->is_open() && !stopping_) {
    timer.expires_after(period);
    co_await timer.async_wait(kTuple);
    const auto now = std::chrono::steady_clock::now();
    if (now - upstream_->last_receive() > timeout) {
      log::warn("no word from the launcher for " + std::to_string(timeout.count()) + " ms");
      upstream_->close();
      co_return;
    }
    if (now - upstream_->last_send() >= period) upstream_->send(Heartbeat{});
  }
}

asio::awaitable<void> HostAgent::accept_peers() {
  for (;;) {
    auto socket = co_await listener_->accept();
    if (!socket) co_return;
    auto conn = Connection::make(std::move(*socket), "peer");
    asio::co_spawn(
        io_,
        [this, conn]() -> asio::awaitable<void> {
          auto ok = co_await conn->authenticate_server(secret_, kPeerHandshakeTimeout, tls_);
          if (!ok) {
            log::warn("refused a connection to this agent: " + ok.error().message);
            co_return;
          }
          co_await serve(conn);
        },
        asio::detached);
  }
}

}  // namespace meshrun
