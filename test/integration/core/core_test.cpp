// Core client against a real nats-server: publish/subscribe, headers, queue groups, requests,
// flush, auto-unsubscribe, pending limits, max_payload, auth failures, drain, cancellation,
// and the three completion styles (callbacks, use_awaitable, use_future).
#define BOOST_TEST_MODULE core_integration
#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

using namespace nats;
using namespace nats::test;

BOOST_AUTO_TEST_CASE(publish_subscribe_round_trip) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    auto o = options_for(server);
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    BOOST_TEST(c.is_connected());
    BOOST_TEST(log.count(event_kind::connected) == 1u);
    BOOST_TEST(c.server_info().version == "2.9.10");

    error_code ec;
    auto sub = c.subscribe("greet.*", ec);
    BOOST_REQUIRE(!ec);
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 100; ++i) {
      BOOST_REQUIRE(!c.publish("greet." + std::to_string(i), "hello " + std::to_string(i)));
    }
    for (int i = 0; i < 100; ++i) {
      auto m = co_await sub.async_next(asio::use_awaitable);
      BOOST_TEST(m.subject == "greet." + std::to_string(i));
      BOOST_TEST(m.payload == "hello " + std::to_string(i));
      BOOST_TEST(m.reply.empty());
      BOOST_TEST(!m.has_headers);
    }
    BOOST_TEST(sub.delivered() == 100u);
    // A subject that does not match is not delivered.
    BOOST_REQUIRE(!c.publish("other.x", "nope"));
    BOOST_REQUIRE(!c.publish("greet.last", "yes"));
    auto m = co_await sub.async_next(asio::use_awaitable);
    BOOST_TEST(m.subject == "greet.last");
  });
}

BOOST_AUTO_TEST_CASE(headers_and_reply_subjects) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    error_code ec;
    auto sub = c.subscribe("h.>", ec);
    BOOST_REQUIRE(!ec);
    co_await c.async_flush(asio::use_awaitable);
    headers h;
    h.add("X-Trace", "abc");
    h.add("X-Multi", "one");
    h.add("X-Multi", "two");
    BOOST_REQUIRE(!c.publish("h.a.b", h, "body", "reply.here"));
    BOOST_REQUIRE(!c.publish("h.empty", h, ""));
    auto m = co_await sub.async_next(asio::use_awaitable);
    BOOST_TEST(m.has_headers);
    BOOST_TEST(m.subject == "h.a.b");
    BOOST_TEST(m.reply == "reply.here");
    BOOST_TEST(m.payload == "body");
    BOOST_TEST(std::string(m.headers.get("x-trace").value_or("")) == "abc");
    auto multi = m.headers.get_all("X-Multi");
    BOOST_REQUIRE(multi.size() == 2u);
    BOOST_TEST(std::string(multi[0]) == "one");
    BOOST_TEST(std::string(multi[1]) == "two");
    auto m2 = co_await sub.async_next(asio::use_awaitable);
    BOOST_TEST(m2.payload.empty());
    BOOST_TEST(m2.has_headers);
  });
}

BOOST_AUTO_TEST_CASE(invalid_subjects_are_rejected) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    BOOST_TEST(c.publish("", "x") == error::invalid_subject);
    BOOST_TEST(c.publish("a..b", "x") == error::invalid_subject);
    BOOST_TEST(c.publish("a.*", "x") == error::invalid_subject);
    BOOST_TEST(c.publish("a b", "x") == error::invalid_subject);
    error_code ec;
    auto s1 = c.subscribe("a.>.b", ec);
    BOOST_TEST(ec == error::invalid_subject);
    BOOST_TEST(!s1.valid());
    auto s2 = c.subscribe("ok", ec, subscribe_options{.queue_group = "bad queue"});
    BOOST_TEST(ec == error::invalid_queue_group);
    // The connection is still usable.
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(c.is_connected());
  });
}

