// JetStream against a real nats-server (2.9.10): streams, consumers, publish with acks and
// expectations, get/direct get, fetch, acks and redelivery, async publisher window, consume loop.
#define BOOST_TEST_MODULE jetstream_integration
#include "js_test_util.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <set>

using namespace nats;
using namespace nats::test;

namespace {

asio::awaitable<void> make_stream(js::context& js, const js::stream_config& cfg) {
  auto [ec, info] = co_await js.async_add_stream(cfg, tok);
  BOOST_REQUIRE_MESSAGE(!ec, "add stream: " << ec.message() << " " << js.last_api_error().description);
}

asio::awaitable<void> publish_n(js::context& js, const std::string& subject, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string payload = "m" + std::to_string(i);
    auto [ec, ack] = co_await js.async_publish(subject, payload, tok);
    BOOST_REQUIRE_MESSAGE(!ec, "publish: " << ec.message());
  }
}

// One helper instead of `cond ? co_await a : co_await b`, which GCC 12 miscompiles.
asio::awaitable<std::tuple<error_code, js::stored_msg>> get_msg(js::context& js, bool direct,
                                                                const js::get_msg_request& r) {
  if (direct) co_return co_await js.async_direct_get("G", r, tok);
  co_return co_await js.async_get_msg("G", r, tok);
}

js::consumer_config pull_durable(std::string name) {
  js::consumer_config c;
  c.durable_name = std::move(name);
  c.ack = js::ack_policy::explicit_ack;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stream_lifecycle_and_errors) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);

    auto cfg = stream("ORDERS", strs("orders.>"));
    cfg.max_msgs_per_subject = 10;
    cfg.duplicate_window = 30s;
    cfg.max_age = 1h;
    cfg.allow_direct = true;
    auto [ec, info] = co_await js.async_add_stream(cfg, tok);
    BOOST_REQUIRE_MESSAGE(!ec, ec.message());
    BOOST_TEST(info.config.name == "ORDERS");
    BOOST_TEST((info.config.max_age == 1h));
    BOOST_TEST((info.config.duplicate_window == 30s));
    BOOST_TEST(info.config.max_msgs_per_subject == 10);
    BOOST_TEST(info.config.allow_direct);
    BOOST_TEST(info.created.has_value());

    // Same config again: idempotent. Different config under the same name: stream_name_exists.
    auto [ec2, info2] = co_await js.async_add_stream(cfg, tok);
    BOOST_TEST(!ec2);
    auto other = cfg;
    other.subjects = strs("different.>");
    auto [ec3, info3] = co_await js.async_add_stream(other, tok);
    BOOST_TEST(ec3 == js::error::stream_name_exists);
    BOOST_TEST(js.last_api_error().err_code == 10058);
    BOOST_TEST(!js.last_api_error().description.empty());

    // Update.
    cfg.max_msgs_per_subject = 20;
    cfg.subjects.push_back("returns.>");
    auto [ec4, info4] = co_await js.async_update_stream(cfg, tok);
    BOOST_REQUIRE_MESSAGE(!ec4, ec4.message() << " " << js.last_api_error().description);
    BOOST_TEST(info4.config.max_msgs_per_subject == 20);
    BOOST_TEST(info4.config.subjects.size() == 2u);

    // Subjects overlapping another stream are refused.
    auto [ec5, i5] = co_await js.async_add_stream(stream("OVERLAP", strs("orders.eu.>")), tok);
    BOOST_TEST(ec5 == js::error::stream_subject_overlap);

    co_await make_stream(js, stream("EVENTS", strs("events.*")));
    co_await publish_n(js, "orders.eu.1", 3);
    co_await publish_n(js, "orders.us.1", 2);

    auto [ec6, names] = co_await js.async_stream_names("", tok);
    BOOST_TEST(!ec6);
    BOOST_TEST((std::set<std::string>(names.begin(), names.end()) == set_of("ORDERS", "EVENTS")));
    auto [ec7, filtered] = co_await js.async_stream_names("events.x", tok);
    BOOST_TEST(!ec7);
    BOOST_TEST_REQUIRE(filtered.size() == 1u);
    BOOST_TEST(filtered[0] == "EVENTS");
    auto [ec8, list] = co_await js.async_list_streams(tok);
    BOOST_TEST(!ec8);
    BOOST_TEST(list.size() == 2u);

    auto [ec9, si] = co_await js.async_stream_info("ORDERS", tok);
    BOOST_TEST(!ec9);
    BOOST_TEST(si.state.messages == 5u);
    BOOST_TEST(si.state.last_seq == 5u);

    // Purge by subject, then everything.
    js::purge_options po;
    po.filter = "orders.us.>";
    auto [ec10, purged] = co_await js.async_purge_stream("ORDERS", po, tok);
    BOOST_TEST(!ec10);
    BOOST_TEST(purged == 2u);
    auto [ec11, purged_all] = co_await js.async_purge_stream("ORDERS", no_purge, tok);
    BOOST_TEST(!ec11);
    BOOST_TEST(purged_all == 3u);

    auto [ec12] = co_await js.async_delete_stream("EVENTS", tok);
    BOOST_TEST(!ec12);
    auto [ec13, gone] = co_await js.async_stream_info("EVENTS", tok);
    BOOST_TEST(ec13 == js::error::stream_not_found);
    BOOST_TEST(ec13.value() == 10059);
    BOOST_TEST(js.last_api_error().code == 404);
    auto [ec14] = co_await js.async_delete_stream("EVENTS", tok);
    BOOST_TEST(ec14 == js::error::stream_not_found);
    auto [ec15, bad] = co_await js.async_stream_info("a.b", tok);
    BOOST_TEST(ec15 == js::error::invalid_name);
  });
}

