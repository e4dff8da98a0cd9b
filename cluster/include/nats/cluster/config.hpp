// Configuration of a cluster node and its validation.
#pragma once

#include <nats/options.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nats::cluster {

/// Member publishes and subscribes; observer only subscribes (and is listed by discovery).
enum class role { member, observer };
/// Durable: stored and acknowledged by JetStream, delivered to every subscribing instance, also those
/// that were offline. Ephemeral: fire-and-forget with a TTL; never delivered after it expires.
enum class delivery_mode { durable, ephemeral };
/// Where a new subscription (a durable consumer that does not exist yet) starts.
enum class start_position { new_only, all, last_per_subject };
/// on_delivery: acked as soon as the handler returns. manual: the host calls node::ack(id).
enum class ack_mode { on_delivery, manual };

/// "Member"/"Observer", "Durable"/"Ephemeral" (the original plugin's spelling).
const char* to_string(role r) noexcept;
const char* to_string(delivery_mode m) noexcept;
const char* to_string(start_position s) noexcept;
const char* to_string(ack_mode a) noexcept;
/// Case-insensitive "member"/"observer" and "durable"/"ephemeral".
std::optional<role> parse_role(std::string_view s) noexcept;
std::optional<delivery_mode> parse_delivery_mode(std::string_view s) noexcept;

/// Settings of the stream created when none exists yet (an existing stream is used as it is).
struct stream_defaults {
  int replicas = 1;                         ///< 3 on a 3-server cluster
  std::int64_t max_msgs = -1;               ///< -1: unlimited
  std::int64_t max_bytes = -1;              ///< -1: unlimited (server limits apply)
  std::chrono::seconds max_age{7 * 24 * 3600};  ///< how long durable messages wait for offline instances
  std::chrono::seconds duplicate_window{120};   ///< Nats-Msg-Id de-duplication window
  bool memory_storage = false;
};

struct config {
  std::string instance_id;                      ///< one NATS token, unique among live processes
  cluster::role role = role::member;
  std::string root_path = "/nodered-cluster";  ///< the original's zkRootPath
  /// Servers, credentials, TLS, reconnect policy... (nats::options). The node sets name (if empty),
  /// retry_on_failed_connect, and chains on_event; reconnect.buffer_bytes is not used (the outbox is).
  nats::options connection;

  // presence
  std::chrono::milliseconds heartbeat_interval{5000};  ///< presence refresh
  std::chrono::milliseconds stale_after{15000};        ///< no refresh this long: reported stale
  std::chrono::milliseconds cleanup_after{30000};      ///< no refresh this long: entry removed
  std::string nats_address;  ///< value of instances.<id>.natsAddress; empty: connection.servers joined with ','

  // publishing
  std::chrono::milliseconds default_ttl{30000};      ///< ephemeral TTL when publish_options has none
  std::size_t outbox_max_messages = 10000;           ///< accepted but not yet acknowledged/sent
  std::size_t outbox_max_bytes = 64 * 1024 * 1024;
  std::string outbox_dir;        ///< empty: memory only; else an append-only file survives a crash
  std::size_t max_in_flight_publishes = 256;         ///< durable publishes awaiting their ack
  std::chrono::milliseconds publish_ack_timeout{5000};  ///< then the message is sent again (same Msg-Id)

  // subscriptions
  std::chrono::milliseconds ack_wait{30000};  ///< unacked deliveries are redelivered after this
  /// Durable messages of one publisher on one subject are handed out in publish order: one that
  /// arrives ahead of a missing predecessor (stored late after a lost ack) waits at most this long
  /// for it (keep it above the publishers' publish_ack_timeout; at most ack_wait / 2 is used, so a
  /// waiting message is never redelivered meanwhile). 0: deliver in stream order.
  std::chrono::milliseconds order_hold{7000};
  /// A group's shared consumer (subscribe_options::group) that no member has pulled from for this
  /// long is deleted by the server (consumer inactive_threshold): nobody is left to take its
  /// messages. Set when the consumer is created. 0: never (only an explicit removal deletes it).
  std::chrono::milliseconds group_inactive_threshold{std::chrono::hours(24 * 7)};

  // start
  bool wait_until_ready = true;                ///< async_start waits for connect + setup (else returns at once)
  std::chrono::milliseconds start_timeout{10000};  ///< wait_until_ready: give up after this

  stream_defaults stream;
  int bucket_replicas = 1;  ///< replicas of the KV bucket when it is created
};

/// Checks every field; on failure `bad_field` names the first bad one (e.g. "instance_id").
/// Errors: invalid_instance_id, invalid_root_path, invalid_config.
boost::system::error_code validate(const config& cfg, std::string& bad_field);

}  // namespace nats::cluster
