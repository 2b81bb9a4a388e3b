#include <catch2/catch.hpp>

#include "channel/address.hpp"

using namespace meshrun;

TEST_CASE("unix addresses parse and format", "[address]") {
  auto a = Address::parse("unix:/tmp/x/bootstrap.sock");
  REQUIRE(a.ok());
  REQUIRE(a->kind == Address::Kind::unix_socket);
  REQUIRE(a->path == "/tmp/x/bootstrap.sock");
  REQUIRE(a->to_string() == "unix:/tmp/x/bootstrap.sock");
  REQUIRE(a->endpoint().ok());
}

TEST_CASE("tcp v4 addresses parse and format", "[address]") {
  auto a = Address::parse("tcp:127.0.0.1:4242");
  REQUIRE(a.ok());
  REQUIRE(a->kind == Address::Kind::tcp);
  REQUIRE(a->host == "127.0.0.1");
  REQUIRE(a->port == 4242);
  REQUIRE(a->to_string() == "tcp:127.0.0.1:4242");
  REQUIRE(a->endpoint().ok());
  REQUIRE(Address::parse("tcp:0.0.0.0:0")->port == 0);
  REQUIRE(Address::parse("tcp:10.0.0.1:65535")->port == 65535);
}

TEST_CASE("tcp v6 addresses use brackets", "[address]") {
  auto a = Address::parse("tcp:[::1]:80");
  REQUIRE(a.ok());
  REQUIRE(a->kind == Address::Kind::tcp);
  REQUIRE(a->host == "::1");
  REQUIRE(a->port == 80);
  REQUIRE(a->to_string() == "tcp:[::1]:80");
  REQUIRE(a->endpoint().ok());
  auto b = Address::parse("tcp:[fe80::1:2]:9");
  REQUIRE(b.ok());
  REQUIRE(b->host == "fe80::1:2");
  REQUIRE(b->to_string() == "tcp:[fe80::1:2]:9");
}

TEST_CASE("bad addresses are refused with the reason", "[address]") {
  for (const char* bad : {"", "unix:", "udp:1.2.3.4:5", "/tmp/sock", "tcp:127.0.0.1",
                          "tcp:127.0.0.1:", "tcp:127.0.0.1:http", "tcp:127.0.0.1:65536",
                          "tcp:127.0.0.1:-1", "tcp:127.0.0.1:80x", "tcp:[::1]"}) {
    CAPTURE(bad);
    auto a = Address::parse(bad);
    REQUIRE_FALSE(a.ok());
    REQUIRE(a.error().code == Errc::invalid_argument);
  }
  REQUIRE_THAT(Address::parse("tcp:1.2.3.4:99999").error().message, Catch::Contains("port"));
}

TEST_CASE("only numeric hosts make endpoints", "[address]") {
  auto a = Address::parse("tcp:localhost:80");
  REQUIRE(a.ok());  // syntactically fine
  auto ep = a->endpoint();
  REQUIRE_FALSE(ep.ok());
  REQUIRE_THAT(ep.error().message, Catch::Contains("localhost"));
}
