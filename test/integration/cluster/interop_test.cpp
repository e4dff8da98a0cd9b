// Interop with a nats.js peer that behaves like the original plugin (test/interop/original_plugin_peer.mjs):
// its registrations and publishes are read by our node, our publishes reach its core subscriptions.
#define BOOST_TEST_MODULE interop_cluster
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;

namespace {

/// `node <script> args...` with stdout to a file; polled while our io_context runs.
struct peer_process {
  pid_t pid = -1;
  std::string out_path;
  int status = -1;

  explicit peer_process(std::vector<std::string> args) {
    out_path = nats::test::make_temp_dir("peer") + "/out";
    pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 1);
      std::vector<std::string> all{"node", ORIGINAL_PEER_SCRIPT};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }
  bool exited() {
    if (pid < 0) return true;
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      pid = -1;
      return true;
    }
    return false;
  }
  std::vector<std::string> lines() const {
    std::ifstream in(out_path);
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  ~peer_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(original_plugin_registrations_and_messages_are_read_by_our_node) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  // The original creates the stream and bucket first (its defaults); we must use them as they are.
  peer_process peer({srv.url(), "publish", "orig-1"});
  BOOST_REQUIRE(run_until(ioc, [&] { return peer.exited(); }, 30s));
  BOOST_REQUIRE_EQUAL(peer.status, 0);

  node n(ioc.get_executor(), make_config(srv, "ours"));
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  collector c;
  subscribe(n, c, "k", "orig-1.>", start_position::all);
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 6; }));
  run_for(ioc, 300ms);
  BOOST_REQUIRE_EQUAL(c.got.size(), 6u);
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(c.got[i].subject == "nodered-cluster.orig-1.sensors.t");
    BOOST_TEST(c.got[i].payload == "{\"n\":" + std::to_string(i) + "}");
    BOOST_TEST(c.got[i].mode == delivery_mode::durable);
    BOOST_TEST(c.got[i].source_instance == "orig-1");
  }
  BOOST_TEST(c.got[5].payload == "\"open\"");
  BOOST_TEST(c.got[5].mode == delivery_mode::durable);  // no headers: treated as durable

  std::optional<std::vector<instance_info>> found;
  n.async_discover([&](error_code, std::vector<instance_info> v) { found = std::move(v); });
  BOOST_REQUIRE(run_until(ioc, [&] { return found.has_value(); }));
  auto it = std::find_if(found->begin(), found->end(), [](auto& i) { return i.id == "orig-1"; });
  BOOST_REQUIRE(it != found->end());
  BOOST_TEST(it->legacy);
  BOOST_TEST(it->role == role::member);
  BOOST_TEST(it->nats_address == srv.url());
  BOOST_TEST(it->state == presence::online);
  BOOST_REQUIRE_EQUAL(it->endpoints.size(), 2u);
  auto ep = std::find_if(it->endpoints.begin(), it->endpoints.end(), [](auto& e) { return e.subject == "commands.go"; });
  BOOST_REQUIRE(ep != it->endpoints.end());
  BOOST_TEST(ep->mode == delivery_mode::ephemeral);
  BOOST_TEST(ep->ttl.count() == 10000);
  BOOST_TEST(!stop(ioc, n));
}

BOOST_AUTO_TEST_CASE(our_messages_reach_the_original_plugins_core_subscriptions) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node n(ioc.get_executor(), make_config(srv, "ours"));
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  // Overlapping core subscriptions, as the original does per comma-separated pattern.
  peer_process peer({srv.url(), "subscribe", "*.data.>, ours.data.x", "5"});
  BOOST_REQUIRE(run_until(ioc, [&] {
    auto l = peer.lines();
    return !l.empty() && l[0] == "ready";
  }, 30s));
  BOOST_TEST(!publish(ioc, n, "data.x", R"({"celsius":21.5})"));
  publish_options eph;
  eph.mode = delivery_mode::ephemeral;
  BOOST_TEST(!publish(ioc, n, "data.x", R"("open")", eph));
  BOOST_TEST(!publish(ioc, n, "data.y", "plain text"));
  BOOST_REQUIRE(run_until(ioc, [&] { return peer.exited(); }, 30s));
  BOOST_REQUIRE_EQUAL(peer.status, 0);
  auto lines = peer.lines();
  BOOST_REQUIRE_EQUAL(lines.size(), 6u);
  std::vector<std::string> msgs(lines.begin() + 1, lines.end());
  std::sort(msgs.begin(), msgs.end());
  std::vector<std::string> want{
      R"({"topic":"nodered-cluster.ours.data.x","payload":"open"})",
      R"({"topic":"nodered-cluster.ours.data.x","payload":"open"})",
      R"({"topic":"nodered-cluster.ours.data.x","payload":{"celsius":21.5}})",
      R"({"topic":"nodered-cluster.ours.data.x","payload":{"celsius":21.5}})",
      R"({"topic":"nodered-cluster.ours.data.y","payload":"plain text"})",
  };
  // data.x matches both of the original's subscriptions (it delivers those twice; we do not).
  BOOST_TEST(msgs == want, boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, n));
}
