// The write buffer bound (options::max_pending_write_bytes) against a real nats-server that stops
// reading: the server is paused with SIGSTOP, so the client's socket fills and everything published
// afterwards stays queued in the client. Past the bound publish() (and requests, JetStream publishes)
// must fail with write_buffer_full instead of growing memory, and once the server runs again
// everything accepted must arrive, in order.
#define BOOST_TEST_MODULE write_buffer_integration
#include "test_util.hpp"

#include <nats/js/jetstream.hpp>

#include <boost/asio/as_tuple.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace nats;
using namespace nats::test;

namespace {

constexpr std::size_t bound = 1024 * 1024;

// Keep-alive PINGs would declare the paused server stale and reconnect, which is a different test
// (reconnect_test: stale_connection_is_detected_and_recovered); here the link must stay up.
options quiet_options(const nats_server& s) {
  auto o = options_for(s);
  o.ping_interval = std::chrono::minutes(10);
  return o;
}

// "<seq>:" followed by filler up to `size` bytes.
std::string payload_for(int seq, std::size_t size) {
  std::string p = std::to_string(seq) + ":";
  p.resize(std::max(size, p.size()), 'w');
  return p;
}

int seq_of(const std::string& payload) { return std::stoi(payload.substr(0, payload.find(':'))); }

}  // namespace

