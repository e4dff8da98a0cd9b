// INFO (server → client) and CONNECT (client → server) JSON bodies.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nats::protocol {

/// The fields of INFO the client uses. Unknown fields are ignored.
struct server_info {
  std::string server_id;
  std::string server_name;
  std::string version;
  std::string host;
  int port = 0;
  bool headers = false;
  std::int64_t max_payload = 1024 * 1024;
  int proto = 0;
  std::uint64_t client_id = 0;
  bool auth_required = false;
  bool tls_required = false;
  bool tls_available = false;
  bool jetstream = false;
  bool lame_duck_mode = false;
  std::string nonce;
  std::string client_ip;
  std::string cluster;
  std::string domain;
  std::vector<std::string> connect_urls;     ///< host:port of peers (client port)
  std::vector<std::string> ws_connect_urls;  ///< host:port of peers (websocket port)
};

/// Parses the JSON of an INFO line. Sets ec to error::invalid_json when it is not a JSON object
/// or a known field has the wrong type.
server_info parse_server_info(std::string_view json, boost::system::error_code& ec);

/// What the client says in CONNECT. Empty optional/strings are left out of the JSON.
struct connect_info {
  bool verbose = false;
  bool pedantic = false;
  bool tls_required = false;
  bool echo = true;
  bool headers = true;
  bool no_responders = true;
  int protocol = 1;
  std::string name;
  std::string lang = "cpp-asio";
  std::string version;
  std::string user;
  std::string pass;
  std::string auth_token;
  std::string jwt;
  std::string nkey;
  std::string sig;
};

/// The CONNECT JSON (properly escaped).
std::string to_json(const connect_info& info);

}  // namespace nats::protocol
