// Header blocks: parse what servers send (status lines, multi-valued fields), round trips, lookups
// that ignore case, and rejection of malformed blocks.
#include "print_error.hpp"

#include <nats/error.hpp>
#include <nats/headers.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using nats::headers;

namespace {

headers parse_ok(std::string_view block) {
  boost::system::error_code ec;
  auto h = headers::parse(block, ec);
  BOOST_TEST(!ec, "parse failed: " << ec.message() << " for: " << block);
  return h;
}

std::string wire(const headers& h) {
  std::string s;
  h.serialize(s);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(headers_tests)

BOOST_AUTO_TEST_CASE(multi_valued_case_preserving) {
  auto h = parse_ok("NATS/1.0\r\nX-Trace: a\r\nx-trace: b\r\nContent-Type: text/plain\r\n\r\n");
  BOOST_TEST(h.status() == 0);
  BOOST_TEST(h.description().empty());
  BOOST_TEST_REQUIRE(h.fields().size() == 3u);
  BOOST_TEST(h.fields()[0].first == "X-Trace");
  BOOST_TEST(h.fields()[1].first == "x-trace");
  BOOST_TEST(h.get("X-TRACE").value_or("") == "a");
  BOOST_TEST(h.get("content-type").value_or("") == "text/plain");
  const auto all = h.get_all("x-Trace");
  BOOST_TEST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0] == "a");
  BOOST_TEST(all[1] == "b");
  BOOST_TEST(!h.get("missing").has_value());
  BOOST_TEST(h.get_all("missing").empty());
}

BOOST_AUTO_TEST_CASE(status_only_blocks) {
  auto h = parse_ok("NATS/1.0 503\r\n\r\n");
  BOOST_TEST(h.status() == 503);
  BOOST_TEST(h.description().empty());
  BOOST_TEST(h.fields().empty());
  BOOST_TEST(!h.empty());
  BOOST_TEST(wire(h) == "NATS/1.0 503\r\n\r\n");

  auto t = parse_ok("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n");
  BOOST_TEST(t.status() == 408);
  BOOST_TEST(t.description() == "Request Timeout");
  BOOST_TEST(t.get("nats-pending-messages").value_or("") == "1");

  auto j = parse_ok("NATS/1.0 100 FlowControl Request\r\nNats-Consumer-Stalled: $JS.FC.x\r\n\r\n");
  BOOST_TEST(j.status() == 100);
  BOOST_TEST(j.description() == "FlowControl Request");

  // Extra blanks around the status and description are tolerated.
  auto s = parse_ok("NATS/1.0   404   No Messages  \r\n\r\n");
  BOOST_TEST(s.status() == 404);
  BOOST_TEST(s.description() == "No Messages");

  // A final line without the blank line after it is accepted too.
  auto n = parse_ok("NATS/1.0 503\r\n");
  BOOST_TEST(n.status() == 503);
}