BOOST_AUTO_TEST_CASE(jetstream_disabled_is_reported) {
  nats_server server;  // no JetStream
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    auto [ec, info] = co_await js.async_stream_info("X", tok);
    BOOST_TEST(ec == js::error::jetstream_not_enabled);
  });
}

BOOST_AUTO_TEST_CASE(publish_acks_dedup_and_expectations) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("S", strs("s.>")));

    auto [ec, ack] = co_await js.async_publish("s.a", "one", tok);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(ack.stream == "S");
    BOOST_TEST(ack.seq == 1u);
    BOOST_TEST(!ack.duplicate);

    // Msg-Id de-duplication.
    js::publish_options o;
    o.msg_id = "id-1";
    headers h;
    h.add("X-App", "v");
    auto [e1, a1] = co_await js.async_publish("s.a", h, "two", o, tok);
    auto [e2, a2] = co_await js.async_publish("s.a", h, "two again", o, tok);
    BOOST_TEST(!e1);
    BOOST_TEST(!e2);
    BOOST_TEST(a1.seq == 2u);
    BOOST_TEST(a2.seq == 2u);
    BOOST_TEST(a2.duplicate);

    // Expectations.
    js::publish_options ex;
    ex.expected_stream = "OTHER";
    auto [e3, a3] = co_await js.async_publish("s.a", no_hdrs, "x", ex, tok);
    BOOST_TEST(e3 == js::error::stream_not_match);
    ex = {};
    ex.expected_last_seq = 1;  // last is 2
    auto [e4, a4] = co_await js.async_publish("s.a", no_hdrs, "x", ex, tok);
    BOOST_TEST(e4 == js::error::wrong_last_sequence);
    BOOST_TEST(js.last_api_error().err_code == 10071);
    ex.expected_last_seq = 2;
    auto [e5, a5] = co_await js.async_publish("s.a", no_hdrs, "x", ex, tok);
    BOOST_TEST(!e5);
    BOOST_TEST(a5.seq == 3u);
    ex = {};
    ex.expected_last_subject_seq = 0;  // s.b has no message yet
    auto [e6, a6] = co_await js.async_publish("s.b", no_hdrs, "first b", ex, tok);
    BOOST_TEST(!e6);
    auto [e7, a7] = co_await js.async_publish("s.b", no_hdrs, "second b", ex, tok);
    BOOST_TEST(e7 == js::error::wrong_last_sequence);
    ex.expected_last_subject_seq = a6.seq;
    auto [e8, a8] = co_await js.async_publish("s.b", no_hdrs, "second b", ex, tok);
    BOOST_TEST(!e8);
    ex = {};
    ex.expected_last_msg_id = "nope";
    auto [e9, a9] = co_await js.async_publish("s.c", no_hdrs, "x", ex, tok);
    BOOST_TEST(e9 == js::error::wrong_last_msg_id);
    js::publish_options with_id;
    with_id.msg_id = "id-x";
    auto [e9b, a9b] = co_await js.async_publish("s.c", no_hdrs, "x", with_id, tok);
    BOOST_TEST(!e9b);
    ex.expected_last_msg_id = "id-x";
    ex.msg_id = "id-2";
    auto [e10, a10] = co_await js.async_publish("s.c", no_hdrs, "x", ex, tok);
    BOOST_TEST(!e10, e10.message());

    // No stream for the subject: retried, then no_stream_response.
    js::publish_options r;
    r.retry_attempts = 2;
    const auto t0 = std::chrono::steady_clock::now();
    auto [e11, a11] = co_await js.async_publish("nostream.x", no_hdrs, "x", r, tok);
    BOOST_TEST(e11 == js::error::no_stream_response);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 700ms));  // 250 + 500 ms of backoff
  });
}

