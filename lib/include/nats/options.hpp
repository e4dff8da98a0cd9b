// Connection options. Defaults follow the official clients (see docs/connection-options.md).
#pragma once

#include <nats/events.hpp>
#include <nats/protocol/server_info.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nats {

/// TLS settings. TLS is used when a URL says `tls://`/`wss://`, the server requires it, or `enabled`.
struct tls_options {
  bool enabled = false;                ///< offer TLS even on `nats://` URLs
  std::string ca_file;                 ///< PEM bundle of trusted CAs; empty = the system trust store
  std::string ca_pem;                  ///< the same, in memory
  std::string cert_file;               ///< client certificate (mutual TLS)
  std::string cert_pem;
  std::string key_file;                ///< client private key (mutual TLS)
  std::string key_pem;
  std::string server_name;             ///< SNI + name to verify; default: the URL's host
  bool insecure_skip_verify_dangerous = false;  ///< accept any certificate (tests only!)
  bool handshake_first = false;        ///< TLS before the server's INFO (servers with handshake_first)
};

/// Credentials. Set at most one scheme; URL credentials (`nats://user:pass@host`) are used when
/// nothing is set here.
struct auth_options {
  std::string user;
  std::string password;
  std::string token;
  std::string nkey_seed;               ///< "SU..." seed: sign the server nonce
  std::string creds_file;              ///< path of a .creds file (JWT + seed)
  std::string creds;                   ///< content of a .creds file
  /// Fills CONNECT's auth fields itself, given the server's nonce (empty if none). Return an error to
  /// abort the connect attempt. Secrets written here never reach logs or error texts.
  std::function<boost::system::error_code(const std::string& nonce, protocol::connect_info&)> callback;
};

/// What a reconnect policy is asked.
struct reconnect_context {
  int attempt = 0;                      ///< attempts since the link was lost (1 = first retry)
  int server_attempts = 0;              ///< consecutive failed attempts on `server`
  std::string server;                   ///< the server about to be tried (no credentials)
  boost::system::error_code last_error; ///< why the previous attempt/link failed
  bool tls = false;
};

struct reconnect_options {
  bool enabled = true;
  std::chrono::milliseconds wait{2000};        ///< pause before retrying a server already tried
  std::chrono::milliseconds jitter{100};       ///< random extra wait (plain)
  std::chrono::milliseconds jitter_tls{1000};  ///< random extra wait (TLS)
  int max_attempts_per_server = 60;            ///< -1: forever
  bool randomize = true;                       ///< shuffle the server pool
  /// Publishes held while disconnected (bytes); 0 = reject them (not_connected). Past it, publish()
  /// fails with reconnect_buffer_full. While connected, options::max_pending_write_bytes applies instead.
  std::size_t buffer_bytes = 8 * 1024 * 1024;
  /// Replaces the built-in schedule: return the delay before trying ctx.server, or nullopt to give up.
  std::function<std::optional<std::chrono::milliseconds>(const reconnect_context&)> policy;
};

struct options {
  std::vector<std::string> servers{"nats://127.0.0.1:4222"};
  std::string name;                       ///< shown by the server's monitoring
  bool echo = true;                       ///< receive our own publishes on matching subscriptions
  bool pedantic = false;
  bool no_responders = true;              ///< 503 status instead of waiting for a timeout
  bool ignore_discovered_servers = false; ///< do not add INFO connect_urls to the pool
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds ping_interval{std::chrono::minutes(2)};
  int max_pings_out = 2;
  bool retry_on_failed_connect = false;   ///< keep trying when the very first connect fails
  reconnect_options reconnect;
  /// Bytes accepted and not yet written while connected (queued plus the write in progress). When the
  /// server stops reading (a stalled link, a paused server) publish() fails with write_buffer_full
  /// instead of growing memory; what was accepted stays queued and is written, in order, once the
  /// socket drains. 0 = unlimited. Default 64 MiB: nats-server cuts a client once 64 MiB are pending
  /// for it (its max_pending), so a client that queues more only delays the same outcome.
  /// Differences from reconnect.buffer_bytes (which bounds the same queue while disconnected): this one
  /// applies only while connected; a single message larger than the bound is still accepted when nothing
  /// else is queued (otherwise it could never be sent); and what was queued but not yet handed to the
  /// socket when the link drops is kept even above the reconnect bound (new publishes are then refused
  /// until it is written).
  /// Control lines (SUB, UNSUB, PING, PONG) are never refused but count towards the total.
  std::size_t max_pending_write_bytes = 64 * 1024 * 1024;
  std::size_t pending_msgs_limit = 512 * 1024;       ///< per subscription, default
  std::size_t pending_bytes_limit = 64 * 1024 * 1024;
  std::string inbox_prefix = "_INBOX";
  std::chrono::milliseconds drain_timeout{30000};
  tls_options tls;
  auth_options auth;
  /// Connection events (connected, disconnected, reconnected, ...). Called on the connection's executor.
  std::function<void(const event&)> on_event;
};

}  // namespace nats
