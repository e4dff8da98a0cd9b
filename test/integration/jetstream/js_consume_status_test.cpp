// The continuous pull consume (js::consumer_stream) against the 409 statuses nats-server 2.9.10 sends
// when a pull request cannot be served as asked: request limits of the consumer (MaxRequestBatch,
// MaxRequestExpires, MaxRequestMaxBytes: terminal, reported), a message bigger than the request's
// max_bytes, and too many waiting requests (MaxWaiting). A second connection watches the inboxes and
// records which statuses the server really sent, so each case is known to exercise what it names; pull
// request counts show the loop does not flood the server.
#define BOOST_TEST_MODULE jetstream_consume_status
#include "js_consume_util.hpp"

#include <map>

using namespace nats;
using namespace nats::test;

namespace {

/// Waits (up to 2 s) until the spy has seen a status containing `what`: its connection is not
/// synchronised with the client's. Returns how many it saw.
asio::awaitable<int> seen_soon(const status_spy& spy, std::string what) {
  for (int i = 0; i < 200 && spy.count(what) == 0; ++i) co_await sleep_for(10ms);
  co_return spy.count(what);
}

js::consumer_config pull_durable(std::string name) {
  js::consumer_config c;
  c.durable_name = std::move(name);
  c.ack = js::ack_policy::explicit_ack;
  return c;
}

struct fixture {
  nats_server server{js_server()};
};

}  // namespace

/// A consume loop whose requests break a limit of the consumer: the first async_next reports
/// pull_request_conflict at once, after one request, and the server really sent `status`.
asio::awaitable<void> expect_refused(js::context& js, const status_spy& spy, const std::string& stream_name,
                                     const js::consumer_config& cfg, const js::consume_options& co,
                                     const std::string& status) {
  auto [ce, ci] = co_await js.async_add_consumer(stream_name, cfg, tok);
  BOOST_REQUIRE_MESSAGE(!ce, cfg.durable_name << ": " << ce.message() << " " << js.last_api_error().description);
  js::consumer_stream cs(js, stream_name, cfg.durable_name, co);
  BOOST_REQUIRE(!cs.start());
  const auto t0 = std::chrono::steady_clock::now();
  auto [ec, m] = co_await next_within(cs, 5s);
  const auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST_MESSAGE(cfg.durable_name << ": " << ec.message() << " after "
                                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                      << " ms, pull requests " << cs.pull_requests() << ", statuses " << spy.report());
  BOOST_TEST(ec == js::error::pull_request_conflict, cfg.durable_name << ": " << ec.message());
  BOOST_TEST((took < 2s));
  BOOST_TEST(cs.pull_requests() <= 2u);
  const int seen = co_await seen_soon(spy, status);
  BOOST_TEST(seen >= 1, cfg.durable_name << ": statuses seen " << spy.report());
}

/// A server, a client, a spy connection and a stream `name` on `<name>.>`.
struct env {
  connection c, spy_conn;
  status_spy spy;
  js::context js;
  env(asio::io_context& ioc, const nats_server& s)
      : c(ioc.get_executor(), client_options(s)), spy_conn(ioc.get_executor(), client_options(s)), js(c) {}
  asio::awaitable<void> start(std::string name) {
    co_await connect(c);
    co_await connect(spy_conn);
    spy.start(spy_conn);
    auto [fe] = co_await spy_conn.async_flush(tok);  // the server has the spy's subscription
    BOOST_REQUIRE(!fe);
    const auto cfg = stream(name, strs(name + ".>"));
    auto [se, si] = co_await js.async_add_stream(cfg, tok);
    BOOST_REQUIRE_MESSAGE(!se, "add stream: " << se.message());
  }
};

BOOST_FIXTURE_TEST_CASE(consumer_request_limits_are_reported, fixture) {
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    env e(ioc, server);
    const std::string name = "RL";
    co_await e.start(name);
    auto batch = pull_durable("batch");
    batch.max_batch = 10;
    js::consume_options big_batch;
    big_batch.batch = 50;
    const std::string s1 = "Exceeded MaxRequestBatch";
    co_await expect_refused(e.js, e.spy, name, batch, big_batch, s1);

    auto expires = pull_durable("expires");
    expires.max_expires = 1s;
    js::consume_options long_expires;
    long_expires.expires = 4s;
    const std::string s2 = "Exceeded MaxRequestExpires";
    co_await expect_refused(e.js, e.spy, name, expires, long_expires, s2);
  });
}

