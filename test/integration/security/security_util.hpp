// Helpers shared by the TLS, WebSocket and auth integration tests.
#pragma once

#include "certs.hpp"
#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>

#include <string>

namespace nats::test {

/// Publish/subscribe (small and large payloads) and a request/reply through a responder on the
/// same connection: proves the link carries traffic both ways.
inline asio::awaitable<void> round_trip(connection& c, const std::string& prefix) {
  error_code ec;
  auto sub = c.subscribe(prefix + ".msgs", ec);
  BOOST_REQUIRE_MESSAGE(!ec, "subscribe: " << ec.message());
  auto responder = c.subscribe(
      prefix + ".svc", [&c](message&& m) { c.publish(m.reply, "re:" + m.payload); }, ec);
  BOOST_REQUIRE_MESSAGE(!ec, "subscribe responder: " << ec.message());
  co_await c.async_flush(asio::use_awaitable);

  // 300 kB crosses many TLS records and WebSocket frames.
  std::string big(300 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  const std::string payloads[] = {"hello", "", big, "bye"};
  for (const auto& p : payloads) BOOST_REQUIRE(!c.publish(prefix + ".msgs", p));
  for (const auto& p : payloads) {
    auto m = co_await sub.async_next(asio::use_awaitable);
    BOOST_TEST(m.subject == prefix + ".msgs");
    BOOST_TEST(m.payload.size() == p.size());
    BOOST_TEST((m.payload == p));
  }
  auto reply = co_await c.async_request(prefix + ".svc", "ping", 5s, asio::use_awaitable);
  BOOST_TEST(reply.payload == "re:ping");
}

/// One connect attempt (no retries); returns its error and the connection's last error text.
struct connect_result {
  error_code ec;
  std::string text;
};
inline asio::awaitable<connect_result> try_connect(asio::io_context& ioc, options o) {
  o.retry_on_failed_connect = false;
  o.reconnect.enabled = false;
  connection c(ioc.get_executor(), std::move(o));
  auto [ec] = co_await c.async_connect(asio::as_tuple(asio::use_awaitable));
  co_return connect_result{ec, c.last_error_text()};
}

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// A temp dir with a fresh certificate set, removed at the end of the test.
struct temp_certs {
  std::string dir = make_temp_dir("nats-certs");
  cert_set certs = make_test_certs(dir);
  ~temp_certs() { remove_tree(dir); }
};

}  // namespace nats::test
