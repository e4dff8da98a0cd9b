// Test helper: a minimal operator/account/user JWT issuer (v2 claims, ed25519-nkey) for nats-server's
// operator mode with a memory resolver, and the decorated .creds text. Used by auth and interop tests.
#pragma once

#include <nats/auth.hpp>

#include "nats_server.hpp"

#include <chrono>
#include <string>

namespace nats::test {

// --- a minimal JWT issuer for operator mode (v2 claims, ed25519-nkey) ---------------------------

inline std::string jwt_encode(const auth::key_pair& issuer, const std::string& subject, const std::string& name,
                       const std::string& nats_claims) {
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
  const std::string header = R"({"typ":"JWT","alg":"ed25519-nkey"})";
  // jti only has to be unique here; the server does not recompute it.
  const std::string jti = auth::key_pair::generate(auth::key_kind::user).public_key().substr(1, 40);
  const std::string claims = R"({"jti":")" + jti + R"(","iat":)" + std::to_string(now.count()) + R"(,"iss":")" +
                             issuer.public_key() + R"(","name":")" + name + R"(","sub":")" + subject + R"(","nats":)" +
                             nats_claims + "}";
  const std::string signing_input = auth::base64url_encode(header) + "." + auth::base64url_encode(claims);
  return signing_input + "." + auth::base64url_encode(issuer.sign(signing_input));
}

struct operator_setup {
  auth::key_pair op = auth::key_pair::generate(auth::key_kind::operator_);
  auth::key_pair account = auth::key_pair::generate(auth::key_kind::account);
  std::string operator_jwt = jwt_encode(op, op.public_key(), "test-operator", R"({"type":"operator","version":2})");
  std::string account_jwt = jwt_encode(
      op, account.public_key(), "test-account",
      R"({"limits":{"subs":-1,"data":-1,"payload":-1,"imports":-1,"exports":-1,"wildcards":true,"conn":-1,"leaf":-1},)"
      R"("default_permissions":{"pub":{},"sub":{}},"type":"account","version":2})");

  std::string user_jwt(const auth::key_pair& user) const {
    return jwt_encode(account, user.public_key(), "test-user",
                      R"({"pub":{},"sub":{},"subs":-1,"data":-1,"payload":-1,"type":"user","version":2})");
  }
  static std::string creds(const std::string& jwt, const std::string& seed) {
    return "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
           "************************* IMPORTANT *************************\n" +
           "NKEY Seed printed below can be used to sign and prove identity.\n\n" + "-----BEGIN USER NKEY SEED-----\n" +
           seed + "\n------END USER NKEY SEED------\n";
  }
  std::string server_config(const std::string& dir) const {
    write_file(dir + "/operator.jwt", operator_jwt);
    return "operator: \"" + dir + "/operator.jwt\"\nresolver: MEMORY\nresolver_preload: {\n  " + account.public_key() +
           ": \"" + account_jwt + "\"\n}\n";
  }
};

}  // namespace nats::test
