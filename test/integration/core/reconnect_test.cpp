// Reconnect behaviour against real nats-server processes that are killed, restarted, paused,
// reconfigured and clustered (reliability scenarios R1, R2, R4, R5, R6, R7, R8).
#define BOOST_TEST_MODULE reconnect_integration
#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <map>

using namespace nats;
using namespace nats::test;

namespace {

options fast_reconnect(const nats_server& s) {
  auto o = options_for(s);
  o.reconnect.wait = 100ms;
  o.reconnect.jitter = 20ms;
  o.reconnect.max_attempts_per_server = -1;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_restart_restores_subscriptions_and_delivers_buffered_publishes) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log sub_log, pub_log;
    auto so = fast_reconnect(server);
    so.on_event = sub_log.handler();
    auto po = fast_reconnect(server);
    po.on_event = pub_log.handler();
    connection subscriber(ioc.get_executor(), so);
    connection publisher(ioc.get_executor(), po);
    co_await connect_or_throw(subscriber);
    co_await connect_or_throw(publisher);

    std::vector<int> received;
    error_code ec;
    auto sub = subscriber.subscribe("seq", [&](message&& m) { received.push_back(std::stoi(m.payload)); }, ec);
    int queue_hits = 0;
    auto qsub = subscriber.subscribe("q", [&](message&&) { ++queue_hits; }, ec, {.queue_group = "g"});
    auto limited = subscriber.subscribe("lim", ec, {.max_messages = 5});
    co_await subscriber.async_flush(asio::use_awaitable);

    int next = 0;
    for (; next < 1000; ++next) BOOST_REQUIRE(!publisher.publish("seq", std::to_string(next)));
    for (int i = 0; i < 2; ++i) BOOST_REQUIRE(!publisher.publish("lim", "before"));
    co_await publisher.async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await wait_until([&] { return received.size() == 1000u && limited.pending_messages() == 2u; }));

    server.kill();
    BOOST_REQUIRE(co_await wait_until([&] {
      return publisher.state() != connection_state::connected && subscriber.state() != connection_state::connected;
    }));
    // Published while the server is down: held in the reconnect buffer, accepted. (Whether the
    // subscriber is back before the publisher flushes is a race here; the next test covers delivery.)
    for (; next < 1100; ++next) BOOST_REQUIRE(!publisher.publish("seq", std::to_string(next)));
    BOOST_TEST(publisher.buffered_bytes() > 0u);
    server.start();
    BOOST_REQUIRE(co_await wait_until([&] { return publisher.is_connected() && subscriber.is_connected(); }));
    co_await subscriber.async_flush(asio::use_awaitable);
    co_await publisher.async_flush(asio::use_awaitable);
    BOOST_TEST(publisher.buffered_bytes() == 0u);
    for (int i = 0; i < 10; ++i) BOOST_REQUIRE(!publisher.publish("lim", "after"));
    for (int i = 0; i < 10; ++i) BOOST_REQUIRE(!publisher.publish("q", "x"));
    co_await publisher.async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await wait_until([&] { return queue_hits == 10; }));
    // The auto-unsubscribe limit continues across the reconnect: 2 before + 3 after.
    BOOST_REQUIRE(co_await wait_until([&] { return limited.pending_messages() == 5u; }, 2s));
    co_await sleep_for(100ms);
    BOOST_TEST(limited.pending_messages() == 5u);
    BOOST_TEST(limited.delivered() == 5u);

    BOOST_TEST(sub_log.count(event_kind::disconnected) == 1u);
    BOOST_TEST(sub_log.count(event_kind::reconnected) == 1u);
    BOOST_TEST(pub_log.count(event_kind::disconnected) == 1u);
    BOOST_TEST(pub_log.count(event_kind::reconnected) == 1u);
    BOOST_TEST(publisher.stats().reconnects == 1u);
  });
}

BOOST_AUTO_TEST_CASE(buffered_publishes_arrive_in_order_after_reconnect) {
  // Publisher and subscriber share one server that is killed. The publisher's reconnect policy (a
  // user-supplied one) waits 500 ms per attempt, so the subscriber is back and subscribed before the
  // publisher flushes its buffer: every message accepted while the server was down must arrive, in order.
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto so = fast_reconnect(server);
    so.reconnect.wait = 20ms;
    connection subscriber(ioc.get_executor(), so);
    auto po = fast_reconnect(server);
    int policy_calls = 0;
    po.reconnect.policy = [&](const reconnect_context& ctx) -> std::optional<std::chrono::milliseconds> {
      ++policy_calls;
      BOOST_TEST(ctx.attempt >= 1);
      BOOST_TEST(ctx.server == server.url());
      return 500ms;
    };
    connection publisher(ioc.get_executor(), po);
    co_await connect_or_throw(subscriber);
    co_await connect_or_throw(publisher);
    std::vector<int> got;
    error_code ec;
    auto sub = subscriber.subscribe("ordered", [&](message&& m) { got.push_back(std::stoi(m.payload)); }, ec);
    co_await subscriber.async_flush(asio::use_awaitable);

    server.kill();
    BOOST_REQUIRE(co_await wait_until([&] { return publisher.state() == connection_state::reconnecting; }));
    constexpr int n = 10000;
    for (int i = 0; i < n; ++i) BOOST_REQUIRE(!publisher.publish("ordered", std::to_string(i)));
    server.start();
    BOOST_REQUIRE(co_await wait_until([&] { return got.size() == static_cast<std::size_t>(n); }, 15s));
    bool in_order = true;
    for (int i = 0; i < n; ++i) in_order = in_order && got[static_cast<std::size_t>(i)] == i;
    BOOST_TEST(in_order);
    BOOST_TEST(policy_calls >= 1);
  });
}