BOOST_AUTO_TEST_CASE(value_bytes) {
  // Leading blanks of a value are dropped, everything else is kept (trailing blanks, colons, UTF-8).
  auto h = parse_ok("NATS/1.0\r\nA:no-space\r\nB:   spaced  \r\nC: x: y\r\nD:\r\nE: \xc3\xa9t\xc3\xa9\r\n\r\n");
  BOOST_TEST(h.get("A").value_or("?") == "no-space");
  BOOST_TEST(h.get("B").value_or("?") == "spaced  ");
  BOOST_TEST(h.get("C").value_or("?") == "x: y");
  BOOST_TEST(h.get("D").value_or("?") == "");
  BOOST_TEST(h.get("E").value_or("?") == "\xc3\xa9t\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(round_trips) {
  const std::vector<std::string> blocks = {
      "NATS/1.0\r\n\r\n",
      "NATS/1.0 503\r\n\r\n",
      "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n",
      "NATS/1.0\r\nNats-Msg-Id: 42\r\nX: 1\r\nx: 2\r\nX: 3\r\n\r\n",
      "NATS/1.0\r\nB: trailing  \r\nEmpty: \r\n\r\n",
  };
  for (const auto& b : blocks) {
    auto h = parse_ok(b);
    BOOST_TEST(wire(h) == b);
    BOOST_TEST(h.serialized_size() == b.size());
    BOOST_TEST(parse_ok(wire(h)) == h);
  }

  headers built;
  built.set_status(409, "Consumer Deleted");
  built.add("Nats-Stream", "ORDERS");
  built.add("nats-stream", "ORDERS-2");
  std::string out = "keep|";
  built.serialize(out);
  BOOST_TEST(out == "keep|NATS/1.0 409 Consumer Deleted\r\nNats-Stream: ORDERS\r\nnats-stream: ORDERS-2\r\n\r\n");
  BOOST_TEST(built.serialized_size() == out.size() - 5);
  BOOST_TEST(parse_ok(out.substr(5)) == built);
}

BOOST_AUTO_TEST_CASE(set_and_erase) {
  headers h;
  BOOST_TEST(h.empty());
  h.add("A", "1");
  h.add("B", "2");
  h.add("a", "3");
  BOOST_TEST(!h.empty());
  h.set("A", "only");
  BOOST_TEST_REQUIRE(h.fields().size() == 2u);
  BOOST_TEST(h.fields()[0].first == "A");  // position of the first occurrence kept
  BOOST_TEST(h.fields()[0].second == "only");
  BOOST_TEST(h.get_all("a").size() == 1u);
  h.set("C", "new");
  BOOST_TEST(h.fields().back().first == "C");
  h.add("c", "again");
  BOOST_TEST(h.erase("C") == 2u);
  BOOST_TEST(h.erase("C") == 0u);
  BOOST_TEST(h.fields().size() == 2u);
  BOOST_TEST(wire(h) == "NATS/1.0\r\nA: only\r\nB: 2\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(invalid_blocks) {
  const std::vector<std::string> bad = {
      "",
      "NATS/1.0",          // no CRLF
      "NATS/2.0\r\n\r\n",  // unknown version
      "HTTP/1.1 200 OK\r\n\r\n",
      "NATS/1.01\r\n\r\n",
      "NATS/1.0 50\r\n\r\n",  // status must be three digits
      "NATS/1.0 5033\r\n\r\n",
      "NATS/1.0 abc\r\n\r\n",
      "NATS/1.0 000\r\n\r\n",
      "NATS/1.0 503x\r\n\r\n",
      "NATS/1.0\nA: b\n\n",  // LF only
      "NATS/1.0\r\nA: b\n\r\n",
      "NATS/1.0\r\nNoColon\r\n\r\n",
      "NATS/1.0\r\n: empty name\r\n\r\n",
      "NATS/1.0\r\nSp ace: x\r\n\r\n",
      "NATS/1.0\r\n folded: x\r\n\r\n",
      "NATS/1.0\r\nA: b\r\n\r\nX",  // bytes after the blank line
      "NATS/1.0\r\n\r\n\r\n",
      "NATS/1.0\r\nA: b\rc\r\n\r\n",  // CR inside a value
      "NATS/1.0\r\nA: b\r\nC: d",     // last line unterminated
  };
  for (const auto& b : bad) {
    boost::system::error_code ec;
    auto h = headers::parse(b, ec);
    BOOST_TEST(ec == nats::error::invalid_header, "accepted: " << b);
    BOOST_TEST(h.empty());
  }
}

BOOST_AUTO_TEST_CASE(validate) {
  BOOST_TEST(!headers::validate("Nats-Msg-Id", "abc"));
  BOOST_TEST(!headers::validate("X", ""));
  BOOST_TEST(!headers::validate("X", "tab\tand spaces ok"));
  BOOST_TEST(!headers::validate("X", "\xc3\xa9"));
  BOOST_TEST(headers::validate("", "v") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A:B", "v") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A B", "v") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A\tB", "v") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A\x7f", "v") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("\xc3\xa9", "v") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A", "line\r\nInjected: x") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A", "cr\r") == nats::error::invalid_header);
  BOOST_TEST(headers::validate("A", "lf\n") == nats::error::invalid_header);
}

BOOST_AUTO_TEST_SUITE_END()
