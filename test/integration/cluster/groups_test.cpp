// Groups (subscribe_options::group) against a real nats-server: each message to exactly one member,
// a member stopped abruptly hands its unacked messages to another after ack wait, names validated,
// members must agree on patterns, discovery shows groups, the group consumer outlives all but the
// last member and is removed by the server after its inactive threshold.
#define BOOST_TEST_MODULE integration_cluster_groups
#include <boost/test/unit_test.hpp>

#include "forked_subscriber.hpp"

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;

namespace {

const std::string group_consumer = "NODERED_CLUSTER_group_workers";

std::uint64_t join(node& n, collector& c, const std::string& key, const std::string& patterns,
                   ack_mode ack = ack_mode::on_delivery, std::chrono::milliseconds ack_wait = {},
                   std::size_t max_in_flight = 1000) {
  subscribe_options o;
  o.key = key;
  o.patterns = patterns;
  o.group = "workers";
  o.ack = ack;
  o.ack_wait = ack_wait;
  o.max_in_flight = max_in_flight;
  return subscribe(n, c, o);
}

// The group listed for `who` in `viewer`'s discovery (empty when none).
std::vector<group_membership> groups_of(asio::io_context& ioc, node& viewer, const std::string& who) {
  for (auto& i : discover(ioc, viewer))
    if (i.id == who) return i.groups;
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_message_goes_to_exactly_one_member_of_a_group_of_three) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  raw_client raw(ioc, srv);
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  std::vector<std::unique_ptr<node>> members;
  std::vector<collector> got(3);
  for (int i = 0; i < 3; ++i) {
    members.push_back(std::make_unique<node>(ioc.get_executor(), make_config(srv, "m" + std::to_string(i))));
    BOOST_REQUIRE_EQUAL(start(ioc, *members.back()), error_code{});
    // A small pull batch, so the three members' pull requests take turns.
    join(*members.back(), got[i], "w", "pub.jobs.>", ack_mode::on_delivery, {}, 10);
  }
  run_for(ioc, 500ms);
  BOOST_TEST(consumer_names(ioc, raw) == std::vector<std::string>{group_consumer}, boost::test_tools::per_element());

