// Real sockets on one io_context: listener, connect, handshake, framed traffic.
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/handshake.hpp"
#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "channel_fixtures.hpp"

using namespace meshrun;
using namespace meshrun::channel_test;
using namespace std::chrono_literals;

namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

Secret secret_of(char digit) {
  return Secret::from_hex(std::string(64, digit)).value();
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meshrun-chan-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

asio::awaitable<void> accept_conn(Listener& l, ConnectionPtr& out) {
  auto s = co_await l.accept();
  REQUIRE(s.ok());
  out = Connection::make(std::move(*s), "client");
}

asio::awaitable<void> connect_conn(asio::io_context& io, Address to, ConnectionPtr& out) {
  auto s = co_await connect_to(io, to, 2000ms);
  REQUIRE(s.ok());
  out = Connection::make(std::move(*s), "server");
}

// Secrets by value: a coroutine outlives the temporaries it was called with.
asio::awaitable<void> accept_and_authenticate(Listener& l, Secret secret, Millis timeout,
                                              ConnectionPtr& conn, std::optional<Status>& status) {
  co_await accept_conn(l, conn);
  status = co_await conn->authenticate_server(secret, timeout);
}

asio::awaitable<void> connect_and_authenticate(asio::io_context& io, Address to, Secret secret,
                                               Millis timeout, ConnectionPtr& conn,
                                               std::optional<Status>& status) {
  co_await connect_conn(io, to, conn);
  status = co_await conn->authenticate_client(secret, timeout);
}

asio::awaitable<void> raw_connect(asio::io_context& io, Address to, std::optional<Socket>& out) {
  auto s = co_await connect_to(io, to, 2000ms);
  REQUIRE(s.ok());
  out.emplace(std::move(*s));
}

asio::awaitable<void> raw_write(Socket& s, std::string bytes) {
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), kTuple);
  REQUIRE_FALSE(ec);
  REQUIRE(n == bytes.size());
}

// Reads one frame from a raw socket.
asio::awaitable<std::string> raw_read_frame(Socket& s, FrameDecoder& d) {
  for (;;) {
    std::string payload;
    auto got = d.next(payload);
    REQUIRE(got.ok());
    if (*got) co_return payload;
    char* buf = d.prepare(4096);
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf, 4096), kTuple);
    REQUIRE_FALSE(ec);
    d.commit(n);
  }
}

// Every byte until the peer closes; `closed` stays false if it never did.
asio::awaitable<void> raw_read_to_eof(Socket& s, std::string& got, bool& closed) {
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), kTuple);
    got.append(buf, n);
    if (ec) {
      closed = ec == asio::error::eof || ec == asio::error::connection_reset;
      co_return;
    }
  }
}

asio::awaitable<void> send_many(ConnectionPtr conn, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i)
    conn->send(Output{i, 1, "line " + std::to_string(i)});
  co_await conn->flush();
}

// Reads `count` Output frames and checks they arrive in order; echoes each if asked.
asio::awaitable<void> receive_many(ConnectionPtr conn, uint32_t count, bool echo,
                                   uint32_t& received) {
  for (uint32_t i = 0; i < count; ++i) {
    auto payload = co_await conn->read();
    REQUIRE(payload.ok());
    auto msg = decode(*payload);
    REQUIRE(msg.ok());
    REQUIRE(std::holds_alternative<Output>(*msg));
    const auto& out = std::get<Output>(*msg);
    REQUIRE(out.proc == i);
    REQUIRE(out.data == "line " + std::to_string(i));
    ++received;
    if (echo) conn->send(out);
  }
}

asio::awaitable<void> read_once(ConnectionPtr conn, std::optional<Result<std::string>>& out) {
  out.emplace(co_await conn->read());
}

struct AuthedPair {
  ConnectionPtr server, client;
};

AuthedPair authenticated_pair(Runner& r, Listener& l) {
  AuthedPair p;
  std::optional<Status> server_status, client_status;
  const Secret secret = secret_of('7');
  r.spawn(accept_and_authenticate(l, secret, 5000ms, p.server, server_status));
  r.spawn(
      connect_and_authenticate(r.io, l.local_address(), secret, 5000ms, p.client, client_status));
  REQUIRE(r.run());
  REQUIRE(server_status.has_value());
  REQUIRE(client_status.has_value());
  INFO((server_status->ok() ? "" : server_status->error().message));
  REQUIRE(server_status->ok());
  INFO((client_status->ok() ? "" : client_status->error().message));
  REQUIRE(client_status->ok());
  return p;
}

}  // namespace