BOOST_AUTO_TEST_CASE(publish_retry_reaches_stream_created_meanwhile) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    js::publish_options r;
    r.retry_attempts = 5;
    bool done = false;
    error_code pub_ec;
    js::pub_ack pub;
    js.async_publish("late.x", no_hdrs, "x", r, [&](error_code ec, js::pub_ack a) {
      pub_ec = ec;
      pub = a;
      done = true;
    });
    co_await sleep_for(100ms);
    co_await make_stream(js, stream("LATE", strs("late.>")));
    for (int i = 0; i < 500 && !done; ++i) co_await sleep_for(10ms);
    BOOST_TEST(done);
    BOOST_TEST(!pub_ec, pub_ec.message());
    BOOST_TEST(pub.stream == "LATE");
  });
}

BOOST_AUTO_TEST_CASE(get_and_direct_get) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    auto cfg = stream("G", strs("g.>"));
    cfg.allow_direct = true;
    co_await make_stream(js, cfg);
    headers h;
    h.add("X-K", "1");
    const std::string abin("a\0b", 3);
    co_await js.async_publish("g.a", h, abin, no_opts, asio::use_awaitable);
    co_await js.async_publish("g.b", "b1", asio::use_awaitable);
    co_await js.async_publish("g.a", "a2", asio::use_awaitable);

    for (int d = 0; d < 2; ++d) {
      const bool direct = d == 1;
      js::get_msg_request by_seq;
      by_seq.seq = 1;
      auto [e1, m1] = co_await get_msg(js, direct, by_seq);
      BOOST_REQUIRE_MESSAGE(!e1, e1.message());
      BOOST_TEST(m1.subject == "g.a");
      BOOST_TEST(m1.seq == 1u);
      BOOST_TEST(m1.data == std::string("a\0b", 3));
      BOOST_TEST(m1.headers.get("X-K").value_or("") == "1");
      BOOST_TEST(m1.time.time_since_epoch().count() > 0);

      js::get_msg_request last;
      last.last_by_subject = "g.a";
      auto [e2, m2] = co_await get_msg(js, direct, last);
      BOOST_TEST(!e2);
      BOOST_TEST(m2.seq == 3u);
      BOOST_TEST(m2.data == "a2");

      js::get_msg_request next;
      next.seq = 2;
      next.next_by_subject = "g.a";
      auto [e3, m3] = co_await get_msg(js, direct, next);
      BOOST_TEST(!e3);
      BOOST_TEST(m3.seq == 3u);

      js::get_msg_request missing;
      missing.last_by_subject = "g.zzz";
      auto [e4, m4] = co_await get_msg(js, direct, missing);
      BOOST_TEST(e4 == js::error::no_message_found);
    }
    auto [e5] = co_await js.async_delete_msg("G", 2, false, tok);
    BOOST_TEST(!e5);
    js::get_msg_request two;
    two.seq = 2;
    auto [e6, m6] = co_await js.async_get_msg("G", two, tok);
    BOOST_TEST(e6 == js::error::no_message_found);
    auto [e7, m7] = co_await js.async_get_msg("NOPE", two, tok);
    BOOST_TEST(e7 == js::error::stream_not_found);
  });
}

