// Asynchronous JetStream publishing with a bounded window of outstanding acks.
//
// async_publish completes as soon as the message is handed to the connection — at once while fewer than
// `max_pending` acks are outstanding, otherwise when one arrives (back-pressure: awaiting each
// async_publish keeps memory bounded by the window). Acks (or failures) are reported to `on_ack`, and
// async_wait_all completes when none is outstanding. Retries on no-responders as context::async_publish.
// Acks come back on one inbox subscription of the publisher (`<inbox>.<slot>-<id>`); a single timer
// fails the publishes whose ack did not arrive within the timeout (error::timeout), or all of them with
// connection_closed once the connection is closed.
#pragma once

#include <nats/js/context.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace nats::js {

struct publish_result {
  boost::system::error_code ec;
  pub_ack ack;
  std::string subject;
  std::string msg_id;
};

struct publisher_options {
  std::size_t max_pending = 256;  ///< acks outstanding at most
  std::function<void(const publish_result&)> on_ack;  ///< every ack or failure, in completion order
};

namespace detail {
struct publisher_state;
}

class async_publisher {
 public:
  async_publisher(context& js, publisher_options opts = {});
  ~async_publisher();  ///< outstanding acks still arrive to on_ack; waiting publishes fail with publisher_closed
  async_publisher(const async_publisher&) = delete;
  async_publisher& operator=(const async_publisher&) = delete;

  /// `void(error_code)`: sent (or why not). The ack result goes to on_ack.
  template <class Token>
  auto async_publish(std::string_view subject, std::string_view payload, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, subject, payload](auto h) { publish_impl(subject, nullptr, payload, nullptr, void_handler(std::move(h))); },
        token);
  }
  /// The strings are read when the operation starts (for lazy tokens such as use_awaitable: at
  /// co_await) and copied only while the window is full; the headers and options are copied now.
  template <class Token>
  auto async_publish(std::string_view subject, const headers& hdrs, std::string_view payload,
                     const publish_options& opts, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [=, this](auto h) { publish_impl(subject, &hdrs, payload, &opts, void_handler(std::move(h))); }, token);
  }

  /// `void(error_code)`: no ack outstanding any more; the error is the first failure since the previous
  /// wait (success when all were acked).
  template <class Token>
  auto async_wait_all(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [=, this](auto h) { wait_all_impl(void_handler(std::move(h))); }, token);
  }

  std::size_t outstanding() const noexcept;
  std::size_t max_pending() const noexcept;
  std::uint64_t acked() const noexcept;
  std::uint64_t failed() const noexcept;

 private:
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  void publish_impl(std::string_view subject, const headers* hdrs, std::string_view payload,
                    const publish_options* opts, void_handler h);
  void wait_all_impl(void_handler h);
  std::shared_ptr<detail::publisher_state> state_;
};

}  // namespace nats::js
