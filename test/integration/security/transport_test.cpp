// The transports on their own (no connection object) against a real nats-server: the raw NATS
// greeting (INFO in, gathered CONNECT + PING out, PONG in) over TCP, TLS, ws:// and wss://;
// closing and destroying a transport with a read pending; cancelling a handshake that a silent
// peer never answers; and the SNI name an in-process TLS server sees.
#define BOOST_TEST_MODULE security_transport
#include "security_util.hpp"

#include "transport.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <openssl/ssl.h>

#include <array>
#include <optional>

using namespace nats;
using namespace nats::test;
using nats::detail::transport_ptr;
using tcp = asio::ip::tcp;

namespace {

// Runs the io_context until `done()` or the limit; returns whether done() became true.
template <class Pred>
bool run_until(asio::io_context& ioc, Pred done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    ioc.restart();
    ioc.run_for(20ms);
  }
  return done();
}

tcp::socket connect_to(asio::io_context& ioc, int port) {
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  return s;
}

// Reads until `needle` shows up in what was read; returns everything read.
std::string read_until(asio::io_context& ioc, detail::transport& t, const std::string& needle) {
  std::string got;
  std::array<char, 4096> buf{};
  for (int i = 0; i < 100 && got.find(needle) == std::string::npos; ++i) {
    std::optional<error_code> result;
    std::size_t n = 0;
    t.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t k) {
      result = ec;
      n = k;
    });
    BOOST_REQUIRE(run_until(ioc, [&] { return result.has_value(); }));
    BOOST_REQUIRE_MESSAGE(!*result, "read: " << result->message());
    got.append(buf.data(), n);
  }
  return got;
}

// INFO → CONNECT + PING written as three gathered pieces → PONG.
void greet(asio::io_context& ioc, detail::transport& t, bool info_already_read) {
  if (!info_already_read) BOOST_TEST(read_until(ioc, t, "\r\n").rfind("INFO ", 0) == 0u);
  const std::string a = "CONNECT {\"verbose\":false,\"pedantic\":false,";
  const std::string b = "\"tls_required\":" + std::string(t.is_tls() ? "true" : "false") + ",\"lang\":\"cpp\"}\r\n";
  const std::string c = "PING\r\n";
  const std::array<asio::const_buffer, 3> pieces{asio::buffer(a), asio::buffer(b), asio::buffer(c)};
  std::optional<error_code> wrote;
  std::size_t written = 0;
  t.async_write(pieces, [&](error_code ec, std::size_t n) {
    wrote = ec;
    written = n;
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return wrote.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*wrote, "write: " << wrote->message());
  BOOST_TEST(written == a.size() + b.size() + c.size());
  BOOST_TEST(contains(read_until(ioc, t, "PONG\r\n"), "PONG\r\n"));
}

// Starts a read that the server will not answer, then closes and destroys the transport: the
// handler must run exactly once, with an error, and nothing may touch freed memory (ASan run).
void close_with_read_pending(asio::io_context& ioc, transport_ptr t) {
  std::array<char, 1024> buf{};
  int calls = 0;
  error_code got;
  t->async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) {
    ++calls;
    got = ec;
  });
  ioc.restart();
  ioc.poll();
  t->close();
  t->close();  // idempotent
  t.reset();
  BOOST_REQUIRE(run_until(
      ioc, [&] { return calls > 0; }, 5s));
  ioc.restart();
  ioc.run_for(50ms);
  BOOST_TEST(calls == 1);
  BOOST_TEST(got);
}

