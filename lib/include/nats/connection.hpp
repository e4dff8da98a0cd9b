// The NATS connection: one object, one server link at a time, reconnecting under the user's policy.
//
// Threading: the connection runs on the executor it is given and starts no thread. Its member
// functions must be called from that executor (use a strand if the io_context runs on several
// threads). Asynchronous operations take any Asio completion token (callbacks, use_awaitable,
// use_future, deferred) and honour per-operation cancellation where noted.
#pragma once

#include <nats/error.hpp>
#include <nats/events.hpp>
#include <nats/headers.hpp>
#include <nats/message.hpp>
#include <nats/options.hpp>
#include <nats/protocol/server_info.hpp>
#include <nats/subscription.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace nats {

namespace detail {
class connection_impl;
}
class connection;
namespace detail {
/// For the client's own layers (JetStream acks and publishes): publishes without re-checking subjects
/// the caller took from a server message (`$JS.ACK...`) or built itself from a checked prefix (its own
/// inbox). `subject` is checked only when check_subject is set; `reply` never is.
boost::system::error_code publish_unchecked(connection& nc, std::string_view subject, const headers* hdrs,
                                            std::string_view payload, std::string_view reply, bool check_subject);
}  // namespace detail

enum class connection_state { disconnected, connecting, connected, reconnecting, draining, closed };
const char* to_string(connection_state s) noexcept;

struct statistics {
  std::uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0, reconnects = 0;
  /// Publishes refused with write_buffer_full (connected, server not reading).
  std::uint64_t write_buffer_rejects = 0;
  /// Publishes refused while disconnected (reconnect_buffer_full, or not_connected with no buffer).
  std::uint64_t reconnect_buffer_rejects = 0;
  /// Bytes accepted and not yet written when stats() was called (connection::buffered_bytes()).
  std::uint64_t pending_bytes = 0;
  /// TLS contexts built (trust store / CA bundle and client certificate loaded). A connection builds
  /// one on its first TLS attempt and reuses it for every reconnect; a failed build is retried.
  std::uint64_t tls_contexts_built = 0;
};

class connection {
 public:
  using executor_type = boost::asio::any_io_executor;
  using clock = std::chrono::steady_clock;

  connection(executor_type ex, options opts);
  ~connection();  ///< closes the connection (pending operations complete with connection_closed)
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  executor_type get_executor() const noexcept;
  const options& get_options() const noexcept;
  connection_state state() const noexcept;
  bool is_connected() const noexcept { return state() == connection_state::connected; }
  /// INFO of the current (or last) server.
  const protocol::server_info& server_info() const noexcept;
  /// URL of the current (or last) server, without credentials.
  std::string connected_url() const;
  statistics stats() const noexcept;
  /// The last error (protocol, -ERR, I/O) and the server's text for it.
  boost::system::error_code last_error() const noexcept;
  std::string last_error_text() const;

  /// Connects (`void(error_code)`). Completes on the first successful handshake; afterwards the
  /// connection keeps itself alive until close(). With retry_on_failed_connect it keeps trying under
  /// the reconnect policy; otherwise it fails after one pass over the pool. Cancellable: cancelling
  /// stops the attempt and closes the connection.
  template <class Token>
  auto async_connect(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto h) { connect_impl(void_handler(std::move(h))); }, token);
  }

  /// Publishes. Returns at once: the bytes are queued for the next write (or, while disconnected,
  /// held in the reconnect buffer). Errors: invalid_subject, max_payload_exceeded,
  /// write_buffer_full (connected, but options::max_pending_write_bytes are queued: the server is not
  /// reading), reconnect_buffer_full (disconnected, options::reconnect.buffer_bytes held),
  /// connection_closed, connection_draining. A refused message is not queued; accepted ones are
  /// written in order.
  boost::system::error_code publish(std::string_view subject, std::string_view payload,
                                    std::string_view reply = {});
  boost::system::error_code publish(std::string_view subject, const headers& hdrs, std::string_view payload,
                                    std::string_view reply = {});

  /// Subscribes; messages are taken with subscription::async_next.
  subscription subscribe(std::string_view subject, boost::system::error_code& ec, subscribe_options opts = {});
  /// Subscribes with a callback run for each message (no queue, no pending limits).
  subscription subscribe(std::string_view subject, message_handler handler, boost::system::error_code& ec,
                         subscribe_options opts = {});

  /// Round trip to the server (`void(error_code)`): everything published before was processed.
  /// Cancellable.
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto h) { flush_impl(void_handler(std::move(h))); }, token);
  }

  /// Request/reply over the shared inbox (`void(error_code, message)`). Errors: no_responders,
  /// timeout, not_connected (when the reconnect buffer is disabled), write_buffer_full and
  /// reconnect_buffer_full (the request was not sent), connection_closed. Cancellable.
  template <class Token>
  auto async_request(std::string_view subject, std::string_view payload, std::chrono::milliseconds timeout,
                     Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, message)>(
        [this, subject, payload, timeout](auto h) {
          request_impl(subject, nullptr, payload, timeout, message_completion(std::move(h)));
        },
        token);
  }
  /// The same with headers. The strings are read when the operation starts (for lazy tokens such as
  /// use_awaitable: at co_await), the headers are copied now.
  template <class Token>
  auto async_request(std::string_view subject, const headers& hdrs, std::string_view payload,
                     std::chrono::milliseconds timeout, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, message)>(
        [this, subject, hdrs, payload, timeout](auto h) {
          request_impl(subject, &hdrs, payload, timeout, message_completion(std::move(h)));
        },
        token);
  }

  /// Drains (`void(error_code)`): unsubscribes everything, lets queued messages be taken, flushes
  /// pending publishes, then closes. Bounded by options::drain_timeout.
  template <class Token>
  auto async_drain(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto h) { drain_impl(void_handler(std::move(h))); }, token);
  }

  /// Closes now: pending operations complete with connection_closed, subscriptions end.
  void close();

  /// A new unique inbox subject (`<inbox_prefix>.<nuid>`).
  std::string new_inbox();

  /// Bytes accepted but not yet written (queued or in the reconnect buffer).
  std::size_t buffered_bytes() const noexcept;

 private:
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  using message_completion = boost::asio::any_completion_handler<void(boost::system::error_code, message)>;
  void connect_impl(void_handler h);
  void flush_impl(void_handler h);
  void drain_impl(void_handler h);
  void request_impl(std::string_view subject, const headers* hdrs, std::string_view payload,
                    std::chrono::milliseconds timeout, message_completion h);

  friend boost::system::error_code detail::publish_unchecked(connection&, std::string_view, const headers*,
                                                            std::string_view, std::string_view, bool);
  std::shared_ptr<detail::connection_impl> impl_;
};

}  // namespace nats
