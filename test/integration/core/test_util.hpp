// Helpers for integration tests: run a coroutine on a fresh io_context with a time limit, record events.
#pragma once

#include <nats/nats.hpp>

#include "nats_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace nats {
/// Lets Boost.Test print nats::error values in failed assertions.
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
inline std::ostream& operator<<(std::ostream& os, connection_state s) { return os << to_string(s); }
inline std::ostream& operator<<(std::ostream& os, event_kind k) { return os << to_string(k); }
}  // namespace nats

namespace nats::test {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

/// Runs `body(ioc)` as a coroutine; fails the test if it throws or does not finish within `limit`.
template <class Body>
void run_test(Body body, std::chrono::seconds limit = std::chrono::seconds(60)) {
  asio::io_context ioc;
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, body(ioc), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.run_one_for(100ms) == 0 && ioc.stopped()) ioc.restart();
  }
  BOOST_REQUIRE_MESSAGE(done, "test coroutine did not finish within the time limit");
  // Let closing connections settle.
  ioc.run_for(50ms);
  if (failure) std::rethrow_exception(failure);
}

/// Pauses the coroutine.
inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// Waits until `pred()` holds, polling every `poll`; returns false after `limit`.
template <class Pred>
asio::awaitable<bool> wait_until(Pred pred, std::chrono::milliseconds limit = 10s,
                                 std::chrono::milliseconds poll = 10ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    co_await sleep_for(poll);
  }
  co_return true;
}

/// Collects connection events for assertions.
struct event_log {
  std::vector<event> events;
  std::function<void(const event&)> handler() {
    return [this](const event& e) { events.push_back(e); };
  }
  std::size_t count(event_kind k) const {
    std::size_t n = 0;
    for (auto& e : events) n += e.kind == k;
    return n;
  }
  const event* last(event_kind k) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
      if (it->kind == k) return &*it;
    return nullptr;
  }
};

inline options options_for(const nats_server& s) {
  options o;
  o.servers = {s.url()};
  o.name = "integration-test";
  return o;
}

/// Connects and throws on error.
inline asio::awaitable<void> connect_or_throw(connection& c) {
  auto [ec] = co_await c.async_connect(asio::as_tuple(asio::use_awaitable));
  if (ec) throw std::runtime_error("connect failed: " + ec.message());
}

}  // namespace nats::test
