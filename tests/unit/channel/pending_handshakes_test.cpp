// The bound on unauthenticated connections: a crowd that connects and says
// nothing loses its oldest members at once, not at the handshake deadline,
// and a peer with the secret still gets in.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <catch2/catch.hpp>
#include <optional>
#include <vector>

#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "channel/pending_handshakes.hpp"
#include "channel_fixtures.hpp"

using namespace meshrun;
using namespace meshrun::channel_test;

namespace {

constexpr Millis kDeadline{5000};

// One accepted connection's handshake: nothing yet, or how it ended.
using Outcome = std::optional<bool>;

asio::awaitable<void> handshake(ConnectionPtr conn, PendingHandshakes::Slot slot,
                                const Secret& secret, Outcome& out) {
  auto ok = co_await conn->authenticate_server(secret, kDeadline);
  slot.release();
  out = ok.ok();
}

asio::awaitable<void> serve(asio::io_context& io, Listener& l, PendingHandshakes& pending,
                            const Secret& secret, std::vector<Outcome>& outcomes) {
  for (auto& out : outcomes) {
    auto s = co_await l.accept();
    REQUIRE(s.ok());
    auto conn = Connection::make(std::move(*s), "client");
    auto slot = pending.admit(conn);
    asio::co_spawn(io, handshake(conn, std::move(slot), secret, out), asio::detached);
  }
}

asio::awaitable<void> crowd_then_peer(asio::io_context& io, Address to, const Secret& secret,
                                      std::vector<Socket>& silent, bool& peer_in) {
  for (auto& s : silent) {
    auto c = co_await connect_to(io, to, kDeadline);
    REQUIRE(c.ok());
    s = std::move(*c);
  }
  auto c = co_await connect_to(io, to, kDeadline);
  REQUIRE(c.ok());
  auto conn = Connection::make(std::move(*c), "server");
  peer_in = (co_await conn->authenticate_client(secret, kDeadline)).ok();
}

}  // namespace

TEST_CASE(
    "past the bound the oldest silent connections are closed at once and a real peer "
    "gets in",
    "[listener][auth]") {
  auto secret = Secret::generate();
  REQUIRE(secret.ok());
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  PendingHandshakes pending(4);
  std::vector<Socket> silent;
  for (int i = 0; i < 6; ++i)
    silent.emplace_back(r.io);
  std::vector<Outcome> outcomes(7);  // 6 silent, then the real peer
  bool peer_in = false;
  r.spawn(serve(r.io, *l, pending, *secret, outcomes));
  r.spawn(crowd_then_peer(r.io, l->local_address(), *secret, silent, peer_in));

  // Well inside the 5 s handshake deadline: only eviction can end these.
  const bool settled = r.run_until(
      [&] { return outcomes[0] && outcomes[1] && outcomes[2] && outcomes[6] && peer_in; },
      std::chrono::milliseconds(2000));
  CHECK(settled);
  // The three oldest were closed to make room; the newest silent ones wait on.
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(outcomes[i] == Outcome(false));
  }
  for (int i = 3; i < 6; ++i) {
    CAPTURE(i);
    CHECK_FALSE(outcomes[i].has_value());
  }
  CHECK(outcomes[6] == Outcome(true));
  CHECK(peer_in);
  CHECK(pending.size() == 3);

  for (auto& s : silent) {
    asio::error_code ec;
    s.close(ec);
  }
  CHECK(r.run_until([&] { return pending.size() == 0; }, std::chrono::milliseconds(3000)));
}
