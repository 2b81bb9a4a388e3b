#include "auth/tls.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <asio/buffer.hpp>

namespace meshrun {
namespace {

constexpr long kValidSeconds = 400L * 24 * 3600;  // a job may run long; the CA dies with it
constexpr std::string_view kEndCert = "-----END CERTIFICATE-----\n";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Bio = std::unique_ptr<BIO, BioFree>;

Error ssl_error(const std::string& what) {
  std::string msg = what;
  if (unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  ERR_clear_error();
  return make_error(Errc::io, msg);
}

Result<Pkey> make_key() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return ssl_error("cannot make an EC key");
  return key;
}

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key` named `cn`, signed by `signer` (itself when issuer is null).
Result<Cert> make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* signer,
                       bool ca) {
  Cert cert(X509_new());
  if (!cert) return ssl_error("cannot make a certificate");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return ssl_error("no randomness for a serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  const bool serial_ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto* cn_bytes = reinterpret_cast<const unsigned char*>(cn.c_str());
  bool ok = serial_ok && X509_set_version(cert.get(), 2) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValidSeconds) &&
            X509_set_pubkey(cert.get(), key) == 1 &&
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn_bytes, -1, -1, 0) == 1 &&
            X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name) == 1;
  X509* iss = issuer ? issuer : cert.get();
  if (ok && ca)
    ok = add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         add_ext(cert.get(), iss, NID_key_usage, "critical,keyCertSign") &&
         add_ext(cert.get(), iss, NID_subject_key_identifier, "hash");
  if (ok && !ca)
    ok = add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(cert.get(), iss, NID_key_usage, "critical,digitalSignature") &&
         add_ext(cert.get(), iss, NID_ext_key_usage, "serverAuth,clientAuth") &&
         add_ext(cert.get(), iss, NID_authority_key_identifier, "keyid");
  if (ok) ok = X509_sign(cert.get(), signer, EVP_sha256()) > 0;
  if (!ok) return ssl_error("cannot make the certificate " + cn);
  return cert;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

TlsMaterial::~TlsMaterial() {
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
}

std::string TlsMaterial::bundle() const {
  return ca_pem + cert_pem + key_pem;
}

Result<TlsMaterial> TlsMaterial::from_bundle(std::string_view bundle) {
  const auto first = bundle.find(kEndCert);
  const auto second =
      first == std::string_view::npos ? first : bundle.find(kEndCert, first + kEndCert.size());
  if (second == std::string_view::npos || bundle.find("PRIVATE KEY-----") == std::string_view::npos)
    return make_error(Errc::invalid_argument, "the TLS material is not CA + certificate + key");
  TlsMaterial m;
  m.ca_pem = bundle.substr(0, first + kEndCert.size());
  m.cert_pem = bundle.substr(first + kEndCert.size(), second - first);
  m.key_pem = bundle.substr(second + kEndCert.size());
  return m;
}

Result<TlsMaterial> make_job_tls(std::string_view job_id) {
  auto ca_key = make_key();
  if (!ca_key) return ca_key.error();
  auto leaf_key = make_key();
  if (!leaf_key) return leaf_key.error();
  const std::string id(job_id);
  auto ca = make_cert(ca_key->get(), "meshrun job " + id + " CA", nullptr, ca_key->get(), true);
  if (!ca) return ca.error();
  auto leaf = make_cert(leaf_key->get(), "meshrun job " + id, ca->get(), ca_key->get(), false);
  if (!leaf) return leaf.error();

  TlsMaterial m;
  Bio b1(BIO_new(BIO_s_mem())), b2(BIO_new(BIO_s_mem())), b3(BIO_new(BIO_s_mem()));
  if (!b1 || !b2 || !b3 || PEM_write_bio_X509(b1.get(), ca->get()) != 1 ||
      PEM_write_bio_X509(b2.get(), leaf->get()) != 1 ||
      PEM_write_bio_PrivateKey(b3.get(), leaf_key->get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1)
    return ssl_error("cannot write the job's TLS material");
  m.ca_pem = bio_string(b1.get());
  m.cert_pem = bio_string(b2.get());
  m.key_pem = bio_string(b3.get());
  // The key's PEM lived in the BIO's buffer too.
  char* data = nullptr;
  if (long n = BIO_get_mem_data(b3.get(), &data); n > 0)
    OPENSSL_cleanse(data, static_cast<size_t>(n));
  return m;
}

TlsContext::TlsContext() : ctx_(asio::ssl::context::tls) {}

Result<std::shared_ptr<TlsContext>> TlsContext::make(const TlsMaterial& material) {
  std::shared_ptr<TlsContext> t(new TlsContext());
  SSL_CTX* ctx = t->ctx_.native_handle();
  asio::error_code ec;
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
    return ssl_error("cannot require TLS 1.3");
  // Connections are long-lived and never resumed: no tickets to send.
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  t->ctx_.use_certificate(asio::buffer(material.cert_pem), asio::ssl::context::pem, ec);
  if (!ec) t->ctx_.use_private_key(asio::buffer(material.key_pem), asio::ssl::context::pem, ec);
  if (!ec) t->ctx_.add_certificate_authority(asio::buffer(material.ca_pem), ec);
  if (!ec)
    t->ctx_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return make_error(Errc::invalid_argument, "bad TLS material: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1)
    return ssl_error("the TLS key does not match its certificate");
  return t;
}

std::string encode_agent_stdin(std::string_view secret_hex, std::string_view tls_bundle) {
  std::string s(secret_hex);
  s += '\n';
  if (!tls_bundle.empty()) {
    s += "tls " + std::to_string(tls_bundle.size()) + "\n";
    s += tls_bundle;
  }
  return s;
}

}  // namespace meshrun
