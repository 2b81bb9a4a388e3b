// The authentication handshake, as pure functions over frame payloads so it
// can be tested and fuzzed without sockets. Both sides draw a fresh nonce and
// each proves knowledge of the job secret over both nonces, so a recorded
// proof is useless on a later connection.
//
//   client -> server  Hello{magic, version, client nonce}
//   server -> client  Challenge{magic, version, server nonce}
//   client -> server  Proof{HMAC(secret, "meshrun client" | server nonce | client nonce)}
//   server -> client  Proof{HMAC(secret, "meshrun server" | client nonce | server nonce)}
//
// A server that does not like what it reads closes the connection without a
// reply.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/secret.hpp"
#include "util/result.hpp"

namespace meshrun {

using Nonce = std::array<uint8_t, 32>;
using Mac = std::array<uint8_t, 32>;

Result<Nonce> make_nonce();

// Hello and Challenge share one layout.
std::string encode_greeting(const Nonce& nonce);
Result<Nonce> decode_greeting(std::string_view payload);

enum class ProofRole { client, server };
Mac compute_proof(const Secret& secret, ProofRole role, const Nonce& first, const Nonce& second);
std::string encode_proof(const Mac& mac);
// Constant-time comparison against the expected proof.
Status check_proof(std::string_view payload, const Mac& expected);

}  // namespace meshrun
