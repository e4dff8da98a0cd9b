// INFO parsing (lines captured from nats-server 2.9.10) and CONNECT JSON writing.
#include "print_error.hpp"

#include <nats/error.hpp>
#include <nats/protocol/server_info.hpp>

#include <boost/test/unit_test.hpp>

#include <simdjson.h>

#include <string>

namespace p = nats::protocol;

BOOST_AUTO_TEST_SUITE(server_info_tests)

BOOST_AUTO_TEST_CASE(cluster_member_info) {
  // Node n1 of a two-node cluster with JetStream.
  const std::string json =
      R"({"server_id":"NC4JXSXKYNRX2JPCHHNJDYJGD562NRVA67S4PLPOE72R25ZMHFZS26ON","server_name":"n1","version":"2.9.10","proto":1,"go":"go1.19.8","host":"0.0.0.0","port":14222,"headers":true,"max_payload":1048576,"jetstream":true,"client_id":8,"client_ip":"127.0.0.1","cluster":"c1","connect_urls":["192.0.2.2:14222","[fd00::2]:14222","192.0.2.2:14223","[fd00::2]:14223"]})";
  boost::system::error_code ec;
  auto info = p::parse_server_info(json, ec);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  BOOST_TEST(info.server_id == "NC4JXSXKYNRX2JPCHHNJDYJGD562NRVA67S4PLPOE72R25ZMHFZS26ON");
  BOOST_TEST(info.server_name == "n1");
  BOOST_TEST(info.version == "2.9.10");
  BOOST_TEST(info.proto == 1);
  BOOST_TEST(info.host == "0.0.0.0");
  BOOST_TEST(info.port == 14222);
  BOOST_TEST(info.headers);
  BOOST_TEST(info.max_payload == 1048576);
  BOOST_TEST(info.jetstream);
  BOOST_TEST(info.client_id == 8u);
  BOOST_TEST(info.client_ip == "127.0.0.1");
  BOOST_TEST(info.cluster == "c1");
  BOOST_TEST(!info.lame_duck_mode);
  BOOST_TEST(!info.auth_required);
  BOOST_TEST(info.nonce.empty());
  const std::vector<std::string> urls = {"192.0.2.2:14222", "[fd00::2]:14222", "192.0.2.2:14223", "[fd00::2]:14223"};
  BOOST_TEST(info.connect_urls == urls, boost::test_tools::per_element());
  BOOST_TEST(info.ws_connect_urls.empty());
}

BOOST_AUTO_TEST_CASE(lame_duck_info) {
  // The INFO n1 sends to its clients after `nats-server --signal ldm`.
  const std::string json =
      R"({"server_id":"NC4JXSXKYNRX2JPCHHNJDYJGD562NRVA67S4PLPOE72R25ZMHFZS26ON","server_name":"n1","version":"2.9.10","proto":1,"go":"go1.19.8","host":"0.0.0.0","port":14222,"headers":true,"max_payload":1048576,"jetstream":true,"client_id":8,"client_ip":"127.0.0.1","cluster":"c1","connect_urls":["192.0.2.2:14223","[fd00::2]:14223"],"ldm":true})";
  boost::system::error_code ec;
  auto info = p::parse_server_info(json, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(info.lame_duck_mode);
  BOOST_TEST(info.connect_urls.size() == 2u);
}

BOOST_AUTO_TEST_CASE(nkey_auth_info) {
  const std::string json =
      R"({"server_id":"NCQUNOGC4YF4GTLAS4C763WIWSBPXGKR35SP6KYXB2WPE3VHYE3HCFYD","server_name":"NCQUNOGC4YF4GTLAS4C763WIWSBPXGKR35SP6KYXB2WPE3VHYE3HCFYD","version":"2.9.10","proto":1,"go":"go1.19.8","host":"0.0.0.0","port":14224,"headers":true,"auth_required":true,"max_payload":1048576,"client_id":4,"client_ip":"127.0.0.1","nonce":"4p-TUyjLTdifkdU"})";
  boost::system::error_code ec;
  auto info = p::parse_server_info(json, ec);
  BOOST_TEST_REQUIRE(!ec);
  BOOST_TEST(info.auth_required);
  BOOST_TEST(info.nonce == "4p-TUyjLTdifkdU");
  BOOST_TEST(!info.jetstream);
  BOOST_TEST(info.connect_urls.empty());
}

BOOST_AUTO_TEST_CASE(other_fields) {
  boost::system::error_code ec;
  auto info = p::parse_server_info(
      R"({"tls_required":true,"tls_available":true,"domain":"hub","ws_connect_urls":["a:8080"],"client_id":18446744073709551615,
          "unknown":{"nested":[1,2,{"x":null}]},"xkey":"X","port":null,"server_name":"caf\u00e9 \"q\""})",
      ec);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  BOOST_TEST(info.tls_required);
  BOOST_TEST(info.tls_available);
  BOOST_TEST(info.domain == "hub");
  BOOST_TEST(info.ws_connect_urls.size() == 1u);
  BOOST_TEST(info.client_id == 18446744073709551615ull);
  BOOST_TEST(info.port == 0);                   // null = absent
  BOOST_TEST(info.max_payload == 1024 * 1024);  // default kept
  BOOST_TEST(info.server_name == "caf\xc3\xa9 \"q\"");
  // Empty object: all defaults.
  auto empty = p::parse_server_info("{}", ec);
  BOOST_TEST(!ec);
  BOOST_TEST(empty.server_id.empty());
}