// "409 Exceeded MaxRequestMaxBytes" must not be taken for "Message Size Exceeds MaxBytes" (both contain
// "MaxBytes"): it is reported as pull_request_conflict, not re-pulled at once, forever.
BOOST_FIXTURE_TEST_CASE(request_max_bytes_limit_is_reported, fixture) {
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    env e(ioc, server);
    const std::string name = "RB";
    co_await e.start(name);
    auto bytes = pull_durable("bytes");
    bytes.max_bytes = 1000;
    js::consume_options many_bytes;
    many_bytes.max_bytes = 5000;
    const std::string s = "Exceeded MaxRequestMaxBytes";
    co_await expect_refused(e.js, e.spy, name, bytes, many_bytes, s);
  });
}

// On "409 Message Size Exceeds MaxBytes" the consume loop must not re-pull at once: a message bigger than
// the loop's max_bytes would be refused again and again and async_next would never complete.
BOOST_FIXTURE_TEST_CASE(message_larger_than_request_max_bytes, fixture) {
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    env e(ioc, server);
    const std::string name = "MB";
    co_await e.start(name);
    const auto dcfg = pull_durable("d");
    auto [ce, ci] = co_await e.js.async_add_consumer(name, dcfg, tok);
    BOOST_REQUIRE(!ce);
    const std::string big(2000, 'x');
    auto [pe, pa] = co_await e.js.async_publish("MB.x", big, tok);
    BOOST_REQUIRE(!pe);

    js::consume_options co;
    co.batch = 10;
    co.max_bytes = 500;  // the message can never fit
    co.expires = 2s;
    js::consumer_stream cs(e.js, name, "d", co);
    BOOST_REQUIRE(!cs.start());
    auto [ec, m] = co_await next_within(cs, 3s);
    BOOST_TEST_MESSAGE("message bigger than max_bytes: " << ec.message() << ", pull requests " << cs.pull_requests()
                                                         << ", statuses " << e.spy.report());
    const std::string status = "Message Size Exceeds MaxBytes";
    const int seen = co_await seen_soon(e.spy, status);
    BOOST_TEST(seen >= 1, e.spy.report());
    // Nothing can ever be delivered: the loop must say so rather than re-pull the same refusal forever.
    BOOST_TEST(ec == js::error::max_bytes_exceeded, ec.message());
    BOOST_TEST(cs.pull_requests() < 20u);
  });
}

// While another loop's request fills the consumer's max_waiting, every request of the second loop gets
// "409 Exceeded MaxWaiting": it must not be re-sent at once (thousands a second), and a cancellation of
// async_next that meets an already queued status must not be dropped (next_within() below returns).
BOOST_FIXTURE_TEST_CASE(max_waiting_exceeded_does_not_flood, fixture) {
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    env e(ioc, server);
    const std::string name = "MW";
    co_await e.start(name);
    auto dcfg = pull_durable("d");
    dcfg.max_waiting = 1;
    dcfg.ack_wait = 1s;  // a message handed to the stopped loop's request comes back soon
    auto [ce, ci] = co_await e.js.async_add_consumer(name, dcfg, tok);
    BOOST_REQUIRE_MESSAGE(!ce, ce.message() << " " << e.js.last_api_error().description);

    js::consume_options co;
    co.batch = 5;
    co.expires = 3s;
    js::consumer_stream first(e.js, name, "d", co);
    BOOST_REQUIRE(!first.start());
    co_await sleep_for(200ms);  // its request is the one waiting
    js::consumer_stream second(e.js, name, "d", co);
    BOOST_REQUIRE(!second.start());
    // The second one's requests are refused while the first one's wait: it must not spin on the refusals.
    auto [e2, m2] = co_await next_within(second, 2s);
    BOOST_TEST_MESSAGE("second consumer while the first waits: " << e2.message() << ", pull requests "
                                                                 << second.pull_requests() << ", statuses "
                                                                 << e.spy.report());
    BOOST_TEST((e2 == asio::error::operation_aborted), e2.message());
    const std::string status = "Exceeded MaxWaiting";
    const int seen = co_await seen_soon(e.spy, status);
    BOOST_TEST(seen >= 1, e.spy.report());
    BOOST_TEST(second.pull_requests() < 50u);
    // Once the first one stops, the second one gets the messages.
    first.stop();
    auto [pe, pa] = co_await e.js.async_publish("MW.x", "hello", tok);
    BOOST_REQUIRE(!pe);
    auto [e3, m3] = co_await next_within(second, 8s);
    BOOST_TEST(!e3, e3.message());
    BOOST_TEST(m3.payload == "hello");
  });
}