BOOST_AUTO_TEST_CASE(consumer_lifecycle_and_errors) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("C", strs("c.>")));
    co_await publish_n(js, "c.x", 5);

    auto cfg = pull_durable("worker");
    cfg.ack_wait = 10s;
    cfg.max_deliver = 4;
    cfg.filter_subject = "c.x";
    cfg.max_ack_pending = 50;
    cfg.backoff = {};
    auto [e1, info] = co_await js.async_add_consumer("C", cfg, tok);
    BOOST_REQUIRE_MESSAGE(!e1, e1.message() << " " << js.last_api_error().description);
    BOOST_TEST(info.name == "worker");
    BOOST_TEST(info.stream_name == "C");
    BOOST_TEST((info.config.ack_wait == 10s));
    BOOST_TEST(info.config.max_deliver == 4);
    BOOST_TEST(info.config.filter_subject == "c.x");
    BOOST_TEST(info.num_pending == 5u);

    // Same config: fine. A config the server cannot apply to an existing durable: consumer_name_exists.
    auto [e2, i2] = co_await js.async_add_consumer("C", cfg, tok);
    BOOST_TEST(!e2);
    auto changed = cfg;
    changed.deliver = js::deliver_policy::new_msgs;
    auto [e3, i3] = co_await js.async_add_consumer("C", changed, tok);
    // 2.9 answers JSConsumerCreateErrF (10012) naming the field that cannot change; 2.10+ may answer
    // 10013/10148 depending on the request.
    BOOST_TEST((e3 == js::error::consumer_create_failed || e3 == js::error::consumer_name_exists ||
                e3 == js::error::consumer_already_exists),
               e3.message() << " " << js.last_api_error().description);
    BOOST_TEST(js.last_api_error().description.find("can not be updated") != std::string::npos);
    BOOST_TEST(!js.last_api_error().description.empty());

    // Other deliver policies.
    js::consumer_config by_seq;
    by_seq.durable_name = "byseq";
    by_seq.deliver = js::deliver_policy::by_start_sequence;
    by_seq.opt_start_seq = 4;
    auto [e4, i4] = co_await js.async_add_consumer("C", by_seq, tok);
    BOOST_TEST(!e4);
    BOOST_TEST(i4.num_pending == 2u);
    js::consumer_config last;
    last.durable_name = "last";
    last.deliver = js::deliver_policy::last;
    auto [e5, i5] = co_await js.async_add_consumer("C", last, tok);
    BOOST_TEST(!e5);
    BOOST_TEST(i5.num_pending == 1u);
    js::consumer_config by_time;
    by_time.durable_name = "bytime";
    by_time.deliver = js::deliver_policy::by_start_time;
    by_time.opt_start_time = js::time_point(std::chrono::system_clock::now().time_since_epoch() + 1h);
    auto [e6, i6] = co_await js.async_add_consumer("C", by_time, tok);
    BOOST_TEST(!e6, e6.message() << " " << js.last_api_error().description);
    BOOST_TEST(i6.num_pending == 0u);
    js::consumer_config lps;
    lps.durable_name = "lps";
    lps.deliver = js::deliver_policy::last_per_subject;
    lps.filter_subject = "c.>";
    auto [e7, i7] = co_await js.async_add_consumer("C", lps, tok);
    BOOST_TEST(!e7, e7.message() << " " << js.last_api_error().description);
    BOOST_TEST(i7.num_pending == 1u);

    // Ephemeral with inactive threshold.
    js::consumer_config eph;
    eph.ack = js::ack_policy::none;
    eph.inactive_threshold = 2s;
    auto [e8, i8] = co_await js.async_add_consumer("C", eph, tok);
    BOOST_TEST(!e8);
    BOOST_TEST(!i8.name.empty());
    BOOST_TEST((i8.config.inactive_threshold == 2s));

    auto [e9, names] = co_await js.async_consumer_names("C", tok);
    BOOST_TEST(!e9);
    BOOST_TEST(names.size() == 6u);
    auto [e10, list] = co_await js.async_list_consumers("C", tok);
    BOOST_TEST(!e10);
    BOOST_TEST(list.size() == 6u);

    auto [e11] = co_await js.async_delete_consumer("C", "byseq", tok);
    BOOST_TEST(!e11);
    auto [e12, i12] = co_await js.async_consumer_info("C", "byseq", tok);
    BOOST_TEST(e12 == js::error::consumer_not_found);
    BOOST_TEST(e12.value() == 10014);
    auto [e13] = co_await js.async_delete_consumer("C", "byseq", tok);
    BOOST_TEST(e13 == js::error::consumer_not_found);
    auto [e14, i14] = co_await js.async_add_consumer("NOPE", cfg, tok);
    BOOST_TEST(e14 == js::error::stream_not_found);
    auto [e15, i15] = co_await js.async_consumer_info("C", "bad.name", tok);
    BOOST_TEST(e15 == js::error::invalid_name);
  });
}

