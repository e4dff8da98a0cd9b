// Acknowledging messages delivered by a consumer (explicit/all ack policies). Each is a publish on the
// message's `$JS.ACK.` reply subject; async_ack_sync waits for the server's confirmation.
#pragma once

#include <nats/connection.hpp>
#include <nats/message.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <string_view>

namespace nats::js {

/// Acknowledges: processed, do not redeliver.
boost::system::error_code ack(connection& nc, const message& m);
/// Negative ack: redeliver, after `delay` when non-zero.
boost::system::error_code nak(connection& nc, const message& m, std::chrono::nanoseconds delay = {});
/// Terminates: never redeliver (counts as acked for the consumer).
boost::system::error_code term(connection& nc, const message& m);
/// Work in progress: restart the ack-wait timer.
boost::system::error_code in_progress(connection& nc, const message& m);

namespace detail {
void ack_sync_impl(connection& nc, const message& m, std::chrono::milliseconds timeout,
                   boost::asio::any_completion_handler<void(boost::system::error_code)> h);
}

/// Acknowledges and waits until the server confirms it stored the ack (`void(error_code)`).
template <class Token>
auto async_ack_sync(connection& nc, const message& m, std::chrono::milliseconds timeout, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
      [=, &nc](auto h) {
        detail::ack_sync_impl(nc, m, timeout,
                              boost::asio::any_completion_handler<void(boost::system::error_code)>(std::move(h)));
      },
      token);
}

}  // namespace nats::js
