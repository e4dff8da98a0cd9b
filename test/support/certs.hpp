// Test certificates made at test time with OpenSSL 3: a CA, a server certificate for localhost /
// 127.0.0.1 signed by it, a client certificate signed by it, an unrelated second CA, and a
// self-signed server certificate. EC P-256 keys, valid from an hour ago for two days.
#pragma once

#include <string>

namespace nats::test {

struct cert_set {
  std::string dir;  ///< where the PEM files are (owned by the caller)

  std::string ca_file, ca_pem;                    ///< the CA that signed server and client
  std::string server_cert_file, server_key_file;  ///< SAN: DNS:localhost, IP:127.0.0.1
  std::string client_cert_file, client_key_file;  ///< CN=test-client, clientAuth
  std::string client_cert_pem, client_key_pem;
  std::string other_ca_file;                                ///< a CA that signed nothing we use
  std::string self_signed_cert_file, self_signed_key_file;  ///< server certificate signed by itself
  std::string wrong_host_cert_file, wrong_host_key_file;    ///< signed by the CA, SAN: DNS:wrong.example only
};

/// Writes a fresh set of keys and certificates into `dir` (which must exist). Throws on failure.
cert_set make_test_certs(const std::string& dir);

/// The `tls { ... }` block of a nats-server configuration for the given server certificate.
/// `verify`: require and verify client certificates (mutual TLS) against the set's CA.
std::string server_tls_block(const cert_set& certs, bool verify = false, double timeout_s = 2.0);

}  // namespace nats::test