  // Durable and ephemeral messages alike go through the group's consumer.
  constexpr int durable = 150, ephemeral = 30;
  for (int i = 0; i < durable; ++i) BOOST_REQUIRE(!publish(ioc, pub, "jobs.d", "d" + std::to_string(i)));
  publish_options eph;
  eph.mode = delivery_mode::ephemeral;
  for (int i = 0; i < ephemeral; ++i) BOOST_REQUIRE(!publish(ioc, pub, "jobs.e", "e" + std::to_string(i), eph));
  auto total = [&] { return got[0].got.size() + got[1].got.size() + got[2].got.size(); };
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return total() >= durable + ephemeral; }), "got " << total());
  run_for(ioc, 1000ms);  // anything handed out twice would show up now

  std::map<std::string, int> seen;
  int members_used = 0;
  for (auto& c : got) {
    members_used += c.got.empty() ? 0 : 1;
    for (auto& d : c.got) {
      BOOST_TEST(!d.redelivered, d.payload << " flagged redelivered");
      ++seen[d.payload];
    }
  }
  BOOST_TEST(total() == std::size_t(durable + ephemeral));
  BOOST_TEST(seen.size() == std::size_t(durable + ephemeral));
  for (auto& [p, n] : seen) BOOST_TEST(n == 1, p << " processed " << n << " times");
  BOOST_TEST(members_used >= 2);  // shared, not all taken by one
  for (auto& m : members) BOOST_TEST(!stop(ioc, *m));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(a_member_process_sigkilled_mid_stream_loses_nothing_and_repeats_are_flagged) {
  nats_server srv(jetstream_server_options());
  std::string file = make_temp_file("nrc-groups");
  subscribe_options child_opts;
  child_opts.key = "w";
  child_opts.patterns = "pub.>";
  child_opts.group = "workers";
  child_opts.ack_wait = 1500ms;
  child_opts.start = start_position::all;
  pid_t child = ::fork();  // before this process has an io_context or a connection of its own
  BOOST_REQUIRE(child >= 0);
  if (child == 0) run_forked_subscriber(srv.url(), "child", child_opts, file, 2ms);  // a slow job
  auto lines = [&] { return read_recorded(file); };

  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  // The child alone first (its consumer exists once a message comes through).
  BOOST_REQUIRE_EQUAL(publish(ioc, pub, "job", "first"), error_code{});
  BOOST_REQUIRE(run_until(ioc, [&] { return !lines().empty(); }, 20s));
  node m2(ioc.get_executor(), make_config(srv, "m2"));
  node m3(ioc.get_executor(), make_config(srv, "m3"));
  BOOST_REQUIRE_EQUAL(start(ioc, m2), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, m3), error_code{});
  collector c2, c3;
  for (auto [m, c] : {std::pair{&m2, &c2}, std::pair{&m3, &c3}}) {
    subscribe_options o;
    o.key = "w";
    o.patterns = "pub.>";
    o.group = "workers";
    o.ack_wait = 1500ms;
    error_code ec;
    // Slow jobs here too, so the stream still holds work when the child dies.
    m->subscribe(o, [c](delivery&& d) {
      ::usleep(2000);
      c->got.push_back(std::move(d));
    }, ec);
    BOOST_REQUIRE(!ec);
  }
  run_for(ioc, 300ms);

  constexpr int n = 600;
  std::vector<std::string> want{"first"};
  int acked = 0;
  for (int i = 0; i < n; ++i) {
    want.push_back("j" + std::to_string(i));
    pub.async_publish("job", want.back(), {}, [&](error_code ec) {
      BOOST_TEST(!ec);
      ++acked;
    });
  }
  BOOST_REQUIRE(run_until(ioc, [&] { return lines().size() >= 40; }, 20s));
  ::kill(child, SIGKILL);  // with pulled, unacknowledged jobs
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFSIGNALED(status));
  auto killed = lines();
  BOOST_TEST_MESSAGE("child processed " << killed.size() << " before SIGKILL");
  BOOST_REQUIRE(run_until(ioc, [&] { return acked == n; }, 30s));

  // Every job processed by some member; a job processed twice is flagged the second time.
  std::map<std::string, int> seen;
  auto all_seen = [&] {
    std::set<std::string> got;
    for (auto& [p, r] : killed) got.insert(p);
    for (auto* c : {&c2, &c3})
      for (auto& d : c->got) got.insert(d.payload);
    return got.size() == want.size();
  };
  BOOST_REQUIRE_MESSAGE(run_until(ioc, all_seen, 20s), "jobs lost after the SIGKILL");
  run_for(ioc, 2000ms);  // past another ack wait: nothing else comes
  for (auto& [p, r] : killed) BOOST_TEST(seen[p]++ == 0, p << " twice in the child");
  for (auto* c : {&c2, &c3})
    for (auto& d : c->got)
      BOOST_TEST((seen[d.payload]++ == 0 || d.redelivered), d.payload << " processed again without the redelivered flag");
  std::size_t repeats = 0, taken_over = 0;
  for (auto& [p, k] : seen) repeats += static_cast<std::size_t>(k - 1);
  for (auto* c : {&c2, &c3})
    for (auto& d : c->got) taken_over += d.redelivered ? 1 : 0;
  BOOST_TEST_MESSAGE("taken over from the killed member: " << taken_over << ", processed twice (flagged): " << repeats
                     << "; m2 " << c2.got.size() << ", m3 " << c3.got.size());
  BOOST_TEST(taken_over > 0u);  // it died holding pulled jobs: the others got them after ack wait
  BOOST_TEST(seen.size() == want.size());
  BOOST_TEST(!stop(ioc, m2));
  BOOST_TEST(!stop(ioc, m3));
  BOOST_TEST(!stop(ioc, pub));
  std::filesystem::remove(file);
}

