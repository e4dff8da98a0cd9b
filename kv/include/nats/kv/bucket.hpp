// Bucket configuration and its mapping onto the KV_<bucket> stream, the layout every NATS client shares:
// stream `KV_<bucket>`, subjects `$KV.<bucket>.>`, history = max_msgs_per_subject, ttl = max_age,
// rollup headers allowed, deletes denied (markers instead), discard new, direct get allowed.
#pragma once

#include <nats/js/stream.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nats::kv {

struct bucket_config {
  std::string bucket;
  std::string description;
  std::int64_t history = 1;                 ///< values kept per key, 1..64
  std::chrono::nanoseconds ttl{0};          ///< 0: values never expire
  std::int64_t max_bytes = -1;              ///< whole bucket
  std::int32_t max_value_size = -1;
  js::storage_type storage = js::storage_type::file;
  int replicas = 1;
  std::optional<js::republish_config> republish;
};

/// What status() reports.
struct bucket_status {
  std::string bucket;
  std::uint64_t values = 0;                 ///< messages in the stream (values + markers, all revisions)
  std::int64_t history = 1;
  std::chrono::nanoseconds ttl{0};
  std::uint64_t bytes = 0;
  js::storage_type storage = js::storage_type::file;
  int replicas = 1;
  bool allow_direct = false;
  std::string stream_name;
  js::stream_info info;
};

constexpr std::int64_t max_history = 64;

std::string stream_name(std::string_view bucket);                       ///< KV_<bucket>
std::string subject_prefix(std::string_view bucket);                    ///< $KV.<bucket>.
std::string key_subject(std::string_view bucket, std::string_view key); ///< $KV.<bucket>.<key>

bool valid_bucket_name(std::string_view bucket) noexcept;
/// A concrete key (for put/get/delete...).
bool valid_key(std::string_view key) noexcept;
/// A key or a pattern with `*` tokens and a final `>` (for watch/keys).
bool valid_key_filter(std::string_view filter) noexcept;

/// The stream configuration for a bucket, as other NATS clients create it. Throws nothing; check
/// validate() first.
js::stream_config to_stream_config(const bucket_config& cfg);
/// Checks names and limits; returns an error code from kv::error, or success.
boost::system::error_code validate(const bucket_config& cfg);
/// The bucket view of a KV stream; nullopt when the stream is not laid out as a bucket.
std::optional<bucket_status> status_from(const js::stream_info& info);

}  // namespace nats::kv
