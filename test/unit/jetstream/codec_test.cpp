#define BOOST_TEST_MODULE jetstream_codec
#include <boost/test/unit_test.hpp>

#include <nats/js/json.hpp>
#include <nats/js/metadata.hpp>

#include "print.hpp"

#include <simdjson.h>

using namespace nats::js;
using namespace std::chrono_literals;

namespace {

// Re-parses our own output with simdjson: every request we write must be valid JSON.
simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& s) {
  simdjson::dom::element e;
  BOOST_REQUIRE_MESSAGE(p.parse(s).get(e) == simdjson::SUCCESS, "invalid JSON: " << s);
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stream_config_codec)

BOOST_AUTO_TEST_CASE(encode_defaults_and_units) {
  stream_config c;
  c.name = "ORDERS";
  c.subjects = {"orders.>", "x\"y"};
  c.retention = retention_policy::workqueue;
  c.storage = storage_type::memory;
  c.max_age = 90s;
  c.duplicate_window = 2min;
  c.discard = discard_policy::new_msgs;
  c.allow_direct = true;
  const auto s = json::encode(c);
  simdjson::dom::parser p;
  auto e = parse(p, s);
  BOOST_TEST(std::string_view(e["name"]) == "ORDERS");
  BOOST_TEST(std::string_view(e["subjects"].at(1)) == "x\"y");
  BOOST_TEST(std::string_view(e["retention"]) == "workqueue");
  BOOST_TEST(std::string_view(e["storage"]) == "memory");
  BOOST_TEST(std::string_view(e["discard"]) == "new");
  BOOST_TEST(int64_t(e["max_age"]) == 90'000'000'000LL);  // nanoseconds on the wire
  BOOST_TEST(int64_t(e["duplicate_window"]) == 120'000'000'000LL);
  BOOST_TEST(int64_t(e["max_msgs"]) == -1);
  BOOST_TEST(int64_t(e["num_replicas"]) == 1);
  BOOST_TEST(bool(e["allow_direct"]) == true);
  BOOST_TEST(e["metadata"].error() == simdjson::NO_SUCH_FIELD);  // 2.10 field omitted when empty
  BOOST_TEST(e["allow_msg_ttl"].error() == simdjson::NO_SUCH_FIELD);
}

BOOST_AUTO_TEST_CASE(escaping_of_control_characters) {
  stream_config c;
  c.name = "S";
  c.description = "tab\there\nnl \\ \x01 \xc3\xa9";  // 18 bytes; no explicit length to get wrong
  const auto s = json::encode(c);
  BOOST_TEST(s.find("tab\\there\\nnl \\\\ \\u0001 \xc3\xa9") != std::string::npos);
  simdjson::dom::parser p;
  auto e = parse(p, s);
  BOOST_TEST(std::string_view(e["description"]) == c.description);
}

BOOST_AUTO_TEST_CASE(round_trip_through_info) {
  stream_config c;
  c.name = "KV_b";
  c.description = "d";
  c.subjects = {"$KV.b.>"};
  c.retention = retention_policy::interest;
  c.max_msgs = 10;
  c.max_bytes = 1 << 20;
  c.max_age = 1500ms;
  c.max_msgs_per_subject = 5;
  c.max_msg_size = 1024;
  c.discard = discard_policy::new_msgs;
  c.duplicate_window = 30s;
  c.deny_delete = true;
  c.deny_purge = true;
  c.allow_rollup_hdrs = true;
  c.allow_direct = true;
  c.replicas = 3;
  c.republish = republish_config{"$KV.b.>", "repub.>", true};
  c.sources = {stream_source{"A", 5, std::nullopt, "a.>", "hub"}};
  c.metadata = {{"k", "v"}};
  const std::string reply = R"({"type":"io.nats.jetstream.api.v1.stream_create_response","config":)" + json::encode(c) +
                            R"(,"created":"2024-02-03T04:05:06.123456789Z","state":{"messages":3,"bytes":99,)"
                            R"("first_seq":1,"first_ts":"2024-02-03T04:05:07Z","last_seq":3,)"
                            R"("last_ts":"0001-01-01T00:00:00Z","consumer_count":2,"future_field":[1,2]},)"
                            R"("cluster":{"name":"c1","leader":"n1"},"did_create":true})";
  stream_info info;
  api_error api;
  auto ec = json::decode(reply, info, api);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  BOOST_TEST((info.config == c));
  BOOST_TEST(info.state.messages == 3u);
  BOOST_TEST(info.state.bytes == 99u);
  BOOST_TEST(info.state.last_seq == 3u);
  BOOST_TEST(info.state.consumer_count == 2);
  BOOST_TEST(info.state.first_ts.has_value());
  BOOST_TEST(!info.state.last_ts.has_value());  // Go zero time = unset
  BOOST_TEST_REQUIRE(info.created.has_value());
  BOOST_TEST(format_rfc3339(*info.created) == "2024-02-03T04:05:06.123456789Z");
  BOOST_TEST_REQUIRE(info.cluster.has_value());
  BOOST_TEST(info.cluster->leader == "n1");
}

BOOST_AUTO_TEST_CASE(server_reply_2_9_shape) {
  // Shape of a 2.9 stream info reply (fields the 2.9 server writes, incl. ones we ignore).
  const std::string reply = R"({"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,
    "config":{"name":"T","subjects":["t.*"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,
    "max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,
    "duplicate_window":120000000000,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,
    "allow_direct":false,"mirror_direct":false},
    "created":"2024-01-01T00:00:00.5Z","state":{"messages":0,"bytes":0,"first_seq":0,
    "first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}})";
  stream_info info;
  api_error api;
  BOOST_TEST_REQUIRE(!json::decode(reply, info, api));
  BOOST_TEST(info.config.name == "T");
  BOOST_TEST(info.config.duplicate_window == 2min);
  BOOST_TEST(info.config.max_msgs == -1);
  BOOST_TEST(!info.state.first_ts.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_enum_value_keeps_default) {
  stream_info info;
  api_error api;
  BOOST_TEST(!json::decode(R"({"config":{"name":"X","storage":"quantum","retention":"interest"}})", info, api));
  BOOST_TEST(info.config.storage == storage_type::file);
  BOOST_TEST(info.config.retention == retention_policy::interest);
}

BOOST_AUTO_TEST_CASE(wrong_types_are_invalid_reply) {
  stream_info info;
  api_error api;
  BOOST_TEST(json::decode(R"({"config":{"name":5}})", info, api) == error::invalid_reply);
  BOOST_TEST(json::decode(R"({"config":)", info, api) == error::invalid_reply);
  BOOST_TEST(json::decode(R"([1,2])", info, api) == error::invalid_reply);
  BOOST_TEST(json::decode(R"({"state":{}})", info, api) == error::invalid_reply);  // config is required
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(api_errors)

BOOST_AUTO_TEST_CASE(known_err_codes_compare_to_enum) {
  stream_info info;
  api_error api;
  auto ec = json::decode(
      R"({"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}})",
      info, api);
  BOOST_TEST(ec == error::stream_not_found);
  BOOST_TEST(ec.value() == 10059);
  BOOST_TEST(api.code == 404);
  BOOST_TEST(api.err_code == 10059);
  BOOST_TEST(api.description == "stream not found");
  BOOST_TEST(ec.message() == "stream not found");
}

BOOST_AUTO_TEST_CASE(unknown_err_code_is_kept) {
  pub_ack ack;
  api_error api;
  auto ec = json::decode(R"({"error":{"code":400,"err_code":10999,"description":"new thing"}})", ack, api);
  BOOST_TEST((ec.category() == error_category()));
  BOOST_TEST(ec.value() == 10999);
  BOOST_TEST(api.description == "new thing");
  BOOST_TEST(ec.message().find("10999") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(error_without_err_code) {
  pub_ack ack;
  api_error api;
  auto ec = json::decode(R"({"error":{"code":503,"description":"unavailable"}})", ack, api);
  BOOST_TEST(ec == error::bad_request);
  BOOST_TEST(api.code == 503);
  BOOST_TEST(api.to_error_code() == ec);
}

BOOST_AUTO_TEST_CASE(wrong_last_sequence_on_publish) {
  pub_ack ack;
  api_error api;
  auto ec = json::decode(
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}})", ack, api);
  BOOST_TEST(ec == error::wrong_last_sequence);
  BOOST_TEST(api.description == "wrong last sequence: 3");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(consumer_codec)

BOOST_AUTO_TEST_CASE(encode_create_request) {
  consumer_config c;
  c.durable_name = "d";
  c.deliver = deliver_policy::by_start_time;
  c.opt_start_time = *parse_rfc3339("2024-05-06T07:08:09.5Z");
  c.ack = ack_policy::explicit_ack;
  c.ack_wait = 2s;
  c.max_deliver = 5;
  c.backoff = {1s, 2s};
  c.filter_subjects = {"a.>", "b.*"};
  c.max_ack_pending = 100;
  c.inactive_threshold = 10s;
  c.headers_only = true;
  const auto s = json::encode_consumer_create("S", c, json::consumer_action::create);
  simdjson::dom::parser p;
  auto e = parse(p, s);
  BOOST_TEST(std::string_view(e["stream_name"]) == "S");
  BOOST_TEST(std::string_view(e["action"]) == "create");
  auto cfg = e["config"];
  BOOST_TEST(std::string_view(cfg["deliver_policy"]) == "by_start_time");
  BOOST_TEST(std::string_view(cfg["opt_start_time"]) == "2024-05-06T07:08:09.5Z");
  BOOST_TEST(std::string_view(cfg["ack_policy"]) == "explicit");
  BOOST_TEST(int64_t(cfg["ack_wait"]) == 2'000'000'000LL);
  BOOST_TEST(int64_t(cfg["backoff"].at(1)) == 2'000'000'000LL);
  BOOST_TEST(std::string_view(cfg["filter_subjects"].at(1)) == "b.*");
  BOOST_TEST(cfg["opt_start_seq"].error() == simdjson::NO_SUCH_FIELD);
  BOOST_TEST(cfg["filter_subject"].error() == simdjson::NO_SUCH_FIELD);
  // create_or_update (2.9 servers): no "action" field
  auto s2 = json::encode_consumer_create("S", c);
  BOOST_TEST(s2.find("\"action\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(decode_info_round_trip) {
  consumer_config c;
  c.durable_name = "d";
  c.name = "d";
  c.deliver = deliver_policy::by_start_sequence;
  c.opt_start_seq = 42;
  c.ack = ack_policy::all;
  c.ack_wait = 30s;
  c.max_deliver = 3;
  c.filter_subject = "x.y";
  c.replay = replay_policy::original;
  c.max_waiting = 512;
  c.max_ack_pending = 1000;
  c.max_batch = 10;
  c.max_expires = 5s;
  c.max_bytes = 1000;
  // The config object as we write it, cut out of the create request, stands in for the server's echo.
  BOOST_TEST_REQUIRE(json::encode_consumer_create("S", c).substr(0, 28) == R"({"stream_name":"S","config":)");
  const std::string fixed = R"({"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S","name":"d",
    "created":"2024-01-01T00:00:00Z","config":)" +
                            [&] {
                              auto full = json::encode_consumer_create("S", c);
                              return full.substr(28, full.size() - 29);
                            }() +
                            R"(,"delivered":{"consumer_seq":4,"stream_seq":45,"last_active":"2024-01-01T00:00:01Z"},
    "ack_floor":{"consumer_seq":2,"stream_seq":43},"num_ack_pending":2,"num_redelivered":1,"num_waiting":1,
    "num_pending":7,"cluster":{"leader":"x"}})";
  consumer_info info;
  api_error api;
  auto ec = json::decode(fixed, info, api);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  BOOST_TEST((info.config == c));
  BOOST_TEST(info.stream_name == "S");
  BOOST_TEST(info.delivered.stream_seq == 45u);
  BOOST_TEST(info.ack_floor.consumer_seq == 2u);
  BOOST_TEST(info.num_pending == 7u);
  BOOST_TEST(info.num_redelivered == 1);
  BOOST_TEST(info.delivered.last_active.has_value());
}

BOOST_AUTO_TEST_CASE(pull_request_body) {
  json::pull_request r;
  r.batch = 10;
  r.max_bytes = 4096;
  r.expires = 5s;
  r.idle_heartbeat = 1s;
  simdjson::dom::parser p;
  auto e = parse(p, json::encode(r));
  BOOST_TEST(int64_t(e["batch"]) == 10);
  BOOST_TEST(int64_t(e["expires"]) == 5'000'000'000LL);
  BOOST_TEST(int64_t(e["idle_heartbeat"]) == 1'000'000'000LL);
  BOOST_TEST(e["no_wait"].error() == simdjson::NO_SUCH_FIELD);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(other_replies)

BOOST_AUTO_TEST_CASE(pub_ack_fields) {
  pub_ack a;
  api_error api;
  BOOST_TEST(!json::decode(R"({"stream":"S","seq":12,"duplicate":true,"domain":"hub"})", a, api));
  BOOST_TEST(a.stream == "S");
  BOOST_TEST(a.seq == 12u);
  BOOST_TEST(a.duplicate);
  BOOST_TEST(a.domain == "hub");
  BOOST_TEST(!json::decode(R"({"stream":"S","seq":1})", a, api));
  BOOST_TEST(!a.duplicate);
  BOOST_TEST(json::decode(R"({"seq":1})", a, api) == error::invalid_reply);  // no stream: not a PubAck
  BOOST_TEST(json::decode("", a, api) == error::invalid_reply);
}

// The scanner for the usual PubAck shape and the DOM it falls back to must agree.
BOOST_AUTO_TEST_CASE(pub_ack_fast_path_and_fallback) {
  pub_ack a;
  api_error api;
  BOOST_TEST(!json::decode(" { \"stream\" : \"ORDERS\" ,\n \"seq\": 18446744073709551615 } ", a, api));
  BOOST_TEST(a.stream == "ORDERS");
  BOOST_TEST(a.seq == 18446744073709551615u);
  BOOST_TEST(!a.duplicate);
  BOOST_TEST(a.domain.empty());
  // A previous decode's fields never leak into the next.
  BOOST_TEST(!json::decode(R"({"stream":"S","seq":3,"duplicate":true,"domain":"d"})", a, api));
  BOOST_TEST(!json::decode(R"({"seq":4,"stream":"T"})", a, api));
  BOOST_TEST(a.stream == "T");
  BOOST_TEST(a.seq == 4u);
  BOOST_TEST(!a.duplicate);
  BOOST_TEST(a.domain.empty());
  BOOST_TEST(!json::decode(R"({"stream":"S","seq":5,"duplicate":false})", a, api));
  BOOST_TEST(!a.duplicate);
  // Shapes the scanner leaves to the DOM: escapes, unknown members, nested values.
  BOOST_TEST(!json::decode(R"({"stream":"A\u0042","seq":6})", a, api));
  BOOST_TEST(a.stream == "AB");
  BOOST_TEST(!json::decode(R"({"stream":"S","seq":7,"new_field":{"x":[1,2]}})", a, api));
  BOOST_TEST(a.seq == 7u);
  BOOST_TEST(a.stream == "S");
  // Errors and malformed input.
  auto ec = json::decode(R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"},"stream":"S","seq":0})",
                         a, api);
  BOOST_TEST(ec == error::wrong_last_sequence);
  BOOST_TEST(json::decode(R"({"stream":"S","seq":1.5})", a, api) == error::invalid_reply);
  BOOST_TEST(json::decode(R"({"stream":"S","seq":1)", a, api) == error::invalid_reply);
  BOOST_TEST(json::decode(R"({"stream":"","seq":1})", a, api) == error::invalid_reply);
  BOOST_TEST(json::decode(R"({"stream":"S","seq":1} x)", a, api) == error::invalid_reply);
}

BOOST_AUTO_TEST_CASE(stored_message) {
  const std::string hdr = "NATS/1.0\r\nKV-Operation: DEL\r\nX: 1\r\n\r\n";
  const std::string reply = R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"a.b",
    "seq":7,"hdrs":")" + json::base64_encode(hdr) + R"(","data":")" + json::base64_encode("hello\0world") +
                            R"(","time":"2024-01-01T00:00:00.000000001Z"}})";
  stored_msg m;
  api_error api;
  auto ec = json::decode(reply, m, api);
  BOOST_TEST_REQUIRE(!ec, ec.message());
  BOOST_TEST(m.subject == "a.b");
  BOOST_TEST(m.seq == 7u);
  BOOST_TEST(m.data == "hello");  // string literal stops at NUL; checked below with binary data
  BOOST_TEST(m.headers.get("kv-operation").value_or("") == "DEL");
  BOOST_TEST(format_rfc3339(m.time) == "2024-01-01T00:00:00.000000001Z");

  const std::string bin("\x00\xff\x10z", 4);
  const std::string reply2 = R"({"message":{"subject":"s","seq":1,"data":")" + json::base64_encode(bin) +
                             R"(","time":"2024-01-01T00:00:00Z"}})";
  BOOST_TEST_REQUIRE(!json::decode(reply2, m, api));
  BOOST_TEST(m.data == bin);
  BOOST_TEST(m.headers.empty());

  auto ec3 = json::decode(R"({"error":{"code":404,"err_code":10037,"description":"no message found"}})", m, api);
  BOOST_TEST(ec3 == error::no_message_found);
}

BOOST_AUTO_TEST_CASE(base64) {
  std::string out;
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    BOOST_TEST(json::base64_decode(json::base64_encode(s), out));
    BOOST_TEST(out == s);
  }
  BOOST_TEST(json::base64_encode("foobar") == "Zm9vYmFy");
  BOOST_TEST(json::base64_encode("fo") == "Zm8=");
  BOOST_TEST(json::base64_decode("Zm8", out));  // unpadded
  BOOST_TEST(out == "fo");
  BOOST_TEST(!json::base64_decode("Zm9v!", out));
  BOOST_TEST(!json::base64_decode("Zg==Zg", out));
}

