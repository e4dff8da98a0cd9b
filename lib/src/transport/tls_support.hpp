// Internal: pieces shared by the TLS and the secure WebSocket transports.
#pragma once

#include "transport.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/container/small_vector.hpp>

#include <memory>
#include <utility>

namespace nats::detail {

/// Certificate verification failures, value = OpenSSL's X509_V_ERR_* code. Messages read
/// "certificate verify failed: <OpenSSL's reason>", e.g. "...: self-signed certificate".
const boost::system::error_category& tls_verify_category() noexcept;

/// Handshake failures we can explain better than OpenSSL's reason string ("nats.tls" category).
enum class tls_failure {
  not_tls = 1,                  ///< the peer answered the ClientHello with something that is not TLS
  client_certificate_rejected,  ///< the server refused our client certificate, or wanted one we did not send
};
/// OpenSSL errors that tls_failure explains better become that; anything else is returned as is.
boost::system::error_code explain_tls_error(boost::system::error_code ec) noexcept;
const boost::system::error_category& tls_failure_category() noexcept;
inline boost::system::error_code make_error_code(tls_failure f) noexcept {
  return {static_cast<int>(f), tls_failure_category()};
}

/// Per-connection settings: SNI (host names only, never IP literals) and peer verification against
/// `tls.server_name` or else the URL's host (DNS name or IP address), unless verification is disabled.
boost::system::error_code prepare_tls_stream(boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream,
                                             const server_url& url, const tls_options& tls);

/// Turns a failed handshake's error into the most telling one: a verification failure becomes a
/// tls_verify_category() code carrying OpenSSL's verify result; a peer that answers the ClientHello
/// with something that is not TLS (a plain NATS port's INFO, an HTTP server) becomes tls_failure::not_tls.
boost::system::error_code describe_handshake_error(boost::system::error_code ec, SSL* ssl);

/// Pieces of a gathered write, copied (descriptors only) into the write operation.
using buffer_list = boost::container::small_vector<boost::asio::const_buffer, 16>;

/// Wraps an io_handler, rewriting the error code with `Map` before calling it, and keeps the stream
/// alive until the operation has completed: SSL and WebSocket operations touch their stream's state
/// when they complete, and the connection may destroy a transport right after close(), with a read
/// still pending.
/// Forwards the wrapped handler's cancellation slot and allocator but not its executor: the
/// operation completes on the I/O object's executor (the connection's), because Beast needs an
/// executor it can post to, which the type-erased any_completion_executor is not.
template <class Map>
struct mapped_io_handler {
  io_handler handler;
  std::shared_ptr<void> keep_alive;

  using cancellation_slot_type = io_handler::cancellation_slot_type;
  cancellation_slot_type get_cancellation_slot() const noexcept { return handler.get_cancellation_slot(); }
  using allocator_type = io_handler::allocator_type;
  allocator_type get_allocator() const noexcept { return handler.get_allocator(); }

  void operator()(boost::system::error_code ec, std::size_t n) { std::move(handler)(Map{}(ec), n); }
};

/// The identity mapping.
struct same_error {
  boost::system::error_code operator()(boost::system::error_code ec) const noexcept { return ec; }
};

/// The cancellation slot of a connect_handler, taken before the handler is moved into the completion
/// of an intermediate operation (a handshake), which is then bound to it so that the caller can cancel.
struct handler_binding {
  boost::asio::cancellation_slot slot;

  static handler_binding of(const connect_handler& h) { return {boost::asio::get_associated_cancellation_slot(h)}; }
  template <class Fn>
  auto operator()(Fn&& fn) const {
    return boost::asio::bind_cancellation_slot(slot, std::forward<Fn>(fn));
  }
};

/// Completes a connect_handler on its own associated executor (from inside an operation's completion).
inline void complete(connect_handler h, boost::system::error_code ec, transport_ptr t) {
  boost::asio::dispatch(boost::asio::append(std::move(h), ec, std::move(t)));
}

}  // namespace nats::detail
