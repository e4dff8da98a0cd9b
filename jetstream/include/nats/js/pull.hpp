// Pull consumers: one-shot fetch and a continuous consume loop.
#pragma once

#include <nats/js/context.hpp>
#include <nats/subscription.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nats::js {

struct fetch_options {
  std::int64_t batch = 1;
  std::int64_t max_bytes = 0;                   ///< 0: no byte limit
  std::chrono::milliseconds expires{5000};      ///< how long the server holds the request
  std::chrono::milliseconds idle_heartbeat{0};  ///< 0: none; else the server sends heartbeats while idle
  bool no_wait = false;                         ///< answer at once (404 when nothing is pending)
};

/// Fetches up to `batch` messages (`void(error_code, std::vector<message>)`). Completes when the batch
/// is full, when the server ends the request (404 no messages / 408 expired: success, possibly with
/// fewer or no messages) or on an error (409 statuses, missed heartbeats, connection errors). Messages
/// already received are returned even when an error ends the fetch. Cancellable.
template <class Token>
auto async_fetch(context& js, std::string_view stream, std::string_view consumer, const fetch_options& opts,
                 Token&& token);

struct consume_options {
  std::int64_t batch = 100;                     ///< messages requested per pull request
  std::int64_t max_bytes = 0;                   ///< bytes per pull request (0: no limit)
  std::chrono::milliseconds expires{30000};     ///< lifetime of each pull request
  std::chrono::milliseconds idle_heartbeat{0};  ///< 0: expires/2, at most 30 s, at least 500 ms
  std::int64_t threshold = 0;                   ///< re-pull when fewer are outstanding; 0: batch/2
};

namespace detail {
struct consume_state;
void fetch_impl(context& js, std::string_view stream, std::string_view consumer, const fetch_options& opts,
                boost::asio::any_completion_handler<void(boost::system::error_code, std::vector<message>)> h);
}  // namespace detail

template <class Token>
auto async_fetch(context& js, std::string_view stream, std::string_view consumer, const fetch_options& opts,
                 Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, std::vector<message>)>(
      [=, &js](auto h) {
        detail::fetch_impl(
            js, stream, consumer, opts,
            boost::asio::any_completion_handler<void(boost::system::error_code, std::vector<message>)>(std::move(h)));
      },
      token);
}

/// A continuous consume loop on a pull consumer: keeps pull requests outstanding (re-pulling below the
/// threshold), handles 404/408/409 statuses and idle heartbeats, and re-issues its requests when
/// heartbeats stop (reconnect, server restart, consumer leader change). Messages are taken with
/// async_next; ack them with js::ack & co. Memory is bounded by batch/max_bytes and the subscription's
/// pending limits.
class consumer_stream {
 public:
  consumer_stream() = default;
  consumer_stream(context& js, std::string stream, std::string consumer, consume_options opts = {});
  consumer_stream(consumer_stream&&) noexcept;
  consumer_stream& operator=(consumer_stream&&) noexcept;
  ~consumer_stream();  ///< stops

  /// Subscribes to the delivery inbox and sends the first pull request.
  boost::system::error_code start();

  /// Next message (`void(error_code, message)`). Errors: consumer_deleted (409), pull_request_conflict
  /// (other terminal 409s: bad batch/expires/max_bytes for this consumer), subscription_closed after
  /// stop(), operation_aborted when cancelled. One wait at a time.
  template <class Token>
  auto async_next(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, message)>(
        [this](auto h) {
          next_impl(boost::asio::any_completion_handler<void(boost::system::error_code, message)>(std::move(h)));
        },
        token);
  }

  void stop();

  std::uint64_t pull_requests() const noexcept;     ///< pull requests sent
  std::uint64_t missed_heartbeats() const noexcept; ///< times heartbeats stopped and requests were re-issued
  std::uint64_t delivered() const noexcept;         ///< data messages handed out

 private:
  void next_impl(boost::asio::any_completion_handler<void(boost::system::error_code, message)> h);
  std::shared_ptr<detail::consume_state> state_;
};

}  // namespace nats::js