BOOST_AUTO_TEST_CASE(queue_group_delivers_each_message_once) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    int a = 0, b = 0;
    error_code ec;
    auto s1 = c.subscribe("work", [&](message&&) { ++a; }, ec, {.queue_group = "workers"});
    auto s2 = c.subscribe("work", [&](message&&) { ++b; }, ec, {.queue_group = "workers"});
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 200; ++i) BOOST_REQUIRE(!c.publish("work", "job"));
    co_await c.async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await wait_until([&] { return a + b == 200; }));
    BOOST_TEST(a + b == 200);
    BOOST_TEST(a > 0);
    BOOST_TEST(b > 0);
  });
}

BOOST_AUTO_TEST_CASE(request_reply_no_responders_and_timeout) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection responder(ioc.get_executor(), options_for(server));
    connection requester(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(responder);
    co_await connect_or_throw(requester);
    error_code ec;
    auto svc = responder.subscribe(
        "svc.echo", [&](message&& m) { responder.publish(m.reply, "echo:" + m.payload); }, ec);
    BOOST_REQUIRE(!ec);
    // A responder that never answers.
    auto silent = responder.subscribe("svc.silent", [](message&&) {}, ec);
    co_await responder.async_flush(asio::use_awaitable);

    for (int i = 0; i < 50; ++i) {
      auto reply = co_await requester.async_request("svc.echo", std::to_string(i), 2s, asio::use_awaitable);
      BOOST_TEST(reply.payload == "echo:" + std::to_string(i));
    }
    auto [nec, nm] = co_await requester.async_request("svc.nobody", "x", 2s, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(nec == error::no_responders);
    auto t0 = std::chrono::steady_clock::now();
    auto [tec, tm] = co_await requester.async_request("svc.silent", "x", 300ms, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(tec == error::timeout);
    BOOST_TEST((std::chrono::steady_clock::now() - t0) >= 290ms);
    // Requests with headers; many in flight at once over the shared inbox.
    int done = 0;
    for (int i = 0; i < 100; ++i) {
      requester.async_request("svc.echo", std::to_string(i), 5s, [&, i](error_code e, message m) {
        BOOST_TEST(!e);
        BOOST_TEST(m.payload == "echo:" + std::to_string(i));
        ++done;
      });
    }
    BOOST_REQUIRE(co_await wait_until([&] { return done == 100; }));
  });
}

BOOST_AUTO_TEST_CASE(auto_unsubscribe_stops_after_n) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    error_code ec;
    auto sub = c.subscribe("n", ec, {.max_messages = 5});
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 10; ++i) c.publish("n", std::to_string(i));
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 5; ++i) {
      auto m = co_await sub.async_next(asio::use_awaitable);
      BOOST_TEST(m.payload == std::to_string(i));
    }
    auto [e, m] = co_await sub.async_next(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(e == error::subscription_closed);
    BOOST_TEST(sub.delivered() == 5u);

    // auto_unsubscribe on a live subscription counts what was already delivered.
    auto sub2 = c.subscribe("m", ec);
    co_await c.async_flush(asio::use_awaitable);
    c.publish("m", "a");
    c.publish("m", "b");
    co_await sub2.async_next(asio::use_awaitable);
    co_await sub2.async_next(asio::use_awaitable);
    BOOST_REQUIRE(!sub2.auto_unsubscribe(3));
    for (int i = 0; i < 5; ++i) c.publish("m", "more");
    co_await c.async_flush(asio::use_awaitable);
    auto third = co_await sub2.async_next(asio::use_awaitable);
    BOOST_TEST(third.payload == "more");
    auto [e2, m2] = co_await sub2.async_next(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(e2 == error::subscription_closed);
  });
}

