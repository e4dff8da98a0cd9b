// Subject and queue-group validation tables, and wildcard matching tables.
#include "print_error.hpp"

#include <nats/error.hpp>
#include <nats/protocol/subject.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

namespace p = nats::protocol;
using nats::error;

BOOST_AUTO_TEST_SUITE(subject_tests)

BOOST_AUTO_TEST_CASE(publish_subjects) {
  struct row {
    std::string subject;
    bool valid;
  };
  const row rows[] = {
      {"foo", true},
      {"foo.bar", true},
      {"foo.bar.baz", true},
      {"$JS.API.STREAM.INFO.ORDERS", true},
      {"_INBOX.abc123.1", true},
      {"a-b_c.d~e", true},
      {"foo*", true},  // wildcards are whole tokens only
      {"foo.b>r", true},
      {"caf\xc3\xa9.menu", true},
      {"", false},
      {".", false},
      {"foo.", false},
      {".foo", false},
      {"foo..bar", false},
      {"foo bar", false},
      {"foo\tbar", false},
      {"foo\r\n", false},
      {"foo\nbar", false},
      {std::string("foo\0bar", 7), false},
      {"foo\x7f", false},
      {"*", false},  // no wildcards to publish
      {"foo.*", false},
      {"foo.>", false},
      {">", false},
      {"foo.*.bar", false},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("subject '" << r.subject << "'") {
      const auto ec = p::validate_publish_subject(r.subject);
      if (r.valid) {
        BOOST_TEST(!ec);
      } else {
        BOOST_TEST(ec == error::invalid_subject);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(subscribe_subjects) {
  struct row {
    std::string subject;
    bool valid;
  };
  const row rows[] = {
      {"foo", true},       {"*", true},       {">", true},       {"foo.*", true},
      {"foo.>", true},     {"*.*.bar", true}, {"foo.*.>", true}, {"nodered-cluster.*.sensors.>", true},
      {"foo*.bar", true},  {"", false},       {"foo..*", false}, {"foo.>.bar", false},  // '>' only as the last token
      {">.foo", false},    {"foo.> ", false}, {"foo .*", false}, {"foo.*.", false},
      {"foo.\x01", false},
  };
  for (const auto& r : rows) {
    BOOST_TEST_CONTEXT("subject '" << r.subject << "'") {
      const auto ec = p::validate_subscribe_subject(r.subject);
      if (r.valid) {
        BOOST_TEST(!ec);
      } else {
        BOOST_TEST(ec == error::invalid_subject);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(queue_groups) {
  BOOST_TEST(!p::validate_queue_group("workers"));
  BOOST_TEST(!p::validate_queue_group("workers.eu-1"));
  BOOST_TEST(!p::validate_queue_group("q_1"));
  BOOST_TEST(p::validate_queue_group("") == error::invalid_queue_group);
  BOOST_TEST(p::validate_queue_group("two words") == error::invalid_queue_group);
  BOOST_TEST(p::validate_queue_group("tab\t") == error::invalid_queue_group);
  BOOST_TEST(p::validate_queue_group("cr\r") == error::invalid_queue_group);
  BOOST_TEST(p::validate_queue_group("nl\n") == error::invalid_queue_group);
  BOOST_TEST(p::validate_queue_group("\x7f") == error::invalid_queue_group);
}

BOOST_AUTO_TEST_CASE(matching) {
  struct row {
    const char* pattern;
    const char* subject;
    bool match;
  };
  const row rows[] = {
      {"foo", "foo", true},
      {"foo", "bar", false},
      {"foo", "foo.bar", false},
      {"foo.bar", "foo", false},
      {"foo.bar", "foo.bar", true},
      {"foo.bar", "foo.baz", false},
      {"foo.bar", "foo.barx", false},
      {"foo.*", "foo.bar", true},
      {"foo.*", "foo", false},
      {"foo.*", "foo.bar.baz", false},
      {"*", "foo", true},
      {"*", "foo.bar", false},
      {"*.bar", "foo.bar", true},
      {"*.*", "a.b", true},
      {"*.*", "a", false},
      {"foo.*.baz", "foo.x.baz", true},
      {"foo.*.baz", "foo.x.bay", false},
      {">", "foo", true},
      {">", "foo.bar.baz", true},
      {"foo.>", "foo.bar", true},
      {"foo.>", "foo.bar.baz", true},
      {"foo.>", "foo", false},  // '>' needs at least one token
      {"foo.>", "bar.baz", false},
      {"foo.*.>", "foo.a.b", true},
      {"foo.*.>", "foo.a", false},
      {"nodered-cluster.*.sensors.>", "nodered-cluster.node1.sensors.temp.kitchen", true},
      {"nodered-cluster.*.sensors.>", "nodered-cluster.node1.actuators.x", false},
      {"foo*", "foo*", true},  // not a wildcard: a literal token
      {"foo*", "foobar", false},
      {"", "foo", false},
      {"foo", "", false},
  };
  for (const auto& r : rows) {
    BOOST_TEST(p::subject_matches(r.pattern, r.subject) == r.match, r.pattern << " vs " << r.subject);
  }
}

BOOST_AUTO_TEST_SUITE_END()
