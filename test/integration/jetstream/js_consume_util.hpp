// Helpers for tests of the continuous pull consume (js::consumer_stream), shared by the single-server
// status tests and the cluster tests: watch which statuses the server really sent, and wait for the
// next message with a time limit.
#pragma once

#include "js_test_util.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <map>
#include <string>
#include <string_view>
#include <tuple>

namespace nats::test {

/// Status lines (code + description) that the server sent to any inbox, seen by a second connection:
/// what the consume loop had to handle.
struct status_spy {
  std::map<std::string, int> seen;
  subscription sub;
  void start(connection& c) {
    error_code ec;
    sub = c.subscribe(
        "_INBOX.>",
        [this](message m) {
          if (const int st = m.status(); st != 0 && st != 100)
            ++seen[std::to_string(st) + " " + std::string(m.headers.description())];
        },
        ec);
    BOOST_REQUIRE_MESSAGE(!ec, "spy subscribe: " << ec.message());
  }
  int count(std::string_view what) const {
    int n = 0;
    for (auto& [k, v] : seen)
      if (k.find(what) != std::string::npos) n += v;
    return n;
  }
  std::string report() const {
    std::string s;
    for (auto& [what, n] : seen) s += what + " x" + std::to_string(n) + "; ";
    return s.empty() ? "none" : s;
  }
};

/// consumer_stream::async_next with a time limit (operation_aborted when it passes).
inline asio::awaitable<std::tuple<error_code, message>> next_within(js::consumer_stream& cs,
                                                                   std::chrono::milliseconds limit) {
  asio::cancellation_signal sig;
  asio::steady_timer t(co_await asio::this_coro::executor, limit);
  t.async_wait([&sig](error_code ec) {
    if (!ec) sig.emit(asio::cancellation_type::terminal);
  });
  auto r = co_await cs.async_next(asio::bind_cancellation_slot(sig.slot(), tok));
  t.cancel();
  co_return r;
}

}  // namespace nats::test
