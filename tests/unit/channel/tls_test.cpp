// TLS 1.3 under the framed connection: per-job material, mutual verification,
// and what a peer from another job or without TLS gets.
#include <stdlib.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "auth/tls.hpp"
#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "channel_fixtures.hpp"

using namespace meshrun;
using namespace meshrun::channel_test;
using namespace std::chrono_literals;

namespace {

Secret job_secret() {
  return Secret::from_hex(std::string(64, 'a')).value();
}

std::shared_ptr<TlsContext> context_for(const TlsMaterial& m) {
  auto c = TlsContext::make(m);
  INFO((c.ok() ? "" : c.error().message));
  REQUIRE(c.ok());
  return *c;
}

TlsMaterial job_material(const char* id) {
  auto m = make_job_tls(id);
  INFO((m.ok() ? "" : m.error().message));
  REQUIRE(m.ok());
  return std::move(*m);
}

struct Side {
  ConnectionPtr conn;
  std::optional<Status> status;
};

asio::awaitable<void> serve(Listener& l, std::shared_ptr<TlsContext> tls, Side& out) {
  auto s = co_await l.accept();
  REQUIRE(s.ok());
  out.conn = Connection::make(std::move(*s), "client");
  out.status = co_await out.conn->authenticate_server(job_secret(), 3000ms, tls);
}

asio::awaitable<void> dial(asio::io_context& io, Address to, std::shared_ptr<TlsContext> tls,
                           Side& out) {
  auto s = co_await connect_to(io, to, 2000ms);
  REQUIRE(s.ok());
  out.conn = Connection::make(std::move(*s), "server");
  out.status = co_await out.conn->authenticate_client(job_secret(), 3000ms, tls);
}

// Both ends of one connection after their handshakes.
std::pair<Side, Side> handshake(Runner& r, const std::string& where,
                                std::shared_ptr<TlsContext> server_tls,
                                std::shared_ptr<TlsContext> client_tls) {
  auto l = listen_on(r.io, where);
  Side server, client;
  r.spawn(serve(*l, server_tls, server));
  r.spawn(dial(r.io, l->local_address(), client_tls, client));
  REQUIRE(r.run());
  REQUIRE(server.status.has_value());
  REQUIRE(client.status.has_value());
  return {server, client};
}

asio::awaitable<void> exchange(ConnectionPtr from, ConnectionPtr to, uint32_t count,
                               std::string big, uint32_t& received) {
  for (uint32_t i = 0; i < count; ++i)
    from->send(Output{i, 1, i == count / 2 ? big : "line " + std::to_string(i)});
  for (uint32_t i = 0; i < count; ++i) {
    auto payload = co_await to->read();
    REQUIRE(payload.ok());
    auto msg = decode(*payload);
    REQUIRE(msg.ok());
    const auto& out = std::get<Output>(*msg);
    REQUIRE(out.proc == i);
    REQUIRE(out.data == (i == count / 2 ? big : "line " + std::to_string(i)));
    ++received;
  }
}

asio::awaitable<void> read_once(ConnectionPtr conn, std::optional<Result<std::string>>& out) {
  out.emplace(co_await conn->read());
}

}  // namespace

