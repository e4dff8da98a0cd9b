// Publish order per (publisher session, subject) on the subscribing side, against a real nats-server:
// durable messages carry "Nats-Cluster-Seq: <session>.<n>"; one stored ahead of a missing predecessor
// waits for it (bounded by config::order_hold and by max_in_flight), then both go out in order. The
// late store of a resent message is reproduced here by a plain JetStream client writing the headers a
// publisher writes, in the order the stream gets them after a lost ack.
#define BOOST_TEST_MODULE integration_cluster_order
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"

#include <nats/js/jetstream.hpp>

#include <string>
#include <vector>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;
using nats::test::server_options;

namespace {

const std::string fake_subject = "nodered-cluster.fake.seq";

/// Stores one message the way a cluster publisher does (seq = "" : no order header, like the original plugin).
void raw_publish(asio::io_context& ioc, raw_client& c, const std::string& seq, const std::string& payload,
                 const std::string& subject = fake_subject) {
  nats::headers h;
  if (!seq.empty()) h.set("Nats-Cluster-Seq", seq);
  nats::js::publish_options po;
  po.msg_id = "fake-" + seq + "-" + payload;
  std::optional<error_code> r;
  c.js.async_publish(subject, h, payload, po, [&](error_code ec, nats::js::pub_ack) { r = ec; });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*r, "raw publish: " << r->message());
}

struct fixture {
  nats_server srv{jetstream_server_options()};
  asio::io_context ioc;
  std::unique_ptr<node> sub;
  std::unique_ptr<raw_client> raw;
  collector c;

  explicit fixture(std::chrono::milliseconds hold, std::size_t max_in_flight = 1000, ack_mode ack = ack_mode::on_delivery,
                   std::chrono::milliseconds ack_wait = 30s) {
    auto cfg = make_config(srv, "sub");
    cfg.order_hold = hold;
    cfg.ack_wait = ack_wait;
    sub = std::make_unique<node>(ioc.get_executor(), cfg);
    BOOST_REQUIRE_EQUAL(start(ioc, *sub), error_code{});
    subscribe_options o;
    o.key = "k";
    o.patterns = "fake.>";
    o.start = start_position::all;
    o.ack = ack;
    o.max_in_flight = max_in_flight;
    error_code ec;
    sub->subscribe(o, c.handler(), ec);
    BOOST_REQUIRE(!ec);
    raw = std::make_unique<raw_client>(ioc, srv);
    run_for(ioc, 300ms);  // consumer created
  }
  ~fixture() { stop(ioc, *sub); }

  std::int64_t ack_pending() {
    std::optional<error_code> r;
    nats::js::consumer_info info;
    raw->js.async_consumer_info(sub->stream(), consumer_name("sub", "k"), [&](error_code ec, nats::js::consumer_info i) {
      r = ec;
      info = std::move(i);
    });
    BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }));
    BOOST_REQUIRE(!*r);
    return info.num_ack_pending;
  }
};

std::vector<std::string> v(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

}  // namespace

BOOST_AUTO_TEST_CASE(message_ahead_of_a_gap_waits_for_it_then_both_in_order) {
  fixture f(5000ms);
  raw_publish(f.ioc, *f.raw, "S.1", "1");
  raw_publish(f.ioc, *f.raw, "S.3", "3");  // 2's ack was lost: it is resent and stored later
  raw_publish(f.ioc, *f.raw, "S.4", "4");
  raw_publish(f.ioc, *f.raw, "T.1", "t1");  // another publisher session: not held up by S's gap
  raw_publish(f.ioc, *f.raw, "", "plain");  // no header (the original plugin): delivered as stored
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 3; }, 5s));
  run_for(f.ioc, 300ms);
  BOOST_TEST(f.c.payloads() == v({"1", "t1", "plain"}), boost::test_tools::per_element());
  BOOST_TEST(f.sub->stats().order_held == 2u);
  BOOST_TEST(f.ack_pending() == 2);  // held ones are acked only when handed out

  auto t0 = std::chrono::steady_clock::now();
  raw_publish(f.ioc, *f.raw, "S.2", "2");
  raw_publish(f.ioc, *f.raw, "S.5", "5");
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 7; }, 5s));
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));  // released by the arrival, not the hold time
  BOOST_TEST(f.c.payloads() == v({"1", "t1", "plain", "2", "3", "4", "5"}), boost::test_tools::per_element());
  for (auto& d : f.c.got) {
    BOOST_TEST(!d.out_of_order);
    BOOST_TEST(!d.redelivered);
  }
  BOOST_TEST(f.sub->stats().order_gaps == 0u);
  BOOST_TEST(f.sub->stats().out_of_order == 0u);
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.ack_pending() == 0; }, 5s));
}

