#include "certs.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

namespace nats::test {
namespace {

struct pkey_free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
  void operator()(X509* p) const { X509_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const { BIO_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;

[[noreturn]] void fail(const std::string& what) {
  char buf[256] = {};
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  throw std::runtime_error("test certificates: " + what + ": " + buf);
}

pkey_ptr new_key() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("EC key generation");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) fail(std::string("extension ") + OBJ_nid2sn(nid));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

enum class role { ca, server, client };

// A certificate for `key` with common name `cn`, signed by issuer/issuer_key (itself when null).
x509_ptr make_cert(EVP_PKEY* key, const std::string& cn, role r, const std::string& san, X509* issuer,
                   EVP_PKEY* issuer_key) {
  x509_ptr cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 2 * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("nats-cluster tests"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));

  add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer) add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  switch (r) {
    case role::ca:
      add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
      add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
      break;
    case role::server:
      add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
      add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth");
      break;
    case role::client:
      add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
      add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
      add_ext(cert.get(), signer, NID_ext_key_usage, "clientAuth");
      break;
  }
  if (!san.empty()) add_ext(cert.get(), signer, NID_subject_alt_name, san.c_str());
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) fail("X509_sign " + cn);
  return cert;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string cert_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) fail("PEM_write_bio_X509");
  return bio_text(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr))
    fail("PEM_write_bio_PrivateKey");
  return bio_text(bio.get());
}

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("test certificates: cannot write " + path);
  f << text;
}

}  // namespace

cert_set make_test_certs(const std::string& dir) {
  cert_set s;
  s.dir = dir;

  auto ca_key = new_key();
  auto ca = make_cert(ca_key.get(), "nats-cluster test CA", role::ca, "", nullptr, nullptr);
  s.ca_pem = cert_pem(ca.get());
  s.ca_file = dir + "/ca.pem";
  write(s.ca_file, s.ca_pem);

  auto server_key = new_key();
  auto server =
      make_cert(server_key.get(), "localhost", role::server, "DNS:localhost,IP:127.0.0.1", ca.get(), ca_key.get());
  s.server_cert_file = dir + "/server-cert.pem";
  s.server_key_file = dir + "/server-key.pem";
  write(s.server_cert_file, cert_pem(server.get()));
  write(s.server_key_file, key_pem(server_key.get()));

  auto client_key = new_key();
  auto client =
      make_cert(client_key.get(), "test-client", role::client, "email:client@example.com", ca.get(), ca_key.get());
  s.client_cert_pem = cert_pem(client.get());
  s.client_key_pem = key_pem(client_key.get());
  s.client_cert_file = dir + "/client-cert.pem";
  s.client_key_file = dir + "/client-key.pem";
  write(s.client_cert_file, s.client_cert_pem);
  write(s.client_key_file, s.client_key_pem);

  auto other_key = new_key();
  auto other = make_cert(other_key.get(), "unrelated test CA", role::ca, "", nullptr, nullptr);
  s.other_ca_file = dir + "/other-ca.pem";
  write(s.other_ca_file, cert_pem(other.get()));

  auto self_key = new_key();
  auto self = make_cert(self_key.get(), "localhost", role::server, "DNS:localhost,IP:127.0.0.1", nullptr, nullptr);
  s.self_signed_cert_file = dir + "/self-signed-cert.pem";
  s.self_signed_key_file = dir + "/self-signed-key.pem";
  write(s.self_signed_cert_file, cert_pem(self.get()));
  write(s.self_signed_key_file, key_pem(self_key.get()));

  auto wrong_key = new_key();
  auto wrong = make_cert(wrong_key.get(), "wrong.example", role::server, "DNS:wrong.example", ca.get(), ca_key.get());
  s.wrong_host_cert_file = dir + "/wrong-host-cert.pem";
  s.wrong_host_key_file = dir + "/wrong-host-key.pem";
  write(s.wrong_host_cert_file, cert_pem(wrong.get()));
  write(s.wrong_host_key_file, key_pem(wrong_key.get()));
  return s;
}

std::string server_tls_block(const cert_set& certs, bool verify, double timeout_s) {
  std::ostringstream c;
  c << "tls {\n"
    << "  cert_file: \"" << certs.server_cert_file << "\"\n"
    << "  key_file: \"" << certs.server_key_file << "\"\n"
    << "  ca_file: \"" << certs.ca_file << "\"\n"
    << "  timeout: " << timeout_s << "\n";
  if (verify) c << "  verify: true\n";
  c << "}\n";
  return c.str();
}

}  // namespace nats::test