TEST_CASE("a job's TLS material is a CA, a leaf it signed and the leaf's key", "[tls]") {
  const auto m = job_material("j1");
  CHECK(m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(m.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
  CHECK(m.key_pem.find("PRIVATE KEY-----") != std::string::npos);
  CHECK(m.ca_pem != m.cert_pem);

  auto back = TlsMaterial::from_bundle(m.bundle());
  REQUIRE(back.ok());
  CHECK(back->ca_pem == m.ca_pem);
  CHECK(back->cert_pem == m.cert_pem);
  CHECK(back->key_pem == m.key_pem);
  CHECK(TlsContext::make(*back).ok());

  CHECK(job_material("j2").ca_pem != m.ca_pem);  // every job its own CA
  CHECK_FALSE(TlsMaterial::from_bundle("secret\n").ok());
  CHECK_FALSE(TlsMaterial::from_bundle(m.ca_pem + m.cert_pem).ok());

  const std::string in = encode_agent_stdin(std::string(64, 'f'), m.bundle());
  CHECK(in.starts_with(std::string(64, 'f') + "\ntls " + std::to_string(m.bundle().size()) + "\n"));
  CHECK(in.ends_with(m.key_pem));
  CHECK(encode_agent_stdin("ab", "") == "ab\n");
}

TEST_CASE("a TLS 1.3 connection between two sides of one job carries frames both ways", "[tls]") {
  Runner r;
  auto tls = context_for(job_material("j1"));
  auto [server, client] = handshake(r, "tcp:127.0.0.1:0", tls, tls);
  INFO((server.status->ok() ? "" : server.status->error().message));
  REQUIRE(server.status->ok());
  INFO((client.status->ok() ? "" : client.status->error().message));
  REQUIRE(client.status->ok());
  CHECK(server.conn->tls_version() == "TLSv1.3");
  CHECK(client.conn->tls_version() == "TLSv1.3");

  const std::string big(3 * 1024 * 1024 + 7, 'x');  // spans many TLS records
  uint32_t up = 0, down = 0;
  r.spawn(exchange(client.conn, server.conn, 2000, big, up));
  r.spawn(exchange(server.conn, client.conn, 2000, big, down));
  REQUIRE(r.run(20s));
  CHECK(up == 2000);
  CHECK(down == 2000);

  // A peer that goes away reads as closed, not as a TLS error.
  std::optional<Result<std::string>> got;
  r.spawn(read_once(server.conn, got));
  client.conn->close();
  REQUIRE(r.run());
  REQUIRE(got.has_value());
  REQUIRE_FALSE(got->ok());
  CHECK(got->error().code == Errc::closed);
}

TEST_CASE("a peer whose certificate comes from another job's CA fails the TLS handshake", "[tls]") {
  Runner r;
  auto mine = context_for(job_material("mine"));
  auto theirs = context_for(job_material("theirs"));
  SECTION("as the client") {
    auto [server, client] = handshake(r, "tcp:127.0.0.1:0", mine, theirs);
    CHECK_FALSE(server.status->ok());
    CHECK_FALSE(client.status->ok());
    CHECK(client.status->error().code == Errc::auth);
    CHECK(client.status->error().message.find("TLS handshake") != std::string::npos);
    CHECK_FALSE(server.conn->is_open());
  }
  SECTION("as the server") {
    auto [server, client] = handshake(r, "tcp:127.0.0.1:0", theirs, mine);
    CHECK_FALSE(server.status->ok());
    CHECK_FALSE(client.status->ok());
    CHECK(client.status->error().code == Errc::auth);
  }
}

TEST_CASE("a plain client cannot talk to a TLS server, nor a TLS client to a plain server",
          "[tls]") {
  Runner r;
  auto tls = context_for(job_material("j1"));
  SECTION("plain client") {
    auto [server, client] = handshake(r, "tcp:127.0.0.1:0", tls, nullptr);
    CHECK_FALSE(server.status->ok());
    CHECK_FALSE(client.status->ok());
    CHECK_FALSE(server.conn->is_open());
  }
  SECTION("plain server") {
    auto [server, client] = handshake(r, "tcp:127.0.0.1:0", nullptr, tls);
    CHECK_FALSE(server.status->ok());
    CHECK_FALSE(client.status->ok());
  }
}

TEST_CASE("unix sockets stay plain even when the job has TLS", "[tls]") {
  std::string dir = (std::filesystem::temp_directory_path() / "meshrun-tls-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  {
    Runner r;
    auto tls = context_for(job_material("j1"));
    auto [server, client] = handshake(r, "unix:" + dir + "/s.sock", tls, tls);
    REQUIRE(server.status->ok());
    REQUIRE(client.status->ok());
    CHECK_FALSE(server.conn->tls());
    uint32_t got = 0;
    r.spawn(exchange(client.conn, server.conn, 10, "mid", got));
    REQUIRE(r.run());
    CHECK(got == 10);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
