// Helpers for JetStream/KV integration tests: a coroutine on a fresh io_context with a time limit,
// a connected client on a JetStream-enabled nats-server, printing of error enums.
#pragma once

#include <nats/connection.hpp>
#include <nats/js/jetstream.hpp>

#include "nats_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <ostream>
#include <set>
#include <vector>
#include <string>

namespace nats {
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
}  // namespace nats
namespace nats::js {
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
inline std::ostream& operator<<(std::ostream& os, discard_policy v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, storage_type v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, retention_policy v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, ack_policy v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, deliver_policy v) { return os << to_string(v); }
}  // namespace nats::js

namespace nats::test {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

/// `co_await op(..., tok)` gives a tuple (error_code, result...) instead of throwing.
inline constexpr auto tok = asio::as_tuple(asio::use_awaitable);

template <class Body>
void run_test(Body body, std::chrono::seconds limit = std::chrono::seconds(60)) {
  asio::io_context ioc;
  bool done = false;
  std::exception_ptr failure;
  asio::co_spawn(ioc, body(ioc), [&](std::exception_ptr e) {
    failure = e;
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    if (ioc.run_one_for(100ms) == 0 && ioc.stopped()) ioc.restart();
  }
  BOOST_REQUIRE_MESSAGE(done, "test coroutine did not finish within the time limit");
  ioc.run_for(50ms);
  if (failure) std::rethrow_exception(failure);
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

inline options client_options(const nats_server& s) {
  options o;
  o.servers = {s.url()};
  o.reconnect.wait = 100ms;
  o.reconnect.jitter = 20ms;
  o.reconnect.max_attempts_per_server = -1;
  return o;
}

inline asio::awaitable<void> connect(connection& c) {
  auto [ec] = co_await c.async_connect(tok);
  BOOST_REQUIRE_MESSAGE(!ec, "connect: " << ec.message());
}

inline server_options js_server() {
  server_options o;
  o.jetstream = true;
  return o;
}

// GCC 12 rejects std::initializer_list inside coroutines ("array used as initializer"), so tests build
// vectors and sets through these.
template <class... S>
std::vector<std::string> strs(S&&... s) {
  std::vector<std::string> v;
  (v.emplace_back(std::forward<S>(s)), ...);
  return v;
}
template <class... S>
std::set<std::string> set_of(S&&... s) {
  std::set<std::string> v;
  (v.emplace(std::forward<S>(s)), ...);
  return v;
}

// GCC 12 miscompiles non-trivial temporaries inside co_await expressions (they are destroyed from the
// wrong place: "free(): invalid pointer"), so tests pass named objects, e.g. these, instead of `{}`.
inline const js::publish_options no_opts{};
inline const headers no_hdrs{};
inline const js::purge_options no_purge{};

/// A stream config with the given subjects, file storage.
inline js::stream_config stream(std::string name, std::vector<std::string> subjects) {
  js::stream_config c;
  c.name = std::move(name);
  c.subjects = std::move(subjects);
  return c;
}

}  // namespace nats::test