TEST_CASE("a listener on tcp port 0 reports the port it got", "[listener]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  REQUIRE(l->local_address().kind == Address::Kind::tcp);
  REQUIRE(l->local_address().host == "127.0.0.1");
  REQUIRE(l->local_address().port != 0);
}

TEST_CASE("same secret: both sides authenticate and 1000 frames flow each way in order",
          "[connection]") {
  TempDir dir;
  const std::string where = GENERATE(as<std::string>{}, "tcp", "unix");
  CAPTURE(where);
  Runner r;
  auto l = listen_on(r.io, where == "tcp" ? "tcp:127.0.0.1:0" : "unix:" + dir.path + "/s.sock");
  if (where == "unix") REQUIRE(l->local_address().path == dir.path + "/s.sock");

  auto p = authenticated_pair(r, *l);
  REQUIRE(p.server->is_open());
  REQUIRE(p.client->is_open());

  uint32_t at_server = 0, at_client = 0;
  r.spawn(send_many(p.client, 1000));
  r.spawn(receive_many(p.server, 1000, true, at_server));
  r.spawn(receive_many(p.client, 1000, false, at_client));
  REQUIRE(r.run(20s));
  REQUIRE(at_server == 1000);
  REQUIRE(at_client == 1000);
  REQUIRE(p.client->queued_bytes() == 0);
  REQUIRE(p.server->queued_bytes() == 0);

  SECTION("closing one side ends the other's read") {
    std::optional<Result<std::string>> got;
    r.spawn(read_once(p.server, got));
    p.client->close();
    REQUIRE(r.run(5s));
    REQUIRE(got.has_value());
    REQUIRE_FALSE(got->ok());
    REQUIRE(got->error().code == Errc::closed);
  }
}

TEST_CASE("a wrong secret fails on both sides", "[connection]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  ConnectionPtr server, client;
  std::optional<Status> server_status, client_status;
  r.spawn(accept_and_authenticate(*l, secret_of('1'), 5000ms, server, server_status));
  r.spawn(connect_and_authenticate(r.io, l->local_address(), secret_of('2'), 5000ms, client,
                                   client_status));
  REQUIRE(r.run());
  REQUIRE(server_status.has_value());
  REQUIRE(client_status.has_value());
  REQUIRE_FALSE(server_status->ok());
  REQUIRE(server_status->error().code == Errc::auth);
  REQUIRE_FALSE(client_status->ok());
  REQUIRE(client_status->error().code == Errc::auth);
  REQUIRE_FALSE(server->is_open());
  REQUIRE_FALSE(client->is_open());
}

TEST_CASE("a server refusing a proof closes without sending anything after the challenge",
          "[connection]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  ConnectionPtr server;
  std::optional<Status> server_status;
  std::optional<Socket> raw;
  r.spawn(accept_and_authenticate(*l, secret_of('1'), 5000ms, server, server_status));
  r.spawn(raw_connect(r.io, l->local_address(), raw));
  REQUIRE(r.run_until([&] { return raw.has_value(); }));

  // Play the client by hand with the wrong secret.
  const Nonce mine = make_nonce().value();
  std::string hello;
  append_frame(hello, encode_greeting(mine));
  r.spawn(raw_write(*raw, hello));
  FrameDecoder d(64);
  std::string challenge;
  r.spawn([](Socket& s, FrameDecoder& dec, std::string& out) -> asio::awaitable<void> {
    out = co_await raw_read_frame(s, dec);
  }(*raw, d, challenge));
  REQUIRE(r.run_until([&] { return !challenge.empty(); }));
  auto theirs = decode_greeting(challenge);
  REQUIRE(theirs.ok());

  std::string proof;
  append_frame(proof,
               encode_proof(compute_proof(secret_of('2'), ProofRole::client, *theirs, mine)));
  std::string after;
  bool closed = false;
  r.spawn(raw_write(*raw, proof));
  r.spawn(raw_read_to_eof(*raw, after, closed));
  REQUIRE(r.run());
  REQUIRE(closed);
  REQUIRE(d.buffered() == 0);
  REQUIRE(after.empty());
  REQUIRE(server_status.has_value());
  REQUIRE(server_status->error().code == Errc::auth);
}

