// Internal: the state behind nats::connection. One object per connection, owned by shared_ptr so
// that asynchronous work keeps it alive; everything runs on the connection's executor.
#pragma once

#include <nats/connection.hpp>
#include <nats/protocol/parser.hpp>
#include <nats/server_url.hpp>

#include "../transport/transport.hpp"
#include "nuid.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace nats::detail {

namespace asio = boost::asio;
using boost::system::error_code;

class connection_impl;
using message_completion = asio::any_completion_handler<void(error_code, message)>;
using void_completion = asio::any_completion_handler<void(error_code)>;

/// Shared between a subscription handle and the connection.
struct subscription_state {
  std::weak_ptr<connection_impl> conn;
  asio::any_io_executor executor;
  std::uint64_t sid = 0;
  std::string subject;
  std::string queue;
  message_handler handler;  // push mode when set
  std::deque<message> queue_msgs;
  std::size_t queued_bytes = 0;
  std::size_t max_msgs = 0;
  std::size_t max_bytes = 0;
  std::uint64_t delivered = 0;
  std::uint64_t dropped = 0;
  std::uint64_t max_deliver = 0;  // auto-unsubscribe limit, 0 = none
  bool closed = false;
  bool slow = false;  // inside a slow-consumer episode
  std::optional<message_completion> waiter;
};

/// A server of the pool and what we know of it.
struct pool_entry {
  server_url url;
  bool discovered = false;
  int failed_attempts = 0;
  bool ever_connected = false;
  std::chrono::steady_clock::time_point last_attempt{};
};

class connection_impl : public std::enable_shared_from_this<connection_impl> {
 public:
  connection_impl(asio::any_io_executor ex, options opts);
  ~connection_impl();

  // façade entry points
  void start_connect(void_completion h);
  error_code publish(std::string_view subject, const headers* hdrs, std::string_view payload, std::string_view reply);
  /// publish() with the subject and/or reply checks skipped (subjects taken from the server or built
  /// by this client from a checked prefix).
  error_code publish_line(std::string_view subject, const headers* hdrs, std::string_view payload,
                          std::string_view reply, bool check_subject, bool check_reply);
  std::shared_ptr<subscription_state> subscribe(std::string_view subject, message_handler handler, error_code& ec,
                                                const subscribe_options& o);
  void flush(void_completion h);
  void request(std::string_view subject, const headers* hdrs, std::string_view payload,
               std::chrono::milliseconds timeout, message_completion h);
  void drain(void_completion h);
  void close(error_code why = {});
  std::string new_inbox();

  // subscription entry points
  error_code unsubscribe(const std::shared_ptr<subscription_state>& s);
  error_code auto_unsubscribe(const std::shared_ptr<subscription_state>& s, std::uint64_t max);
  void next(const std::shared_ptr<subscription_state>& s, message_completion h);

  asio::any_io_executor executor_;
  options opts_;
  connection_state state_ = connection_state::disconnected;
  protocol::server_info info_;
  std::string current_url_;
  statistics stats_;
  error_code last_error_;
  std::string last_error_text_;

  std::size_t buffered_bytes() const noexcept { return pending_.size() + writing_bytes_; }

 private:
  struct pong_waiter {
    std::optional<void_completion> handler;  // empty for keep-alive pings
    std::uint64_t id = 0;
  };
  struct request_op {
    message_completion handler;
    std::chrono::steady_clock::time_point deadline;
  };

  asio::awaitable<void> run();
  asio::awaitable<error_code> establish_link(pool_entry& server);
  asio::awaitable<error_code> read_loop();
  error_code handle_op(const protocol::server_op& op, bool handshake);
  void on_info(std::string_view json, bool handshake);
  void learn_servers(const protocol::server_info& info);
  void deliver(std::uint64_t sid, message&& msg);
  void deliver_request_reply(message&& msg);
  void arm_request_timer(std::chrono::steady_clock::time_point at);
  void expire_requests();
  void on_connected(bool reconnect);
  void on_disconnected(error_code why);
  void kick_write();
  void schedule_write();
  void start_keepalive();
  void fail_link(error_code why);
  error_code ensure_tls_context();
  std::uint64_t queue_ping(std::optional<void_completion> h);
  void emit(event ev);
  void emit(event_kind kind, error_code ec = {}, std::string text = {});
  error_code fill_auth(protocol::connect_info& ci, const pool_entry& server);
  std::string resubscribe_commands();
  pool_entry* pick_server();
  std::chrono::milliseconds reconnect_delay(const pool_entry& server, int attempt, error_code last);
  void finish_connect(error_code ec);
  void remove_subscription(std::uint64_t sid);
  void complete_waiter(subscription_state& s, error_code ec);
  void ensure_reply_subscription();
  void finish_drain(error_code ec);

  template <class Handler, class... Args>
  void post_completion(Handler&& h, Args&&... args);

  std::deque<pool_entry> pool_;  // deque: growing it (discovered servers) keeps references valid
  std::size_t pool_index_ = 0;
  transport_ptr transport_;
  // Built on the first TLS attempt and shared by every later one (parsing a CA bundle is costly).
  tls_context_ptr tls_context_;
  std::uint64_t generation_ = 0;  // bumps with every new link
  protocol::parser parser_;
  error_code link_error_;  // why we closed the current link ourselves

  std::string pending_;  // queued output (doubles as the reconnect buffer while disconnected)
  std::shared_ptr<std::string> write_buf_;  // bytes being written
  std::size_t writing_bytes_ = 0;           // write_buf_->size() while a write is in flight, else 0
  std::size_t write_limit_ = 0;             // options::max_pending_write_bytes, SIZE_MAX for unlimited
  std::string spare_;
  bool write_in_flight_ = false;
  bool write_scheduled_ = false;

  std::deque<pong_waiter> pongs_;
  std::vector<void_completion> deferred_flushes_;
  int pings_out_ = 0;
  std::size_t pings_in_pending_ = 0;  // PINGs in pending_ not yet handed to a write
  std::uint64_t next_pong_id_ = 0;
  asio::ip::tcp::socket* connecting_socket_ = nullptr;
  asio::cancellation_signal handshake_cancel_;  // stops a TLS/WebSocket handshake (timeout, close)
  std::unique_ptr<asio::steady_timer> ping_timer_;
  std::unique_ptr<asio::steady_timer> wait_timer_;

  std::optional<void_completion> connect_waiter_;
  bool ever_connected_ = false;
  bool running_ = false;
  bool closed_ = false;

  std::uint64_t next_sid_ = 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<subscription_state>> subs_;

  nuid nuid_;
  std::string reply_prefix_;  // "<inbox>.<nuid>." for muxed requests
  std::uint64_t reply_sid_ = 0;
  std::uint64_t next_request_ = 0;
  // Outstanding requests by token (the number after reply_prefix_). One timer serves them all: it is
  // armed for the earliest deadline known when it was set and re-armed from the sweep when it fires.
  std::unordered_map<std::uint64_t, request_op> requests_;
  std::unique_ptr<asio::steady_timer> request_timer_;
  std::chrono::steady_clock::time_point request_timer_at_ = std::chrono::steady_clock::time_point::max();
  std::string reply_scratch_;  // the reply subject of the request being written

  std::optional<void_completion> drain_waiter_;
  std::unique_ptr<asio::steady_timer> drain_timer_;

  std::mt19937_64 rng_;
};

}  // namespace nats::detail