BOOST_AUTO_TEST_CASE(gap_is_given_up_after_the_hold_time_and_the_late_one_is_flagged) {
  fixture f(1000ms);
  raw_publish(f.ioc, *f.raw, "S.1", "1");
  raw_publish(f.ioc, *f.raw, "S.3", "3");
  raw_publish(f.ioc, *f.raw, "S.4", "4");
  run_for(f.ioc, 500ms);
  BOOST_TEST(f.c.payloads() == v({"1"}), boost::test_tools::per_element());
  // The publisher crashed before resending 2: after the hold time the others go on.
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 3; }, 3s));
  BOOST_TEST(f.c.payloads() == v({"1", "3", "4"}), boost::test_tools::per_element());
  BOOST_TEST(f.sub->stats().order_gaps == 1u);
  // It shows up after all (a very late resend): handed out at once, flagged.
  raw_publish(f.ioc, *f.raw, "S.2", "2");
  raw_publish(f.ioc, *f.raw, "S.5", "5");
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 5; }, 3s));
  BOOST_TEST(f.c.payloads() == v({"1", "3", "4", "2", "5"}), boost::test_tools::per_element());
  BOOST_TEST(f.c.got[3].out_of_order);
  BOOST_TEST(!f.c.got[4].out_of_order);
  BOOST_TEST(f.sub->stats().out_of_order == 1u);
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.ack_pending() == 0; }, 5s));
}

BOOST_AUTO_TEST_CASE(held_deliveries_never_block_the_consumer_at_max_in_flight) {
  // The server hands out at most max_in_flight unacked messages: holding that many would wait for a
  // message that cannot come before the hold time; the oldest gap is given up at once instead.
  fixture f(20000ms, 4);
  raw_publish(f.ioc, *f.raw, "S.1", "1");
  for (int i = 3; i <= 10; ++i) raw_publish(f.ioc, *f.raw, "S." + std::to_string(i), std::to_string(i));
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 9; }, 5s));
  BOOST_TEST(f.c.payloads() == v({"1", "3", "4", "5", "6", "7", "8", "9", "10"}), boost::test_tools::per_element());
  BOOST_TEST(f.sub->stats().order_gaps == 1u);
  raw_publish(f.ioc, *f.raw, "S.2", "2");
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 10; }, 3s));
  BOOST_TEST(f.c.got.back().out_of_order);
}

BOOST_AUTO_TEST_CASE(redelivery_of_a_delivered_message_is_not_a_gap) {
  fixture f(5000ms, 1000, ack_mode::manual, 1000ms);
  raw_publish(f.ioc, *f.raw, "S.1", "1");
  raw_publish(f.ioc, *f.raw, "S.2", "2");
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 2; }, 5s));
  BOOST_TEST(!f.sub->ack(f.c.got[1].id));  // 1 is never acked: back after ack_wait
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 3; }, 5s));
  BOOST_TEST(f.c.got[2].payload == "1");
  BOOST_TEST(f.c.got[2].redelivered);
  BOOST_TEST(!f.c.got[2].out_of_order);
  BOOST_TEST(!f.sub->ack(f.c.got[2].id));
  raw_publish(f.ioc, *f.raw, "S.3", "3");
  BOOST_REQUIRE(run_until(f.ioc, [&] { return f.c.got.size() >= 4; }, 5s));
  BOOST_TEST(f.c.got[3].payload == "3");
  BOOST_TEST(f.sub->stats().order_held == 0u);
  BOOST_TEST(f.sub->stats().order_gaps == 0u);
  BOOST_TEST(!f.sub->ack(f.c.got[3].id));
}

BOOST_AUTO_TEST_CASE(real_publisher_numbers_each_subject_and_a_restarted_subscriber_resumes_mid_stream) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  std::vector<std::string> seqs;
  {
    node sub(ioc.get_executor(), make_config(srv, "sub"));
    BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
    collector c;
    subscribe(sub, c, "k", "pub.>");
    run_for(ioc, 300ms);
    for (auto p : {"a", "b", "c"}) BOOST_TEST(!publish(ioc, pub, "x", p));
    BOOST_TEST(!publish(ioc, pub, "y", "y1"));
    BOOST_TEST(!publish(ioc, pub, "x", "e1", publish_options{delivery_mode::ephemeral, 10s, {}}));
    BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 5; }, 5s));
    for (auto& d : c.got) seqs.push_back(std::string(d.headers.get("Nats-Cluster-Seq").value_or("-")));
    BOOST_TEST(!stop(ioc, sub));
  }
  // Durable messages: "<session>.<n>" counting per subject; ephemeral ones carry none.
  auto session = seqs[0].substr(0, seqs[0].find('.'));
  BOOST_TEST(session.size() == 16u);
  BOOST_TEST(seqs == (std::vector<std::string>{session + ".1", session + ".2", session + ".3", session + ".1", "-"}),
             boost::test_tools::per_element());

  for (auto p : {"d", "e", "f"}) BOOST_TEST(!publish(ioc, pub, "x", p));
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  collector c;
  subscribe(sub, c, "k", "pub.>");
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 3; }, 5s));
  run_for(ioc, 300ms);
  // The first message seen from a session is where its order starts: nothing waits for 1..3.
  BOOST_TEST(c.payloads() == v({"d", "e", "f"}), boost::test_tools::per_element());
  BOOST_TEST(sub.stats().order_held == 0u);
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}
