#include "agent/peer_links.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "channel/address.hpp"
#include "channel/listener.hpp"
#include "util/log.hpp"
#include "wire/messages.hpp"

namespace meshrun {
namespace {
constexpr Millis kDialTimeout{5000};
}

PeerLinks::PeerLinks(asio::io_context& io, uint32_t me, const Secret& secret,
                     std::shared_ptr<TlsContext> tls, Undelivered undelivered)
    : io_(io),
      me_(me),
      secret_(secret),
      tls_(std::move(tls)),
      undelivered_(std::move(undelivered)),
      gate_(io.get_executor()) {}

PeerLinks::~PeerLinks() {
  for (auto& [host, link] : links_)
    if (link.conn) link.conn->close();
}

void PeerLinks::set_directory(std::vector<std::string> addresses) {
  directory_ = std::move(addresses);
}

void PeerLinks::send(uint32_t host, std::string frame) {
  Link& link = links_[host];
  if (link.conn && link.conn->is_open()) {
    link.conn->send_payload(std::move(frame));
    return;
  }
  if (link.broken) {
    if (undelivered_) undelivered_(host, std::move(frame), link.why);
    return;
  }
  link.waiting.push_back(std::move(frame));
  if (link.dialing) return;
  auto hold = gate_.enter();
  if (!hold) {
    link.broken = true;
    link.why = "this host is shutting down";
    give_back(host, link);
    return;
  }
  link.dialing = true;
  asio::co_spawn(
      io_, [this, host, h = std::move(*hold)]() -> asio::awaitable<void> { co_await dial(host); },
      asio::detached);
}

void PeerLinks::give_back(uint32_t host, Link& link) {
  auto waiting = std::move(link.waiting);
  link.waiting.clear();
  for (auto& f : waiting)
    if (undelivered_) undelivered_(host, std::move(f), link.why);
}

asio::awaitable<void> PeerLinks::dial(uint32_t host) {
  std::string why;
  ConnectionPtr conn;
  if (host >= directory_.size() || directory_[host].empty()) {
    why = "host " + std::to_string(host) + " has no known address";
  } else if (auto addr = Address::parse(directory_[host]); !addr) {
    why = "host " + std::to_string(host) + "'s address " + directory_[host] +
          " is unusable: " + addr.error().message;
  } else if (auto socket = co_await connect_to(io_, *addr, kDialTimeout); !socket) {
    why = "cannot reach host " + std::to_string(host) + " at " + directory_[host] + ": " +
          socket.error().message;
  } else {
    auto c = Connection::make(std::move(*socket), "host " + std::to_string(host));
    if (auto ok = co_await c->authenticate_client(secret_, kDialTimeout, tls_); !ok) {
      why = "host " + std::to_string(host) + " refused this host: " + ok.error().message;
    } else {
      c->send(PeerHello{me_});
      conn = c;
    }
  }
  Link& link = links_[host];
  link.dialing = false;
  if (!conn || gate_.closed()) {
    if (conn) conn->close();
    link.broken = true;
    link.why = why.empty() ? "this host is shutting down" : why;
    log::warn("no link to host " + std::to_string(host) + ": " + link.why);
    give_back(host, link);
    co_return;
  }
  log::debug("linked to host " + std::to_string(host) + " at " + directory_[host]);
  link.conn = conn;
  for (auto& f : link.waiting)
    conn->send_payload(std::move(f));
  link.waiting.clear();
  co_await watch(host, conn);
}

// The far end never writes on a link we dialed: a read returns only when it
// breaks. What was queued but not written then comes back undelivered.
asio::awaitable<void> PeerLinks::watch(uint32_t host, ConnectionPtr conn) {
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) {
      Link& link = links_[host];
      link.broken = true;
      link.why = "the link to host " + std::to_string(host) + " broke: " + frame.error().message;
      if (!gate_.closed()) log::warn(link.why);
      link.conn.reset();
      co_return;
    }
  }
}

size_t PeerLinks::max_queued() const {
  size_t most = 0;
  for (const auto& [host, link] : links_)
    if (link.conn) most = std::max(most, link.conn->queued_bytes());
  return most;
}

asio::awaitable<void> PeerLinks::wait_queued_below(size_t bytes,
                                                   std::chrono::steady_clock::time_point deadline) {
  std::vector<ConnectionPtr> conns;
  for (const auto& [host, link] : links_)
    if (link.conn && link.conn->queued_bytes() > bytes) conns.push_back(link.conn);
  for (auto& c : conns)
    if (c->is_open()) co_await c->wait_queued_below(bytes, deadline);
}

asio::awaitable<void> PeerLinks::close() {
  for (auto& [host, link] : links_)
    if (link.conn) link.conn->close();
  co_await gate_.close(std::chrono::steady_clock::now() + Millis(2000));
}

}  // namespace meshrun