BOOST_AUTO_TEST_CASE(names_and_lists) {
  json::names_page n;
  api_error api;
  BOOST_TEST(!json::decode(R"({"total":2,"offset":0,"limit":1024,"streams":["A","B"]})", n, api));
  BOOST_TEST(n.names.size() == 2u);
  BOOST_TEST(n.total == 2u);
  BOOST_TEST(!json::decode(R"({"total":0,"offset":0,"limit":1024,"streams":null})", n, api));
  BOOST_TEST(n.names.empty());
  BOOST_TEST(!json::decode(R"({"total":1,"offset":0,"limit":1024,"consumers":["c"]})", n, api));
  BOOST_TEST(n.names.at(0) == "c");

  json::stream_list_page sl;
  BOOST_TEST(!json::decode(R"({"total":1,"offset":0,"limit":256,"streams":[{"config":{"name":"A"},"state":{"messages":4}}]})",
                           sl, api));
  BOOST_TEST_REQUIRE(sl.streams.size() == 1u);
  BOOST_TEST(sl.streams[0].state.messages == 4u);

  json::consumer_list_page cl;
  BOOST_TEST(!json::decode(R"({"total":1,"offset":0,"limit":256,"consumers":[{"name":"c","config":{"ack_policy":"none"}}]})",
                           cl, api));
  BOOST_TEST_REQUIRE(cl.consumers.size() == 1u);
  BOOST_TEST(cl.consumers[0].config.ack == ack_policy::none);
}

