// TLS 1.3 for TCP between hosts. The launcher makes a per-job CA, signs one
// leaf certificate with it and throws the CA key away; every side of the job
// presents that leaf and accepts only peers whose certificate chains to the
// job's CA, so the TLS handshake alone proves "belongs to this job". The
// material reaches agents on their stdin after the secret, like the secret.
#pragma once

#include <asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace meshrun {

struct TlsMaterial {
  std::string ca_pem;    // the job CA's certificate (the CA key is gone)
  std::string cert_pem;  // the leaf every side presents
  std::string key_pem;   // the leaf's private key
  ~TlsMaterial();        // wipes the key

  // The three PEM blocks in one string, and back.
  std::string bundle() const;
  static Result<TlsMaterial> from_bundle(std::string_view bundle);
};

// A fresh CA and leaf (EC P-256), named after the job.
Result<TlsMaterial> make_job_tls(std::string_view job_id);

// An SSL_CTX for both roles: TLS 1.3 only, our leaf, peers verified against
// the job CA (a client without a certificate is refused).
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> make(const TlsMaterial& material);
  asio::ssl::context& native() { return ctx_; }

 private:
  TlsContext();
  asio::ssl::context ctx_;
};

// What an agent reads on its stdin: the secret line, then for TLS a line
// "tls N" and the N-byte bundle. Both sides use these.
std::string encode_agent_stdin(std::string_view secret_hex, std::string_view tls_bundle);
inline constexpr size_t kMaxTlsBundle = 64 * 1024;

}  // namespace meshrun