TEST_CASE("garbage instead of a greeting: the server closes and says nothing", "[connection]") {
  const std::string garbage = GENERATE(as<std::string>{}, "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                       // framed, small, but not a greeting
                                       std::string("\0\0\0\x26", 4) + std::string(38, 'z'));
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  ConnectionPtr server;
  std::optional<Status> server_status;
  std::optional<Socket> raw;
  r.spawn(accept_and_authenticate(*l, secret_of('1'), 5000ms, server, server_status));
  r.spawn(raw_connect(r.io, l->local_address(), raw));
  REQUIRE(r.run_until([&] { return raw.has_value(); }));
  std::string got;
  bool closed = false;
  r.spawn(raw_write(*raw, garbage));
  r.spawn(raw_read_to_eof(*raw, got, closed));
  const auto t0 = Clock::now();
  REQUIRE(r.run());
  REQUIRE(Clock::now() - t0 < 2s);  // closed at once, not at the handshake timeout
  REQUIRE(closed);
  REQUIRE(got.empty());
  REQUIRE(server_status.has_value());
  REQUIRE_FALSE(server_status->ok());
  REQUIRE(server_status->error().code == Errc::protocol);
}

TEST_CASE("a client that sends nothing makes the server handshake time out", "[connection]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  ConnectionPtr server;
  std::optional<Status> server_status;
  std::optional<Socket> raw;
  r.spawn(raw_connect(r.io, l->local_address(), raw));
  REQUIRE(r.run());
  const auto t0 = Clock::now();
  r.spawn(accept_and_authenticate(*l, secret_of('1'), 200ms, server, server_status));
  std::string got;
  bool closed = false;
  r.spawn(raw_read_to_eof(*raw, got, closed));
  REQUIRE(r.run(5s));
  const auto took = Clock::now() - t0;
  REQUIRE(server_status.has_value());
  REQUIRE_FALSE(server_status->ok());
  REQUIRE(server_status->error().code == Errc::timeout);
  REQUIRE(took >= 190ms);
  REQUIRE(took < 2s);
  REQUIRE(closed);
  REQUIRE(got.empty());
}

TEST_CASE("a client facing a silent server times out too", "[connection]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  ConnectionPtr silent, client;
  std::optional<Status> client_status;
  r.spawn(accept_conn(*l, silent));
  r.spawn(connect_and_authenticate(r.io, l->local_address(), secret_of('1'), 200ms, client,
                                   client_status));
  const auto t0 = Clock::now();
  REQUIRE(r.run(5s));
  REQUIRE(Clock::now() - t0 < 2s);
  REQUIRE(client_status.has_value());
  REQUIRE_FALSE(client_status->ok());
  REQUIRE(client_status->error().code == Errc::timeout);
  REQUIRE_FALSE(client->is_open());
}

TEST_CASE("an oversized frame after the handshake breaks the connection", "[connection]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  auto p = authenticated_pair(r, *l);
  std::string header(kFrameHeaderSize, '\0');
  put_u32_be(header.data(), 1u << 30);
  std::optional<Result<std::string>> at_server, at_client;
  r.spawn(raw_write(p.client->socket(), header));
  r.spawn(read_once(p.server, at_server));
  r.spawn(read_once(p.client, at_client));
  REQUIRE(r.run(5s));
  REQUIRE(at_server.has_value());
  REQUIRE_FALSE(at_server->ok());
  REQUIRE(at_server->error().code == Errc::protocol);
  REQUIRE_FALSE(p.server->is_open());
  // The client sees the server hang up.
  REQUIRE(at_client.has_value());
  REQUIRE_FALSE(at_client->ok());
  REQUIRE(at_client->error().code == Errc::closed);
}

TEST_CASE("connecting to a closed port fails", "[listener]") {
  Runner r;
  Address gone;
  {
    auto l = listen_on(r.io, "tcp:127.0.0.1:0");
    gone = l->local_address();
  }
  std::optional<Result<Socket>> got;
  r.spawn([](asio::io_context& io, Address a,
             std::optional<Result<Socket>>& out) -> asio::awaitable<void> {
    out.emplace(co_await connect_to(io, a, 2000ms));
  }(r.io, gone, got));
  REQUIRE(r.run());
  REQUIRE(got.has_value());
  REQUIRE_FALSE(got->ok());
  REQUIRE_THAT(got->error().message, Catch::Contains(gone.to_string()));
}

TEST_CASE("closing a unix listener removes its socket file", "[listener]") {
  TempDir dir;
  Runner r;
  const std::string path = dir.path + "/gone.sock";
  auto l = listen_on(r.io, "unix:" + path);
  REQUIRE(std::filesystem::exists(path));
  l->close();
  REQUIRE_FALSE(std::filesystem::exists(path));
}

// A free function, not a capturing lambda: a coroutine lambda's captures die
// with the lambda object, before the coroutine runs.
asio::awaitable<void> accept_all(Listener& l, size_t n, std::vector<Socket>& accepted,
                                 bool& failed) {
  while (accepted.size() < n) {
    auto s = co_await l.accept();
    if (!s) {
      failed = true;
      co_return;
    }
    accepted.push_back(std::move(*s));
  }
}