BOOST_AUTO_TEST_CASE(unacked_messages_of_a_member_stopped_abruptly_go_to_another_after_ack_wait) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  auto m1 = std::make_unique<node>(ioc.get_executor(), make_config(srv, "m1"));
  node m2(ioc.get_executor(), make_config(srv, "m2"));
  BOOST_REQUIRE_EQUAL(start(ioc, *m1), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, m2), error_code{});
  collector c1, c2;
  // m1 alone in the group takes everything and never acks (the flow hangs, then the process dies).
  join(*m1, c1, "w", "pub.>", ack_mode::manual, 1500ms);
  run_for(ioc, 300ms);
  constexpr int n = 20;
  for (int i = 0; i < n; ++i) BOOST_REQUIRE(!publish(ioc, pub, "job", std::to_string(i)));
  BOOST_REQUIRE(run_until(ioc, [&] { return c1.got.size() == std::size_t(n); }));
  join(m2, c2, "w", "pub.>", ack_mode::manual, 1500ms);
  run_for(ioc, 300ms);
  BOOST_TEST(c2.got.empty());  // m1 holds them until its ack wait runs out
  m1.reset();                  // abrupt: connection closed, nothing acked (like SIGKILL)

  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return c2.got.size() >= std::size_t(n); }, 10s), "m2 got " << c2.got.size());
  std::set<std::string> payloads;
  for (auto& d : c2.got) {
    BOOST_TEST(d.redelivered);
    BOOST_TEST(d.delivery_count >= 2u);
    payloads.insert(d.payload);
    BOOST_TEST(!m2.ack(d.id));
  }
  BOOST_TEST(payloads.size() == std::size_t(n));
  run_for(ioc, 2000ms);  // acked: nothing comes back
  BOOST_TEST(c2.got.size() == std::size_t(n));
  BOOST_TEST(!stop(ioc, m2));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(group_names_are_validated_and_members_must_agree_on_patterns) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  node b(ioc.get_executor(), make_config(srv, "b"));
  std::vector<status_event> errors;
  b.set_status_handler([&](const status_event& e) {
    if (e.kind == status_kind::error) errors.push_back(e);
  });
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, b), error_code{});
  for (auto bad : {"a.b", "a*", "a>", "a b", "a/b", "a\\b", "*", ">"}) {
    subscribe_options o;
    o.key = "bad";
    o.patterns = ">";
    o.group = bad;
    error_code ec;
    BOOST_TEST(a.subscribe(o, [](delivery&&) {}, ec) == 0u);
    BOOST_TEST(ec == make_error_code(error::invalid_group), "group '" << bad << "'");
  }
  collector ca, cb;
  join(a, ca, "w", "pub.>");
  // The same node: refused at once.
  subscribe_options other;
  other.key = "w2";
  other.patterns = "other.>";
  other.group = "workers";
  error_code ec;
  BOOST_TEST(a.subscribe(other, [](delivery&&) {}, ec) == 0u);
  BOOST_TEST(ec == make_error_code(error::group_conflict));
  // Another node: its subscription finds the consumer with other patterns and reports it, without
  // taking the consumer away from the members that use it.
  run_for(ioc, 500ms);
  join(b, cb, "w", "other.>");
  BOOST_REQUIRE(run_until(ioc, [&] {
    return std::any_of(errors.begin(), errors.end(), [](auto& e) { return e.ec == error::group_conflict; });
  }, 5s));
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  BOOST_TEST(!publish(ioc, pub, "x", "still served"));
  BOOST_REQUIRE(run_until(ioc, [&] { return ca.got.size() == 1; }, 5s));
  BOOST_TEST(cb.got.empty());
  BOOST_TEST(!stop(ioc, pub));
  BOOST_TEST(!stop(ioc, b));
  BOOST_TEST(!stop(ioc, a));
}

BOOST_AUTO_TEST_CASE(discovery_shows_members_and_only_the_last_member_removes_the_group_consumer) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  raw_client raw(ioc, srv);
  node m1(ioc.get_executor(), make_config(srv, "m1"));
  node m2(ioc.get_executor(), make_config(srv, "m2"));
  BOOST_REQUIRE_EQUAL(start(ioc, m1), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, m2), error_code{});
  collector c1, c2, plain;
  auto s1 = join(m1, c1, "w", "jobs.>");
  auto s2 = join(m2, c2, "w", "jobs.>");
  subscribe(m2, plain, "p", "jobs.>");  // not in a group: not listed

  auto is_workers = [](const std::vector<group_membership>& g) {
    return g.size() == 1 && g[0].group == "workers" && g[0].patterns == "jobs.>";
  };
  // Each instance sees both as members (its own entry too, once the watcher has its new revision).
  for (auto* viewer : {&m1, &m2})
    for (auto who : {"m1", "m2"})
      BOOST_TEST(run_until(ioc, [&] { return is_workers(groups_of(ioc, *viewer, who)); }, 5s), who);
  auto both = std::vector<std::string>{group_consumer, "m2_p"};
  BOOST_REQUIRE(run_until(ioc, [&] { return consumer_names(ioc, raw) == both; }, 5s));

  // m2 leaves asking for removal: m1 is still a member, so the consumer stays.
  BOOST_TEST(!unsubscribe(ioc, m2, s2, true));
  BOOST_TEST(consumer_names(ioc, raw) == both, boost::test_tools::per_element());
  BOOST_REQUIRE(run_until(ioc, [&] { return groups_of(ioc, m1, "m2").empty(); }, 5s));

  // m1, the last member known, removes it.
  BOOST_TEST(!unsubscribe(ioc, m1, s1, true));
  BOOST_TEST(consumer_names(ioc, raw) == std::vector<std::string>{"m2_p"}, boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, m2));
  BOOST_TEST(!stop(ioc, m1));
}

BOOST_AUTO_TEST_CASE(a_group_consumer_nobody_pulls_from_is_removed_after_the_inactive_threshold) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  raw_client raw(ioc, srv);
  auto cfg = make_config(srv, "m1");
  cfg.group_inactive_threshold = 1500ms;
  node m1(ioc.get_executor(), cfg);
  BOOST_REQUIRE_EQUAL(start(ioc, m1), error_code{});
  collector c;
  join(m1, c, "w", "jobs.>");
  // While a member pulls, the consumer is active and stays.
  run_for(ioc, 3000ms);
  BOOST_TEST(consumer_names(ioc, raw) == std::vector<std::string>{group_consumer}, boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, m1));  // a clean stop keeps consumers
  BOOST_TEST(consumer_names(ioc, raw) == std::vector<std::string>{group_consumer}, boost::test_tools::per_element());
  BOOST_TEST(run_until(ioc, [&] { return consumer_names(ioc, raw).empty(); }, 15s));
}