BOOST_AUTO_TEST_CASE(bad_json) {
  const char* bad[] = {
      "",
      "null",
      "[]",
      "\"string\"",
      "42",
      "{",
      "{\"port\":}",
      "{\"port\":4222",
      "{\"port\":4222} trailing",
      "{'port':4222}",
      R"({"port":"4222"})",  // wrong types of known fields
      R"({"port":4222.5})",
      R"({"port":99999999999})",
      R"({"headers":"true"})",
      R"({"headers":1})",
      R"({"max_payload":-1})",
      R"({"max_payload":1.5})",
      R"({"client_id":-1})",
      R"({"server_id":5})",
      R"({"ldm":"yes"})",
      R"({"connect_urls":"a:1"})",
      R"({"connect_urls":["a:1",2]})",
      R"({"nonce":{}})",
  };
  for (const char* b : bad) {
    boost::system::error_code ec;
    p::parse_server_info(b, ec);
    BOOST_TEST(ec == nats::error::invalid_json, "accepted: " << b);
  }
}

BOOST_AUTO_TEST_CASE(connect_json_defaults) {
  p::connect_info c;
  c.version = "0.1.0";
  const auto json = p::to_json(c);
  BOOST_TEST(
      json ==
      R"({"verbose":false,"pedantic":false,"tls_required":false,"echo":true,"headers":true,"no_responders":true,)"
      R"("lang":"cpp-asio","version":"0.1.0","protocol":1})");
}

BOOST_AUTO_TEST_CASE(connect_json_escaping) {
  p::connect_info c;
  c.verbose = true;
  c.echo = false;
  c.name = "quote\" backslash\\ slash/";
  c.user = std::string("ctl\b\f\n\r\t\x01\x1f\x7f", 11);
  c.pass = "unicode caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80";
  c.auth_token = "t";
  c.jwt = "eyJ.x.y";
  c.nkey = "UABC";
  c.sig = "c2ln";
  c.lang.clear();  // empty strings are left out
  const auto json = p::to_json(c);
  BOOST_TEST(json.find("\"lang\"") == std::string::npos);
  BOOST_TEST(json.find("\"version\"") == std::string::npos);
  BOOST_TEST(json.find(R"("name":"quote\" backslash\\ slash/")") != std::string::npos, json);
  BOOST_TEST(json.find(R"("user":"ctl\b\f\n\r\t\u0001\u001f)"
                       "\x7f\"") != std::string::npos,
             json);
  BOOST_TEST(json.find("\"pass\":\"unicode caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\"") != std::string::npos, json);

  // A real JSON parser reads back exactly what we put in.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  BOOST_TEST_REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS, json);
  std::string_view s;
  BOOST_TEST(doc["name"].get_string().get(s) == simdjson::SUCCESS);
  BOOST_TEST(s == c.name);
  BOOST_TEST(doc["user"].get_string().get(s) == simdjson::SUCCESS);
  BOOST_TEST(s == c.user);
  BOOST_TEST(doc["pass"].get_string().get(s) == simdjson::SUCCESS);
  BOOST_TEST(s == c.pass);
  BOOST_TEST(doc["sig"].get_string().get(s) == simdjson::SUCCESS);
  BOOST_TEST(s == "c2ln");
  bool b = false;
  BOOST_TEST(doc["verbose"].get_bool().get(b) == simdjson::SUCCESS);
  BOOST_TEST(b);
  BOOST_TEST(doc["echo"].get_bool().get(b) == simdjson::SUCCESS);
  BOOST_TEST(!b);
  std::int64_t proto = 0;
  BOOST_TEST(doc["protocol"].get_int64().get(proto) == simdjson::SUCCESS);
  BOOST_TEST(proto == 1);
}

BOOST_AUTO_TEST_SUITE_END()
