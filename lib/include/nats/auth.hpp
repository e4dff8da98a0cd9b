// NKey and .creds support: seed decoding (base32 + CRC16), Ed25519 signing via OpenSSL,
// public-key encoding, key generation, and the decorated .creds file format.
#pragma once

#include <boost/system/error_code.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace nats::auth {

/// The role an nkey plays, encoded in its first base32 character (U, A, O, N, C, X).
enum class key_kind : std::uint8_t { user, account, server, cluster, operator_, curve };

/// An Ed25519 key pair decoded from (or generated as) an NKey seed. Secrets are wiped on destruction.
class key_pair {
 public:
  key_pair() = default;
  ~key_pair();
  key_pair(key_pair&&) noexcept;
  key_pair& operator=(key_pair&&) noexcept;
  key_pair(const key_pair&) = delete;
  key_pair& operator=(const key_pair&) = delete;

  /// Decodes an encoded seed ("SU...", "SA...", "SO..."). Sets ec to error::bad_seed on bad base32,
  /// bad CRC16, wrong length or wrong prefix; the error text never contains the seed.
  static key_pair from_seed(std::string_view seed, boost::system::error_code& ec);
  /// A fresh random key pair of the given kind.
  static key_pair generate(key_kind kind);

  bool valid() const noexcept { return valid_; }
  key_kind kind() const noexcept { return kind_; }
  /// The public key as NATS prints it ("U...", "A...", "O...": base32 with CRC16).
  std::string public_key() const;
  /// The encoded seed ("S" + kind letter ...). Handle with care.
  std::string seed() const;
  /// Ed25519 signature (64 raw bytes) of `data`.
  std::string sign(std::string_view data) const;
  /// Checks an Ed25519 signature against an encoded public key.
  static bool verify(std::string_view public_key, std::string_view data, std::string_view signature);

 private:
  bool valid_ = false;
  key_kind kind_ = key_kind::user;
  std::array<unsigned char, 32> raw_seed_{};
  std::array<unsigned char, 32> raw_public_{};
};

/// URL-safe base64 without padding (what CONNECT's `sig` field and JWTs use).
std::string base64url_encode(std::string_view bytes);
/// Decodes URL-safe base64 (padding optional). Returns false on invalid input.
bool base64url_decode(std::string_view text, std::string& out);

/// The JWT and seed from a `.creds` file (the decorated `-----BEGIN NATS USER JWT-----` format).
struct credentials {
  std::string jwt;
  std::string seed;
};
/// Parses the content of a .creds file. Sets ec to error::bad_credentials when either part is missing.
credentials parse_credentials(std::string_view content, boost::system::error_code& ec);
/// Reads and parses a .creds file from disk (error::bad_credentials, or the OS error if unreadable).
credentials load_credentials_file(const std::string& path, boost::system::error_code& ec);

/// Signs the server's nonce with `seed`: returns base64url(signature), or sets ec.
std::string sign_nonce(std::string_view seed, std::string_view nonce, boost::system::error_code& ec);

}  // namespace nats::auth