BOOST_AUTO_TEST_CASE(success_and_purge) {
  api_error api;
  std::uint64_t purged = 0;
  BOOST_TEST(!json::decode_success(R"({"success":true})", api));
  BOOST_TEST(!json::decode_success(R"({"success":true,"purged":17})", api, &purged));
  BOOST_TEST(purged == 17u);
  BOOST_TEST(json::decode_success(R"({"success":false})", api) == error::invalid_reply);
  BOOST_TEST(json::decode_success(R"({"error":{"code":404,"err_code":10014,"description":"consumer not found"}})", api) ==
             error::consumer_not_found);
}

BOOST_AUTO_TEST_CASE(account_info_api_level) {
  json::account_info ai;
  api_error api;
  BOOST_TEST(!json::decode(R"({"memory":0,"storage":10,"streams":1,"consumers":2,"api":{"total":5,"errors":0}})", ai, api));
  BOOST_TEST(ai.api_level == 0);  // 2.9: no level
  BOOST_TEST(ai.consumers == 2u);
  BOOST_TEST(!json::decode(R"({"api":{"level":1}})", ai, api));
  BOOST_TEST(ai.api_level == 1);
}

BOOST_AUTO_TEST_CASE(purge_and_get_requests) {
  simdjson::dom::parser p;
  purge_options po;
  po.filter = "a.b";
  po.keep = 1;
  auto e = parse(p, json::encode(po));
  BOOST_TEST(std::string_view(e["filter"]) == "a.b");
  BOOST_TEST(uint64_t(e["keep"]) == 1u);
  BOOST_TEST(json::encode(purge_options{}) == "{}");
  get_msg_request g;
  g.last_by_subject = "$KV.b.k";
  BOOST_TEST(json::encode(g) == R"({"last_by_subj":"$KV.b.k"})");
  g = {};
  g.seq = 5;
  BOOST_TEST(json::encode(g) == R"({"seq":5})");
  g.next_by_subject = "x";
  BOOST_TEST(json::encode(g) == R"({"seq":5,"next_by_subj":"x"})");
  BOOST_TEST(json::encode_list_request(0) == R"({"offset":0})");
  BOOST_TEST(json::encode_list_request(256, "a.>") == R"({"offset":256,"subject":"a.>"})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(status_messages)

BOOST_AUTO_TEST_CASE(direct_get_reply) {
  nats::message m;
  m.subject = "_INBOX.x";
  m.has_headers = true;
  m.headers.add("Nats-Stream", "KV_b");
  m.headers.add("Nats-Subject", "$KV.b.k");
  m.headers.add("Nats-Sequence", "9");
  m.headers.add("Nats-Time-Stamp", "2024-01-01T00:00:00.25Z");
  m.headers.add("KV-Operation", "PURGE");
  m.payload = "v";
  stored_msg out;
  api_error api;
  BOOST_TEST_REQUIRE(!json::from_direct_get(m, out, api));
  BOOST_TEST(out.seq == 9u);
  BOOST_TEST(out.subject == "$KV.b.k");
  BOOST_TEST(out.data == "v");
  BOOST_TEST(out.headers.get("KV-Operation").value_or("") == "PURGE");
  BOOST_TEST(!out.headers.get("Nats-Sequence").has_value());
  BOOST_TEST(format_rfc3339(out.time) == "2024-01-01T00:00:00.25Z");

  nats::message nf;
  nf.has_headers = true;
  nf.headers.set_status(404, "Message Not Found");
  BOOST_TEST(json::from_direct_get(nf, out, api) == error::no_message_found);
  BOOST_TEST(api.description == "Message Not Found");

  nats::message bad;
  bad.payload = "x";
  BOOST_TEST(json::from_direct_get(bad, out, api) == error::invalid_reply);
}

BOOST_AUTO_TEST_CASE(pull_statuses) {
  auto st = [](int code, std::string d) {
    nats::message m;
    m.has_headers = true;
    m.headers.set_status(code, std::move(d));
    return json::classify_pull_status(m);
  };
  BOOST_TEST(!st(100, "Idle Heartbeat"));
  BOOST_TEST(st(404, "No Messages") == error::no_messages);
  BOOST_TEST(st(408, "Request Timeout") == error::request_timeout);
  BOOST_TEST(st(409, "Consumer Deleted") == error::consumer_deleted);
  BOOST_TEST(st(409, "Leadership Change") == error::leadership_change);
  BOOST_TEST(st(409, "Exceeded MaxWaiting") == error::max_waiting_exceeded);
  BOOST_TEST(st(409, "Message Size Exceeds MaxBytes") == error::max_bytes_exceeded);
  BOOST_TEST(st(409, "Exceeded MaxRequestBatch of 10") == error::pull_request_conflict);
  BOOST_TEST(st(503, "") == error::no_stream_response);
  BOOST_TEST(st(400, "Bad Request") == error::bad_request);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metadata_and_time)

BOOST_AUTO_TEST_CASE(old_form) {
  auto md = parse_metadata("$JS.ACK.ORDERS.proc.2.1045.12.1700000000123456789.5");
  BOOST_TEST_REQUIRE(md.has_value());
  BOOST_TEST(md->stream == "ORDERS");
  BOOST_TEST(md->consumer == "proc");
  BOOST_TEST(md->num_delivered == 2u);
  BOOST_TEST(md->stream_seq == 1045u);
  BOOST_TEST(md->consumer_seq == 12u);
  BOOST_TEST(md->num_pending == 5u);
  BOOST_TEST(md->domain.empty());
  BOOST_TEST(md->timestamp.time_since_epoch().count() == 1700000000123456789LL);
}

BOOST_AUTO_TEST_CASE(new_form_with_domain_and_token) {
  auto md = parse_metadata("$JS.ACK.hub.ACCHASH.S.c.1.2.3.1700000000000000000.0.x7Yz");
  BOOST_TEST_REQUIRE(md.has_value());
  BOOST_TEST(md->domain == "hub");
  BOOST_TEST(md->account_hash == "ACCHASH");
  BOOST_TEST(md->stream == "S");
  BOOST_TEST(md->consumer == "c");
  BOOST_TEST(md->stream_seq == 2u);
  auto md2 = parse_metadata("$JS.ACK._.H.S.c.1.2.3.4.0");  // 11 tokens, no domain
  BOOST_TEST_REQUIRE(md2.has_value());
  BOOST_TEST(md2->domain.empty());
  BOOST_TEST(md2->timestamp.time_since_epoch().count() == 4);
}

BOOST_AUTO_TEST_CASE(not_metadata) {
  BOOST_TEST(!parse_metadata("_INBOX.abc").has_value());
  BOOST_TEST(!parse_metadata("$JS.ACK.S.c.1.2.3.4").has_value());        // too short
  BOOST_TEST(!parse_metadata("$JS.ACK.S.c.1.x.3.4.5").has_value());      // not a number
  BOOST_TEST(!parse_metadata("$JS.ACK.S.c.1.2.3.4.5.").has_value());     // trailing dot
  BOOST_TEST(!parse_metadata("$JS.ACK.a.b.S.c.1.2.3.4.5.t.u.").has_value());
  // tokens appended by future servers are ignored
  BOOST_TEST(parse_metadata("$JS.ACK.a.b.S.c.1.2.3.4.5.t.u.v").value().stream == "S");
  BOOST_TEST(!parse_metadata("").has_value());
}

BOOST_AUTO_TEST_CASE(rfc3339) {
  auto t = parse_rfc3339("2023-12-31T23:59:59.999999999Z");
  BOOST_TEST_REQUIRE(t.has_value());
  BOOST_TEST(format_rfc3339(*t) == "2023-12-31T23:59:59.999999999Z");
  auto t2 = parse_rfc3339("2024-01-01T01:30:00+01:30");
  BOOST_TEST_REQUIRE(t2.has_value());
  BOOST_TEST(format_rfc3339(*t2) == "2024-01-01T00:00:00Z");
  auto t3 = parse_rfc3339("2024-01-01T00:00:00.1234567891234-02:00");  // > 9 digits truncated
  BOOST_TEST_REQUIRE(t3.has_value());
  BOOST_TEST(format_rfc3339(*t3) == "2024-01-01T02:00:00.123456789Z");
  BOOST_TEST(format_rfc3339(time_point{}) == "1970-01-01T00:00:00Z");
  BOOST_TEST(!parse_rfc3339("2024-02-30T00:00:00Z").has_value());
  BOOST_TEST(!parse_rfc3339("2024-01-01T00:00:00").has_value());
  BOOST_TEST(!parse_rfc3339("2024-01-01T00:00:00.Z").has_value());
  BOOST_TEST(!parse_rfc3339("2024-01-01T00:00:00Zjunk").has_value());
  BOOST_TEST(!parse_rfc3339("0001-01-01T00:00:00Z").has_value());  // not representable in ns
}

BOOST_AUTO_TEST_SUITE_END()