transport_ptr tls_over_nats(asio::io_context& ioc, const nats_server& server, const tls_options& tls) {
  auto t = detail::make_tcp_transport(connect_to(ioc, server.port()));
  BOOST_TEST(read_until(ioc, *t, "\r\n").rfind("INFO ", 0) == 0u);  // plain INFO first (2.9 has no TLS-first)
  error_code ec;
  auto url = server_url::parse("tls://localhost:" + std::to_string(server.port()), ec);
  std::optional<error_code> result;
  transport_ptr out;
  detail::async_upgrade_tls(std::move(t), url, tls, [&](error_code e, transport_ptr p) {
    result = e;
    out = std::move(p);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return result.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*result, "TLS upgrade: " << result->message());
  BOOST_REQUIRE(out);
  BOOST_TEST(out->is_tls());
  BOOST_TEST(detail::tcp_socket_of(*out) == nullptr);
  return out;
}

transport_ptr ws_to(asio::io_context& ioc, const std::string& url_text, int port, const tls_options& tls) {
  error_code ec;
  auto url = server_url::parse(url_text, ec);
  BOOST_REQUIRE(!ec);
  std::optional<error_code> result;
  transport_ptr out;
  detail::async_websocket_handshake(connect_to(ioc, port), url, tls, [&](error_code e, transport_ptr p) {
    result = e;
    out = std::move(p);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return result.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*result, "WebSocket handshake: " << result->message());
  BOOST_REQUIRE(out);
  return out;
}

std::string ws_config(int port, const cert_set* certs) {
  std::string c = "websocket {\n  host: 127.0.0.1\n  port: " + std::to_string(port) + "\n";
  if (certs) {
    c += "  tls {\n    cert_file: \"" + certs->server_cert_file + "\"\n    key_file: \"" + certs->server_key_file +
         "\"\n  }\n";
  } else {
    c += "  no_tls: true\n";
  }
  return c + "}\n";
}

// A TCP peer that accepts and then says nothing.
struct silent_peer {
  asio::io_context& ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket accepted{ioc};
  explicit silent_peer(asio::io_context& io) : ioc(io) {
    acceptor.async_accept(accepted, [](error_code) {});
  }
  int port() const { return acceptor.local_endpoint().port(); }
};

// Runs a handshake against a silent peer, cancels it after 200 ms, expects operation_aborted soon.
template <class Start>
void expect_cancellable(asio::io_context& ioc, Start start) {
  asio::cancellation_signal signal;
  std::optional<error_code> result;
  transport_ptr out;
  start(asio::bind_cancellation_slot(signal.slot(), [&](error_code e, transport_ptr p) {
    result = e;
    out = std::move(p);
  }));
  asio::steady_timer timer(ioc, 200ms);
  timer.async_wait([&](error_code) { signal.emit(asio::cancellation_type::terminal); });
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_REQUIRE(run_until(
      ioc, [&] { return result.has_value(); }, 5s));
  BOOST_TEST(*result == asio::error::operation_aborted);
  BOOST_TEST(!out);
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
}

}  // namespace

BOOST_AUTO_TEST_CASE(plain_tcp_greeting_and_close_with_read_pending) {
  nats_server server;
  asio::io_context ioc;
  auto t = detail::make_tcp_transport(connect_to(ioc, server.port()));
  BOOST_TEST(!t->is_tls());
  BOOST_TEST(detail::tcp_socket_of(*t) != nullptr);
  greet(ioc, *t, false);
  close_with_read_pending(ioc, std::move(t));
}

BOOST_AUTO_TEST_CASE(tls_greeting_and_close_with_read_pending) {
  temp_certs tc;
  server_options so;
  so.config = server_tls_block(tc.certs);
  nats_server server(so);
  asio::io_context ioc;
  tls_options tls;
  tls.ca_file = tc.certs.ca_file;
  auto t = tls_over_nats(ioc, server, tls);
  greet(ioc, *t, true);
  close_with_read_pending(ioc, std::move(t));
}

BOOST_AUTO_TEST_CASE(ws_greeting_and_close_with_read_pending) {
  const int ws_port = free_port();
  server_options so;
  so.config = ws_config(ws_port, nullptr);
  nats_server server(so);
  BOOST_REQUIRE(wait_for_port(ws_port, 5s));
  asio::io_context ioc;
  auto t = ws_to(ioc, "ws://127.0.0.1:" + std::to_string(ws_port), ws_port, {});
  BOOST_TEST(!t->is_tls());
  BOOST_TEST(detail::tcp_socket_of(*t) == nullptr);
  greet(ioc, *t, false);
  close_with_read_pending(ioc, std::move(t));
}

BOOST_AUTO_TEST_CASE(wss_greeting_and_close_with_read_pending) {
  temp_certs tc;
  const int ws_port = free_port();
  server_options so;
  so.config = ws_config(ws_port, &tc.certs);
  nats_server server(so);
  BOOST_REQUIRE(wait_for_port(ws_port, 5s));
  asio::io_context ioc;
  tls_options tls;
  tls.ca_pem = tc.certs.ca_pem;
  auto t = ws_to(ioc, "wss://localhost:" + std::to_string(ws_port), ws_port, tls);
  BOOST_TEST(t->is_tls());
  greet(ioc, *t, false);
  close_with_read_pending(ioc, std::move(t));
}

BOOST_AUTO_TEST_CASE(tls_handshake_with_a_silent_peer_is_cancellable) {
  asio::io_context ioc;
  silent_peer peer(ioc);
  error_code ec;
  auto url = server_url::parse("tls://localhost:" + std::to_string(peer.port()), ec);
  tls_options tls;
  tls.insecure_skip_verify_dangerous = true;
  expect_cancellable(ioc, [&](auto handler) {
    detail::async_upgrade_tls(detail::make_tcp_transport(connect_to(ioc, peer.port())), url, tls, std::move(handler));
  });
}

BOOST_AUTO_TEST_CASE(ws_and_wss_handshakes_with_a_silent_peer_are_cancellable) {
  for (const std::string scheme : {"ws", "wss"}) {
    BOOST_TEST_CONTEXT(scheme) {
      asio::io_context ioc;
      silent_peer peer(ioc);
      error_code ec;
      auto url = server_url::parse(scheme + "://localhost:" + std::to_string(peer.port()), ec);
      tls_options tls;
      tls.insecure_skip_verify_dangerous = true;
      expect_cancellable(ioc, [&](auto handler) {
        detail::async_websocket_handshake(connect_to(ioc, peer.port()), url, tls, std::move(handler));
      });
    }
  }
}

namespace {
int record_server_name(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  *static_cast<std::string*>(arg) = name ? name : "<none>";
  return SSL_TLSEXT_ERR_OK;
}
}  // namespace

BOOST_AUTO_TEST_CASE(sni_carries_the_host_name_never_an_ip_address) {
  temp_certs tc;
  asio::io_context ioc;
  asio::ssl::context server_ctx(asio::ssl::context::tls_server);
  server_ctx.use_certificate_chain_file(tc.certs.server_cert_file);
  server_ctx.use_private_key_file(tc.certs.server_key_file, asio::ssl::context::pem);
  std::string seen;
  SSL_CTX_set_tlsext_servername_callback(server_ctx.native_handle(), record_server_name);
  SSL_CTX_set_tlsext_servername_arg(server_ctx.native_handle(), &seen);

  struct sni_case {
    std::string url, server_name, expected;
  };
  const sni_case cases[] = {
      {"tls://localhost", "", "localhost"},
      {"tls://127.0.0.1", "", "<none>"},
      {"tls://127.0.0.1", "nats.example", "nats.example"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.url << " server_name=" << c.server_name) {
      seen.clear();
      tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
      const int port = acceptor.local_endpoint().port();
      auto client = connect_to(ioc, port);
      asio::ssl::stream<tcp::socket> server_side(acceptor.accept(), server_ctx);
      std::optional<error_code> server_result;
      server_side.async_handshake(asio::ssl::stream_base::server, [&](error_code e) { server_result = e; });

      error_code ec;
      auto url = server_url::parse(c.url + ":" + std::to_string(port), ec);
      tls_options tls;
      tls.ca_file = tc.certs.ca_file;
      tls.server_name = c.server_name;
      tls.insecure_skip_verify_dangerous = !c.server_name.empty();  // nats.example is not in the certificate
      std::optional<error_code> client_result;
      transport_ptr t;
      detail::async_upgrade_tls(detail::make_tcp_transport(std::move(client)), url, tls,
                                [&](error_code e, transport_ptr p) {
                                  client_result = e;
                                  t = std::move(p);
                                });
      BOOST_REQUIRE(run_until(ioc, [&] { return client_result.has_value() && server_result.has_value(); }));
      BOOST_TEST(!*client_result, client_result->message());
      BOOST_TEST(!*server_result, server_result->message());
      BOOST_TEST(seen == c.expected);
    }
  }
}