BOOST_AUTO_TEST_CASE(fetch_batches_and_statuses) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("F", strs("f.>")));
    co_await publish_n(js, "f.x", 25);
    co_await js.async_add_consumer("F", pull_durable("d"), asio::use_awaitable);

    js::fetch_options fo;
    fo.batch = 10;
    fo.expires = 2s;
    auto [e1, batch1] = co_await js::async_fetch(js, "F", "d", fo, tok);
    BOOST_TEST(!e1);
    BOOST_TEST_REQUIRE(batch1.size() == 10u);
    for (std::size_t i = 0; i < batch1.size(); ++i) {
      auto md = js::parse_metadata(batch1[i].reply);
      BOOST_REQUIRE(md.has_value());
      BOOST_TEST(md->stream == "F");
      BOOST_TEST(md->consumer == "d");
      BOOST_TEST(md->stream_seq == i + 1);
      BOOST_TEST(md->num_delivered == 1u);
      BOOST_TEST(batch1[i].payload == "m" + std::to_string(i));
      BOOST_TEST(!js::ack(c, batch1[i]));
    }
    // max_bytes limits the batch.
    fo.batch = 100;
    fo.max_bytes = 300;
    auto [e2, batch2] = co_await js::async_fetch(js, "F", "d", fo, tok);
    BOOST_TEST(!e2, e2.message());
    BOOST_TEST(!batch2.empty());
    BOOST_TEST(batch2.size() < 15u);
    for (auto& m : batch2) BOOST_TEST(!js::ack(c, m));
    // The rest; then an empty fetch ends with 408 after `expires`, and no_wait with 404.
    fo.max_bytes = 0;
    fo.idle_heartbeat = 500ms;
    std::size_t rest = 0;
    while (true) {
      auto [e3, b] = co_await js::async_fetch(js, "F", "d", fo, tok);
      BOOST_TEST(!e3, e3.message());
      if (b.empty()) break;
      rest += b.size();
      for (auto& m : b) co_await js::async_ack_sync(c, m, 2s, asio::use_awaitable);
    }
    BOOST_TEST(rest + batch2.size() == 15u);
    fo.no_wait = true;
    const auto t0 = std::chrono::steady_clock::now();
    auto [e4, b4] = co_await js::async_fetch(js, "F", "d", fo, tok);
    BOOST_TEST(!e4, e4.message());
    BOOST_TEST(b4.empty());
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 1s));
    auto [e5, info] = co_await js.async_consumer_info("F", "d", tok);
    BOOST_TEST(info.num_ack_pending == 0);
    BOOST_TEST(info.ack_floor.stream_seq == 25u);

    auto [e6, b6] = co_await js::async_fetch(js, "F", "nope", fo, tok);
    BOOST_TEST(!!e6);  // no consumer: the server answers 404/409 or nothing
    BOOST_TEST(b6.empty());
  });
}

BOOST_AUTO_TEST_CASE(redelivery_nak_term_max_deliver) {
  nats_server server(js_server());
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), client_options(server));
        co_await connect(c);
        js::context js(c);
        co_await make_stream(js, stream("R", strs("r.>")));
        auto cfg = pull_durable("d");
        cfg.ack_wait = 1s;
        cfg.max_deliver = 3;
        co_await js.async_add_consumer("R", cfg, asio::use_awaitable);
        js::fetch_options fo;
        fo.batch = 1;
        fo.expires = 3s;

        // Not acked within ack_wait: redelivered, num_delivered counts up, until max_deliver.
        co_await js.async_publish("r.unacked", "u", asio::use_awaitable);
        for (std::uint64_t round = 1; round <= 3; ++round) {
          auto [e, b] = co_await js::async_fetch(js, "R", "d", fo, tok);
          BOOST_REQUIRE_MESSAGE(b.size() == 1u, "round " << round << ": " << e.message());
          auto md = js::parse_metadata(b[0].reply);
          BOOST_TEST(md->num_delivered == round);
          BOOST_TEST(md->stream_seq == 1u);
        }
        fo.expires = 2500ms;
        auto [e1, none] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_TEST(none.empty());  // max_deliver reached: not delivered a 4th time

        // nak with delay: back after the delay, not before.
        co_await js.async_publish("r.nak", "n", asio::use_awaitable);
        fo.expires = 2s;
        auto [e2, b2] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_REQUIRE(b2.size() == 1u);
        const auto t0 = std::chrono::steady_clock::now();
        BOOST_TEST(!js::nak(c, b2[0], 1500ms));
        fo.expires = 4s;
        auto [e3, b3] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_REQUIRE(b3.size() == 1u);
        BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 1400ms));
        BOOST_TEST(js::parse_metadata(b3[0].reply)->num_delivered == 2u);
        BOOST_TEST(b3[0].payload == "n");
        // nak without delay: immediately back.
        BOOST_TEST(!js::nak(c, b3[0]));
        auto [e4, b4] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_REQUIRE(b4.size() == 1u);
        BOOST_TEST(js::parse_metadata(b4[0].reply)->num_delivered == 3u);

        // term: never again. in_progress: extends ack wait.
        co_await js.async_publish("r.term", "t", asio::use_awaitable);
        fo.expires = 2s;
        auto [e5, b5] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_REQUIRE(b5.size() == 1u);
        BOOST_TEST(b5[0].payload == "t");
        BOOST_TEST(!js::term(c, b5[0]));
        co_await js.async_publish("r.wpi", "w", asio::use_awaitable);
        auto [e6, b6] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_REQUIRE(b6.size() == 1u);
        BOOST_TEST(b6[0].payload == "w");
        for (int i = 0; i < 4; ++i) {  // 2 s of work with a 1 s ack wait
          co_await sleep_for(500ms);
          BOOST_TEST(!js::in_progress(c, b6[0]));
        }
        co_await js::async_ack_sync(c, b6[0], 2s, asio::use_awaitable);
        fo.expires = 2500ms;
        auto [e7, b7] = co_await js::async_fetch(js, "R", "d", fo, tok);
        BOOST_TEST(b7.empty());  // neither the terminated nor the acked one comes back

        message not_js;
        not_js.reply = "_INBOX.x";
        BOOST_TEST(js::ack(c, not_js) == js::error::not_a_jetstream_message);
        auto [e8] = co_await js::async_ack_sync(c, not_js, 1s, tok);
        BOOST_TEST(e8 == js::error::not_a_jetstream_message);
      },
      std::chrono::seconds(90));
}