BOOST_AUTO_TEST_CASE(reconnect_buffer_overflow_is_an_error) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = fast_reconnect(server);
    o.reconnect.buffer_bytes = 10 * 1024;
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    server.kill();
    BOOST_REQUIRE(co_await wait_until([&] { return c.state() == connection_state::reconnecting; }));
    int accepted = 0;
    error_code ec;
    for (int i = 0; i < 1000; ++i) {
      ec = c.publish("buf", std::string(100, 'b'));
      if (ec) break;
      ++accepted;
    }
    BOOST_TEST(ec == error::reconnect_buffer_full);
    BOOST_TEST(accepted > 50);
    BOOST_TEST(accepted < 100);
    BOOST_TEST(c.buffered_bytes() <= 10u * 1024u);
    // With the buffer disabled, publishing while disconnected says so.
    auto o2 = fast_reconnect(server);
    o2.reconnect.buffer_bytes = 0;
    o2.retry_on_failed_connect = true;
    connection d(ioc.get_executor(), o2);
    d.async_connect([](error_code) {});
    co_await sleep_for(50ms);
    BOOST_TEST(d.publish("x", "y") == error::not_connected);
  });
}

BOOST_AUTO_TEST_CASE(retry_on_failed_connect_waits_for_a_late_server) {
  int port = free_port();
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    options o;
    o.servers = {"nats://127.0.0.1:" + std::to_string(port)};
    o.retry_on_failed_connect = true;
    o.reconnect.wait = 100ms;
    o.reconnect.max_attempts_per_server = -1;
    event_log log;
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    bool connected = false;
    error_code result;
    c.async_connect([&](error_code ec) {
      connected = true;
      result = ec;
    });
    // Publishes made before the first connect are buffered too.
    co_await sleep_for(300ms);
    BOOST_TEST(!connected);
    BOOST_REQUIRE(!c.publish("early", "1"));
    // Each failed attempt was reported, with why and where.
    BOOST_TEST(log.count(event_kind::connect_failed) >= 2u);
    if (auto f = log.last(event_kind::connect_failed)) {
      BOOST_TEST(f->ec == asio::error::connection_refused);
      BOOST_TEST(f->server == o.servers[0]);
    }
    nats_server server({.port = port});
    BOOST_REQUIRE(co_await wait_until([&] { return connected; }, 5s));
    BOOST_TEST(!result);
    BOOST_TEST(log.count(event_kind::connected) == 1u);
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(c.stats().out_msgs == 1u);
  });
}

BOOST_AUTO_TEST_CASE(stale_connection_is_detected_and_recovered) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    auto o = fast_reconnect(server);
    o.ping_interval = 200ms;
    o.max_pings_out = 2;
    o.connect_timeout = 500ms;
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    server.pause();
    BOOST_REQUIRE(co_await wait_until([&] { return log.count(event_kind::disconnected) == 1u; }, 5s));
    BOOST_TEST(log.last(event_kind::disconnected)->ec == error::stale_connection);
    server.resume();
    BOOST_REQUIRE(co_await wait_until([&] { return c.is_connected(); }, 10s));
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(log.count(event_kind::reconnected) == 1u);
  });
}

BOOST_AUTO_TEST_CASE(same_auth_error_twice_stops_reconnecting) {
  nats_server server({.config = "authorization { user: bob, password: first }"});
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    auto o = fast_reconnect(server);
    o.auth.user = "bob";
    o.auth.password = "first";
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    server.stop();
    // Same port, new password: our credentials are now wrong for good.
    nats_server replacement({.port = server.port(), .config = "authorization { user: bob, password: second }"});
    BOOST_REQUIRE(co_await wait_until([&] { return c.state() == connection_state::closed; }, 10s));
    auto closed = log.last(event_kind::closed);
    BOOST_REQUIRE(closed);
    BOOST_TEST(closed->ec == error::authorization_violation);
  });
}

BOOST_AUTO_TEST_CASE(close_during_reconnect_returns_promptly) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = fast_reconnect(server);
    o.reconnect.wait = 5s;
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    int flush_calls = 0;
    server.kill();
    BOOST_REQUIRE(co_await wait_until([&] { return c.state() == connection_state::reconnecting; }));
    c.async_flush([&](error_code e) {
      ++flush_calls;
      BOOST_TEST(e == error::connection_closed);
    });
    co_await sleep_for(300ms);
    auto t0 = std::chrono::steady_clock::now();
    c.close();
    co_await sleep_for(20ms);
    BOOST_TEST(flush_calls == 1);
    BOOST_TEST(c.state() == connection_state::closed);
    BOOST_TEST((std::chrono::steady_clock::now() - t0) < 1s);
  });
}

