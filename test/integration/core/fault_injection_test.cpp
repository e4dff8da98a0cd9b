// Network errors injected at every protocol step (reliability U1) and cancellation at every suspension
// point (U2), against a real nats-server with JetStream.
//
// U1: a scenario (connect, subscribe, publish+flush, request, JetStream publish, fetch+ack) runs once
// through a clean proxy to learn where each protocol line starts and ends, then again with the proxy
// cutting the connection just before, at and after every line boundary and in the middle of every
// line, in both directions. Every operation's handler must be called exactly once, the connection must
// end in a defined state, and after close() the io_context must run out of work (no timer or
// operation left behind). With reconnect on, the connection must also recover and work afterwards.
//
// U2: each operation is started with a cancellation slot and cancelled after k steps of the
// io_context, for every k until it completes by itself: the handler runs exactly once, with success
// or operation_aborted, and the connection keeps working.
#define BOOST_TEST_MODULE fault_injection
#include <boost/test/unit_test.hpp>

#include "fault_proxy.hpp"
#include "test_util.hpp"

#include <nats/js/jetstream.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <algorithm>
#include <set>

using namespace nats;
using namespace nats::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* stream_name = "U1";
constexpr const char* consumer_name = "U1C";

/// Records how often a completion handler ran and with what error.
struct call_record {
  int calls = 0;
  error_code ec;
};

/// Waits (polling the io_context's clock, not blocking it) until `r` has been called or `limit` passes.
asio::awaitable<bool> called(const call_record& r, std::chrono::milliseconds limit = 5s) {
  // Polls every millisecond (not the default 10 ms): the sweep runs this hundreds of times.
  co_return co_await wait_until([&] { return r.calls > 0; }, limit, 1ms);
}

/// The server side of the scenario: a JetStream server, a stream and consumer, and an echo
/// responder on its own direct connection (not through the proxy).
struct backend {
  nats_server server{server_options{.jetstream = true}};

  backend() {
    run_test([this](asio::io_context&) -> asio::awaitable<void> {
      connection c(co_await asio::this_coro::executor, options_for(server));
      co_await connect_or_throw(c);
      js::context js(c);
      js::stream_config sc;
      sc.name = stream_name;
      sc.subjects = {"u1.js.>"};
      sc.storage = js::storage_type::memory;
      auto [sec, si] = co_await js.async_add_stream(sc, asio::as_tuple(asio::use_awaitable));
      BOOST_REQUIRE_MESSAGE(!sec, sec.message());
      js::consumer_config cc;
      cc.durable_name = consumer_name;
      auto [cec, ci] = co_await js.async_add_consumer(stream_name, cc, asio::as_tuple(asio::use_awaitable));
      BOOST_REQUIRE_MESSAGE(!cec, cec.message());
      c.close();
    });
  }
};

struct scenario_result {
  std::vector<std::pair<std::string, call_record>> ops;
  connection_state end_state = connection_state::disconnected;
  bool recovered = false;   // reconnect mode: a request after the fault succeeded
  bool work_left = false;   // the io_context still had work after close()
  bool finished = false;
  std::string detail;       // what happened, for failure messages
};