BOOST_AUTO_TEST_CASE(async_publisher_window) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("P", strs("p.>")));
    std::size_t max_seen = 0;
    std::uint64_t last_seq = 0;
    bool ordered = true;
    js::publisher_options po;
    po.max_pending = 32;
    js::async_publisher* pp = nullptr;
    po.on_ack = [&](const js::publish_result& r) {
      if (!r.ec && !r.ack.duplicate) {  // a duplicate is acked with the original's sequence
        ordered = ordered && r.ack.seq > last_seq;
        last_seq = r.ack.seq;
      }
      max_seen = std::max(max_seen, pp->outstanding() + 1);
    };
    js::async_publisher pub(js, po);
    pp = &pub;
    for (int i = 0; i < 3000; ++i) {
      js::publish_options o;
      o.msg_id = "m" + std::to_string(i % 2500);  // the last 500 are duplicates
      const std::string payload = std::to_string(i);
      co_await pub.async_publish("p.x", no_hdrs, payload, o, asio::use_awaitable);
      BOOST_REQUIRE(pub.outstanding() <= 32u);
    }
    auto [ec] = co_await pub.async_wait_all(tok);
    BOOST_TEST(!ec);
    BOOST_TEST(pub.outstanding() == 0u);
    BOOST_TEST(pub.acked() == 3000u);
    BOOST_TEST(pub.failed() == 0u);
    BOOST_TEST(max_seen <= 32u);
    BOOST_TEST(max_seen > 1u);
    BOOST_TEST(ordered);
    auto [e2, info] = co_await js.async_stream_info("P", tok);
    BOOST_TEST(info.state.messages == 2500u);

    // Failures are counted and reported by wait_all.
    js::publish_options bad;
    bad.expected_last_seq = 1;
    co_await pub.async_publish("p.x", no_hdrs, "x", bad, asio::use_awaitable);
    auto [ec3] = co_await pub.async_wait_all(tok);
    BOOST_TEST(ec3 == js::error::wrong_last_sequence);
    BOOST_TEST(pub.failed() == 1u);
    auto [ec4] = co_await pub.async_wait_all(tok);
    BOOST_TEST(!ec4);
  });
}

BOOST_AUTO_TEST_CASE(consume_loop) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("L", strs("l.>")));
    co_await js.async_add_consumer("L", pull_durable("d"), asio::use_awaitable);
    co_await publish_n(js, "l.x", 300);
    js::consume_options co;
    co.batch = 50;
    co.expires = 2s;
    js::consumer_stream cs(js, "L", "d", co);
    BOOST_REQUIRE(!cs.start());
    for (int i = 0; i < 300; ++i) {
      auto [ec, m] = co_await cs.async_next(tok);
      BOOST_REQUIRE_MESSAGE(!ec, ec.message());
      BOOST_TEST(m.payload == "m" + std::to_string(i));
      BOOST_TEST(!js::ack(c, m));
    }
    BOOST_TEST(cs.pull_requests() >= 6u);
    // Idle for longer than several request lifetimes (408s, heartbeats), then more messages flow.
    co_await sleep_for(5s);
    co_await publish_n(js, "l.y", 10);
    for (int i = 0; i < 10; ++i) {
      auto [ec, m] = co_await cs.async_next(tok);
      BOOST_REQUIRE_MESSAGE(!ec, ec.message());
      BOOST_TEST(m.subject == "l.y");
      BOOST_TEST(!js::ack(c, m));
    }
    BOOST_TEST(cs.missed_heartbeats() == 0u);
    // Consumer deleted: the loop reports it.
    co_await js.async_delete_consumer("L", "d", asio::use_awaitable);
    auto [ec, m] = co_await cs.async_next(tok);
    BOOST_TEST(ec == js::error::consumer_deleted, ec.message());
    cs.stop();
    auto [ec2, m2] = co_await cs.async_next(tok);
    BOOST_TEST(ec2 == nats::error::subscription_closed);
  });
}

