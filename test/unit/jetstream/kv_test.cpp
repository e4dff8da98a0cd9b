#define BOOST_TEST_MODULE kv_codec
#include <boost/test/unit_test.hpp>

#include <nats/js/json.hpp>
#include <nats/kv/bucket.hpp>
#include <nats/kv/entry.hpp>
#include <nats/kv/error.hpp>

#include "print.hpp"

using namespace nats;
using namespace std::chrono_literals;

namespace nats::kv {
template <class E>
  requires std::is_enum_v<E>
std::ostream& operator<<(std::ostream& os, E e) {
  return os << static_cast<long>(e);
}
}  // namespace nats::kv

BOOST_AUTO_TEST_CASE(stream_layout_matches_other_clients) {
  kv::bucket_config c;
  c.bucket = "profiles";
  c.history = 5;
  c.ttl = 1h;
  c.max_value_size = 1024;
  c.storage = js::storage_type::memory;
  const auto s = kv::to_stream_config(c);
  BOOST_TEST(s.name == "KV_profiles");
  BOOST_TEST_REQUIRE(s.subjects.size() == 1u);
  BOOST_TEST(s.subjects[0] == "$KV.profiles.>");
  BOOST_TEST(s.max_msgs_per_subject == 5);
  BOOST_TEST(s.max_age == 1h);
  BOOST_TEST(s.max_msg_size == 1024);
  BOOST_TEST(s.storage == js::storage_type::memory);
  BOOST_TEST(s.allow_rollup_hdrs);
  BOOST_TEST(s.deny_delete);
  BOOST_TEST(!s.deny_purge);
  BOOST_TEST(s.allow_direct);
  BOOST_TEST(s.discard == js::discard_policy::new_msgs);
  BOOST_TEST(s.duplicate_window == 2min);
  BOOST_TEST(s.max_msgs == -1);

  c.ttl = 30s;  // shorter than 2 min: the duplicate window follows the TTL
  BOOST_TEST(kv::to_stream_config(c).duplicate_window == 30s);
  c.ttl = 0s;
  BOOST_TEST(kv::to_stream_config(c).duplicate_window == 2min);
}

BOOST_AUTO_TEST_CASE(config_validation) {
  kv::bucket_config c;
  c.bucket = "ok_bucket-1";
  BOOST_TEST(!kv::validate(c));
  c.history = 65;
  BOOST_TEST(kv::validate(c) == kv::error::history_too_large);
  c.history = 0;
  BOOST_TEST(kv::validate(c) == kv::error::invalid_config);
  c.history = 64;
  BOOST_TEST(!kv::validate(c));
  for (const char* bad : {"", "a.b", "a b", "a*", "a>", "ä"}) {
    c.bucket = bad;
    BOOST_TEST(kv::validate(c) == kv::error::invalid_bucket_name, bad);
  }
}

BOOST_AUTO_TEST_CASE(keys) {
  for (const char* good : {"a", "a.b", "A-Z_0=9/x", "x.y.z", "=", "--"}) BOOST_TEST(kv::valid_key(good), good);
  for (const char* bad : {"", ".a", "a.", "a..b", "a b", "a*", "a.>", ">", "*", "ä", "a\tb", "a:b"})
    BOOST_TEST(!kv::valid_key(bad), bad);
  for (const char* good : {">", "*", "a.*", "a.>", "*.b.>", "a"}) BOOST_TEST(kv::valid_key_filter(good), good);
  for (const char* bad : {"", ">.a", "a.>.b", "a*", "a..b", "a.", "a>"}) BOOST_TEST(!kv::valid_key_filter(bad), bad);
}

BOOST_AUTO_TEST_CASE(subjects) {
  BOOST_TEST(kv::key_subject("b", "k.x") == "$KV.b.k.x");
  BOOST_TEST(kv::key_of("b", "$KV.b.k.x").value_or("") == "k.x");
  BOOST_TEST(!kv::key_of("b", "$KV.bb.k").has_value());
  BOOST_TEST(!kv::key_of("b", "$KV.b.").has_value());
  BOOST_TEST(!kv::key_of("b", "$KV.b").has_value());
  BOOST_TEST(!kv::key_of("b", "KV.b.k").has_value());
}

