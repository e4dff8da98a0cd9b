#include <nats/error.hpp>

#include <algorithm>
#include <cctype>
#include <string>

namespace nats {
namespace {

class category_impl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::protocol_error: return "the server sent something that is not NATS protocol";
      case error::control_line_too_long: return "protocol control line is longer than the allowed maximum";
      case error::max_payload_exceeded: return "message payload is larger than the server's max_payload";
      case error::invalid_subject: return "invalid subject (empty, blank token, whitespace or misplaced wildcard)";
      case error::invalid_queue_group: return "invalid queue group name";
      case error::invalid_header: return "invalid message header";
      case error::invalid_json: return "malformed JSON from the server";
      case error::invalid_url: return "invalid server URL";
      case error::not_connected: return "not connected to a NATS server";
      case error::connection_closed: return "connection is closed";
      case error::connection_draining: return "connection is draining";
      case error::stale_connection: return "connection is stale (server did not answer PINGs)";
      case error::no_servers: return "no NATS server could be reached";
      case error::connect_timeout: return "timed out connecting to the NATS server";
      case error::max_reconnects: return "gave up reconnecting (reconnect policy exhausted)";
      case error::reconnect_buffer_full: return "reconnect buffer is full; publish rejected while disconnected";
      case error::lame_duck: return "server is in lame-duck mode";
      case error::slow_consumer: return "slow consumer: pending limits exceeded, messages dropped";
      case error::subscription_closed: return "subscription is closed";
      case error::no_responders: return "no responders are listening on that subject";
      case error::timeout: return "operation timed out";
      case error::authorization_violation: return "authorization violation (wrong user, password, token or key)";
      case error::authentication_expired: return "user authentication expired";
      case error::authentication_revoked: return "user authentication revoked";
      case error::permissions_violation: return "permissions violation";
      case error::server_max_payload: return "server rejected a message above its max_payload";
      case error::server_max_connections: return "server has reached its maximum number of connections";
      case error::tls_required: return "server requires TLS";
      case error::server_error: return "the server reported an error";
      case error::tls_error: return "TLS error";
      case error::bad_seed: return "invalid nkey seed";
      case error::bad_credentials: return "invalid credentials file or JWT";
      case error::nonce_required: return "nkey authentication needs a server nonce, the server sent none";
      case error::write_buffer_full: return "write buffer is full; the server is not reading fast enough";
    }
    return "unknown nats error";
  }
};

bool icontains(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

}  // namespace

const boost::system::error_category& nats_category() noexcept {
  static const category_impl cat;
  return cat;
}

bool is_auth_error(const boost::system::error_code& ec) noexcept {
  if (ec.category() != nats_category()) return false;
  switch (static_cast<error>(ec.value())) {
    case error::authorization_violation:
    case error::authentication_expired:
    case error::authentication_revoked:
      return true;
    default:
      return false;
  }
}

error classify_server_error(std::string_view text) noexcept {
  if (icontains(text, "authorization violation")) return error::authorization_violation;
  if (icontains(text, "authentication expired")) return error::authentication_expired;
  if (icontains(text, "authentication revoked")) return error::authentication_revoked;
  if (icontains(text, "permissions violation")) return error::permissions_violation;
  if (icontains(text, "maximum payload")) return error::server_max_payload;
  if (icontains(text, "maximum connections")) return error::server_max_connections;
  if (icontains(text, "tls required")) return error::tls_required;
  if (icontains(text, "stale connection")) return error::stale_connection;
  return error::server_error;
}

}  // namespace nats