BOOST_AUTO_TEST_CASE(consume_survives_server_restart) {
  nats_server server(js_server());
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), client_options(server));
        co_await connect(c);
        js::context js(c);
        co_await make_stream(js, stream("RS", strs("rs.>")));
        co_await js.async_add_consumer("RS", pull_durable("d"), asio::use_awaitable);
        js::consume_options co;
        co.batch = 20;
        co.expires = 3s;
        co.idle_heartbeat = 500ms;
        js::consumer_stream cs(js, "RS", "d", co);
        BOOST_REQUIRE(!cs.start());

        std::set<std::string> acked_by_publish, received;
        for (int i = 0; i < 100; ++i) {
          const std::string payload = "a" + std::to_string(i);
          auto [ec, a] = co_await js.async_publish("rs.x", payload, tok);
          BOOST_REQUIRE(!ec);
          acked_by_publish.insert("a" + std::to_string(i));
        }
        for (int i = 0; i < 50; ++i) {
          auto [ec, m] = co_await cs.async_next(tok);
          BOOST_REQUIRE(!ec);
          received.insert(m.payload);
          co_await js::async_ack_sync(c, m, 2s, asio::use_awaitable);
        }
        const auto requests_before = cs.pull_requests();
        server.stop();
        server.start();
        // Publish more once the stream is back (publish retries cover the election window).
        for (int i = 0; i < 50; ++i) {
          js::publish_options o;
          o.retry_attempts = 10;
          o.msg_id = "b" + std::to_string(i);
          for (int attempt = 0; attempt < 20; ++attempt) {
            const std::string payload = "b" + std::to_string(i);
            auto [ec, a] = co_await js.async_publish("rs.x", no_hdrs, payload, o, tok);
            if (!ec) {
              acked_by_publish.insert("b" + std::to_string(i));
              break;
            }
            co_await sleep_for(200ms);
          }
        }
        BOOST_TEST(acked_by_publish.size() == 150u);
        while (received.size() < acked_by_publish.size()) {
          auto [ec, m] = co_await cs.async_next(tok);
          BOOST_REQUIRE_MESSAGE(!ec, ec.message());
          received.insert(m.payload);
          BOOST_TEST(!js::ack(c, m));
        }
        BOOST_TEST((received == acked_by_publish));
        BOOST_TEST(cs.pull_requests() > requests_before);  // the loop asked again after the restart
      },
      std::chrono::seconds(90));
}

BOOST_AUTO_TEST_CASE(multi_filter_fallback_on_2_9) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    BOOST_TEST_REQUIRE(!js.server_at_least(2, 10, 0));  // the Debian server this suite targets
    BOOST_TEST(js.server_at_least(2, 9, 0));
    co_await make_stream(js, stream("MF", strs("mf.>")));
    js::consumer_config one = pull_durable("one");
    one.filter_subjects = strs("mf.a");
    auto [e1, i1] = co_await js.async_add_consumer("MF", one, tok);
    BOOST_TEST(!e1, e1.message());
    BOOST_TEST(i1.config.filter_subject == "mf.a");  // sent as filter_subject to 2.9
    js::consumer_config two = pull_durable("two");
    two.filter_subjects = strs("mf.a", "mf.b");
    auto [e2, i2] = co_await js.async_add_consumer("MF", two, tok);
    BOOST_TEST(e2 == js::error::not_supported);
  });
}

