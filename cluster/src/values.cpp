#include "values.hpp"

#include <simdjson.h>

#include <cmath>
#include <cstdio>

namespace nats::cluster::detail {

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string to_json(const presence_value& v) {
  auto json = "{\"natsAddress\":" + json_escape(v.nats_address) + ",\"role\":" + json_escape(to_string(v.role)) +
              ",\"session\":" + json_escape(v.session) + ",\"heartbeat\":" + std::to_string(v.heartbeat_ms) +
              ",\"startedAt\":" + std::to_string(v.started_ms);
  if (!v.groups.empty()) {
    json += ",\"groups\":[";
    for (std::size_t i = 0; i < v.groups.size(); ++i)
      json += std::string(i ? "," : "") + "{\"group\":" + json_escape(v.groups[i].group) +
              ",\"patterns\":" + json_escape(v.groups[i].patterns) + "}";
    json += "]";
  }
  return json + "}";
}

std::string to_json(const endpoint_value& v) {
  // "ttl" in seconds like the original (it may be fractional); ttlMs exact.
  auto ms = v.ttl.count();
  std::string ttl = ms % 1000 == 0 ? std::to_string(ms / 1000) : std::to_string(static_cast<double>(ms) / 1000.0);
  return "{\"mode\":" + json_escape(to_string(v.mode)) + ",\"ttl\":" + ttl + ",\"ttlMs\":" + std::to_string(ms) + "}";
}

std::string to_json(const leader_value& v) {
  return "{\"candidate\":" + json_escape(v.candidate) + ",\"session\":" + json_escape(v.session) +
         ",\"token\":" + std::to_string(v.token) + ",\"leaseMs\":" + std::to_string(v.lease_ms) +
         ",\"at\":" + std::to_string(v.at_ms) + "}";
}

namespace {

bool parse_doc(std::string_view json, simdjson::dom::parser& p, simdjson::dom::object& obj) {
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (p.parse(padded).get(doc)) return false;
  return !doc.get_object().get(obj);
}

std::optional<double> number_of(simdjson::dom::element e) {
  double d;
  if (!e.get_double().get(d)) return d;
  std::int64_t i;
  if (!e.get_int64().get(i)) return static_cast<double>(i);
  std::uint64_t u;
  if (!e.get_uint64().get(u)) return static_cast<double>(u);
  std::string_view s;  // the original's editor may store ttl as a string
  if (!e.get_string().get(s)) {
    try {
      return std::stod(std::string(s));
    } catch (...) {
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<presence_value> parse_presence(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (!parse_doc(json, p, obj)) return std::nullopt;
  presence_value v;
  std::string_view s;
  if (!obj["natsAddress"].get_string().get(s)) v.nats_address = s;
  if (!obj["role"].get_string().get(s)) v.role = parse_role(s).value_or(role::member);
  if (!obj["session"].get_string().get(s)) v.session = s;
  simdjson::dom::element e;
  if (!obj["heartbeat"].get(e))
    if (auto n = number_of(e)) v.heartbeat_ms = static_cast<std::int64_t>(*n);
  if (!obj["startedAt"].get(e))
    if (auto n = number_of(e)) v.started_ms = static_cast<std::int64_t>(*n);
  simdjson::dom::array groups;
  if (!obj["groups"].get_array().get(groups))
    for (auto g : groups) {
      group_membership m;
      if (g["group"].get_string().get(s)) continue;
      m.group = s;
      if (!g["patterns"].get_string().get(s)) m.patterns = s;
      v.groups.push_back(std::move(m));
    }
  return v;
}

std::optional<endpoint_value> parse_endpoint(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (!parse_doc(json, p, obj)) return std::nullopt;
  endpoint_value v;
  std::string_view s;
  if (!obj["mode"].get_string().get(s)) v.mode = parse_delivery_mode(s).value_or(delivery_mode::durable);
  simdjson::dom::element e;
  if (!obj["ttlMs"].get(e)) {
    if (auto n = number_of(e)) v.ttl = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
  } else if (!obj["ttl"].get(e)) {
    if (auto n = number_of(e)) v.ttl = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(*n * 1000.0)));
  }
  return v;
}

std::optional<leader_value> parse_leader(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::object obj;
  if (!parse_doc(json, p, obj)) return std::nullopt;
  leader_value v;
  std::string_view s;
  if (!obj["candidate"].get_string().get(s)) v.candidate = s;
  if (!obj["session"].get_string().get(s)) v.session = s;
  simdjson::dom::element e;
  if (!obj["token"].get(e))
    if (auto n = number_of(e)) v.token = static_cast<std::uint64_t>(*n);
  if (!obj["leaseMs"].get(e))
    if (auto n = number_of(e)) v.lease_ms = static_cast<std::int64_t>(*n);
  if (!obj["at"].get(e))
    if (auto n = number_of(e)) v.at_ms = static_cast<std::int64_t>(*n);
  return v;
}

}  // namespace nats::cluster::detail
