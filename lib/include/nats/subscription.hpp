// A subscription handle. Move-only; destroying it unsubscribes (call detach() to keep it alive).
#pragma once

#include <nats/message.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace nats {

namespace detail {
struct subscription_state;
}

/// Options for connection::subscribe.
struct subscribe_options {
  std::string queue_group;             ///< empty: every subscriber gets every message
  std::size_t pending_msgs_limit = 0;  ///< 0: the connection's default
  std::size_t pending_bytes_limit = 0; ///< 0: the connection's default
  std::uint64_t max_messages = 0;      ///< auto-unsubscribe after this many (0: never)
};

class subscription {
 public:
  subscription() = default;
  explicit subscription(std::shared_ptr<detail::subscription_state> s) noexcept : state_(std::move(s)) {}
  subscription(subscription&&) noexcept = default;
  subscription& operator=(subscription&& other) noexcept;
  ~subscription();

  bool valid() const noexcept { return static_cast<bool>(state_); }
  std::uint64_t sid() const noexcept;
  const std::string& subject() const noexcept;
  const std::string& queue_group() const noexcept;

  /// Waits for the next message (signature `void(error_code, message)`). Completes with
  /// error::subscription_closed after unsubscribe/max reached/close (remaining queued messages
  /// are delivered first), with operation_aborted when cancelled. Only one wait at a time.
  template <class Token>
  auto async_next(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, message)>(
        [this](auto handler) {
          next_impl(boost::asio::any_completion_handler<void(boost::system::error_code, message)>(std::move(handler)));
        },
        token);
  }

  /// Messages that arrived but were not taken yet; dropped for exceeding pending limits; delivered.
  std::size_t pending_messages() const noexcept;
  std::size_t pending_bytes() const noexcept;
  std::uint64_t dropped() const noexcept;
  std::uint64_t delivered() const noexcept;

  void set_pending_limits(std::size_t msgs, std::size_t bytes) noexcept;

  /// Stops interest now (messages already queued can still be taken).
  boost::system::error_code unsubscribe();
  /// Stops after `max` messages in total (counting those already delivered).
  boost::system::error_code auto_unsubscribe(std::uint64_t max);
  /// Forgets the handle without unsubscribing.
  void detach() noexcept { state_.reset(); }

 private:
  void next_impl(boost::asio::any_completion_handler<void(boost::system::error_code, message)> h);
  std::shared_ptr<detail::subscription_state> state_;
};

/// Callback for push-style subscriptions; runs on the connection's executor for each message.
using message_handler = std::function<void(message&&)>;

}  // namespace nats
