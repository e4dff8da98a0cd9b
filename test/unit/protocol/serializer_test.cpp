// Serializer: exact bytes for every client operation, and appending without reallocating a
// buffer that already has room.
#include <nats/headers.hpp>
#include <nats/protocol/serializer.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace p = nats::protocol;

BOOST_AUTO_TEST_SUITE(serializer_tests)

BOOST_AUTO_TEST_CASE(connect) {
  std::string out;
  p::write_connect(out, R"({"verbose":false})");
  BOOST_TEST(out == "CONNECT {\"verbose\":false}\r\n");
}

BOOST_AUTO_TEST_CASE(pub) {
  std::string out;
  p::write_pub(out, "foo.bar", "", "hello");
  BOOST_TEST(out == "PUB foo.bar 5\r\nhello\r\n");
  out.clear();
  p::write_pub(out, "foo.bar", "_INBOX.1", "");
  BOOST_TEST(out == "PUB foo.bar _INBOX.1 0\r\n\r\n");
  out.clear();
  const std::string big(123456, 'x');
  p::write_pub(out, "a", "", big);
  BOOST_TEST(out == "PUB a 123456\r\n" + big + "\r\n");
  // Payload bytes are copied verbatim, CRLF and NUL included.
  out.clear();
  p::write_pub(out, "a", "", std::string_view("\r\n\0x", 4));
  BOOST_TEST(out == std::string("PUB a 4\r\n\r\n\0x\r\n", 15));
}

BOOST_AUTO_TEST_CASE(hpub) {
  nats::headers h;
  h.add("X-Trace", "a");
  h.add("X-Trace", "b");
  std::string block;
  h.serialize(block);
  BOOST_TEST(block == "NATS/1.0\r\nX-Trace: a\r\nX-Trace: b\r\n\r\n");
  std::string out;
  p::write_hpub(out, "foo", "", block, "body");
  BOOST_TEST(out == "HPUB foo 36 40\r\n" + block + "body\r\n");
  out.clear();
  p::write_hpub(out, "foo", "rep", block, "");
  BOOST_TEST(out == "HPUB foo rep 36 36\r\n" + block + "\r\n");
}

BOOST_AUTO_TEST_CASE(sub_unsub_ping_pong) {
  std::string out;
  p::write_sub(out, "foo.*", "", 1);
  p::write_sub(out, "foo.>", "workers", 18446744073709551615ull);
  p::write_unsub(out, 7);
  p::write_unsub(out, 7, 10);
  p::write_unsub(out, 8, 0);
  p::write_ping(out);
  p::write_pong(out);
  BOOST_TEST(out ==
             "SUB foo.* 1\r\n"
             "SUB foo.> workers 18446744073709551615\r\n"
             "UNSUB 7\r\n"
             "UNSUB 7 10\r\n"
             "UNSUB 8 0\r\n"
             "PING\r\n"
             "PONG\r\n");
}

BOOST_AUTO_TEST_CASE(appends_in_place) {
  std::string out = "prefix|";
  out.reserve(1 << 16);
  const char* data = out.data();
  for (int i = 0; i < 100; ++i) p::write_pub(out, "subject.x", "_INBOX.reply", "0123456789");
  BOOST_TEST(out.data() == data);  // no reallocation while capacity suffices
  BOOST_TEST(out.substr(0, 7) == "prefix|");
  BOOST_TEST(out.size() == 7u + 100u * std::string("PUB subject.x _INBOX.reply 10\r\n0123456789\r\n").size());
}

BOOST_AUTO_TEST_SUITE_END()