BOOST_AUTO_TEST_CASE(slow_consumer_is_bounded_and_reported_once_per_episode) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    event_log log;
    auto o = options_for(server);
    o.on_event = log.handler();
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    error_code ec;
    auto sub = c.subscribe("flood", ec, {.pending_msgs_limit = 100, .pending_bytes_limit = 1 << 20});
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 1000; ++i) c.publish("flood", std::string(100, 'x'));
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(sub.pending_messages() == 100u);
    BOOST_TEST(sub.dropped() == 900u);
    BOOST_TEST(log.count(event_kind::slow_consumer) == 1u);
    BOOST_TEST(c.is_connected());
    // Drain the backlog: the episode ends; a new flood is a new episode.
    for (int i = 0; i < 100; ++i) co_await sub.async_next(asio::use_awaitable);
    for (int i = 0; i < 300; ++i) c.publish("flood", "y");
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(log.count(event_kind::slow_consumer) == 2u);
    // Byte limit.
    auto sub2 = c.subscribe("big", ec, {.pending_msgs_limit = 1000, .pending_bytes_limit = 10000});
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 20; ++i) c.publish("big", std::string(1000, 'z'));
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(sub2.pending_bytes() <= 10000u);
    BOOST_TEST(sub2.dropped() == 10u);
  });
}

BOOST_AUTO_TEST_CASE(max_payload_is_enforced) {
  nats_server server({.config = "max_payload: 1024"});
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    BOOST_TEST(c.server_info().max_payload == 1024);
    BOOST_TEST(c.publish("p", std::string(1024, 'a')) == error_code{});
    BOOST_TEST(c.publish("p", std::string(1025, 'a')) == error::max_payload_exceeded);
    headers h;
    h.add("K", "V");
    BOOST_TEST(c.publish("p", h, std::string(1020, 'a')) == error::max_payload_exceeded);
    co_await c.async_flush(asio::use_awaitable);
    BOOST_TEST(c.is_connected());
  });
}

BOOST_AUTO_TEST_CASE(wrong_password_gives_authorization_violation) {
  nats_server server({.config = "authorization { user: alice, password: s3cret }"});
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = options_for(server);
    o.auth.user = "alice";
    o.auth.password = "Pw-XYZZY-7";
    connection bad(ioc.get_executor(), o);
    auto [ec] = co_await bad.async_connect(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec == error::authorization_violation);
    BOOST_TEST(ec.message().find("authorization") != std::string::npos);
    BOOST_TEST(ec.message().find("XYZZY") == std::string::npos);  // no secret in the text
    BOOST_TEST(bad.last_error_text().find("XYZZY") == std::string::npos);
    BOOST_TEST(bad.state() == connection_state::closed);

    o.auth.password = "s3cret";
    connection good(ioc.get_executor(), o);
    co_await connect_or_throw(good);
    // Credentials in the URL work too.
    auto o2 = options_for(server);
    o2.servers = {"nats://alice:s3cret@127.0.0.1:" + std::to_string(server.port())};
    connection url_auth(ioc.get_executor(), o2);
    co_await connect_or_throw(url_auth);
    BOOST_TEST(url_auth.connected_url().find("s3cret") == std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(unreachable_server_fails_fast_without_retry) {
  int port = free_port();
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    options o;
    o.servers = {"nats://127.0.0.1:" + std::to_string(port)};
    connection c(ioc.get_executor(), o);
    auto [ec] = co_await c.async_connect(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec == asio::error::connection_refused);
    BOOST_TEST(c.state() == connection_state::closed);
    BOOST_TEST(c.publish("x", "y") == error::connection_closed);
  });
}

BOOST_AUTO_TEST_CASE(drain_delivers_queued_messages_then_closes) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    connection pub(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    co_await connect_or_throw(pub);
    error_code ec;
    auto sub = c.subscribe("d", ec);
    co_await c.async_flush(asio::use_awaitable);
    for (int i = 0; i < 50; ++i) pub.publish("d", std::to_string(i));
    co_await pub.async_flush(asio::use_awaitable);
    co_await c.async_drain(asio::use_awaitable);
    BOOST_TEST(c.state() == connection_state::closed);
    for (int i = 0; i < 50; ++i) {
      auto m = co_await sub.async_next(asio::use_awaitable);
      BOOST_TEST(m.payload == std::to_string(i));
    }
    auto [e, m] = co_await sub.async_next(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(e == error::subscription_closed);
  });
}

