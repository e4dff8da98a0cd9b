// Internal: the byte stream a connection runs on. The connection does not care whether it is
// TCP, TLS or WebSocket; it only reads, writes and closes.
#pragma once

#include <nats/options.hpp>
#include <nats/server_url.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <span>

namespace boost::asio::ssl {
class context;
}

namespace nats::detail {

using io_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;

class transport {
 public:
  virtual ~transport() = default;
  /// Reads at least one byte (for WebSocket: payload bytes of binary/text frames).
  virtual void async_read_some(boost::asio::mutable_buffer buf, io_handler handler) = 0;
  /// Writes all buffers (gathered). For WebSocket, one binary frame.
  virtual void async_write(std::span<const boost::asio::const_buffer> bufs, io_handler handler) = 0;
  /// Cancels pending operations and closes. Idempotent. Pending handlers complete with an error.
  virtual void close() noexcept = 0;
  virtual bool is_tls() const noexcept = 0;
};

using transport_ptr = std::unique_ptr<transport>;
using connect_handler = boost::asio::any_completion_handler<void(boost::system::error_code, transport_ptr)>;

/// A plain TCP transport over an already connected socket.
transport_ptr make_tcp_transport(boost::asio::ip::tcp::socket socket);

/// A client SSL context: trust, client certificate, protocol floor. Building one reads and parses the
/// CA bundle, so a connection builds it once and shares it with every TLS stream it opens.
using tls_context_ptr = std::shared_ptr<boost::asio::ssl::context>;

/// An SSL context for a client with the given options: trust (CA file / PEM / system store), client
/// certificate and key, TLS 1.2 minimum. Errors are OpenSSL's (asio.ssl category) or invalid_argument.
tls_context_ptr make_tls_context(const tls_options& tls, boost::system::error_code& ec);

/// TLS handshake over `tcp` (which must be a transport made by make_tcp_transport).
/// Used after INFO for `tls://` URLs / `tls_required` servers, and before INFO for handshake_first.
/// On failure the error message carries OpenSSL's reason (error::tls_error category or ssl category).
/// `ctx` is a context made by make_tls_context from the same `tls`; without one, one is built here.
void async_upgrade_tls(transport_ptr tcp, const server_url& url, const tls_options& tls, tls_context_ptr ctx,
                       connect_handler handler);
void async_upgrade_tls(transport_ptr tcp, const server_url& url, const tls_options& tls, connect_handler handler);

/// WebSocket handshake (`ws://`, or `wss://` with TLS first) over a connected TCP socket. `ctx` as for
/// async_upgrade_tls (used by `wss://` only).
void async_websocket_handshake(boost::asio::ip::tcp::socket socket, const server_url& url, const tls_options& tls,
                               tls_context_ptr ctx, connect_handler handler);
void async_websocket_handshake(boost::asio::ip::tcp::socket socket, const server_url& url, const tls_options& tls,
                               connect_handler handler);

/// Internal: hands the socket of a TCP transport back (for the TLS upgrade). Null if not TCP.
boost::asio::ip::tcp::socket* tcp_socket_of(transport& t) noexcept;

}  // namespace nats::detail