BOOST_AUTO_TEST_CASE(cancellation) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("X", strs("x.>")));
    co_await js.async_add_consumer("X", pull_durable("d"), asio::use_awaitable);

    // A long fetch, cancelled: completes once, with operation_aborted, well before `expires`.
    asio::cancellation_signal sig;
    int calls = 0;
    error_code got;
    js::fetch_options fo;
    fo.batch = 5;
    fo.expires = 20s;
    const auto t0 = std::chrono::steady_clock::now();
    js::async_fetch(js, "X", "d", fo,
                    asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, std::vector<message>) {
                      ++calls;
                      got = ec;
                    }));
    co_await sleep_for(200ms);
    sig.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 100 && calls == 0; ++i) co_await sleep_for(10ms);
    BOOST_TEST(calls == 1);
    BOOST_TEST((got == asio::error::operation_aborted));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));

    // consumer_stream::async_next, cancelled, then still usable.
    js::consume_options co;
    co.expires = 5s;
    js::consumer_stream cs(js, "X", "d", co);
    BOOST_REQUIRE(!cs.start());
    asio::cancellation_signal sig2;
    calls = 0;
    cs.async_next(asio::bind_cancellation_slot(sig2.slot(), [&](error_code ec, message) {
      ++calls;
      got = ec;
    }));
    co_await sleep_for(100ms);
    sig2.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 100 && calls == 0; ++i) co_await sleep_for(10ms);
    BOOST_TEST(calls == 1);
    BOOST_TEST((got == asio::error::operation_aborted));
    co_await js.async_publish("x.1", "after", asio::use_awaitable);
    auto [ec, m] = co_await cs.async_next(tok);
    BOOST_TEST(!ec);
    BOOST_TEST(m.payload == "after");

    // An API request, cancelled before the reply can arrive.
    asio::cancellation_signal sig3;
    calls = 0;
    js.async_stream_info("X", asio::bind_cancellation_slot(sig3.slot(), [&](error_code e, js::stream_info) {
      ++calls;
      got = e;
    }));
    sig3.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 100 && calls == 0; ++i) co_await sleep_for(10ms);
    BOOST_TEST(calls == 1);
    BOOST_TEST((got == asio::error::operation_aborted));
  });
}

BOOST_AUTO_TEST_CASE(consume_detects_missing_heartbeats) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("HB", strs("hb.>")));
    co_await js.async_add_consumer("HB", pull_durable("d"), asio::use_awaitable);
    js::consume_options co;
    co.batch = 10;
    co.expires = 10s;
    co.idle_heartbeat = 300ms;
    js::consumer_stream cs(js, "HB", "d", co);
    BOOST_REQUIRE(!cs.start());
    // Heartbeats arrive while idle: waiting 1.5 s is not a miss.
    asio::cancellation_signal sig;
    bool done = false;
    cs.async_next(asio::bind_cancellation_slot(sig.slot(), [&](error_code, message) { done = true; }));
    co_await sleep_for(1500ms);
    BOOST_TEST(!done);
    BOOST_TEST(cs.missed_heartbeats() == 0u);
    // The server stops answering (SIGSTOP) for longer than two heartbeat intervals: detected.
    server.pause();
    co_await sleep_for(1500ms);
    server.resume();
    BOOST_TEST(cs.missed_heartbeats() >= 1u);
    sig.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 100 && !done; ++i) co_await sleep_for(10ms);
    BOOST_TEST(done);
    // And it still delivers.
    co_await js.async_publish("hb.1", "x", asio::use_awaitable);
    auto [ec, m] = co_await cs.async_next(tok);
    BOOST_TEST(!ec, ec.message());
    BOOST_TEST(m.payload == "x");
  });
}

BOOST_AUTO_TEST_CASE(ack_all_and_purge_variants) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    co_await make_stream(js, stream("AA", strs("aa.>")));
    co_await publish_n(js, "aa.x", 10);

    // ack policy all: acking the 5th acknowledges the first five.
    js::consumer_config cfg;
    cfg.durable_name = "all";
    cfg.ack = js::ack_policy::all;
    auto [e1, i1] = co_await js.async_add_consumer("AA", cfg, tok);
    BOOST_REQUIRE(!e1);
    BOOST_TEST((i1.config.ack == js::ack_policy::all));
    js::fetch_options fo;
    fo.batch = 5;
    auto [e2, b] = co_await js::async_fetch(js, "AA", "all", fo, tok);
    BOOST_REQUIRE(b.size() == 5u);
    co_await js::async_ack_sync(c, b[4], 2s, asio::use_awaitable);
    auto [e3, i3] = co_await js.async_consumer_info("AA", "all", tok);
    BOOST_TEST(i3.num_ack_pending == 0);
    BOOST_TEST(i3.ack_floor.stream_seq == 5u);

    // Purge keeping the newest 3, then below a sequence.
    js::purge_options keep;
    keep.keep = 3;
    auto [e4, purged] = co_await js.async_purge_stream("AA", keep, tok);
    BOOST_TEST(!e4);
    BOOST_TEST(purged == 7u);
    js::purge_options below;
    below.sequence = 10;
    auto [e5, purged2] = co_await js.async_purge_stream("AA", below, tok);
    BOOST_TEST(purged2 == 2u);
    auto [e6, si] = co_await js.async_stream_info("AA", tok);
    BOOST_TEST(si.state.messages == 1u);
    BOOST_TEST(si.state.first_seq == 10u);
  });
}
