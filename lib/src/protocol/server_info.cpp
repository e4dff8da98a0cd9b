// INFO is parsed with simdjson's DOM (one INFO per connect, so the parser's allocation does not
// matter); CONNECT is written by hand with proper string escaping.
#include <nats/protocol/server_info.hpp>

#include <nats/error.hpp>

#include <simdjson.h>

#include <charconv>
#include <limits>

namespace nats::protocol {
namespace {

using simdjson::dom::element;

bool read(element v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  out.assign(s);
  return true;
}

bool read(element v, bool& out) { return v.get_bool().get(out) == simdjson::SUCCESS; }

bool read(element v, std::int64_t& out) { return v.get_int64().get(out) == simdjson::SUCCESS; }

bool read(element v, std::uint64_t& out) { return v.get_uint64().get(out) == simdjson::SUCCESS; }

bool read(element v, int& out) {
  std::int64_t n = 0;
  if (!read(v, n) || n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) return false;
  out = static_cast<int>(n);
  return true;
}

bool read(element v, std::vector<std::string>& out) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  out.clear();
  for (element item : arr) {
    std::string s;
    if (!read(item, s)) return false;
    out.push_back(std::move(s));
  }
  return true;
}

void append_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (u < 0x20) {
          out.append("\\u00");
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 0xf]);
        } else {
          out.push_back(c);  // UTF-8 passes through unchanged
        }
    }
  }
  out.push_back('"');
}

}  // namespace

server_info parse_server_info(std::string_view json, boost::system::error_code& ec) {
  ec.clear();
  server_info info;
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(json);
  simdjson::dom::object obj;
  if (parser.parse(padded).get(obj) != simdjson::SUCCESS) {
    ec = error::invalid_json;
    return {};
  }
  for (auto field : obj) {
    const std::string_view key = field.key;
    const element v = field.value;
    if (v.is_null()) continue;  // same as absent
    bool ok = true;
    if (key == "server_id")
      ok = read(v, info.server_id);
    else if (key == "server_name")
      ok = read(v, info.server_name);
    else if (key == "version")
      ok = read(v, info.version);
    else if (key == "host")
      ok = read(v, info.host);
    else if (key == "port")
      ok = read(v, info.port);
    else if (key == "headers")
      ok = read(v, info.headers);
    else if (key == "max_payload")
      ok = read(v, info.max_payload) && info.max_payload >= 0;
    else if (key == "proto")
      ok = read(v, info.proto);
    else if (key == "client_id")
      ok = read(v, info.client_id);
    else if (key == "auth_required")
      ok = read(v, info.auth_required);
    else if (key == "tls_required")
      ok = read(v, info.tls_required);
    else if (key == "tls_available")
      ok = read(v, info.tls_available);
    else if (key == "jetstream")
      ok = read(v, info.jetstream);
    else if (key == "ldm")
      ok = read(v, info.lame_duck_mode);
    else if (key == "nonce")
      ok = read(v, info.nonce);
    else if (key == "client_ip")
      ok = read(v, info.client_ip);
    else if (key == "cluster")
      ok = read(v, info.cluster);
    else if (key == "domain")
      ok = read(v, info.domain);
    else if (key == "connect_urls")
      ok = read(v, info.connect_urls);
    else if (key == "ws_connect_urls")
      ok = read(v, info.ws_connect_urls);
    if (!ok) {
      ec = error::invalid_json;
      return {};
    }
  }
  return info;
}

std::string to_json(const connect_info& info) {
  std::string out;
  out.reserve(256 + info.name.size() + info.user.size() + info.pass.size() + info.auth_token.size() + info.jwt.size() +
              info.nkey.size() + info.sig.size());
  const auto boolean = [&out](std::string_view key, bool v) {
    out.append("\"").append(key).append("\":").append(v ? "true" : "false").append(",");
  };
  const auto string = [&out](std::string_view key, const std::string& v) {
    if (v.empty()) return;
    out.append("\"").append(key).append("\":");
    append_escaped(out, v);
    out.push_back(',');
  };
  out.push_back('{');
  boolean("verbose", info.verbose);
  boolean("pedantic", info.pedantic);
  boolean("tls_required", info.tls_required);
  boolean("echo", info.echo);
  boolean("headers", info.headers);
  boolean("no_responders", info.no_responders);
  string("name", info.name);
  string("lang", info.lang);
  string("version", info.version);
  string("user", info.user);
  string("pass", info.pass);
  string("auth_token", info.auth_token);
  string("jwt", info.jwt);
  string("nkey", info.nkey);
  string("sig", info.sig);
  char num[16];
  auto r = std::to_chars(num, num + sizeof num, info.protocol);
  out.append("\"protocol\":").append(num, static_cast<std::size_t>(r.ptr - num)).push_back('}');
  return out;
}

}  // namespace nats::protocol
