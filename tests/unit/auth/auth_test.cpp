#include <catch2/catch.hpp>
#include <string>

#include "auth/handshake.hpp"
#include "auth/secret.hpp"
#include "wire/protocol.hpp"

using namespace meshrun;

namespace {

Secret secret_of(char digit) {
  auto s = Secret::from_hex(std::string(64, digit));
  REQUIRE(s.ok());
  return *s;
}

Nonce nonce() {
  auto n = make_nonce();
  REQUIRE(n.ok());
  return *n;
}

}  // namespace

TEST_CASE("a secret round trips through hex", "[secret]") {
  auto s = Secret::generate();
  REQUIRE(s.ok());
  const std::string hex = s->to_hex();
  REQUIRE(hex.size() == 64);
  REQUIRE(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  auto back = Secret::from_hex(hex);
  REQUIRE(back.ok());
  REQUIRE(back->to_hex() == hex);
  REQUIRE(std::equal(back->data(), back->data() + Secret::size(), s->data()));

  auto other = Secret::generate();
  REQUIRE(other.ok());
  REQUIRE(other->to_hex() != hex);
}

TEST_CASE("hex from stdin may end in a newline and use upper case", "[secret]") {
  const std::string hex = "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff";
  auto s = Secret::from_hex(hex + "\n");
  REQUIRE(s.ok());
  REQUIRE(s->to_hex() == "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
  REQUIRE(s->data()[0] == 0x00);
  REQUIRE(s->data()[15] == 0xff);
}

TEST_CASE("bad hex is refused", "[secret]") {
  const std::string good(64, 'a');
  for (const std::string& bad :
       {std::string(), std::string(63, 'a'), std::string(66, 'a'), std::string(63, 'a') + "g",
        "x" + std::string(63, '0'), std::string(62, 'a') + " a"}) {
    CAPTURE(bad);
    auto s = Secret::from_hex(bad);
    REQUIRE_FALSE(s.ok());
    REQUIRE(s.error().code == Errc::auth);
  }
  REQUIRE_THAT(Secret::from_hex("abc").error().message, Catch::Contains("64 hex digits"));
}

TEST_CASE("greetings round trip and carry the nonce", "[handshake]") {
  const Nonce n = nonce();
  REQUIRE(n != nonce());
  auto back = decode_greeting(encode_greeting(n));
  REQUIRE(back.ok());
  REQUIRE(*back == n);
}

TEST_CASE("a greeting with the wrong magic is not a meshrun peer", "[handshake]") {
  std::string g = encode_greeting(nonce());
  g[0] = static_cast<char>(g[0] ^ 0x20);
  auto r = decode_greeting(g);
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().code == Errc::protocol);
  REQUIRE_THAT(r.error().message, Catch::Contains("magic"));

  auto http = decode_greeting("GET / HTTP/1.1\r\n\r\n");
  REQUIRE_FALSE(http.ok());
  REQUIRE_FALSE(decode_greeting("").ok());
}

TEST_CASE("a greeting of another version names both versions", "[handshake]") {
  std::string g = encode_greeting(nonce());
  // Layout: u32 magic, u16 version (little-endian), nonce.
  const uint16_t theirs = kProtocolVersion + 41;
  g[4] = static_cast<char>(theirs & 0xff);
  g[5] = static_cast<char>(theirs >> 8);
  auto r = decode_greeting(g);
  REQUIRE_FALSE(r.ok());
  REQUIRE_THAT(r.error().message, Catch::Contains(std::to_string(theirs)) &&
                                      Catch::Contains(std::to_string(kProtocolVersion)));
}

TEST_CASE("a greeting with a short or long nonce is refused", "[handshake]") {
  const std::string g = encode_greeting(nonce());
  REQUIRE_FALSE(decode_greeting(g.substr(0, g.size() - 1)).ok());
  REQUIRE_FALSE(decode_greeting(g + "x").ok());
}

TEST_CASE("proofs verify with the same secret and nonces", "[handshake]") {
  const Secret secret = secret_of('5');
  const Nonce client = nonce(), server = nonce();
  // What the client sends, checked the way the server checks it; and back.
  const std::string client_proof =
      encode_proof(compute_proof(secret, ProofRole::client, server, client));
  REQUIRE(check_proof(client_proof, compute_proof(secret, ProofRole::client, server, client)).ok());
  const std::string server_proof =
      encode_proof(compute_proof(secret, ProofRole::server, client, server));
  REQUIRE(check_proof(server_proof, compute_proof(secret, ProofRole::server, client, server)).ok());
}

TEST_CASE("a proof made with a different secret fails", "[handshake]") {
  const Nonce client = nonce(), server = nonce();
  const std::string forged =
      encode_proof(compute_proof(secret_of('6'), ProofRole::client, server, client));
  auto ok = check_proof(forged, compute_proof(secret_of('5'), ProofRole::client, server, client));
  REQUIRE_FALSE(ok.ok());
  REQUIRE(ok.error().code == Errc::auth);
}

TEST_CASE("a proof replayed against a different server nonce fails", "[handshake]") {
  const Secret secret = secret_of('5');
  const Nonce client = nonce(), first_server = nonce(), second_server = nonce();
  const std::string recorded =
      encode_proof(compute_proof(secret, ProofRole::client, first_server, client));
  REQUIRE_FALSE(
      check_proof(recorded, compute_proof(secret, ProofRole::client, second_server, client)).ok());
}

TEST_CASE("client and server proofs differ, so one cannot be reflected as the other",
          "[handshake]") {
  const Secret secret = secret_of('5');
  const Nonce a = nonce(), b = nonce();
  REQUIRE(compute_proof(secret, ProofRole::client, a, b) !=
          compute_proof(secret, ProofRole::server, a, b));
  // The server's proof over (client, server) is no client proof over (server, client).
  REQUIRE_FALSE(check_proof(encode_proof(compute_proof(secret, ProofRole::server, b, a)),
                            compute_proof(secret, ProofRole::client, a, b))
                    .ok());
}

TEST_CASE("a proof of the wrong length fails", "[handshake]") {
  const Mac mac = compute_proof(secret_of('5'), ProofRole::client, nonce(), nonce());
  const std::string good = encode_proof(mac);
  REQUIRE(good.size() == 32);
  REQUIRE_FALSE(check_proof(good.substr(0, 31), mac).ok());
  REQUIRE_FALSE(check_proof(good + "x", mac).ok());
  REQUIRE_FALSE(check_proof("", mac).ok());
}
