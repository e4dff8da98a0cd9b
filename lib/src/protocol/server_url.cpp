// Server URLs as users and INFO connect_urls write them:
//   [scheme://][user[:password]@ | token@]host[:port][/path]
// with host a name, an IPv4 address or a bracketed IPv6 address.
#include <nats/server_url.hpp>

#include <nats/error.hpp>

#include <charconv>

namespace nats {
namespace {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (in.size() - i < 3) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool valid_host_name(std::string_view h) noexcept {
  if (h.empty()) return false;
  for (char c : h) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool valid_ipv6(std::string_view h) noexcept {
  // Hex groups, colons, an embedded IPv4 tail, and an optional %zone.
  const auto zone = h.find('%');
  const auto addr = h.substr(0, zone);
  if (addr.find(':') == std::string_view::npos) return false;
  for (char c : addr) {
    if (!(hex_value(c) >= 0 || c == ':' || c == '.')) return false;
  }
  if (zone != std::string_view::npos) {
    if (!valid_host_name(h.substr(zone + 1))) return false;
  }
  return true;
}

bool parse_port(std::string_view s, std::uint16_t& out) noexcept {
  if (s.empty() || s.size() > 5) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

std::string server_url::to_string() const {
  std::string out;
  out.reserve(scheme.size() + host.size() + path.size() + 16);
  out.append(scheme).append("://");
  const bool v6 = host.find(':') != std::string::npos;
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  char buf[8];
  auto r = std::to_chars(buf, buf + sizeof buf, port);
  out.push_back(':');
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
  if (is_websocket() && !path.empty() && path != "/") out.append(path);
  return out;
}

server_url server_url::parse(std::string_view text, boost::system::error_code& ec) {
  ec.clear();
  const auto bad = [&ec]() {
    ec = error::invalid_url;
    return server_url{};
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);

  server_url u;
  if (const auto sep = text.find("://"); sep != std::string_view::npos) {
    u.scheme.clear();
    for (char c : text.substr(0, sep)) u.scheme.push_back(ascii_lower(c));
    if (u.scheme != "nats" && u.scheme != "tls" && u.scheme != "ws" && u.scheme != "wss") return bad();
    text.remove_prefix(sep + 3);
  }
  u.port = u.scheme == "ws" ? 80 : u.scheme == "wss" ? 443 : 4222;

  // The authority ends at the path.
  auto authority = text;
  u.path.assign(1, '/');  // not = "/": GCC 12 at -O3 reports a false -Wrestrict
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    authority = text.substr(0, slash);
    u.path.assign(text.substr(slash));
  }

  // Userinfo: up to the last '@', so an unescaped '@' in a password still works.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const auto colon = userinfo.find(':');
    if (!percent_decode(userinfo.substr(0, colon), u.user)) return bad();
    if (colon != std::string_view::npos && !percent_decode(userinfo.substr(colon + 1), u.password)) return bad();
    if (u.user.empty() && u.password.empty()) return bad();
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad();
    const auto host = authority.substr(1, close - 1);
    if (!valid_ipv6(host)) return bad();
    u.host.assign(host);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad();
      port_text = after.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = authority.find(':');
    const auto host = authority.substr(0, colon);
    if (!valid_host_name(host)) return bad();
    u.host.assign(host);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (has_port && !parse_port(port_text, u.port)) return bad();
  return u;
}

}  // namespace nats
