// Internal: the NKey text codec (RFC 4648 base32 without padding, CRC16/XMODEM, prefix bytes).
// Exposed only so unit tests can exercise the pieces on their own.
#pragma once

#include <nats/auth.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nats::auth::detail {

/// CRC16 with polynomial 0x1021, initial value 0, no reflection (a.k.a. XMODEM). NKeys append it
/// little-endian.
std::uint16_t crc16(std::string_view bytes) noexcept;

/// RFC 4648 base32 (A-Z, 2-7), no padding.
std::string base32_encode(std::string_view bytes);
/// Upper-case alphabet only, no padding, canonical only: a length no encoder produces, or non-zero
/// leftover bits at the end, are rejected.
bool base32_decode(std::string_view text, std::string& out);

/// Prefix byte of a public key of this kind ('U' = 20 << 3, ...).
std::uint8_t prefix_byte(key_kind kind) noexcept;
/// The kind whose public prefix byte is `b`, if any (Ed25519 kinds only; curve keys are X25519).
std::optional<key_kind> kind_of_prefix(std::uint8_t b) noexcept;

inline constexpr std::uint8_t prefix_byte_seed = 18 << 3;   ///< 'S'
inline constexpr std::uint8_t prefix_byte_curve = 23 << 3;  ///< 'X'

/// Seed / public key lengths in raw bytes: prefix + 32 key bytes + CRC16.
inline constexpr std::size_t raw_seed_size = 2 + 32 + 2;
inline constexpr std::size_t raw_public_size = 1 + 32 + 2;

}  // namespace nats::auth::detail
