// The per-job secret. It travels to agents on their stdin, never on a command
// line or in an environment, and proves a peer belongs to the job.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace meshrun {

inline constexpr size_t kSecretBytes = 32;

class Secret {
 public:
  static Result<Secret> generate();  // OpenSSL's CSPRNG
  static Result<Secret> from_hex(std::string_view hex);
  std::string to_hex() const;
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return kSecretBytes; }
  ~Secret();  // wipes the bytes

 private:
  std::array<uint8_t, kSecretBytes> bytes_{};
};

}  // namespace meshrun