/// Runs the scenario through `proxy_url` on a fresh io_context. `responder_url` is the direct URL.
/// `mark` runs after the scenario's own operations, before the checks that follow a fault.
scenario_result run_scenario(const std::string& proxy_url, const std::string& direct_url, bool reconnect, int run,
                             const std::function<void()>& mark = {}) {
  scenario_result res;
  asio::io_context ioc;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        // Echo responder on a direct connection.
        options ro;
        ro.servers = {direct_url};
        connection responder(ex, ro);
        co_await connect_or_throw(responder);
        error_code sec;
        auto echo = responder.subscribe("u1.echo", [&](message m) { (void)responder.publish(m.reply, m.payload); }, sec);
        BOOST_REQUIRE(!sec);
        auto [fec] = co_await responder.async_flush(asio::as_tuple(asio::use_awaitable));
        BOOST_REQUIRE(!fec);

        options o;
        o.servers = {proxy_url};
        o.connect_timeout = 1s;
        o.reconnect.enabled = reconnect;
        o.retry_on_failed_connect = reconnect;
        o.reconnect.wait = 10ms;
        o.reconnect.jitter = 0ms;
        o.reconnect.randomize = false;
        connection c(ex, o);
        auto step = [&](std::string name) -> call_record& {
          res.ops.emplace_back(std::move(name), call_record{});
          return res.ops.back().second;
        };

        auto& conn_r = step("connect");
        c.async_connect([&](error_code ec) { ++conn_r.calls, conn_r.ec = ec; });
        co_await called(conn_r);

        int got = 0;
        auto sub = c.subscribe("u1.sub", [&](message) { ++got; }, sec);
        (void)c.publish("u1.sub", "x");
        auto& flush_r = step("flush");
        c.async_flush([&](error_code ec) { ++flush_r.calls, flush_r.ec = ec; });
        co_await called(flush_r);

        auto& req_r = step("request");
        c.async_request("u1.echo", "ping", 1s, [&](error_code ec, message) { ++req_r.calls, req_r.ec = ec; });
        co_await called(req_r);

        js::context_options jo;
        jo.timeout = 1s;
        js::context js(c, jo);
        js::publish_options po;
        char id[32];
        std::snprintf(id, sizeof id, "run-%06d", run);
        po.msg_id = id;
        po.retry_attempts = 0;
        auto& pub_r = step("js publish");
        js.async_publish("u1.js.a", headers{}, "payload", po, [&](error_code ec, js::pub_ack) { ++pub_r.calls, pub_r.ec = ec; });
        co_await called(pub_r);

        js::fetch_options fo;
        fo.batch = 1;
        fo.expires = 200ms;
        auto& fetch_r = step("fetch");
        std::vector<message> fetched;
        js::async_fetch(js, stream_name, consumer_name, fo, [&](error_code ec, std::vector<message> ms) {
          ++fetch_r.calls, fetch_r.ec = ec;
          fetched = std::move(ms);
        });
        co_await called(fetch_r);
        for (auto& m : fetched) (void)js::ack(c, m);
        auto& ack_flush = step("flush after ack");
        c.async_flush([&](error_code ec) { ++ack_flush.calls, ack_flush.ec = ec; });
        co_await called(ack_flush);
        if (mark) mark();

        if (reconnect) {
          // Whatever was cut, the connection comes back and works.
          co_await wait_until([&] { return c.is_connected(); }, 5s);
          // The cut may fall on this very request (its PUB half-written when the link dies): then it
          // times out, as a request whose reply can no longer arrive must, and the next one works.
          auto& first = step("request after fault");
          c.async_request("u1.echo", "again", 1s, [&](error_code ec, message) { ++first.calls, first.ec = ec; });
          co_await called(first);
          if (first.ec && first.ec != error::timeout) res.detail += "unexpected error on the request after the fault; ";
          co_await wait_until([&] { return c.is_connected(); }, 5s);
          auto& again = step("second request after fault");
          c.async_request("u1.echo", "again", 2s, [&](error_code ec, message) { ++again.calls, again.ec = ec; });
          co_await called(again);
          // The subscription made before the fault was restored.
          const int before = got;
          (void)responder.publish("u1.sub", "y");
          const bool restored = co_await wait_until([&] { return got > before; }, 2s);
          res.recovered = again.calls == 1 && !again.ec && restored && (!first.ec || first.ec == error::timeout);
          if (!restored) res.detail += "subscription not restored; ";
        }
        // Give a handler that would run twice the chance to do so.
        co_await sleep_for(5ms);
        res.end_state = c.state();
        c.close();
        responder.close();
        res.finished = true;
      },
      [&](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            BOOST_ERROR("scenario threw: " << x.what());
          }
        }
      });
  ioc.run_for(30s);
  res.work_left = !ioc.stopped();
  return res;
}

/// Where to cut: 0, and around every CRLF-terminated line (start-1, start, start+1, the middle).
std::vector<std::size_t> cut_points(const std::string& transcript) {
  std::set<std::size_t> pts{0, 1};
  std::size_t start = 0;
  while (start < transcript.size()) {
    auto end = transcript.find("\r\n", start);
    if (end == std::string::npos) break;
    end += 2;
    if (start > 0) pts.insert(start - 1);
    pts.insert(start);
    pts.insert(start + 1);
    pts.insert(start + (end - start) / 2);
    start = end;
  }
  std::vector<std::size_t> out;
  for (auto p : pts)
    if (p < transcript.size()) out.push_back(p);
  return out;
}

