// NKeys: Ed25519 key pairs in the NATS text form.
//
// Public key = base32(prefix byte | 32 public bytes | CRC16 little-endian)            -> "U...", 56 chars
// Seed       = base32(b1 | b2 | 32 Ed25519 seed bytes | CRC16 little-endian)          -> "SU...", 58 chars
// where the seed's two leading bytes carry two 5-bit base32 symbols: b1 = 'S' prefix | (kind prefix >> 5)
// and b2 = (kind prefix & 31) << 3, so the text starts with 'S' followed by the kind letter.
// Ed25519 itself is OpenSSL's (EVP_PKEY_ED25519, one-shot EVP_DigestSign without a digest).
#include "nkey_codec.hpp"

#include <nats/auth.hpp>
#include <nats/error.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <utility>

namespace nats::auth {
namespace detail {

std::uint16_t crc16(std::string_view bytes) noexcept {
  std::uint16_t crc = 0;
  for (unsigned char b : bytes) {
    crc ^= static_cast<std::uint16_t>(b) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

namespace {
constexpr char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int base32_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}
}  // namespace

std::string base32_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out.push_back(base32_alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(base32_alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

bool base32_decode(std::string_view text, std::string& out) {
  out.clear();
  // Unpadded base32 never has 1, 3 or 6 symbols in its last group of 8.
  switch (text.size() % 8) {
    case 1:
    case 3:
    case 6:
      return false;
    default:
      break;
  }
  out.reserve(text.size() * 5 / 8);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = base32_value(c);
    if (v < 0) return false;
    buffer = (buffer << 5) | static_cast<unsigned>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Only the canonical encoding: bits left over at the end must be zero, so that every key has
  // exactly one text form (no look-alike that decodes to the same bytes).
  const bool canonical = (buffer & ((1u << bits) - 1)) == 0;
  OPENSSL_cleanse(&buffer, sizeof buffer);
  if (!canonical) out.clear();
  return canonical;
}

std::uint8_t prefix_byte(key_kind kind) noexcept {
  switch (kind) {
    case key_kind::user:
      return 20 << 3;
    case key_kind::account:
      return 0;
    case key_kind::server:
      return 13 << 3;
    case key_kind::cluster:
      return 2 << 3;
    case key_kind::operator_:
      return 14 << 3;
    case key_kind::curve:
      return prefix_byte_curve;
  }
  return 20 << 3;
}

std::optional<key_kind> kind_of_prefix(std::uint8_t b) noexcept {
  for (key_kind k : {key_kind::user, key_kind::account, key_kind::server, key_kind::cluster, key_kind::operator_}) {
    if (prefix_byte(k) == b) return k;
  }
  return std::nullopt;
}

}  // namespace detail

namespace {

using detail::crc16;

// Owns a std::string of secret bytes and wipes it when done.
struct wiped_string {
  std::string s;
  ~wiped_string() {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  }
};

struct pkey_deleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

void append_crc(std::string& raw) {
  const std::uint16_t crc = crc16(raw);
  raw.push_back(static_cast<char>(crc & 0xff));
  raw.push_back(static_cast<char>(crc >> 8));
}

bool crc_matches(std::string_view raw) {
  if (raw.size() < 2) return false;
  const auto body = raw.substr(0, raw.size() - 2);
  const auto lo = static_cast<unsigned char>(raw[raw.size() - 2]);
  const auto hi = static_cast<unsigned char>(raw[raw.size() - 1]);
  return crc16(body) == static_cast<std::uint16_t>(lo | (hi << 8));
}

// Derives the Ed25519 public key from a 32-byte seed. Returns false only if OpenSSL fails.
bool derive_public(const std::array<unsigned char, 32>& seed, std::array<unsigned char, 32>& pub) {
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) return false;
  std::size_t len = pub.size();
  return EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len) == 1 && len == pub.size();
}

// Decodes a public key text to its kind and 32 raw bytes.
bool decode_public(std::string_view text, key_kind& kind, std::array<unsigned char, 32>& pub) {
  std::string raw;
  if (!detail::base32_decode(text, raw) || raw.size() != detail::raw_public_size || !crc_matches(raw)) return false;
  auto k = detail::kind_of_prefix(static_cast<std::uint8_t>(raw[0]));
  if (!k) return false;
  kind = *k;
  std::copy(raw.begin() + 1, raw.begin() + 33, pub.begin());
  return true;
}

}  // namespace

key_pair::~key_pair() { OPENSSL_cleanse(raw_seed_.data(), raw_seed_.size()); }

key_pair::key_pair(key_pair&& other) noexcept
    : valid_(other.valid_), kind_(other.kind_), raw_seed_(other.raw_seed_), raw_public_(other.raw_public_) {
  OPENSSL_cleanse(other.raw_seed_.data(), other.raw_seed_.size());
  other.valid_ = false;
}

key_pair& key_pair::operator=(key_pair&& other) noexcept {
  if (this != &other) {
    valid_ = other.valid_;
    kind_ = other.kind_;
    raw_seed_ = other.raw_seed_;
    raw_public_ = other.raw_public_;
    OPENSSL_cleanse(other.raw_seed_.data(), other.raw_seed_.size());
    other.valid_ = false;
  }
  return *this;
}

key_pair key_pair::from_seed(std::string_view seed, boost::system::error_code& ec) {
  ec.clear();
  key_pair kp;
  // Be forgiving about surrounding whitespace (seeds pasted from files), nothing else.
  while (!seed.empty() && (seed.front() == ' ' || seed.front() == '\t' || seed.front() == '\r' || seed.front() == '\n'))
    seed.remove_prefix(1);
  while (!seed.empty() && (seed.back() == ' ' || seed.back() == '\t' || seed.back() == '\r' || seed.back() == '\n'))
    seed.remove_suffix(1);

  wiped_string raw;
  if (!detail::base32_decode(seed, raw.s) || raw.s.size() != detail::raw_seed_size || !crc_matches(raw.s)) {
    ec = error::bad_seed;
    return kp;
  }
  const auto b1 = static_cast<std::uint8_t>(raw.s[0]);
  const auto b2 = static_cast<std::uint8_t>(raw.s[1]);
  if ((b1 & 0xf8) != detail::prefix_byte_seed) {
    ec = error::bad_seed;
    return kp;
  }
  const auto kind_prefix = static_cast<std::uint8_t>(((b1 & 0x07) << 5) | ((b2 & 0xf8) >> 3));
  auto kind = detail::kind_of_prefix(kind_prefix);
  if (!kind) {  // unknown role, or a curve (X25519) seed, which cannot sign
    ec = error::bad_seed;
    return kp;
  }
  std::copy(raw.s.begin() + 2, raw.s.begin() + 34, kp.raw_seed_.begin());
  if (!derive_public(kp.raw_seed_, kp.raw_public_)) {
    ec = error::bad_seed;
    return key_pair{};
  }
  kp.kind_ = *kind;
  kp.valid_ = true;
  return kp;
}

key_pair key_pair::generate(key_kind kind) {
  if (kind == key_kind::curve)
    throw std::invalid_argument("nkeys: curve (X25519) keys cannot be generated as signing keys");
  key_pair kp;
  if (RAND_priv_bytes(kp.raw_seed_.data(), static_cast<int>(kp.raw_seed_.size())) != 1 ||
      !derive_public(kp.raw_seed_, kp.raw_public_)) {
    throw std::runtime_error("nkeys: OpenSSL could not generate an Ed25519 key");
  }
  kp.kind_ = kind;
  kp.valid_ = true;
  return kp;
}

std::string key_pair::public_key() const {
  if (!valid_) return {};
  std::string raw;
  raw.reserve(detail::raw_public_size);
  raw.push_back(static_cast<char>(detail::prefix_byte(kind_)));
  raw.append(reinterpret_cast<const char*>(raw_public_.data()), raw_public_.size());
  append_crc(raw);
  return detail::base32_encode(raw);
}

std::string key_pair::seed() const {
  if (!valid_) return {};
  const std::uint8_t p = detail::prefix_byte(kind_);
  wiped_string raw;
  raw.s.reserve(detail::raw_seed_size);
  raw.s.push_back(static_cast<char>(detail::prefix_byte_seed | (p >> 5)));
  raw.s.push_back(static_cast<char>((p & 31) << 3));
  raw.s.append(reinterpret_cast<const char*>(raw_seed_.data()), raw_seed_.size());
  append_crc(raw.s);
  return detail::base32_encode(raw.s);
}

std::string key_pair::sign(std::string_view data) const {
  if (!valid_) throw std::logic_error("nkeys: sign() on an empty key pair");
  pkey_ptr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, raw_seed_.data(), raw_seed_.size()));
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  std::size_t len = sig.size();
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      len != 64) {
    throw std::runtime_error("nkeys: OpenSSL Ed25519 signing failed");
  }
  return sig;
}

bool key_pair::verify(std::string_view public_key, std::string_view data, std::string_view signature) {
  key_kind kind{};
  std::array<unsigned char, 32> pub{};
  if (signature.size() != 64 || !decode_public(public_key, kind, pub)) return false;
  pkey_ptr key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub.data(), pub.size()));
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!key || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

std::string base64url_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
  }
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  out.clear();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return false;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return true;
}

std::string sign_nonce(std::string_view seed, std::string_view nonce, boost::system::error_code& ec) {
  key_pair kp = key_pair::from_seed(seed, ec);
  if (ec) return {};
  return base64url_encode(kp.sign(nonce));
}

}  // namespace nats::auth
