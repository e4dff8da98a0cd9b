// Consumer configuration and state.
#pragma once

#include <nats/js/time.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nats::js {

enum class deliver_policy { all, last, new_msgs, by_start_sequence, by_start_time, last_per_subject };
enum class ack_policy { none, all, explicit_ack };
enum class replay_policy { instant, original };

struct consumer_config {
  std::string durable_name;   ///< durable consumers; empty: ephemeral (unless `name` with inactive_threshold)
  std::string name;           ///< 2.9+: name for ephemeral or durable (must equal durable_name when both set)
  std::string description;
  deliver_policy deliver = deliver_policy::all;
  std::uint64_t opt_start_seq = 0;            ///< by_start_sequence
  std::optional<time_point> opt_start_time;   ///< by_start_time
  ack_policy ack = ack_policy::explicit_ack;
  std::chrono::nanoseconds ack_wait{0};       ///< 0: server default (30 s)
  std::int64_t max_deliver = -1;              ///< -1: unlimited
  std::vector<std::chrono::nanoseconds> backoff;
  std::string filter_subject;
  std::vector<std::string> filter_subjects;   ///< 2.10+
  replay_policy replay = replay_policy::instant;
  std::uint64_t rate_limit_bps = 0;
  std::string sample_frequency;
  std::int64_t max_waiting = 0;               ///< 0: server default (512); pull only
  std::int64_t max_ack_pending = 0;           ///< 0: server default (1000)
  bool headers_only = false;
  std::int64_t max_batch = 0;                 ///< pull: max batch per request (0: none)
  std::chrono::nanoseconds max_expires{0};    ///< pull: max expires per request (0: none)
  std::int64_t max_bytes = 0;                 ///< pull: max bytes per request (0: none)
  std::chrono::nanoseconds inactive_threshold{0};
  int replicas = 0;                           ///< 0: as the stream
  bool mem_storage = false;
  // push consumers (used by ordered consumers / watchers)
  std::string deliver_subject;
  std::string deliver_group;
  bool flow_control = false;
  std::chrono::nanoseconds idle_heartbeat{0};
  std::map<std::string, std::string> metadata; ///< 2.10+; omitted when empty

  friend bool operator==(const consumer_config&, const consumer_config&) = default;
};

struct sequence_info {
  std::uint64_t consumer_seq = 0;
  std::uint64_t stream_seq = 0;
  std::optional<time_point> last_active;
};

struct consumer_info {
  std::string stream_name;
  std::string name;
  std::optional<time_point> created;
  consumer_config config;
  sequence_info delivered;
  sequence_info ack_floor;
  std::int64_t num_ack_pending = 0;
  std::int64_t num_redelivered = 0;
  std::int64_t num_waiting = 0;
  std::uint64_t num_pending = 0;
  bool push_bound = false;
};

const char* to_string(deliver_policy p) noexcept;
const char* to_string(ack_policy p) noexcept;
const char* to_string(replay_policy p) noexcept;

}  // namespace nats::js
