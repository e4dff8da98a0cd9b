// Parser: exact events for realistic streams, the same events for every chunking (P2), errors for
// malformed input (P3), limits, zero copy and bounded memory.
#include "op_recorder.hpp"

#include "print_error.hpp"

#include <nats/error.hpp>
#include <nats/protocol/parser.hpp>

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>

using nats::error;
using nats::protocol::op_kind;
using nats::protocol::parser;
using nats::protocol::parser_limits;
using nats::test::recorded_op;
using nats::test::run_result;

namespace {

// Captured from nats-server 2.9.10 (a client that subscribes, publishes with and without reply and
// headers, requests a subject without responders and publishes to a bad subject), followed by
// hand-written operations covering the rest of the grammar.
const std::string info_json =
    R"({"server_id":"NBK3TGSJPX7CSWLMZKM4QBO2UDKZKNGYS5OALWFKLEKNET5KZRYO3FUL","server_name":"NBK3TGSJPX7CSWLMZKM4QBO2UDKZKNGYS5OALWFKLEKNET5KZRYO3FUL","version":"2.9.10","proto":1,"go":"go1.19.8","host":"0.0.0.0","port":14225,"headers":true,"max_payload":1048576,"client_id":4,"client_ip":"127.0.0.1"})";
const std::string hdr_block = "NATS/1.0\r\nX-Trace: a\r\nx-trace: b\r\nContent-Type: text/plain\r\n\r\n";
const std::string timeout_block =
    "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n";

const std::string server_stream = "INFO " + info_json + " \r\n" +
                                  "+OK\r\n+OK\r\n+OK\r\n+OK\r\n"
                                  "MSG foo.bar 1 5\r\nhello\r\n"
                                  "+OK\r\n"
                                  "MSG foo.baz 1 _INBOX.abc.1 0\r\n\r\n"
                                  "+OK\r\n"
                                  "HMSG foo.hdr 1 62 66\r\n" +
                                  hdr_block +
                                  "body\r\n"
                                  "+OK\r\n"
                                  "HMSG _INBOX.abc.2 2 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
                                  "PONG\r\n"
                                  "-ERR 'Invalid Publish Subject'\r\n"
                                  "+OK\r\n"
                                  "PING\r\n";

std::vector<recorded_op> expected_server_stream() {
  std::vector<recorded_op> v;
  v.push_back({op_kind::info, "", "", 0, "", "", info_json});
  for (int i = 0; i < 4; ++i) v.push_back({op_kind::ok, "", "", 0, "", "", ""});
  v.push_back({op_kind::msg, "foo.bar", "", 1, "", "hello", ""});
  v.push_back({op_kind::ok, "", "", 0, "", "", ""});
  v.push_back({op_kind::msg, "foo.baz", "_INBOX.abc.1", 1, "", "", ""});
  v.push_back({op_kind::ok, "", "", 0, "", "", ""});
  v.push_back({op_kind::hmsg, "foo.hdr", "", 1, hdr_block, "body", ""});
  v.push_back({op_kind::ok, "", "", 0, "", "", ""});
  v.push_back({op_kind::hmsg, "_INBOX.abc.2", "", 2, "NATS/1.0 503\r\n\r\n", "", ""});
  v.push_back({op_kind::pong, "", "", 0, "", "", ""});
  v.push_back({op_kind::err, "", "", 0, "", "", "Invalid Publish Subject"});
  v.push_back({op_kind::ok, "", "", 0, "", "", ""});
  v.push_back({op_kind::ping, "", "", 0, "", "", ""});
  return v;
}

std::vector<recorded_op> expected_extra_stream() {
  std::vector<recorded_op> v;
  v.push_back({op_kind::msg, "lower.case", "reply.to", 7, "", "abc", ""});
  v.push_back({op_kind::hmsg, "$JS.ACK.x", "_INBOX.r", 18446744073709551615ull, timeout_block, "", ""});
  v.push_back({op_kind::msg, "bin", "", 3, "",
               std::string("\r\n\0\xff"
                           "a\r",
                           6),
               ""});
  v.push_back({op_kind::ping, "", "", 0, "", "", ""});
  v.push_back({op_kind::pong, "", "", 0, "", "", ""});
  v.push_back({op_kind::ok, "", "", 0, "", "", ""});
  v.push_back({op_kind::err, "", "", 0, "", "", "Stale Connection"});
  v.push_back({op_kind::err, "", "", 0, "", "", ""});
  v.push_back({op_kind::msg, "utf8.\xc3\xa9t\xc3\xa9", "", 9, "", "", ""});
  return v;
}

struct sample {
  const char* name;
  std::string bytes;
  std::vector<recorded_op> ops;
  boost::system::error_code ec;
};

std::vector<sample> samples() {
  // extra_stream contains a NUL, so build it with an explicit size.
  static const std::string extra = [] {
    std::string s;
    s += "msg\tlower.case  7 \t reply.to 3\r\nabc\r\n";
    const auto n = std::to_string(timeout_block.size());
    s += "HMSG $JS.ACK.x 18446744073709551615 _INBOX.r " + n + " " + n + "\r\n" + timeout_block + "\r\n";
    s += std::string(
        "MSG bin 3 6\r\n\r\n\0\xff"
        "a\r\r\n",
        21);  // payload with CRLF, NUL and 0xff
    s += "ping\r\nPong\r\n+ok\r\n-ERR Stale Connection\r\n-ERR\r\nMSG utf8.\xc3\xa9t\xc3\xa9 9 0\r\n\r\n";
    return s;
  }();
  std::vector<sample> v;
  v.push_back({"nats-server 2.9 stream", server_stream, expected_server_stream(), {}});
  v.push_back({"grammar corners", extra, expected_extra_stream(), {}});
  v.push_back({"both",
               server_stream + extra,
               [] {
                 auto a = expected_server_stream();
                 auto b = expected_extra_stream();
                 a.insert(a.end(), b.begin(), b.end());
                 return a;
               }(),
               {}});
  // A stream that goes bad halfway: the events before the error, then the error.
  v.push_back({"stream then garbage", server_stream + "MSG a 1 3\r\nabcX\r\n", expected_server_stream(),
               nats::make_error_code(error::protocol_error)});
  return v;
}

void check_same(const run_result& got, const sample& s, const std::string& how) {
  BOOST_TEST_CONTEXT(s.name << ", " << how) {
    BOOST_TEST(got.ec == s.ec, "error " << got.ec.message() << " != " << s.ec.message());
    BOOST_TEST(got.sticky_error);
    BOOST_TEST(got.bounded);
    BOOST_TEST_REQUIRE(got.ops.size() == s.ops.size(), nats::test::describe(got));
    for (std::size_t i = 0; i < s.ops.size(); ++i) {
      BOOST_TEST(got.ops[i] == s.ops[i],
                 "op " << i << ": " << nats::test::describe(got.ops[i]) << " != " << nats::test::describe(s.ops[i]));
    }
  }
}

boost::system::error_code parse_error(std::string_view input, parser_limits limits = {}) {
  return nats::test::run_whole(input, limits).ec;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parser_tests)

BOOST_AUTO_TEST_CASE(whole_stream_gives_expected_ops) {
  for (const auto& s : samples()) check_same(nats::test::run_whole(s.bytes), s, "whole");
}

BOOST_AUTO_TEST_CASE(split_at_every_byte_boundary) {
  for (const auto& s : samples()) {
    for (std::size_t cut = 1; cut < s.bytes.size(); ++cut) {
      auto got = nats::test::run_split(s.bytes, cut);
      check_same(got, s, "cut at " + std::to_string(cut));
    }
  }
}

BOOST_AUTO_TEST_CASE(split_at_every_pair_of_boundaries) {
  // Three pieces: catches state carried across two partial reads (e.g. a control line, then half a body).
  const auto s = samples()[0];
  const auto expected = nats::test::run_whole(s.bytes);
  std::size_t runs = 0;
  std::size_t failures = 0;
  for (std::size_t a = 1; a < s.bytes.size(); a += 1) {
    for (std::size_t b = a + 1; b < s.bytes.size(); b += 3) {
      std::size_t step = 0;
      auto got = nats::test::run_chunked(s.bytes, {}, [&]() -> std::size_t {
        switch (step++) {
          case 0:
            return a;
          case 1:
            return b - a;
          default:
            return s.bytes.size();
        }
      });
      ++runs;
      if (!(got == expected)) {
        if (++failures < 5) BOOST_ERROR("cuts at " << a << "," << b << ": " << nats::test::describe(got));
      }
    }
  }
  BOOST_TEST(failures == 0u);
  BOOST_TEST(runs > 10000u);
}

BOOST_AUTO_TEST_CASE(byte_by_byte) {
  for (const auto& s : samples()) check_same(nats::test::run_bytewise(s.bytes), s, "byte by byte");
}

BOOST_AUTO_TEST_CASE(random_chunks) {
  nats::test::rng rnd(42);
  for (const auto& s : samples()) {
    for (int round = 0; round < 300; ++round) {
      const std::size_t max_chunk = 1 + rnd.below(round % 3 == 0 ? 8 : 200);
      check_same(nats::test::run_chunked(s.bytes, {}, [&] { return 1 + rnd.below(max_chunk); }), s,
                 "random round " + std::to_string(round));
    }
  }
}

BOOST_AUTO_TEST_CASE(prepare_commit_partial_commits) {
  // The Asio way: ask for a big area, receive fewer bytes.
  for (const auto& s : samples()) {
    parser p;
    run_result r;
    nats::test::rng rnd(7);
    std::size_t pos = 0;
    while (pos < s.bytes.size() && !r.ec) {
      auto area = p.prepare(4096);
      BOOST_TEST_REQUIRE(area.size() >= 4096u);
      const std::size_t n = std::min<std::size_t>(1 + rnd.below(40), s.bytes.size() - pos);
      std::memcpy(area.data(), s.bytes.data() + pos, n);
      p.commit(n);
      pos += n;
      while (true) {
        auto op = p.next(r.ec);
        if (!op) break;
        r.ops.push_back(nats::test::record(*op));
      }
    }
    check_same(r, s, "prepare/commit");
  }
}

BOOST_AUTO_TEST_CASE(payload_is_a_view_into_the_buffer) {
  parser p;
  auto area = p.prepare(64);
  const std::string in = "MSG a.b 1 r 5\r\nhello\r\n";
  std::memcpy(area.data(), in.data(), in.size());
  p.commit(in.size());
  boost::system::error_code ec;
  auto op = p.next(ec);
  BOOST_TEST_REQUIRE(op.has_value());
  BOOST_TEST(op->payload == "hello");
  BOOST_TEST(op->payload.data() == area.data() + 15);
  BOOST_TEST(op->subject.data() == area.data() + 4);
  BOOST_TEST(op->reply.data() == area.data() + 10);
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(!ec);
  BOOST_TEST(p.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE(malformed_inputs) {
  const auto protocol_error = nats::make_error_code(error::protocol_error);
  struct row {
    const char* input;
    boost::system::error_code ec;
  };
  const row rows[] = {
      {"MSG foo 1 5\r\nhelloXY", protocol_error},  // payload not followed by CRLF
      {"MSG foo 1 5\r\nhello\n\r", protocol_error},
      {"MSG foo 1 3\r\nhello\r\n", protocol_error},  // size shorter than the payload
      {"MSG foo 1 x\r\n", protocol_error},           // bad number
      {"MSG foo 1 -1\r\n", protocol_error},
      {"MSG foo 1 +1\r\n", protocol_error},
      {"MSG foo 1 1e3\r\n", protocol_error},
      {"MSG foo x 1\r\na\r\n", protocol_error},                     // bad sid
      {"MSG foo 1 99999999999999999999999\r\n", protocol_error},    // overflow
      {"MSG foo 18446744073709551616 1\r\na\r\n", protocol_error},  // sid overflow by one
      {"MSG foo 1\r\n", protocol_error},                            // missing args
      {"MSG foo\r\n", protocol_error},
      {"MSG\r\n", protocol_error},
      {"MSG \r\n", protocol_error},
      {"MSG a 1 b c 5\r\n", protocol_error},  // too many args
      {"HMSG foo 1 5\r\n", protocol_error},   // HMSG missing total
      {"HMSG foo 1 r a b c 5\r\n", protocol_error},
      {"HMSG foo 1 20 10\r\n", protocol_error},  // header size > total size
      {"HMSG foo 1 x 10\r\n", protocol_error},
      {"MSG fo\x01o 1 0\r\n\r\n", protocol_error},        // control byte inside the subject
      {"MSG fo\x7fo 1 0\r\n\r\n", protocol_error},        // DEL inside the subject
      {"MSG foo\r 1 0\r\n\r\n", protocol_error},          // stray CR inside the subject
      {"MSG foo 1 re\x02ply 0\r\n\r\n", protocol_error},  // control byte inside the reply
      {"MSGX foo 1 0\r\n\r\n", protocol_error},           // unknown ops
      {"MS foo 1 0\r\n", protocol_error},
      {"FOO\r\n", protocol_error},
      {"PINGX\r\n", protocol_error},
      {"PING foo\r\n", protocol_error},
      {"+OKAY\r\n", protocol_error},
      {"-ERROR\r\n", protocol_error},
      {"INFO\r\n", protocol_error},  // INFO without JSON
      {"INFO   \r\n", protocol_error},
      {"INFO{}\r\n", protocol_error},
      {"\r\n", protocol_error},    // empty line
      {"PING\n", protocol_error},  // LF without CR
      {"\n", protocol_error},
      {"PING\r\nPONG\n", protocol_error},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("input: " << r.input) {
      BOOST_TEST(parse_error(r.input) == r.ec, parse_error(r.input).message());
      // The same error whatever the chunking.
      BOOST_TEST(nats::test::run_bytewise(r.input).ec == r.ec);
    }
  }
  // A NUL byte inside a subject (needs an explicit length).
  BOOST_TEST(parse_error(std::string_view("MSG a\0b 1 0\r\n\r\n", 16)) == protocol_error);
}

BOOST_AUTO_TEST_CASE(error_is_sticky_until_reset) {
  parser p;
  p.feed("BOGUS\r\nPING\r\n");
  boost::system::error_code ec;
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(ec == error::protocol_error);
  p.feed("PING\r\n");
  for (int i = 0; i < 3; ++i) {
    boost::system::error_code again;
    BOOST_TEST(!p.next(again).has_value());
    BOOST_TEST(again == error::protocol_error);
  }
  BOOST_TEST(p.buffered() == 0u);  // a failed parser holds nothing
  p.reset();
  p.feed("PING\r\n");
  auto op = p.next(ec);
  BOOST_TEST(!ec);
  BOOST_TEST_REQUIRE(op.has_value());
  BOOST_TEST((op->kind == op_kind::ping));
}

BOOST_AUTO_TEST_CASE(reset_drops_partial_input) {
  parser p;
  p.feed("MSG a 1 10\r\nabc");
  boost::system::error_code ec;
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(!ec);
  BOOST_TEST(p.buffered() > 0u);
  p.reset();
  BOOST_TEST(p.buffered() == 0u);
  p.feed("PONG\r\n");
  auto op = p.next(ec);
  BOOST_TEST_REQUIRE(op.has_value());
  BOOST_TEST((op->kind == op_kind::pong));
}

BOOST_AUTO_TEST_CASE(control_line_limit) {
  parser_limits l;
  l.max_control_line = 64;
  const std::string subject_ok(64 - 8, 'a');  // "MSG " + subject + " 1 0" = 64 bytes
  const std::string at_limit = "MSG " + subject_ok + " 1 0";
  BOOST_TEST_REQUIRE(at_limit.size() == 64u);
  auto ok = nats::test::run_bytewise(at_limit + "\r\n\r\n", l);
  BOOST_TEST(!ok.ec);
  BOOST_TEST(ok.ops.size() == 1u);

  const std::string over = "MSG " + subject_ok + "a 1 0";
  BOOST_TEST(parse_error(over + "\r\n\r\n", l) == error::control_line_too_long);
  BOOST_TEST(nats::test::run_bytewise(over + "\r\n\r\n", l).ec == error::control_line_too_long);

  // Detected without the CRLF as soon as max + 2 bytes are buffered, and not before.
  parser p(l);
  boost::system::error_code ec;
  p.feed(std::string(65, 'x'));
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(!ec);
  p.feed("y");
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(ec == error::control_line_too_long);
  BOOST_TEST(p.buffered() == 0u);

  // 64 bytes + CR, then LF: fine.
  parser q(l);
  q.feed("INFO " + std::string(59, 'x') + "\r");
  BOOST_TEST(!q.next(ec).has_value());
  BOOST_TEST(!ec);
  q.feed("\n");
  auto op = q.next(ec);
  BOOST_TEST(!ec);
  BOOST_TEST_REQUIRE(op.has_value());
  BOOST_TEST(op->text.size() == 59u);

  // Default limit is 4096.
  BOOST_TEST(parse_error("INFO " + std::string(4092, 'x') + "\r\n") == error::control_line_too_long);
  BOOST_TEST(!parse_error("INFO " + std::string(4091, 'x') + "\r\n"));
}

BOOST_AUTO_TEST_CASE(payload_limit) {
  parser_limits l;
  l.max_payload = 100;
  BOOST_TEST(!parse_error("MSG a 1 100\r\n" + std::string(100, 'p') + "\r\n", l));
  // Refused right after the control line, before any payload byte arrives.
  parser p(l);
  p.feed("MSG a 1 101\r\n");
  boost::system::error_code ec;
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(ec == error::max_payload_exceeded);
  BOOST_TEST(p.buffered() == 0u);
  // HMSG counts the total.
  BOOST_TEST(parse_error("HMSG a 1 10 101\r\n", l) == error::max_payload_exceeded);
  BOOST_TEST(!parse_error("HMSG a 1 16 100\r\nNATS/1.0 503\r\n\r\n" + std::string(84, 'p') + "\r\n", l));
  // A huge size does not make the parser wait for gigabytes.
  BOOST_TEST(parse_error("MSG a 1 18446744073709551615\r\n") == error::max_payload_exceeded);

  // set_max_payload (from INFO) applies to later messages.
  parser q;
  q.set_max_payload(4);
  BOOST_TEST(q.limits().max_payload == 4u);
  q.feed("MSG a 1 4\r\nabcd\r\nMSG a 1 5\r\n");
  auto op = q.next(ec);
  BOOST_TEST_REQUIRE(op.has_value());
  BOOST_TEST(op->payload == "abcd");
  BOOST_TEST(!q.next(ec).has_value());
  BOOST_TEST(ec == error::max_payload_exceeded);
}

BOOST_AUTO_TEST_CASE(long_running_parser_does_not_grow) {
  // 200k messages in reads of 4 KiB that cut messages anywhere: the free area prepare() hands out
  // stays small, i.e. the buffer is compacted instead of growing.
  std::string chunk;
  for (int i = 0; i < 100; ++i)
    chunk += "MSG updates." + std::to_string(i) + " 12 _INBOX.x 17\r\n0123456789abcdefg\r\n";
  parser p;
  std::size_t ops = 0;
  std::size_t largest_area = 0;
  std::size_t pos = 0;
  const std::size_t total = chunk.size() * 2000;
  while (pos < total) {
    auto area = p.prepare(4096);
    largest_area = std::max(largest_area, area.size());
    std::size_t n = std::min<std::size_t>(4096, total - pos);
    for (std::size_t i = 0; i < n; ++i) area[i] = chunk[(pos + i) % chunk.size()];
    p.commit(n);
    pos += n;
    boost::system::error_code ec;
    while (auto op = p.next(ec)) {
      ++ops;
      if (op->payload != "0123456789abcdefg") BOOST_FAIL("bad payload at op " << ops);
    }
    BOOST_TEST_REQUIRE(!ec);
  }
  BOOST_TEST(ops == 200000u);
  BOOST_TEST(largest_area <= 2u * 4096u);
}

BOOST_AUTO_TEST_CASE(big_message_in_small_reads) {
  const std::string payload(1 << 20, 'z');
  const std::string in = "MSG big 1 " + std::to_string(payload.size()) + "\r\n" + payload + "\r\nPING\r\n";
  auto r = nats::test::run_chunked(in, {}, [] { return std::size_t{1000}; });
  BOOST_TEST(!r.ec);
  BOOST_TEST_REQUIRE(r.ops.size() == 2u);
  BOOST_TEST(r.ops[0].payload == payload);
  BOOST_TEST((r.ops[1].kind == op_kind::ping));

  // Once the size is known, one prepare() makes room for the whole message (no repeated doubling).
  parser p;
  p.feed("MSG big 1 " + std::to_string(payload.size()) + "\r\n");
  boost::system::error_code ec;
  BOOST_TEST(!p.next(ec).has_value());
  BOOST_TEST(!ec);
  BOOST_TEST(p.prepare(1000).size() >= payload.size() + 2);
}

BOOST_AUTO_TEST_SUITE_END()
