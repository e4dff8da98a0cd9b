// WebSocket transport against a real nats-server: ws:// (no_tls) and wss:// with certificates made
// at test time, large payloads across frames, a path in the URL, errors, and reconnect over ws.
#define BOOST_TEST_MODULE security_ws
#include "security_util.hpp"

#include <functional>

using namespace nats;
using namespace nats::test;

namespace {

struct ws_server_options {
  int ws_port = free_port();
  server_options so;
};

ws_server_options plain_ws() {
  ws_server_options w;
  w.so.config = "websocket {\n  host: 127.0.0.1\n  port: " + std::to_string(w.ws_port) + "\n  no_tls: true\n}\n";
  return w;
}

ws_server_options secure_ws(const cert_set& certs, bool verify_clients = false) {
  ws_server_options w;
  w.so.config = "websocket {\n  host: 127.0.0.1\n  port: " + std::to_string(w.ws_port) + "\n  tls {\n" +
                "    cert_file: \"" + certs.server_cert_file + "\"\n" + "    key_file: \"" + certs.server_key_file +
                "\"\n" + "    ca_file: \"" + certs.ca_file + "\"\n" + (verify_clients ? "    verify: true\n" : "") +
                "  }\n}\n";
  return w;
}

options ws_client(const std::string& url) {
  options o;
  o.servers = {url};
  o.name = "ws-test";
  o.connect_timeout = 5s;
  return o;
}

std::string ws_url(const std::string& scheme, const std::string& host, int port, const std::string& path = "") {
  return scheme + "://" + host + ":" + std::to_string(port) + path;
}

}  // namespace

BOOST_AUTO_TEST_CASE(ws_round_trip) {
  auto w = plain_ws();
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), ws_client(ws_url("ws", "127.0.0.1", w.ws_port)));
    co_await connect_or_throw(c);
    co_await round_trip(c, "ws.plain");
  });
}

BOOST_AUTO_TEST_CASE(ws_with_a_path_and_plain_tcp_clients_on_the_same_server) {
  auto w = plain_ws();
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection ws(ioc.get_executor(), ws_client(ws_url("ws", "localhost", w.ws_port, "/nats")));
    connection tcp(ioc.get_executor(), ws_client(server.url()));
    co_await connect_or_throw(ws);
    co_await connect_or_throw(tcp);
    error_code ec;
    auto from_tcp = ws.subscribe("mix.to_ws", ec);
    BOOST_REQUIRE(!ec);
    auto from_ws = tcp.subscribe("mix.to_tcp", ec);
    BOOST_REQUIRE(!ec);
    co_await ws.async_flush(asio::use_awaitable);
    co_await tcp.async_flush(asio::use_awaitable);
    for (int i = 0; i < 200; ++i) {
      BOOST_REQUIRE(!tcp.publish("mix.to_ws", "t" + std::to_string(i)));
      BOOST_REQUIRE(!ws.publish("mix.to_tcp", "w" + std::to_string(i)));
    }
    for (int i = 0; i < 200; ++i) {
      auto a = co_await from_tcp.async_next(asio::use_awaitable);
      BOOST_TEST(a.payload == "t" + std::to_string(i));
      auto b = co_await from_ws.async_next(asio::use_awaitable);
      BOOST_TEST(b.payload == "w" + std::to_string(i));
    }
  });
}

BOOST_AUTO_TEST_CASE(wss_round_trip) {
  temp_certs tc;
  auto w = secure_ws(tc.certs);
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = ws_client(ws_url("wss", "localhost", w.ws_port));
    o.tls.ca_file = tc.certs.ca_file;
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    co_await round_trip(c, "ws.secure");
  });
}

BOOST_AUTO_TEST_CASE(wss_with_an_untrusted_certificate_is_a_verify_error) {
  temp_certs tc;
  auto w = secure_ws(tc.certs);
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = ws_client(ws_url("wss", "localhost", w.ws_port));
    o.tls.ca_file = tc.certs.other_ca_file;
    auto r = co_await try_connect(ioc, o);
    BOOST_TEST_MESSAGE("wss, untrusted: " << r.ec.message());
    BOOST_TEST(r.ec.message() == "certificate verify failed: unable to get local issuer certificate");
  });
}

