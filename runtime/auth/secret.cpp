#include "auth/secret.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace meshrun {

Result<Secret> Secret::generate() {
  Secret s;
  if (RAND_bytes(s.bytes_.data(), static_cast<int>(s.bytes_.size())) != 1)
    return make_error(Errc::io, "cannot draw random bytes for the job secret");
  return s;
}

Result<Secret> Secret::from_hex(std::string_view hex) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' '))
    hex.remove_suffix(1);
  if (hex.size() != 2 * kSecretBytes)
    return make_error(Errc::auth, "job secret must be " + std::to_string(2 * kSecretBytes) +
                                      " hex digits, got " + std::to_string(hex.size()));
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Secret s;
  for (size_t i = 0; i < kSecretBytes; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(Errc::auth, "job secret is not hex");
    s.bytes_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return s;
}

std::string Secret::to_hex() const {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * kSecretBytes);
  for (uint8_t b : bytes_) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

Secret::~Secret() {
  OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

}  // namespace meshrun
