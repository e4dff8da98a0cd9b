// Server addresses: `nats://`, `tls://`, `ws://`, `wss://` URLs, or bare `host[:port]`.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace nats {

struct server_url {
  std::string scheme = "nats";  ///< nats, tls, ws or wss (lower-case)
  std::string host;             ///< host name or IP (IPv6 without brackets)
  std::uint16_t port = 4222;
  std::string user;             ///< from `user:pass@` or `token@` (percent-decoded)
  std::string password;
  std::string path;             ///< WebSocket path, "/" when absent

  bool is_tls() const noexcept { return scheme == "tls" || scheme == "wss"; }
  bool is_websocket() const noexcept { return scheme == "ws" || scheme == "wss"; }
  /// `scheme://host:port` without credentials (safe to log). IPv6 hosts get brackets.
  std::string to_string() const;

  /// Parses a URL. Missing scheme = nats; missing port = 4222 (nats/tls), 80 (ws), 443 (wss).
  /// Sets ec to error::invalid_url on an unknown scheme, empty host, or bad port.
  static server_url parse(std::string_view text, boost::system::error_code& ec);
};

}  // namespace nats
