// A value (or delete/purge marker) of a key at one revision.
#pragma once

#include <nats/headers.hpp>
#include <nats/js/stored_msg.hpp>
#include <nats/js/time.hpp>
#include <nats/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nats::kv {

/// Carried in the `KV-Operation` header: absent = put, `DEL` = delete marker, `PURGE` = purge marker.
enum class operation { put, del, purge };

const char* to_string(operation op) noexcept;

struct entry {
  std::string bucket;
  std::string key;
  std::string value;
  std::uint64_t revision = 0;  ///< stream sequence of this revision
  std::uint64_t delta = 0;     ///< watch: messages still pending after this one (0 when caught up)
  js::time_point created{};
  operation op = operation::put;
};

/// Header name and values other clients use.
inline constexpr std::string_view operation_header = "KV-Operation";
inline constexpr std::string_view rollup_header = "Nats-Rollup";

operation operation_of(const headers& h) noexcept;

/// The key of `subject` in `bucket` (`$KV.<bucket>.<key>`), nullopt when it is not one of its subjects.
std::optional<std::string_view> key_of(std::string_view bucket, std::string_view subject) noexcept;

/// Builds an entry from a stored message (get / direct get). nullopt if its subject is not in the bucket.
std::optional<entry> entry_from(std::string_view bucket, const js::stored_msg& m);
/// Builds an entry from a message delivered by a consumer (watch); revision/created/delta from its
/// `$JS.ACK.` reply subject. nullopt if the message is not a JetStream delivery in the bucket.
std::optional<entry> entry_from(std::string_view bucket, const message& m);

}  // namespace nats::kv
