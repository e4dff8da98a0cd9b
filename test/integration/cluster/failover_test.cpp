// The cluster layer on a 3-server JetStream cluster (the settings of nats/cluster/n*.conf, on free
// ports): R3 stream and bucket; one server is killed (SIGKILL), or the stream leader steps down, while
// durable messages are published and consumed. Pass: zero loss; a message delivered twice carries the
// redelivery flag; the handler sees each publisher's messages in publish order.
#define BOOST_TEST_MODULE failover_cluster
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"
#include "three_servers.hpp"

#include <map>
#include <set>
#include <memory>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;

namespace {

/// The opening of both tests: the cluster, a publishing node "pub" and a subscribing node "sub" on it,
/// both started, and "sub" delivering "pub.>" into `c`.
struct pub_sub_on_three_servers {
  three_servers cluster;
  asio::io_context ioc;
  node pub{ioc.get_executor(), r3_config(cluster.urls, "pub")};
  node sub{ioc.get_executor(), r3_config(cluster.urls, "sub")};
  collector c;
  pub_sub_on_three_servers() { start_pub_sub(ioc, pub, sub, c, "pub.>"); }
};

/// Publishes the payloads first .. first+count-1 durably without waiting; counts completions and failures.
void publish_numbered(node& pub, int first, int count, int& completed, int& failed) {
  for (int i = 0; i < count; ++i) {
    pub.async_publish("seq", std::to_string(first + i), publish_options{}, [&completed, &failed](error_code ec) {
      ++completed;
      if (ec) ++failed;
    });
  }
}

/// Runs until `c` holds `total` distinct payloads (90 s at most), then a second more so that
/// redeliveries still in flight land too.
void wait_for_all(asio::io_context& ioc, const collector& c, int total) {
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] {
    std::set<std::string> distinct;
    for (auto& d : c.got) distinct.insert(d.payload);
    return distinct.size() >= static_cast<std::size_t>(total);
  }, 90s), "only " << c.got.size() << " deliveries");
  run_for(ioc, 1000ms);
}

// Deliveries handed to the handler before one published earlier (first deliveries; a flagged
// redelivery naturally repeats an older one).
int inversions(const collector& c) {
  int n = 0, last = -1;
  for (auto& d : c.got) {
    if (d.redelivered) continue;
    int v = std::stoi(d.payload);
    if (v < last) {
      if (++n <= 5) BOOST_TEST_MESSAGE("inversion: " << v << " after " << last << " (stream seq " << d.stream_sequence << ")");
    }
    last = std::max(last, v);
  }
  BOOST_TEST_MESSAGE("order inversions among first deliveries: " << n);
  return n;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(kill_one_of_three_servers_while_publishing_and_consuming_durable, pub_sub_on_three_servers) {
  run_for(ioc, 1000ms);

  constexpr int total = 600, batch = 50;
  int completed = 0, failed = 0;
  for (int b = 0; b < total / batch; ++b) {
    publish_numbered(pub, b * batch, batch, completed, failed);
    BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return completed == (b + 1) * batch; }, 60s),
                          "batch " << b << " not accepted");
    if (b == 3) cluster.nodes[0]->kill();  // mid-stream: leaders and connections move
  }
  BOOST_TEST(failed == 0);
  wait_for_all(ioc, c, total);

  std::map<std::string, int> seen;
  int unflagged_duplicates = 0, duplicates = 0;
  for (auto& d : c.got) {
    if (++seen[d.payload] > 1) {
      ++duplicates;
      if (duplicates <= 5)
        BOOST_TEST_MESSAGE("duplicate " << d.payload << " seq " << d.stream_sequence << " count " << d.delivery_count
                                        << " msg-id " << d.headers.get("Nats-Msg-Id").value_or("-"));
      if (!d.redelivered) ++unflagged_duplicates;
    }
  }
  BOOST_TEST(inversions(c) == 0);  // publish order kept although a lost ack makes the stream store out of order
  BOOST_TEST(seen.size() == static_cast<std::size_t>(total));  // zero loss
  BOOST_TEST(unflagged_duplicates == 0);
  BOOST_TEST_MESSAGE("deliveries: " << c.got.size() << ", duplicates (flagged): " << duplicates
                                    << ", publish retries: " << pub.stats().publish_retries
                                    << ", Msg-Id duplicates acked: " << pub.stats().duplicates_acked
                                    << ", held for order: " << sub.stats().order_held
                                    << ", gaps given up: " << sub.stats().order_gaps);
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}

// A stream leader change without any link loss (the case where an ack is lost while later messages
// are stored): the stream may store a resent message after later ones; the subscriber still hands
// them out in publish order.
BOOST_FIXTURE_TEST_CASE(stream_leader_steps_down_repeatedly_while_publishing_durable, pub_sub_on_three_servers) {
  raw_client admin(ioc, cluster.urls);
  run_for(ioc, 1000ms);

  constexpr int total = 4000, batch = 200;
  int completed = 0, failed = 0, stepdowns = 0;
  for (int b = 0; b < total / batch; ++b) {
    publish_numbered(pub, b * batch, batch, completed, failed);
    if (b % 4 == 1) {
      // While the batch is in flight.
      admin.js.async_api_request("STREAM.LEADER.STEPDOWN." + pub.stream(), "", [&](error_code ec, nats::message m) {
        if (!ec && m.payload.find("\"success\":true") != std::string::npos) ++stepdowns;
      });
    }
    BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return completed == (b + 1) * batch; }, 60s),
                          "batch " << b << " not accepted");
  }
  BOOST_TEST(failed == 0);
  wait_for_all(ioc, c, total);
  std::map<std::string, int> seen;
  int unflagged_duplicates = 0;
  for (auto& d : c.got)
    if (++seen[d.payload] > 1 && !d.redelivered) ++unflagged_duplicates;
  BOOST_TEST(stepdowns >= 1);
  BOOST_TEST(seen.size() == static_cast<std::size_t>(total));
  BOOST_TEST(unflagged_duplicates == 0);
  BOOST_TEST(inversions(c) == 0);
  BOOST_TEST_MESSAGE("stepdowns: " << stepdowns << ", deliveries: " << c.got.size()
                                   << ", publish retries: " << pub.stats().publish_retries
                                   << ", Msg-Id duplicates acked: " << pub.stats().duplicates_acked
                                   << ", held for order: " << sub.stats().order_held
                                   << ", gaps given up: " << sub.stats().order_gaps
                                   << ", out of order: " << sub.stats().out_of_order);
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}
