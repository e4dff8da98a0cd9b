// A subscribing instance restarted while messages flow, against a real nats-server: everything published
// before, during or right after the restart reaches the new process at once (not after ack wait), first
// deliveries in publish order, every repeat flagged. The ack wait stays at the server default (30 s), so
// a delivery that waited for it fails the 2 s bound.
//
// "Process" is meant literally for the hard kill: the first subscriber runs in a forked child that
// writes each delivery to a file before it is acknowledged (what a flow does), and is SIGKILLed.
#define BOOST_TEST_MODULE integration_cluster_restart
#include <boost/test/unit_test.hpp>

#include "forked_subscriber.hpp"

#include <csignal>
#include <filesystem>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;
using nats::test::server_options;
using std::chrono::steady_clock;

namespace {

constexpr auto bound = 2000ms;

/// What one subscriber saw: payloads in delivery order, with the redelivered flag.
struct seen {
  std::string payload;
  bool redelivered = false;
  steady_clock::time_point at;
};

std::vector<seen> read_lines(const std::string& file) {
  std::vector<seen> out;
  for (auto& r : read_recorded(file)) out.push_back({r.payload, r.redelivered, {}});
  return out;
}

/// Publishes `n` messages "<tag><i>", alternating durable and ephemeral (TTL 60 s) when `mixed`.
struct publisher {
  asio::io_context& ioc;
  node& pub;
  std::string tag;
  bool mixed;
  int next = 0;
  int acked = 0;
  std::vector<std::string> all;
  void send(int n) {
    for (int k = 0; k < n; ++k, ++next) {
      publish_options o;
      if (mixed && next % 2 == 1) {
        o.mode = delivery_mode::ephemeral;
        o.ttl = 60s;
      }
      all.push_back(tag + std::to_string(next));
      pub.async_publish(mixed && next % 2 == 1 ? "ev" : "job", all.back(), o, [this](error_code ec) {
        BOOST_TEST(!ec);
        ++acked;
      });
    }
  }
  bool done() const { return acked == next; }
};

/// Every published message seen at least once across both runs, first deliveries in publish order,
/// every repeat flagged.
void check_union(const std::vector<std::string>& published, const std::vector<seen>& first_run,
                 const std::vector<seen>& second_run) {
  std::set<std::string> got;
  std::vector<std::string> firsts;
  auto take = [&](const std::vector<seen>& run, const char* which) {
    for (auto& s : run) {
      if (got.count(s.payload)) {
        BOOST_TEST(s.redelivered, which << ": repeat of " << s.payload << " without the redelivered flag");
      } else {
        got.insert(s.payload);
        firsts.push_back(s.payload);
      }
    }
  };
  take(first_run, "first process");
  take(second_run, "second process");
  BOOST_TEST(firsts == published, boost::test_tools::per_element());
}

/// The second process's subscription: every delivery with the time it arrived.
struct timed_collector {
  std::vector<delivery> got;
  std::vector<steady_clock::time_point> at;
  std::vector<seen> seen_list() const {
    std::vector<seen> out;
    for (std::size_t i = 0; i < got.size(); ++i) out.push_back({got[i].payload, got[i].redelivered, at[i]});
    return out;
  }
};

/// Subscribes `c` with the key and patterns of the first run (acked when the handler returns).
void subscribe_timed(node& n, timed_collector& c) {
  subscribe_options o;
  o.key = "flow-node";
  o.patterns = "pub.>";
  o.start = start_position::all;
  error_code ec;
  n.subscribe(o, [&c](delivery&& d) {
    c.at.push_back(steady_clock::now());
    c.got.push_back(std::move(d));
  }, ec);
  BOOST_REQUIRE_MESSAGE(!ec, "subscribe: " << ec.message());
}

}  // namespace

