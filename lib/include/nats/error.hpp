// Error codes of the NATS client, in their own boost::system category.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace nats {

/// Everything the client can report. Values are stable (they cross into JS as `code`).
enum class error {
  // protocol / parsing
  protocol_error = 1,        ///< the server sent bytes that are not NATS protocol
  control_line_too_long,     ///< a control line exceeded the limit
  max_payload_exceeded,      ///< a payload larger than the server's max_payload
  invalid_subject,           ///< empty, blank token, whitespace or misplaced wildcard
  invalid_queue_group,       ///< queue group name is not a single valid token
  invalid_header,            ///< a header block that does not parse, or a bad field name/value
  invalid_json,              ///< INFO or an API response is not the JSON we expect
  invalid_url,               ///< a server URL that does not parse

  // connection state
  not_connected,             ///< the operation needs a live connection and there is none
  connection_closed,         ///< close() was called, or the client gave up reconnecting
  connection_draining,       ///< drain() is in progress: no new subscriptions or publishes
  stale_connection,          ///< too many PINGs without a PONG
  no_servers,                ///< the server pool is empty, or every server failed
  connect_timeout,           ///< a connect attempt did not finish in time
  max_reconnects,            ///< the reconnect policy gave up
  reconnect_buffer_full,     ///< publishing while disconnected and the buffer is full
  lame_duck,                 ///< the server entered lame-duck mode

  // subscriptions and requests
  slow_consumer,             ///< a subscription exceeded its pending limits; messages were dropped
  subscription_closed,       ///< the subscription was unsubscribed or reached its max
  no_responders,             ///< a request had no one to answer it (503)
  timeout,                   ///< the operation did not complete in time

  // server errors (-ERR)
  authorization_violation,   ///< bad user/password/token/nkey
  authentication_expired,    ///< credentials expired
  authentication_revoked,    ///< credentials revoked
  permissions_violation,     ///< publish/subscribe not allowed on that subject
  server_max_payload,        ///< server refused a message above max_payload
  server_max_connections,    ///< server has too many connections
  tls_required,              ///< server requires TLS and the client did not offer it
  server_error,              ///< any other -ERR

  // TLS / auth material
  tls_error,                 ///< TLS handshake or certificate problem (detail in the message)
  bad_seed,                  ///< an nkey seed that does not decode
  bad_credentials,           ///< a .creds file or JWT that does not parse
  nonce_required,            ///< nkey auth configured but the server sent no nonce

  // added later (values above are stable)
  write_buffer_full,         ///< connected, but the server is not reading: options::max_pending_write_bytes reached
};

/// The category all nats::error values belong to.
const boost::system::error_category& nats_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), nats_category()};
}

/// True when reconnecting cannot help (auth failures and the like).
bool is_auth_error(const boost::system::error_code& ec) noexcept;

/// True for a TLS failure of any kind: TLS required or refused, a handshake error, a certificate that
/// did not verify (its OpenSSL reason in the message). Defined in the client library (libnats).
bool is_tls_error(const boost::system::error_code& ec) noexcept;

/// Maps the text of a server `-ERR` to an error code. The text is the part inside the quotes.
error classify_server_error(std::string_view text) noexcept;

}  // namespace nats

template <>
struct boost::system::is_error_code_enum<nats::error> : std::true_type {};