TEST_CASE("a listener out of descriptors keeps accepting once some are free", "[listener]") {
  Runner r;
  auto l = listen_on(r.io, "tcp:127.0.0.1:0");
  auto ep = l->local_address().endpoint();
  REQUIRE(ep.ok());
  // Client sockets first: once the limit is low only the accepting side runs short.
  constexpr int kClients = 6;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    clients.push_back(fd);
  }
  std::vector<Socket> accepted;
  bool listener_failed = false;
  r.spawn(accept_all(*l, kClients, accepted, listener_failed));
  rlimit old{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  // New descriptors take the lowest free number; a limit just above it
  // leaves room for exactly one more.
  const int lowest_free = ::dup(0);
  REQUIRE(lowest_free >= 0);
  ::close(lowest_free);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(lowest_free + 1);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  for (int fd : clients)
    REQUIRE(::connect(fd, static_cast<const sockaddr*>(ep->data()), ep->size()) == 0);
  // Some are accepted, then the process is out of descriptors.
  r.run_until([&] { return accepted.size() >= 1; }, 5s);
  r.run_until([] { return false; }, 300ms);
  CHECK(accepted.size() < static_cast<size_t>(kClients));
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
  const bool all_in =
      r.run_until([&] { return accepted.size() == kClients || listener_failed; }, 5s);
  INFO("accepted " << accepted.size() << ", listener failed " << listener_failed);
  REQUIRE(all_in);
  CHECK_FALSE(listener_failed);
  CHECK(accepted.size() == static_cast<size_t>(kClients));
  for (int fd : clients)
    ::close(fd);
}

namespace {

// Each frame's payload, as the far side read it.
asio::awaitable<void> read_frames(ConnectionPtr conn, size_t count, std::vector<std::string>& got) {
  for (size_t i = 0; i < count; ++i) {
    auto frame = co_await conn->read();
    REQUIRE(frame.ok());
    got.push_back(std::move(*frame));
  }
}

std::string pattern(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i)
    s[i] = static_cast<char>(seed + static_cast<char>(i % 251));
  return s;
}

}  // namespace

TEST_CASE(
    "small frames sent in one turn, moved 1 MiB payloads and split frames arrive whole and "
    "in order, with back-pressure waiting on the reader",
    "[connection]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  Runner r;
  auto a = Connection::adopt_fd(r.io, sv[0], "a");
  auto b = Connection::adopt_fd(r.io, sv[1], "b");
  std::vector<std::string> sent;
  for (int i = 0; i < 3000; ++i)
    sent.push_back("small " + std::to_string(i));
  sent.push_back(pattern(1 << 20, 'a'));
  sent.push_back(pattern(20 << 10, 'b'));
  sent.push_back(pattern((1 << 20) + 7, 'c'));
  sent.push_back("last");
  for (size_t i = 0; i < sent.size(); ++i) {
    if (i == 3000) {
      a->send_payload(std::string(sent[i]));  // moved in
    } else if (i == 3002) {
      a->send_parts(std::string_view(sent[i]).substr(0, 100), sent[i].substr(100));
    } else {
      a->send_payload(std::string_view(sent[i]));
    }
  }
  // Nothing is read yet: more than a socket buffer waits in the queue.
  REQUIRE(a->queued_bytes() > (1u << 20));
  std::optional<bool> below;
  r.spawn([](ConnectionPtr c, std::optional<bool>& out) -> asio::awaitable<void> {
    out = co_await c->wait_queued_below(0, std::chrono::steady_clock::now() + 10s);
  }(a, below));
  std::vector<std::string> got;
  r.spawn(read_frames(b, sent.size(), got));
  REQUIRE(r.run(20s));
  REQUIRE(below == true);
  REQUIRE(a->queued_bytes() == 0);
  REQUIRE(got.size() == sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    INFO("frame " << i);
    REQUIRE(got[i] == sent[i]);
  }
}

TEST_CASE("back-pressure gives up at its deadline when nobody reads", "[connection]") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  Runner r;
  auto a = Connection::adopt_fd(r.io, sv[0], "a");
  auto b = Connection::adopt_fd(r.io, sv[1], "b");
  a->send_payload(pattern(8 << 20, 'x'));
  std::optional<bool> below;
  r.spawn([](ConnectionPtr c, std::optional<bool>& out) -> asio::awaitable<void> {
    out = co_await c->wait_queued_below(1 << 20, std::chrono::steady_clock::now() + 200ms);
  }(a, below));
  REQUIRE(r.run(10s));
  REQUIRE(below == false);
  REQUIRE(a->queued_bytes() > (1u << 20));
}
