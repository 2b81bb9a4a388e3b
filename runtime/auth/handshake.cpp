#include "auth/handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "wire/codec.hpp"
#include "wire/protocol.hpp"

namespace meshrun {

Result<Nonce> make_nonce() {
  Nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1)
    return make_error(Errc::io, "cannot draw random bytes for a nonce");
  return n;
}

std::string encode_greeting(const Nonce& nonce) {
  std::string out;
  Writer w(out);
  w.put(kProtocolMagic);
  w.put(kProtocolVersion);
  out.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  return out;
}

Result<Nonce> decode_greeting(std::string_view payload) {
  Reader r(payload);
  uint32_t magic = 0;
  uint16_t version = 0;
  r(magic, version);
  if (!r.ok() || magic != kProtocolMagic)
    return make_error(Errc::protocol, "not a meshrun peer (wrong magic)");
  if (version != kProtocolVersion)
    return make_error(Errc::protocol, "peer speaks protocol version " + std::to_string(version) +
                                          ", this is version " + std::to_string(kProtocolVersion) +
                                          "; run the same meshrun release everywhere");
  auto rest = r.rest();
  Nonce n;
  if (rest.size() != n.size()) return make_error(Errc::protocol, "greeting has a bad nonce");
  std::memcpy(n.data(), rest.data(), n.size());
  return n;
}

Mac compute_proof(const Secret& secret, ProofRole role, const Nonce& first, const Nonce& second) {
  static constexpr std::string_view kClient = "meshrun client";
  static constexpr std::string_view kServer = "meshrun server";
  const auto label = role == ProofRole::client ? kClient : kServer;
  unsigned char data[14 + 64];
  std::memcpy(data, label.data(), label.size());
  std::memcpy(data + label.size(), first.data(), first.size());
  std::memcpy(data + label.size() + first.size(), second.data(), second.size());
  Mac mac{};
  size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(), data,
            label.size() + 64, mac.data(), mac.size(), &len);
  return mac;
}

std::string encode_proof(const Mac& mac) {
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

Status check_proof(std::string_view payload, const Mac& expected) {
  if (payload.size() != expected.size() ||
      CRYPTO_memcmp(payload.data(), expected.data(), expected.size()) != 0)
    return make_error(Errc::auth, "peer failed to prove it belongs to this job");
  return {};
}

}  // namespace meshrun
