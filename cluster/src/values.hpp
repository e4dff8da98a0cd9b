// JSON values of the presence bucket (internal). The original plugin writes
//   instances.<id>            {"natsAddress": "...", "role": "Member"}
//   endpoints.<id>.<subject>  {"mode": "Durable", "ttl": 30}          (ttl in seconds)
// We write the same fields plus our own (session, heartbeat, startedAt, ttlMs, and
// groups = [{"group","patterns"}] when the instance has group members); readers ignore
// fields they do not know, so both plugins read each other's entries.
#pragma once

#include <nats/cluster/config.hpp>
#include <nats/cluster/types.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nats::cluster::detail {

struct presence_value {
  std::string nats_address;
  cluster::role role = role::member;
  std::string session;            ///< empty: written by the original plugin (legacy)
  std::int64_t heartbeat_ms = 0;  ///< publisher clock, informative
  std::int64_t started_ms = 0;
  std::vector<group_membership> groups;  ///< "groups": written only when not empty
};

struct endpoint_value {
  delivery_mode mode = delivery_mode::durable;
  std::chrono::milliseconds ttl{0};
};

/// leaders.<group>: who holds the lease (see leader.hpp). Ours only; the original plugin has no leaders.
struct leader_value {
  std::string candidate;
  std::string session;      ///< random per leader_election object: tells a candidate its own writes
  std::uint64_t token = 0;  ///< the holder's fencing token (0 in the write that acquires it)
  std::int64_t lease_ms = 0;
  std::int64_t at_ms = 0;   ///< writer's wall clock, informative (judging uses revisions, not this)
};

std::string to_json(const presence_value& v);
std::string to_json(const leader_value& v);
std::optional<leader_value> parse_leader(std::string_view json);
std::string to_json(const endpoint_value& v);
std::optional<presence_value> parse_presence(std::string_view json);
std::optional<endpoint_value> parse_endpoint(std::string_view json);
std::string json_escape(std::string_view s);

}  // namespace nats::cluster::detail
