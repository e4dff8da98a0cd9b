// Server URL parsing table, errors, and to_string (never shows credentials).
#include "print_error.hpp"

#include <nats/error.hpp>
#include <nats/server_url.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using nats::server_url;

BOOST_AUTO_TEST_SUITE(server_url_tests)

BOOST_AUTO_TEST_CASE(valid_urls) {
  struct row {
    const char* text;
    const char* scheme;
    const char* host;
    unsigned port;
    const char* user;
    const char* password;
    const char* path;
    const char* printed;
  };
  const row rows[] = {
      {"nats://localhost:4222", "nats", "localhost", 4222, "", "", "/", "nats://localhost:4222"},
      {"nats://demo.nats.io", "nats", "demo.nats.io", 4222, "", "", "/", "nats://demo.nats.io:4222"},
      {"localhost", "nats", "localhost", 4222, "", "", "/", "nats://localhost:4222"},
      {"127.0.0.1:4333", "nats", "127.0.0.1", 4333, "", "", "/", "nats://127.0.0.1:4333"},
      {"  NATS://Host_1:1  ", "nats", "Host_1", 1, "", "", "/", "nats://Host_1:1"},
      {"tls://secure.example.com", "tls", "secure.example.com", 4222, "", "", "/", "tls://secure.example.com:4222"},
      {"ws://10.0.0.1", "ws", "10.0.0.1", 80, "", "", "/", "ws://10.0.0.1:80"},
      {"wss://example.com", "wss", "example.com", 443, "", "", "/", "wss://example.com:443"},
      {"ws://example.com:8080/nats/ws", "ws", "example.com", 8080, "", "", "/nats/ws", "ws://example.com:8080/nats/ws"},
      {"wss://example.com/", "wss", "example.com", 443, "", "", "/", "wss://example.com:443"},
      {"nats://derek:s3cr3t@localhost:4222", "nats", "localhost", 4222, "derek", "s3cr3t", "/",
       "nats://localhost:4222"},
      {"nats://mytoken@localhost", "nats", "localhost", 4222, "mytoken", "", "/", "nats://localhost:4222"},
      {"nats://us%40er:p%3Ass%2Fw%25rd@h:1", "nats", "h", 1, "us@er", "p:ss/w%rd", "/", "nats://h:1"},
      {"nats://user:p@ss@h", "nats", "h", 4222, "user", "p@ss", "/", "nats://h:4222"},
      {"nats://user:@h", "nats", "h", 4222, "user", "", "/", "nats://h:4222"},
      {"nats://[::1]:4222", "nats", "::1", 4222, "", "", "/", "nats://[::1]:4222"},
      {"[fd00::2]:14222", "nats", "fd00::2", 14222, "", "", "/", "nats://[fd00::2]:14222"},
      {"tls://[2001:db8::1]", "tls", "2001:db8::1", 4222, "", "", "/", "tls://[2001:db8::1]:4222"},
      {"nats://a:b@[::ffff:192.0.2.1]:5", "nats", "::ffff:192.0.2.1", 5, "a", "b", "/", "nats://[::ffff:192.0.2.1]:5"},
      {"nats://[fe80::1%eth0]:4222", "nats", "fe80::1%eth0", 4222, "", "", "/", "nats://[fe80::1%eth0]:4222"},
      {"192.0.2.2:14223", "nats", "192.0.2.2", 14223, "", "", "/", "nats://192.0.2.2:14223"},
      {"nats://h:65535", "nats", "h", 65535, "", "", "/", "nats://h:65535"},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("url " << r.text) {
      boost::system::error_code ec;
      const auto u = server_url::parse(r.text, ec);
      BOOST_TEST_REQUIRE(!ec, ec.message());
      BOOST_TEST(u.scheme == r.scheme);
      BOOST_TEST(u.host == r.host);
      BOOST_TEST(u.port == r.port);
      BOOST_TEST(u.user == r.user);
      BOOST_TEST(u.password == r.password);
      BOOST_TEST(u.path == r.path);
      BOOST_TEST(u.to_string() == r.printed);
      // What to_string prints parses back to the same server.
      const auto again = server_url::parse(u.to_string(), ec);
      BOOST_TEST(!ec);
      BOOST_TEST(again.host == u.host);
      BOOST_TEST(again.port == u.port);
      BOOST_TEST(again.scheme == u.scheme);
    }
  }
}

BOOST_AUTO_TEST_CASE(tls_and_websocket_flags) {
  boost::system::error_code ec;
  BOOST_TEST(!server_url::parse("nats://h", ec).is_tls());
  BOOST_TEST(server_url::parse("tls://h", ec).is_tls());
  BOOST_TEST(server_url::parse("wss://h", ec).is_tls());
  BOOST_TEST(server_url::parse("wss://h", ec).is_websocket());
  BOOST_TEST(server_url::parse("ws://h", ec).is_websocket());
  BOOST_TEST(!server_url::parse("tls://h", ec).is_websocket());
}

BOOST_AUTO_TEST_CASE(invalid_urls) {
  const char* bad[] = {
      "",
      "   ",
      "http://localhost:4222",  // unknown scheme
      "nat://h",
      "://h",
      "nats://",  // empty host
      "nats://:4222",
      "nats://user:pass@",
      "nats://h:",  // bad ports
      "nats://h:0",
      "nats://h:65536",
      "nats://h:99999999",
      "nats://h:-1",
      "nats://h:12a",
      "nats://h:4222:1",
      "nats://::1:4222",  // IPv6 needs brackets
      "nats://[::1",
      "nats://[::1]x",
      "nats://[::1]:",
      "nats://[]:4222",
      "nats://[zz::1]",
      "nats://[fe80::1%]",
      "nats://ho st",
      "nats://h\x01",
      "nats://@h",        // empty userinfo
      "nats://us%4:p@h",  // bad percent escapes
      "nats://u:p%zz@h",
      "nats://u%@h",
  };
  for (const char* b : bad) {
    boost::system::error_code ec;
    server_url::parse(b, ec);
    BOOST_TEST(ec == nats::error::invalid_url, "accepted: '" << b << "'");
  }
}

BOOST_AUTO_TEST_SUITE_END()