BOOST_AUTO_TEST_CASE(paused_server_fills_the_bound_then_everything_accepted_arrives_in_order) {
  nats_server server;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection subscriber(ioc.get_executor(), quiet_options(server));
        auto po = quiet_options(server);
        po.max_pending_write_bytes = bound;
        event_log pub_log;
        po.on_event = pub_log.handler();
        connection publisher(ioc.get_executor(), po);
        co_await connect_or_throw(subscriber);
        co_await connect_or_throw(publisher);

        std::vector<int> got;
        error_code ec;
        auto sub = subscriber.subscribe("wb.seq", [&](message&& m) { got.push_back(seq_of(m.payload)); }, ec);
        BOOST_REQUIRE(!ec);
        co_await subscriber.async_flush(asio::use_awaitable);
        co_await publisher.async_flush(asio::use_awaitable);

        server.pause();
        std::vector<int> accepted, rejected;
        std::size_t max_pending = 0, pending_at_first_reject = 0;
        int seq = 0;
        auto publish_one = [&] {
          const auto pec = publisher.publish("wb.seq", payload_for(seq, 1000));
          if (!pec) {
            accepted.push_back(seq);
          } else {
            BOOST_REQUIRE_MESSAGE(pec == error::write_buffer_full, "unexpected publish error: " << pec.message());
            if (rejected.empty()) pending_at_first_reject = publisher.stats().pending_bytes;
            rejected.push_back(seq);
          }
          max_pending = std::max<std::size_t>(max_pending, publisher.stats().pending_bytes);
          ++seq;
        };
        // Publish in bursts, letting the io_context run in between so that writes move what they can
        // into the socket (the kernel's buffers absorb a few MiB before the paused server blocks them).
        while (rejected.empty()) {
          BOOST_REQUIRE_MESSAGE(seq < 200000, "200 MB published to a paused server and never refused");
          for (int i = 0; i < 256 && rejected.empty(); ++i) publish_one();
          co_await sleep_for(1ms);
        }
        // Keep trying for a while: the buffer stays full while the server does not read.
        for (int round = 0; round < 20; ++round) {
          co_await sleep_for(10ms);
          for (int i = 0; i < 64; ++i) publish_one();
        }
        BOOST_TEST(publisher.is_connected());
        // Bounded, and the bound was really used before refusing (within one message of it).
        BOOST_TEST(max_pending <= bound);
        BOOST_TEST(pending_at_first_reject + 1100 > bound);
        BOOST_TEST(publisher.stats().write_buffer_rejects == rejected.size());
        BOOST_TEST(publisher.stats().out_msgs == accepted.size());

        // A request through the full buffer fails at once instead of queueing. (A write may have
        // completed meanwhile: fill the buffer up again first, without letting the io_context run.)
        for (int i = 0; i < 10000 && (rejected.empty() || rejected.back() != seq - 1); ++i) publish_one();
        BOOST_REQUIRE(rejected.back() == seq - 1);
        // The request is as large as the refused publishes (a smaller one could still fit).
        auto [rec, reply] =
            co_await publisher.async_request("wb.svc", std::string(1000, 'q'), 5s, asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(rec == error::write_buffer_full);
        BOOST_TEST(publisher.stats().write_buffer_rejects == rejected.size() + 1);
        // JetStream publishes go through the same path and fail the same way (no stream is needed:
        // nothing leaves the client). The synchronous one completes with the error...
        js::context js(publisher);
        const std::string js_payload(1000, 'j');
        auto [jec, ack] = co_await js.async_publish("wb.js", js_payload, asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(jec == error::write_buffer_full);
        // ... the windowed one reports it as the publish's ack result.
        std::vector<js::publish_result> acks;
        js::async_publisher jpub(js, {.on_ack = [&](const js::publish_result& r) { acks.push_back(r); }});
        auto [apec] = co_await jpub.async_publish("wb.js", js_payload, asio::as_tuple(asio::use_awaitable));
        BOOST_TEST_MESSAGE("async_publisher.async_publish into the full buffer: " << apec.message());
        BOOST_REQUIRE(co_await wait_until([&] { return !acks.empty(); }, 5s));
        BOOST_TEST(acks.front().ec == error::write_buffer_full);
        BOOST_TEST(publisher.stats().write_buffer_rejects == rejected.size() + 3);
        BOOST_TEST_MESSAGE("accepted " << accepted.size() << ", refused " << rejected.size() << ", most pending bytes "
                                       << max_pending);

        server.resume();
        auto [fec] = co_await publisher.async_flush(asio::as_tuple(asio::use_awaitable));
        BOOST_REQUIRE_MESSAGE(!fec, "flush after resume: " << fec.message());
        BOOST_TEST(publisher.buffered_bytes() == 0u);
        BOOST_REQUIRE(co_await wait_until([&] { return got.size() >= accepted.size(); }, 30s));
        co_await subscriber.async_flush(asio::use_awaitable);
        // Exactly the accepted messages, in order: none lost, none of the refused ones.
        BOOST_TEST(got.size() == accepted.size());
        BOOST_TEST((got == accepted));

        // Writable again.
        BOOST_TEST(!publisher.publish("wb.seq", payload_for(seq, 10)));
        co_await publisher.async_flush(asio::use_awaitable);
        BOOST_REQUIRE(co_await wait_until([&] { return got.size() == accepted.size() + 1; }));
        BOOST_TEST(got.back() == seq);
        BOOST_TEST(pub_log.count(event_kind::disconnected) == 0u);
      },
      120s);
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_the_bound_goes_when_nothing_else_is_queued) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = quiet_options(server);
    o.max_pending_write_bytes = 1024;
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    std::vector<std::string> got;
    error_code ec;
    auto sub = c.subscribe("wb.big", [&](message&& m) { got.push_back(m.payload); }, ec);
    co_await c.async_flush(asio::use_awaitable);

    const std::string big(4096, 'b');
    BOOST_TEST(c.buffered_bytes() == 0u);
    BOOST_TEST(!c.publish("wb.big", big));  // alone: accepted even though it exceeds the bound
    BOOST_TEST(c.publish("wb.big", big) == error::write_buffer_full);  // the first is still queued
    BOOST_TEST(c.stats().write_buffer_rejects == 1u);
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(!c.publish("wb.big", big));
    co_await c.async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await wait_until([&] { return got.size() == 2u; }));
    BOOST_TEST((got[0] == big && got[1] == big));
  });
}

BOOST_AUTO_TEST_CASE(zero_means_unlimited_and_the_default_is_64_mib) {
  BOOST_TEST(options{}.max_pending_write_bytes == 64u * 1024u * 1024u);
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = quiet_options(server);
    o.max_pending_write_bytes = 0;
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    // 0 is not "refuse everything" (as reconnect.buffer_bytes = 0 is): 4 MiB in one go, all accepted.
    const std::string p(1024, 'u');
    for (int i = 0; i < 4096; ++i) BOOST_REQUIRE(!c.publish("wb.unlimited", p));
    BOOST_TEST(c.stats().write_buffer_rejects == 0u);
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(c.buffered_bytes() == 0u);
  });
}