// A subscriber killed (SIGKILL) while it receives; publishing goes on through the kill, while the
// subscriber is down and while the new process starts.
BOOST_AUTO_TEST_CASE(hard_kill_while_receiving_everything_arrives_at_once_after_restart) {
  nats_server srv(jetstream_server_options());
  auto file = make_temp_file("nrc-restart-kill");
  subscribe_options child_opts;
  child_opts.key = "flow-node";
  child_opts.patterns = "pub.>";
  child_opts.start = start_position::all;  // the parent's first messages may come before the consumer exists
  // Forked before this process has an io_context or a connection of its own.
  pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) run_forked_subscriber(srv.url(), "sub", child_opts, file, 1ms);
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});

  // Wait for the child's consumer: a first message goes through.
  publisher p{ioc, pub, "m", true};
  BOOST_REQUIRE(run_until(ioc, [&] {
    if (p.done() && p.next < 50) p.send(1);
    return !read_lines(file).empty();
  }, 20s));
  // Traffic while it runs, then SIGKILL in the middle of it.
  p.send(600);
  BOOST_REQUIRE(run_until(ioc, [&] { return read_lines(file).size() >= 150; }, 20s));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_REQUIRE(WIFSIGNALED(status));
  auto first_run = read_lines(file);
  BOOST_TEST_MESSAGE("first process saw " << first_run.size() << " before SIGKILL");
  // Right after the exit, and while the new process starts.
  p.send(200);
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  timed_collector c;
  subscribe_timed(sub, c);
  p.send(200);
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  auto ready = steady_clock::now();
  p.send(100);
  BOOST_REQUIRE(run_until(ioc, [&] { return p.done(); }, 30s));
  auto all_published = steady_clock::now();

  std::set<std::string> want(p.all.begin(), p.all.end());
  auto complete = [&] {
    std::set<std::string> got;
    for (auto& s : first_run) got.insert(s.payload);
    for (auto& d : c.got) got.insert(d.payload);
    return got == want;
  };
  BOOST_TEST(run_until(ioc, complete, 10s), "every message reached one of the two processes");
  run_for(ioc, 300ms);
  check_union(p.all, first_run, c.seen_list());
  // Nothing waited for ack wait: the last delivery is within the bound of ready / the last publish. (The
  // counts keep the backlog at about a thousand messages, so the bound measures the restart, not the
  // throughput of a debug build on a busy machine.)
  BOOST_REQUIRE(!c.at.empty());
  auto last = *std::max_element(c.at.begin(), c.at.end());
  for (std::size_t i = 1; i < c.at.size(); ++i)
    if (c.at[i] - c.at[i - 1] > 500ms)
      BOOST_TEST_MESSAGE("pause of " << std::chrono::duration_cast<std::chrono::milliseconds>(c.at[i] - c.at[i - 1]).count() << " ms before delivery " << i << " of " << c.at.size() << ": " << c.got[i].payload << " seq " << c.got[i].stream_sequence << (c.got[i].redelivered ? " r" : ""));
  BOOST_TEST((last - std::max(ready, all_published) < bound),
             "last delivery " << std::chrono::duration_cast<std::chrono::milliseconds>(last - std::max(ready, all_published)).count()
                              << " ms after ready and last publish");
  auto st = sub.stats();
  BOOST_TEST_MESSAGE("second process: " << c.got.size() << " deliveries, " << st.redelivered << " flagged, held "
                     << st.order_held << ", gaps " << st.order_gaps << ", rewound " << st.rewound);
  BOOST_TEST(st.rewound == 1u);
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
  std::filesystem::remove(file);
}

// A clean stop with deliveries the host had not acknowledged yet (manual ack, as the Node-RED package
// uses it) and messages still arriving: the next run gets them at once, flagged, in order.
BOOST_AUTO_TEST_CASE(clean_stop_with_unacked_deliveries_next_run_gets_them_at_once) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  publisher p{ioc, pub, "c", true};
  std::vector<seen> first_run;
  {
    node sub(ioc.get_executor(), make_config(srv, "sub"));
    BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
    collector c;
    subscribe(sub, c, "flow-node", "pub.>", start_position::all, ack_mode::manual);
    BOOST_REQUIRE(run_until(ioc, [&] {
      if (p.done() && p.next < 50) p.send(1);
      return !c.got.empty();
    }, 20s));
    p.send(1000);
    // The host has processed (acked) the first 100 when it stops, while traffic flows.
    BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 200; }, 20s));
    for (std::size_t i = 0; i < 100; ++i) BOOST_TEST(!sub.ack(c.got[i].id));
    BOOST_TEST(!stop(ioc, sub));
    for (auto& d : c.got) first_run.push_back({d.payload, d.redelivered, {}});
  }
  p.send(300);  // while it is down
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  p.send(200);  // while it starts
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  auto ready = steady_clock::now();
  timed_collector c;
  subscribe_timed(sub, c);
  BOOST_REQUIRE(run_until(ioc, [&] { return p.done(); }, 30s));
  auto all_published = steady_clock::now();
  BOOST_REQUIRE(run_until(ioc, [&] {
    std::set<std::string> got;
    for (auto& d : c.got) got.insert(d.payload);
    return got.size() >= p.all.size() - 100;
  }, 10s));
  run_for(ioc, 300ms);
  // Every delivery of the first run that was not acked came again (flagged, see check_union); the
  // acked ones did not.
  std::set<std::string> second;
  for (auto& d : c.got) second.insert(d.payload);
  for (std::size_t i = 0; i < first_run.size(); ++i)
    BOOST_TEST((second.count(first_run[i].payload) == 1) == (i >= 100), first_run[i].payload << " (acked: " << (i < 100) << ")");
  check_union(p.all, first_run, c.seen_list());
  auto last = *std::max_element(c.at.begin(), c.at.end());
  BOOST_TEST((last - std::max(ready, all_published) < bound));
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}