BOOST_AUTO_TEST_CASE(wss_with_client_certificates) {
  temp_certs tc;
  auto w = secure_ws(tc.certs, /*verify_clients=*/true);
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = ws_client(ws_url("wss", "localhost", w.ws_port));
    o.tls.ca_file = tc.certs.ca_file;
    auto r = co_await try_connect(ioc, o);  // no client certificate
    BOOST_TEST_MESSAGE("wss without a client certificate: " << r.ec.message());
    BOOST_TEST(contains(r.ec.message(), "the server rejected the client certificate"));

    o.tls.cert_pem = tc.certs.client_cert_pem;
    o.tls.key_pem = tc.certs.client_key_pem;
    connection c(ioc.get_executor(), o);
    co_await connect_or_throw(c);
    co_await round_trip(c, "ws.mtls");
  });
}

BOOST_AUTO_TEST_CASE(ws_url_to_a_tls_websocket_port_fails_promptly) {
  temp_certs tc;
  auto w = secure_ws(tc.certs);
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    auto r = co_await try_connect(ioc, ws_client(ws_url("ws", "127.0.0.1", w.ws_port)));
    BOOST_TEST_MESSAGE("ws:// to a wss port: " << r.ec.message());
    BOOST_TEST(r.ec);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 6s));
  });
}

BOOST_AUTO_TEST_CASE(ws_to_a_port_that_is_not_websocket_fails) {
  nats_server server;  // plain NATS port: answers with INFO, not an HTTP upgrade
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto r = co_await try_connect(ioc, ws_client(ws_url("ws", "127.0.0.1", server.port())));
    BOOST_TEST_MESSAGE("ws:// to a NATS port: " << r.ec.message());
    BOOST_TEST(r.ec);
  });
}

// Connects with `o`, subscribes, restarts the server and checks that the link comes back with the
// subscription (one disconnect, one reconnect, a message published after it arrives).
using stats_check = std::function<void(const statistics&)>;

asio::awaitable<void> reconnect_after_restart(asio::io_context& ioc, nats_server& server, int ws_port, options o,
                                              const std::string& subject, stats_check check) {
  event_log log;
  o.on_event = log.handler();
  o.reconnect.wait = 100ms;
  o.reconnect.jitter = 0ms;
  o.reconnect.jitter_tls = 0ms;
  connection c(ioc.get_executor(), o);
  co_await connect_or_throw(c);
  error_code ec;
  auto sub = c.subscribe(subject, ec);
  BOOST_REQUIRE(!ec);
  co_await c.async_flush(asio::use_awaitable);

  server.stop();
  BOOST_TEST(co_await wait_until([&] { return log.count(event_kind::disconnected) == 1; }, 10s));
  server.start();
  BOOST_REQUIRE(wait_for_port(ws_port, 5s));
  BOOST_TEST(co_await wait_until([&] { return log.count(event_kind::reconnected) == 1; }, 15s));
  BOOST_REQUIRE(!c.publish(subject, "after restart"));
  auto m = co_await sub.async_next(asio::use_awaitable);
  BOOST_TEST(m.payload == "after restart");
  if (check) check(c.stats());
}

BOOST_AUTO_TEST_CASE(ws_reconnects_after_a_server_restart) {
  auto w = plain_ws();
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    co_await reconnect_after_restart(ioc, server, w.ws_port, ws_client(ws_url("ws", "127.0.0.1", w.ws_port)),
                                     "ws.again", nullptr);
  });
}

BOOST_AUTO_TEST_CASE(wss_reconnect_reuses_the_ssl_context) {
  temp_certs tc;
  auto w = secure_ws(tc.certs);
  nats_server server(w.so);
  BOOST_REQUIRE(wait_for_port(w.ws_port, 5s));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    auto o = ws_client(ws_url("wss", "localhost", w.ws_port));
    o.tls.ca_file = tc.certs.ca_file;
    co_await reconnect_after_restart(ioc, server, w.ws_port, std::move(o), "wss.again",
                                     [](const statistics& st) { BOOST_TEST(st.tls_contexts_built == 1u); });
  });
}
