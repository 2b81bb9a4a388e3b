// The handshake's decoders see bytes from an unauthenticated peer.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/handshake.hpp"

using namespace meshrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nonce = decode_greeting(in);
  if (nonce) {
    // Whatever decodes as a greeting is exactly what encode_greeting makes.
    if (encode_greeting(*nonce) != in) std::abort();
  }
  static const Secret secret = Secret::from_hex(std::string(64, 'a')).value();
  Nonce a{}, b{};
  a[0] = 1;
  const Mac expected = compute_proof(secret, ProofRole::client, a, b);
  // A random proof must not pass (a 2^-256 chance we ignore).
  if (check_proof(in, expected).ok()) std::abort();
  return 0;
}
