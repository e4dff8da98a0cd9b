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
  /// Who gets each message. Empty (default): every subscribing instance (each subscription owns a
  /// durable consumer). A group name (one token: no '.', wildcards, blanks, '/' or '\\'): one member
  /// of the group — every subscription with this group under the same root pulls from one shared
  /// durable consumer, so each message (durable or ephemeral) is handed to one member, and what a
  /// member leaves unacknowledged (it stopped, crashed, or did not ack within ack wait) goes to
  /// another. Members of a group must use the same patterns (else error::group_conflict). Publish
  /// order is not restored in a group (see docs/cluster.md, "Groups").
  std::string group;
  /// Ack wait of the consumer when this subscription creates it (0: config::ack_wait): unacked
  /// deliveries come back (in a group: to any member) after this.
  std::chrono::milliseconds ack_wait{0};
};

/// A group this instance takes part in (published in its presence entry, shown by discovery).
struct group_membership {
  std::string group;
  std::string patterns;  ///< the members' subscribe patterns
};

struct endpoint_info {
  std::string instance;
  std::string subject;  ///< relative publish subject
  delivery_mode mode = delivery_mode::durable;
  std::chrono::milliseconds ttl{0};
};

/// Where node::async_request sends a request for a relative subject.
struct request_options {
  /// Ask this instance (one of its responders for the subject); empty: any responder of the subject.
  std::string instance;
  /// Ask one responder of this responder group (serve_options::group); not together with `instance`.
  std::string group;
  std::chrono::milliseconds timeout{5000};
  /// Extra headers to carry (names starting with "Nats-" are reserved and refused).
  nats::headers headers;
};

/// The answer to node::async_request.
struct reply {
  std::string payload;
  nats::headers headers;  ///< as sent by the responder (including Nats-Cluster-From)
  std::string instance;   ///< the instance that answered (empty when a plain NATS client answered)
};

struct serve_options {
  /// Relative subject answered, NATS wildcards allowed ("orders.get", "orders.*").
  std::string subject;
  /// Responder group: this responder also answers requests addressed to the group. Requests to the
  /// subject (any responder), to this instance or to the group are each shared among the matching
  /// responders as a NATS queue group: one of them gets each request.
  std::string group;
};

/// A request handed to a responder (node::serve); answer it with node::respond(id, ...).
struct request {
  std::uint64_t id = 0;          ///< for node::respond; unique per node
  std::uint64_t responder = 0;   ///< the serve() id it came through
  std::string subject;           ///< relative subject asked ("orders.get")
  std::string source_instance;   ///< requesting instance (empty for a plain NATS client)
  std::string payload;
  nats::headers headers;         ///< as sent (including the Nats-Cluster-* headers)
  /// When the requester stops waiting (its timeout, as it told us); answers after that are dropped.
  std::chrono::steady_clock::time_point deadline{};
};

using request_handler = std::function<void(request&&)>;

enum class presence { online, stale, offline };
const char* to_string(presence p) noexcept;

/// A live leader lease (leader_election on the node's bucket, key `leaders.<group>`) held by an instance.
struct lease_info {
  std::string group;
  std::uint64_t token = 0;     ///< the holder's fencing token (the revision that made it leader)
  std::uint64_t revision = 0;  ///< revision of the lease's last renewal seen
  std::chrono::system_clock::time_point seen{};  ///< when that renewal was seen (wall clock)
};

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
  std::vector<group_membership> groups;  ///< groups it has members in (empty for the original plugin)
  /// Groups it leads now: leases under `leaders.` whose candidate is this id, renewed within their
  /// lease length and held by an online instance (a stale holder's lease is not listed).
  std::vector<lease_info> leads;
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