BOOST_AUTO_TEST_CASE(cancellation_completes_once_with_operation_aborted) {
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    error_code ec;
    auto silent = c.subscribe("quiet", [](message&&) {}, ec);
    auto sub = c.subscribe("never", ec);
    co_await c.async_flush(asio::use_awaitable);

    asio::cancellation_signal req_sig, next_sig;
    int req_calls = 0, next_calls = 0;
    error_code req_ec, next_ec;
    c.async_request("quiet", "x", 10s, asio::bind_cancellation_slot(req_sig.slot(), [&](error_code e, message) {
                      ++req_calls;
                      req_ec = e;
                    }));
    sub.async_next(asio::bind_cancellation_slot(next_sig.slot(), [&](error_code e, message) {
      ++next_calls;
      next_ec = e;
    }));
    co_await sleep_for(50ms);
    req_sig.emit(asio::cancellation_type::terminal);
    next_sig.emit(asio::cancellation_type::terminal);
    co_await sleep_for(50ms);
    BOOST_TEST(req_calls == 1);
    BOOST_TEST(next_calls == 1);
    BOOST_TEST(req_ec == asio::error::operation_aborted);
    BOOST_TEST(next_ec == asio::error::operation_aborted);
    // A later message is still delivered to the next waiter.
    c.publish("never", "now");
    auto m = co_await sub.async_next(asio::use_awaitable);
    BOOST_TEST(m.payload == "now");
    // Pending operations complete with connection_closed on close().
    int closed_calls = 0;
    c.async_request("quiet", "x", 10s, [&](error_code e, message) {
      ++closed_calls;
      BOOST_TEST(e == error::connection_closed);
    });
    sub.async_next([&](error_code e, message) {
      ++closed_calls;
      BOOST_TEST(e == error::subscription_closed);
    });
    co_await sleep_for(20ms);
    c.close();
    co_await sleep_for(20ms);
    BOOST_TEST(closed_calls == 2);
  });
}

BOOST_AUTO_TEST_CASE(use_future_and_plain_callbacks_work) {
  nats_server server;
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  // The connection is used from its executor only; this thread hops there with post + use_future.
  auto on_io = [&](auto fn) { return asio::post(ioc, asio::use_future(std::move(fn))).get(); };
  auto c = std::make_unique<connection>(ioc.get_executor(), options_for(server));
  auto connected = on_io([&] { return c->async_connect(asio::use_future); });
  BOOST_REQUIRE(connected.wait_for(5s) == std::future_status::ready);
  connected.get();  // throws on error
  subscription svc;
  error_code sub_ec = on_io([&] {
    error_code ec;
    svc = c->subscribe("svc", [&](message&& m) { c->publish(m.reply, "pong:" + m.payload); }, ec);
    return ec;
  });
  BOOST_REQUIRE(!sub_ec);
  auto reply = on_io([&] { return c->async_request("svc", "ping", 5s, asio::use_future); });
  BOOST_REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  BOOST_TEST(reply.get().payload == "pong:ping");
  // A plain callback.
  std::promise<error_code> flushed;
  on_io([&] { c->async_flush([&](error_code e) { flushed.set_value(e); }); });
  auto f = flushed.get_future();
  BOOST_REQUIRE(f.wait_for(5s) == std::future_status::ready);
  BOOST_TEST(!f.get());
  // Errors come out of use_future as exceptions.
  auto failing = on_io([&] { return c->async_request("nobody.home", "x", 2s, asio::use_future); });
  BOOST_CHECK_THROW(failing.get(), boost::system::system_error);
  on_io([&] {
    svc = subscription{};
    c.reset();
  });
  work.reset();
  runner.join();
}
