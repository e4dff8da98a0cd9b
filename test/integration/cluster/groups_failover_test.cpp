// A group of three members on a 3-server JetStream cluster (R3 stream and bucket): one server is
// killed (SIGKILL) while durable jobs are published and processed. Pass: every job is processed; a
// job processed twice carries the redelivered flag, except one the killed server had handed out in its
// last moments: nats-server replicates a consumer's delivered and acked state asynchronously, so the
// new consumer leader may hand such a job to another member as a first delivery (delivery count 1,
// invisible to that member). Those are bounded: first delivered before the kill, at most the group's
// max_in_flight of them.
#define BOOST_TEST_MODULE groups_failover_cluster
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"
#include "three_servers.hpp"

#include <algorithm>
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
  std::vector<std::vector<std::chrono::steady_clock::time_point>> got_at(3);  // arrival of got[i].got[k]
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
    error_code sec;
    members.back()->subscribe(o, [&, i](delivery&& d) {
      got[i].got.push_back(std::move(d));
      got_at[i].push_back(std::chrono::steady_clock::now());
    }, sec);
    BOOST_REQUIRE_MESSAGE(!sec, "subscribe: " << sec.message());
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
  run_for(ioc, 500ms);
  for (auto& c : got) c.got.clear();
  for (auto& a : got_at) a.clear();

  constexpr int total = 600, batch = 50;
  int completed = 0, failed = 0;
  std::chrono::steady_clock::time_point killed_at{};
  for (int b = 0; b < total / batch; ++b) {
    for (int i = 0; i < batch; ++i) {
      pub.async_publish("jobs.x", std::to_string(b * batch + i), publish_options{}, [&](error_code ec) {
        ++completed;
        if (ec) ++failed;
      });
    }
    BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return completed == (b + 1) * batch; }, 60s), "batch " << b << " not accepted");
    if (b == 3) {
      cluster.nodes[0]->kill();
      killed_at = std::chrono::steady_clock::now();
    }  // mid-stream: stream/consumer leaders and connections move
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

  // Arrival times of the unflagged deliveries of each job, over all members.
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> unflagged;
  int redelivered = 0, members_used = 0;
  for (std::size_t m = 0; m < got.size(); ++m) {
    members_used += got[m].got.empty() ? 0 : 1;
    for (std::size_t k = 0; k < got[m].got.size(); ++k) {
      const auto& d = got[m].got[k];
      if (d.redelivered) ++redelivered;
      else if (!d.payload.starts_with("w")) unflagged[d.payload].push_back(got_at[m][k]);
    }
  }
  // A job processed twice without the flag is allowed only when the killed server had handed it out
  // (first arrival before the kill, with a margin for the io loop) and counts against max_in_flight.
  int failover_repeats = 0, unexplained = 0;
  for (auto& [p, at] : unflagged) {
    if (at.size() < 2) continue;
    auto first = *std::min_element(at.begin(), at.end());
    bool handed_out_by_killed_server = first < killed_at + 500ms;
    (handed_out_by_killed_server ? failover_repeats : unexplained) += 1;
    if (failover_repeats + unexplained <= 5) {
      BOOST_TEST_MESSAGE("processed unflagged " << at.size() << " times: " << p << ", first "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(first - killed_at).count() << " ms after the kill");
      for (std::size_t m = 0; m < got.size(); ++m)
        for (auto& d : got[m].got)
          if (d.payload == p)
            BOOST_TEST_MESSAGE("  member " << m << " stream seq " << d.stream_sequence << (d.redelivered ? " redelivered" : ""));
    }
  }
  BOOST_TEST(distinct() == std::size_t(total));  // every job processed
  BOOST_TEST(unexplained == 0);                  // none twice without the flag, but for the failover's
  BOOST_TEST(failover_repeats <= 30);            // at most max_in_flight were out when the server died
  BOOST_TEST(members_used >= 2);                 // shared across the group
  BOOST_TEST_MESSAGE("deliveries: " << got[0].got.size() << " / " << got[1].got.size() << " / " << got[2].got.size()
                                    << ", redelivered: " << redelivered << ", unflagged repeats after the failover: "
                                    << failover_repeats << ", publish retries: " << pub.stats().publish_retries);
  for (auto& m : members) BOOST_TEST(!stop(ioc, *m));
  BOOST_TEST(!stop(ioc, pub));
}
