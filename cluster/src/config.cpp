#include <nats/cluster/config.hpp>
#include <nats/cluster/error.hpp>
#include <nats/cluster/naming.hpp>
#include <nats/cluster/types.hpp>
#include <nats/protocol/subject.hpp>

#include <algorithm>
#include <cctype>

namespace nats::cluster {

const char* to_string(role r) noexcept { return r == role::member ? "Member" : "Observer"; }
const char* to_string(delivery_mode m) noexcept { return m == delivery_mode::durable ? "Durable" : "Ephemeral"; }
const char* to_string(start_position s) noexcept {
  switch (s) {
    case start_position::new_only: return "new";
    case start_position::all: return "all";
    case start_position::last_per_subject: return "last_per_subject";
  }
  return "?";
}
const char* to_string(ack_mode a) noexcept { return a == ack_mode::on_delivery ? "on_delivery" : "manual"; }
const char* to_string(presence p) noexcept {
  switch (p) {
    case presence::online: return "online";
    case presence::stale: return "stale";
    case presence::offline: return "offline";
  }
  return "?";
}
const char* to_string(status_kind k) noexcept {
  switch (k) {
    case status_kind::connecting: return "connecting";
    case status_kind::connected: return "connected";
    case status_kind::disconnected: return "disconnected";
    case status_kind::reconnecting: return "reconnecting";
    case status_kind::error: return "error";
    case status_kind::closed: return "closed";
    case status_kind::outbox: return "outbox";
  }
  return "?";
}
const char* to_string(discovery_kind k) noexcept {
  switch (k) {
    case discovery_kind::joined: return "joined";
    case discovery_kind::left: return "left";
    case discovery_kind::stale: return "stale";
    case discovery_kind::endpoint_added: return "endpoint_added";
    case discovery_kind::endpoint_removed: return "endpoint_removed";
  }
  return "?";
}

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::optional<role> parse_role(std::string_view s) noexcept {
  if (iequals(s, "member")) return role::member;
  if (iequals(s, "observer")) return role::observer;
  return std::nullopt;
}

std::optional<delivery_mode> parse_delivery_mode(std::string_view s) noexcept {
  if (iequals(s, "durable")) return delivery_mode::durable;
  if (iequals(s, "ephemeral")) return delivery_mode::ephemeral;
  return std::nullopt;
}

boost::system::error_code validate(const config& cfg, std::string& bad_field) {
  auto fail = [&](const char* field, error e) {
    bad_field = field;
    return make_error_code(e);
  };
  if (!valid_instance_id(cfg.instance_id)) return fail("instance_id", error::invalid_instance_id);
  auto p = prefix(cfg.root_path);
  if (p.empty() || protocol::validate_publish_subject(p) || p.find('$') == 0)
    return fail("root_path", error::invalid_root_path);
  if (cfg.connection.servers.empty()) return fail("connection.servers", error::invalid_config);
  using std::chrono::milliseconds;
  if (cfg.heartbeat_interval < milliseconds(100)) return fail("heartbeat_interval", error::invalid_config);
  if (cfg.stale_after <= cfg.heartbeat_interval) return fail("stale_after", error::invalid_config);
  if (cfg.cleanup_after < cfg.stale_after) return fail("cleanup_after", error::invalid_config);
  if (cfg.default_ttl <= milliseconds(0)) return fail("default_ttl", error::invalid_config);
  if (cfg.outbox_max_messages == 0) return fail("outbox_max_messages", error::invalid_config);
  if (cfg.outbox_max_bytes == 0) return fail("outbox_max_bytes", error::invalid_config);
  if (cfg.max_in_flight_publishes == 0) return fail("max_in_flight_publishes", error::invalid_config);
  if (cfg.publish_ack_timeout < milliseconds(100)) return fail("publish_ack_timeout", error::invalid_config);
  if (cfg.ack_wait < milliseconds(100)) return fail("ack_wait", error::invalid_config);
  if (cfg.order_hold < milliseconds(0)) return fail("order_hold", error::invalid_config);
  if (cfg.group_inactive_threshold < milliseconds(0)) return fail("group_inactive_threshold", error::invalid_config);
  if (cfg.start_timeout <= milliseconds(0)) return fail("start_timeout", error::invalid_config);
  if (cfg.stream.replicas < 1 || cfg.stream.replicas > 5) return fail("stream.replicas", error::invalid_config);
  if (cfg.bucket_replicas < 1 || cfg.bucket_replicas > 5) return fail("bucket_replicas", error::invalid_config);
  if (cfg.stream.max_age.count() < 0) return fail("stream.max_age", error::invalid_config);
  bad_field.clear();
  return {};
}

}  // namespace nats::cluster
