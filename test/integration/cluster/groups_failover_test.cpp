// A group of three members on a 3-server JetStream cluster (R3 stream and bucket): one server is
// killed (SIGKILL) while durable jobs are published and processed. Pass: every job is processed; a
// job processed twice carries the redelivered flag (its first member's ack was lost with the server).
#define BOOST_TEST_MODULE groups_failover_cluster
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"
#include "three_servers.hpp"

#include <map>
#include <memory>
#include <set>

using namespace nats::cluster;
using namespace nats::cluster::test;

BOOST_AUTO_TEST_CASE(kill_one_of_three_servers_while_a_group_of_three_processes_jobs) {
  three_servers cluster;
  asio::io_context ioc;
  node pub(ioc.get_executor(), r3_config(cluster.urls, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  std::vector<std::unique_ptr<node>> members;
  std::vector<collector> got(3);
  for (int i = 0; i < 3; ++i) {
    // Each member lists the servers from another one first, so the killed server had members on it.
    std::vector<std::string> urls;
    for (int j = 0; j < 3; ++j) urls.push_back(cluster.urls[(i + j) % 3]);
    members.push_back(std::make_unique<node>(ioc.get_executor(), r3_config(urls, ("m" + std::to_string(i)).c_str())));
    BOOST_REQUIRE_EQUAL(start(ioc, *members.back()), error_code{});
    subscribe_options o;
    o.key = "w";
    o.patterns = "pub.jobs.>";
    o.group = "workers";
    o.ack_wait = 2s;  // a lost ack: redelivered to a member after 2 s
    o.max_in_flight = 30;
    subscribe(*members.back(), got[i], o);
  }
  // Every member attached to the group consumer before the measured jobs: warm-up jobs (payload "w…")
  // until each member has processed one.
  int warm = 0;
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] {
    if (!got[0].got.empty() && !got[1].got.empty() && !got[2].got.empty()) return true;
    pub.async_publish("jobs.warm", "w" + std::to_string(warm++), publish_options{}, [](error_code) {});
    run_for(ioc, 50ms);
    return false;
  }, 30s), "not every member got a warm-up job: " << got[0].got.size() << " / " << got[1].got.size() << " / " << got[2].got.size());
  BOOST_TEST_MESSAGE("warm-up jobs until all three members processed one: " << warm);
  for (auto& c : got) c.got.clear();
  run_for(ioc, 500ms);
  for (auto& c : got) std::erase_if(c.got, [](const delivery& d) { return d.payload.starts_with("w"); });

  constexpr int total = 600, batch = 50;
  int completed = 0, failed = 0;
  for (int b = 0; b < total / batch; ++b) {
    for (int i = 0; i < batch; ++i) {
      pub.async_publish("jobs.x", std::to_string(b * batch + i), publish_options{}, [&](error_code ec) {
        ++completed;
        if (ec) ++failed;
      });
    }
    BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return completed == (b + 1) * batch; }, 60s), "batch " << b << " not accepted");
    if (b == 3) cluster.nodes[0]->kill();  // mid-stream: stream/consumer leaders and connections move
  }
  BOOST_TEST(failed == 0);

  auto distinct = [&] {
    std::set<std::string> s;
    for (auto& c : got)
      for (auto& d : c.got)
        if (!d.payload.starts_with("w")) s.insert(d.payload);
    return s.size();
  };
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return distinct() >= std::size_t(total); }, 60s), "only " << distinct() << " jobs processed");
  run_for(ioc, 3000ms);  // past the ack wait: a job handed out twice would show up now

  std::map<std::string, int> seen;
  int redelivered = 0, unflagged_duplicates = 0, members_used = 0;
  for (auto& c : got) members_used += c.got.empty() ? 0 : 1;
  // Counted over all members: a job delivered unflagged more than once was processed twice unannounced.
  for (auto& c : got)
    for (auto& d : c.got)
      if (!d.redelivered && !d.payload.starts_with("w")) ++seen[d.payload];
  for (auto& [p, n] : seen)
    if (n > 1) {
      ++unflagged_duplicates;
      if (unflagged_duplicates <= 5) BOOST_TEST_MESSAGE("processed unflagged " << n << " times: " << p);
    }
  for (auto& c : got)
    for (auto& d : c.got)
      if (d.redelivered) ++redelivered;
  BOOST_TEST(distinct() == std::size_t(total));  // every job processed
  BOOST_TEST(unflagged_duplicates == 0);         // none twice without the flag
  BOOST_TEST(members_used >= 2);                 // shared across the group
  BOOST_TEST_MESSAGE("deliveries: " << got[0].got.size() << " / " << got[1].got.size() << " / " << got[2].got.size()
                                    << ", redelivered: " << redelivered << ", publish retries: " << pub.stats().publish_retries);
  for (auto& m : members) BOOST_TEST(!stop(ioc, *m));
  BOOST_TEST(!stop(ioc, pub));
}