BOOST_AUTO_TEST_CASE(cluster_failover_and_discovered_servers) {
  // Three servers in a cluster; the client knows only the first and learns the others from INFO.
  int p1 = free_port(), p2 = free_port(), p3 = free_port();
  int c1 = free_port(), c2 = free_port(), c3 = free_port();
  auto routes = "routes: [nats-route://127.0.0.1:" + std::to_string(c1) + ", nats-route://127.0.0.1:" +
                std::to_string(c2) + ", nats-route://127.0.0.1:" + std::to_string(c3) + "]";
  auto cluster = [&](int cport, const char* name) {
    return std::string("server_name: ") + name + "\ncluster { name: test, listen: 127.0.0.1:" +
           std::to_string(cport) + ", " + routes + " }";
  };
  nats_server s1({.port = p1, .config = cluster(c1, "n1")});
  nats_server s2({.port = p2, .config = cluster(c2, "n2")});
  nats_server s3({.port = p3, .config = cluster(c3, "n3")});
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    options o;
    o.servers = {s1.url()};
    o.reconnect.wait = 100ms;
    o.reconnect.jitter = 10ms;
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    BOOST_REQUIRE(co_await wait_until([&] { return log.count(event_kind::servers_discovered) > 0; }, 10s));
    // A subscriber on another node keeps listening while we fail over.
    options other;
    other.servers = {s3.url()};
    connection listener(ioc.get_executor(), other);
    co_await connect_or_throw(listener);
    int got = 0;
    error_code ec;
    auto sub = listener.subscribe("fo", [&](message&&) { ++got; }, ec);
    co_await listener.async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await wait_until([&] {
      c.publish("fo", "probe");
      return got > 0;
    }, 10s));
    auto first_url = c.connected_url();
    BOOST_TEST(first_url == s1.url());
    auto t0 = std::chrono::steady_clock::now();
    s1.kill();
    BOOST_REQUIRE(co_await wait_until([&] { return log.count(event_kind::reconnected) == 1u; }, 5s));
    BOOST_TEST((std::chrono::steady_clock::now() - t0) < 2s);
    BOOST_TEST(c.connected_url() != first_url);
    int before = got;
    c.publish("fo", "after failover");
    co_await c.async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await wait_until([&] { return got > before; }, 5s));
  });
}

BOOST_AUTO_TEST_CASE(lame_duck_mode_is_reported) {
  nats_server server({.config = "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\""});
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    auto o = fast_reconnect(server);
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    server.lame_duck();
    BOOST_REQUIRE(co_await wait_until([&] { return log.count(event_kind::lame_duck) == 1u; }, 10s));
    BOOST_TEST(log.last(event_kind::lame_duck)->ec == error::lame_duck);
  });
}

BOOST_AUTO_TEST_CASE(connect_timeout_stops_stalled_handshakes) {
  // A peer that accepts TCP and then says nothing: the INFO wait, the WebSocket upgrade and a
  // TLS-first handshake must all end with connect_timeout, and close() must stop them too.
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    asio::ip::tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    std::vector<asio::ip::tcp::socket> held;
    std::function<void()> accept_next = [&] {
      acceptor.async_accept([&](error_code ec, asio::ip::tcp::socket s) {
        if (ec) return;
        held.push_back(std::move(s));
        accept_next();
      });
    };
    accept_next();
    const auto port = std::to_string(acceptor.local_endpoint().port());
    for (std::string url : {"nats://127.0.0.1:" + port, "ws://127.0.0.1:" + port, "tls://127.0.0.1:" + port}) {
      options o;
      o.servers = {url};
      o.connect_timeout = 300ms;
      o.tls.handshake_first = true;
      connection c(ioc.get_executor(), o);
      auto t0 = std::chrono::steady_clock::now();
      auto [ec] = co_await c.async_connect(asio::as_tuple(asio::use_awaitable));
      BOOST_TEST(ec == error::connect_timeout, url << ": " << ec.message());
      BOOST_TEST((std::chrono::steady_clock::now() - t0) < 2s, url);
    }
    // close() during a stalled WebSocket handshake returns promptly and completes the connect.
    options o;
    o.servers = {"ws://127.0.0.1:" + port};
    o.connect_timeout = 30s;
    connection c(ioc.get_executor(), o);
    bool done = false;
    error_code result;
    c.async_connect([&](error_code ec) {
      done = true;
      result = ec;
    });
    co_await sleep_for(200ms);
    BOOST_TEST(!done);
    c.close();
    BOOST_REQUIRE(co_await wait_until([&] { return done; }, 2s));
    BOOST_TEST(result == error::connection_closed);
    acceptor.close();
  });
}