void check_run(const scenario_result& r, bool reconnect, const std::string& where) {
  std::string detail = r.detail;
  for (auto& [name, rec] : r.ops) detail += name + ": " + (rec.ec ? rec.ec.message() : "ok") + "; ";
  BOOST_TEST_CONTEXT(where << " (" << detail << ")") {
    BOOST_TEST(r.finished);
    for (auto& [name, rec] : r.ops) {
      BOOST_TEST_CONTEXT(name) { BOOST_TEST(rec.calls == 1); }
    }
    BOOST_TEST(!r.work_left);  // close() left no timer or pending operation behind
    if (reconnect) {
      BOOST_TEST(r.recovered);
      BOOST_TEST(r.end_state == connection_state::connected);
    } else {
      BOOST_TEST((r.end_state == connection_state::connected || r.end_state == connection_state::closed ||
                  r.end_state == connection_state::disconnected));
    }
  }
}

void sweep(bool reconnect) {
  backend b;
  // A clean run records the transcript of the single connection.
  std::string c2s, s2c;
  {
    fault_proxy clean(b.server.port());
    // Cuts go only where the scenario's own operations are; the checks after it are not the subject.
    auto r = run_scenario(clean.url(), b.server.url(), reconnect, 0, [&] {
      c2s = clean.transcript(0, direction::client_to_server);
      s2c = clean.transcript(0, direction::server_to_client);
    });
    check_run(r, reconnect, "clean run");
    for (auto& [name, rec] : r.ops) BOOST_TEST_CONTEXT(name) { BOOST_TEST(!rec.ec); }
    BOOST_REQUIRE_EQUAL(clean.connections(), 1u);
  }
  BOOST_REQUIRE(c2s.find("CONNECT ") == 0);
  BOOST_REQUIRE(s2c.find("INFO ") == 0);
  int run = 1, cuts = 0, failed_ops = 0;
  for (auto dir : {direction::client_to_server, direction::server_to_client}) {
    const auto& t = dir == direction::client_to_server ? c2s : s2c;
    for (auto at : cut_points(t)) {
      fault_proxy proxy(b.server.port(), cut_rule{0, dir, at});
      auto r = run_scenario(proxy.url(), b.server.url(), reconnect, run++);
      cuts += proxy.cut_happened();
      for (auto& [name, rec] : r.ops) failed_ops += rec.ec ? 1 : 0;
      check_run(r, reconnect,
                std::string(dir == direction::client_to_server ? "client->server" : "server->client") +
                    " cut after " + std::to_string(at) + " bytes");
    }
  }
  BOOST_TEST_MESSAGE("runs: " << run - 1 << ", cuts made: " << cuts << ", operations that failed: " << failed_ops);
  BOOST_TEST(cuts >= run / 2);  // the sweep really did cut connections
  if (!reconnect) BOOST_TEST(failed_ops > 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(network_error_at_every_step_without_reconnect) { sweep(false); }

BOOST_AUTO_TEST_CASE(network_error_at_every_step_with_reconnect) { sweep(true); }

// ---------------------------------------------------------------------------------------------
// U2: cancellation at every suspension point.

namespace {

/// Runs one handler (waiting up to 100 ms for one); an io_context that ran out of work is restarted.
int step_once(asio::io_context& ioc) {
  if (ioc.stopped()) ioc.restart();
  return static_cast<int>(ioc.run_one_for(100ms));
}

/// Starts an operation with a cancellation slot, runs `k` handlers of the io_context, cancels, then
/// runs until the handler ran; for k = 0, 1, 2, ... until the operation completes before the cancel.
template <class Start>
void cancel_sweep(const std::string& what, asio::io_context& ioc, Start start, std::set<error_code> allowed_errors = {}) {
  int k = 0;
  for (;; ++k) {
    asio::cancellation_signal sig;
    call_record r;
    start(sig.slot(), r);
    int steps = 0;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (r.calls == 0 && steps < k && std::chrono::steady_clock::now() < deadline) steps += step_once(ioc);
    const bool completed_alone = r.calls > 0;
    if (!completed_alone) sig.emit(asio::cancellation_type::terminal);
    deadline = std::chrono::steady_clock::now() + 10s;
    while (r.calls == 0 && std::chrono::steady_clock::now() < deadline) step_once(ioc);
    if (ioc.stopped()) ioc.restart();
    ioc.poll();  // anything that would call the handler a second time
    BOOST_TEST_CONTEXT(what << " cancelled after " << k << " steps") {
      BOOST_TEST(r.calls == 1);
      const bool ok = !r.ec || r.ec == asio::error::operation_aborted || allowed_errors.count(r.ec);
      BOOST_TEST(ok, "unexpected error: " << r.ec.message());
    }
    if (completed_alone || k > 200) break;
  }
  BOOST_TEST_MESSAGE(what << ": cancelled at " << k << " points before it completed by itself");
}

}  // namespace

BOOST_AUTO_TEST_CASE(cancellation_at_every_suspension_point) {
  backend b;
  asio::io_context ioc;
  options o = options_for(b.server);

  // connect, cancelled at every step (a fresh connection each time, dropped afterwards).
  {
    std::unique_ptr<connection> attempt;
    cancel_sweep("connect", ioc, [&](asio::cancellation_slot slot, call_record& r) {
      attempt = std::make_unique<connection>(ioc.get_executor(), o);
      attempt->async_connect(asio::bind_cancellation_slot(slot, [&r](error_code ec) { ++r.calls, r.ec = ec; }));
    });
    attempt.reset();
  }
  connection c(ioc.get_executor(), o);
  {
    call_record r;
    c.async_connect([&](error_code ec) { ++r.calls, r.ec = ec; });
    while (r.calls == 0) step_once(ioc);
    BOOST_REQUIRE(!r.ec);
  }
  error_code sec;
  auto responder_sub = std::make_unique<subscription>(c.subscribe("u2.echo", [&](message m) { (void)c.publish(m.reply, m.payload); }, sec));
  BOOST_REQUIRE(!sec);

  cancel_sweep("flush", ioc, [&](asio::cancellation_slot slot, call_record& r) {
    c.async_flush(asio::bind_cancellation_slot(slot, [&r](error_code ec) { ++r.calls, r.ec = ec; }));
  });
  cancel_sweep("request", ioc, [&](asio::cancellation_slot slot, call_record& r) {
    c.async_request("u2.echo", "x", 2s, asio::bind_cancellation_slot(slot, [&r](error_code ec, message) { ++r.calls, r.ec = ec; }));
  });
  {
    auto sub = c.subscribe("u2.next", sec);
    BOOST_REQUIRE(!sec);
    cancel_sweep("next", ioc, [&](asio::cancellation_slot slot, call_record& r) {
      (void)c.publish("u2.next", "m");
      sub.async_next(asio::bind_cancellation_slot(slot, [&r](error_code ec, message) { ++r.calls, r.ec = ec; }));
    });
  }
  js::context js(c);
  cancel_sweep("js publish", ioc, [&](asio::cancellation_slot slot, call_record& r) {
    js.async_publish("u1.js.c", headers{}, "p", js::publish_options{},
                     asio::bind_cancellation_slot(slot, [&r](error_code ec, js::pub_ack) { ++r.calls, r.ec = ec; }));
  });
  cancel_sweep("fetch", ioc, [&](asio::cancellation_slot slot, call_record& r) {
    js::fetch_options fo;
    fo.batch = 1;
    fo.expires = 1s;
    js::async_fetch(js, stream_name, consumer_name, fo,
                    asio::bind_cancellation_slot(slot, [&r, &c](error_code ec, std::vector<message> ms) {
                      ++r.calls, r.ec = ec;
                      for (auto& m : ms) (void)js::ack(c, m);
                    }));
  });

  // After all of that the connection still answers requests.
  call_record last;
  c.async_request("u2.echo", "final", 2s, [&](error_code ec, message m) {
    ++last.calls, last.ec = ec;
    BOOST_TEST(m.payload == "final");
  });
  for (auto deadline = std::chrono::steady_clock::now() + 10s; last.calls == 0 && std::chrono::steady_clock::now() < deadline;)
    step_once(ioc);
  BOOST_TEST(!last.ec);
  responder_sub.reset();
  c.close();
  ioc.run_for(200ms);
  BOOST_TEST(ioc.stopped());
}
