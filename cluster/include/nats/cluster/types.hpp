// Values exchanged with a cluster node: publish/subscribe options, deliveries, discovery and status.
#pragma once

#include <nats/cluster/config.hpp>
#include <nats/headers.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nats::cluster {

struct publish_options {
  delivery_mode mode = delivery_mode::durable;
  /// Ephemeral only: the message is never delivered after this (nullopt: config::default_ttl).
  std::optional<std::chrono::milliseconds> ttl;
  /// Extra headers to carry (names starting with "Nats-" are reserved and refused).
  nats::headers headers;
};

/// One message handed to a subscription handler.
struct delivery {
  std::uint64_t id = 0;              ///< for node::ack (manual mode); unique per node
  std::uint64_t subscription = 0;    ///< the subscription it belongs to
  std::string subject;               ///< full subject "<prefix>.<instance>.<subject>"
  std::string relative_subject;      ///< "<instance>.<subject>" (relative to the prefix, as patterns are)
  std::string source_instance;       ///< publishing instance
  std::string payload;               ///< raw bytes (the original plugin sends JSON text)
  nats::headers headers;             ///< as published (including the Nats-* headers)
  delivery_mode mode = delivery_mode::durable;  ///< messages without our headers count as durable
  std::uint64_t stream_sequence = 0;
  std::uint64_t delivery_count = 1;  ///< 1 on first delivery
  bool redelivered = false;          ///< delivered before (not acked in time, or an ack was lost)
  /// A durable message handed out after later messages of the same publisher and subject, because it
  /// arrived after config::order_hold (or after the subscription's max_in_flight filled up) while
  /// they waited for it.
  bool out_of_order = false;
  std::chrono::system_clock::time_point published{};  ///< server timestamp
};

using delivery_handler = std::function<void(delivery&&)>;

struct subscribe_options {
  /// Stable key chosen by the host (e.g. the Node-RED node id); names the durable consumer together
  /// with the instance id, so a restart resumes where the subscription stopped.
  std::string key;
  /// Comma-separated patterns relative to the prefix, e.g. "*.sensors.>, field-a.commands.>".
  std::string patterns;
  start_position start = start_position::new_only;  ///< only when the consumer is created
  ack_mode ack = ack_mode::on_delivery;
  std::size_t max_in_flight = 1000;  ///< deliveries not yet acked at most (server max_ack_pending)
};

struct endpoint_info {
  std::string instance;
  std::string subject;  ///< relative publish subject
  delivery_mode mode = delivery_mode::durable;
  std::chrono::milliseconds ttl{0};
};

enum class presence { online, stale, offline };
const char* to_string(presence p) noexcept;

struct instance_info {
  std::string id;
  cluster::role role = role::member;
  std::string nats_address;
  presence state = presence::online;
  /// Last refresh seen (server timestamp of the KV entry); epoch when unknown.
  std::chrono::system_clock::time_point last_seen{};
  /// True for entries written by the original plugin (no heartbeat): never marked stale or removed.
  bool legacy = false;
  bool self = false;  ///< this node
  std::vector<endpoint_info> endpoints;
};

enum class status_kind { connecting, connected, disconnected, reconnecting, error, closed, outbox };
const char* to_string(status_kind k) noexcept;

struct status_event {
  status_kind kind{};
  boost::system::error_code ec;  ///< why (disconnected, error, closed)
  std::string text;              ///< human-readable detail (never secrets)
  std::string server;            ///< server URL (no credentials)
  std::size_t outbox_messages = 0;
  std::size_t outbox_bytes = 0;
};

enum class discovery_kind { joined, left, stale, endpoint_added, endpoint_removed };
const char* to_string(discovery_kind k) noexcept;

struct discovery_event {
  discovery_kind kind{};
  instance_info instance;       ///< the instance (endpoints filled as far as known)
  std::optional<endpoint_info> endpoint;  ///< endpoint_added/removed
};

using status_handler = std::function<void(const status_event&)>;
using discovery_handler = std::function<void(const discovery_event&)>;

/// Result of node::async_test_connection.
struct test_result {
  bool reachable = false;         ///< a server answered (TCP and NATS INFO)
  bool tls_ok = false;            ///< TLS handshake done, or TLS not used
  bool auth_ok = false;           ///< CONNECT accepted
  bool jetstream_enabled = false; ///< $JS.API.INFO answered
  std::string server;             ///< the server that answered
  std::string server_version;
  boost::system::error_code ec;   ///< first failure, success when everything is fine
  std::string error_text;
};

/// Counters, for status displays and tests.
struct node_stats {
  std::size_t outbox_messages = 0;
  std::size_t outbox_bytes = 0;
  std::uint64_t published = 0;          ///< acknowledged (durable) or sent (ephemeral)
  std::uint64_t publish_retries = 0;    ///< durable messages sent again after a timeout/reconnect
  std::uint64_t duplicates_acked = 0;   ///< server reported a Msg-Id duplicate (a retry already stored)
  std::uint64_t expired_dropped = 0;    ///< ephemeral messages that expired in the outbox
  std::uint64_t delivered = 0;
  std::uint64_t redelivered = 0;
  std::uint64_t expired_skipped = 0;    ///< ephemeral deliveries skipped (and acked) after their TTL
  std::uint64_t filtered = 0;           ///< deliveries acked without a handler call (no pattern matched)
  std::uint64_t order_held = 0;         ///< deliveries that waited for a missing predecessor (publish order)
  std::uint64_t order_gaps = 0;         ///< predecessors given up on (hold time or max_in_flight reached)
  std::uint64_t out_of_order = 0;       ///< deliveries handed out late, flagged delivery::out_of_order
  /// Consumers re-created at their ack floor when a subscription attached: deliveries an earlier
  /// process (or subscription of the same key) left unacknowledged are sent again at once, flagged.
  std::uint64_t rewound = 0;
};

}  // namespace nats::cluster
