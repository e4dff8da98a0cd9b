// Stream configuration and state, as the JetStream API describes them.
#pragma once

#include <nats/js/time.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nats::js {

enum class retention_policy { limits, interest, workqueue };
enum class storage_type { file, memory };
enum class discard_policy { old_msgs, new_msgs };

/// Republish stored messages to another subject (server 2.8+).
struct republish_config {
  std::string src;
  std::string dest;
  bool headers_only = false;
  friend bool operator==(const republish_config&, const republish_config&) = default;
};

/// A stream used as mirror or source.
struct stream_source {
  std::string name;
  std::uint64_t opt_start_seq = 0;
  std::optional<time_point> opt_start_time;
  std::string filter_subject;
  std::string domain;  ///< written as external.api = "$JS.<domain>.API" when set
  friend bool operator==(const stream_source&, const stream_source&) = default;
};

struct stream_config {
  std::string name;
  std::string description;
  std::vector<std::string> subjects;
  retention_policy retention = retention_policy::limits;
  storage_type storage = storage_type::file;
  int replicas = 1;
  std::int64_t max_consumers = -1;
  std::int64_t max_msgs = -1;
  std::int64_t max_bytes = -1;
  std::chrono::nanoseconds max_age{0};            ///< 0: no limit
  std::int64_t max_msgs_per_subject = -1;
  std::int32_t max_msg_size = -1;
  discard_policy discard = discard_policy::old_msgs;
  bool discard_new_per_subject = false;
  std::chrono::nanoseconds duplicate_window{0};   ///< 0: the server's default (2 min)
  bool no_ack = false;
  bool sealed = false;
  bool deny_delete = false;
  bool deny_purge = false;
  bool allow_rollup_hdrs = false;
  bool allow_direct = false;
  bool mirror_direct = false;
  std::optional<republish_config> republish;
  std::optional<stream_source> mirror;
  std::vector<stream_source> sources;
  std::map<std::string, std::string> metadata;    ///< 2.10+; omitted when empty
  std::optional<std::uint64_t> first_seq;         ///< 2.10+
  bool allow_msg_ttl = false;                     ///< 2.11+; omitted when false

  friend bool operator==(const stream_config&, const stream_config&) = default;
};

struct stream_state {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_seq = 0;
  std::optional<time_point> first_ts;
  std::uint64_t last_seq = 0;
  std::optional<time_point> last_ts;
  std::uint64_t num_deleted = 0;
  std::uint64_t num_subjects = 0;
  std::int64_t consumer_count = 0;
};

struct cluster_info {
  std::string name;
  std::string leader;
};

struct stream_info {
  stream_config config;
  stream_state state;
  std::optional<time_point> created;
  std::optional<cluster_info> cluster;
};

/// Options of a purge: everything, one subject (may hold wildcards), up to a sequence, or keep the last N.
struct purge_options {
  std::string filter;
  std::uint64_t sequence = 0;  ///< purge below this sequence (exclusive); 0: not used
  std::uint64_t keep = 0;      ///< keep this many newest messages; 0: not used
};

const char* to_string(retention_policy p) noexcept;
const char* to_string(storage_type s) noexcept;
const char* to_string(discard_policy d) noexcept;

}  // namespace nats::js