BOOST_AUTO_TEST_CASE(operations_from_headers) {
  headers h;
  BOOST_TEST(kv::operation_of(h) == kv::operation::put);
  h.set("KV-Operation", "DEL");
  BOOST_TEST(kv::operation_of(h) == kv::operation::del);
  h.set("kv-operation", "PURGE");  // lookups ignore case
  BOOST_TEST(kv::operation_of(h) == kv::operation::purge);
  BOOST_TEST(std::string(kv::to_string(kv::operation::del)) == "DEL");
}

BOOST_AUTO_TEST_CASE(entry_from_stored_and_delivered) {
  js::stored_msg sm;
  sm.subject = "$KV.b.k1";
  sm.seq = 12;
  sm.data = "v";
  sm.headers.set("KV-Operation", "DEL");
  auto e = kv::entry_from("b", sm);
  BOOST_TEST_REQUIRE(e.has_value());
  BOOST_TEST(e->key == "k1");
  BOOST_TEST(e->revision == 12u);
  BOOST_TEST(e->op == kv::operation::del);
  sm.subject = "$KV.c.k1";
  BOOST_TEST(!kv::entry_from("b", sm).has_value());

  message m;
  m.subject = "$KV.b.a.b";
  m.reply = "$JS.ACK.KV_b.watch1.1.33.4.1700000000000000000.2";
  m.payload = "val";
  auto e2 = kv::entry_from("b", m);
  BOOST_TEST_REQUIRE(e2.has_value());
  BOOST_TEST(e2->key == "a.b");
  BOOST_TEST(e2->revision == 33u);
  BOOST_TEST(e2->delta == 2u);
  BOOST_TEST(e2->op == kv::operation::put);
  BOOST_TEST(e2->value == "val");
  m.reply = "_INBOX.x";
  BOOST_TEST(!kv::entry_from("b", m).has_value());
}

BOOST_AUTO_TEST_CASE(status_from_stream_info) {
  kv::bucket_config c;
  c.bucket = "b";
  c.history = 3;
  js::stream_info info;
  info.config = kv::to_stream_config(c);
  info.state.messages = 7;
  auto st = kv::status_from(info);
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->bucket == "b");
  BOOST_TEST(st->history == 3);
  BOOST_TEST(st->values == 7u);
  info.config.name = "ORDERS";
  BOOST_TEST(!kv::status_from(info).has_value());
  info.config.name = "KV_b";
  info.config.subjects = {"other.>"};
  BOOST_TEST(!kv::status_from(info).has_value());
}

BOOST_AUTO_TEST_CASE(bucket_written_by_nats_js_is_recognised) {
  // The config object of a bucket that nats.js 2.x creates (`kvm.create("b", {history: 5})`), as the
  // 2.9 server echoes it.
  const std::string reply = R"({"config":{"name":"KV_b","subjects":["$KV.b.>"],"retention":"limits","max_consumers":-1,
    "max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":5,"max_msg_size":-1,"discard":"new",
    "storage":"file","num_replicas":1,"duplicate_window":120000000000,"sealed":false,"deny_delete":true,
    "deny_purge":false,"allow_rollup_hdrs":true,"allow_direct":true,"mirror_direct":false},
    "state":{"messages":0,"bytes":0,"first_seq":0,"last_seq":0,"consumer_count":0}})";
  js::stream_info info;
  js::api_error api;
  BOOST_TEST_REQUIRE(!js::json::decode(reply, info, api));
  auto st = kv::status_from(info);
  BOOST_TEST_REQUIRE(st.has_value());
  BOOST_TEST(st->history == 5);
  kv::bucket_config c;
  c.bucket = "b";
  c.history = 5;
  BOOST_TEST((kv::to_stream_config(c) == info.config));
}
