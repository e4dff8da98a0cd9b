// Throughput of the cluster layer alone: one node publishes N messages (durable or ephemeral), another
// node in the same process receives them; prints msgs/s end to end, whether they arrived in publish
// order, and the CPU time per message of the publishing thread, the subscribing thread and the
// nats-server. Each node runs on its own io_context and thread (as two Node-RED processes would).
//
//   bench_cluster [--url nats://host:port] [--count N] [--size B] [--mode durable|ephemeral]
//                 [--window W] [--max-in-flight M] [--publish-window P] [--one-thread]
//
// Without --url it starts `nats-server -js` on a free port with a temporary store and stops it after.
#include "cluster_bench_util.hpp"

#include <nats/cluster/cluster.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace asio = boost::asio;
namespace nc = nats::cluster;
using namespace std::chrono_literals;
using boost::system::error_code;
using clk = std::chrono::steady_clock;
using namespace bench_cluster_util;

namespace {

struct settings {
  std::string url;
  std::uint64_t count = 100000;
  std::size_t size = 128;
  nc::delivery_mode mode = nc::delivery_mode::durable;
  std::size_t window = 2000;          // async_publish calls outstanding (the host's own pacing)
  std::size_t max_in_flight = 1000;   // subscription max_in_flight (consumer max_ack_pending)
  std::size_t publish_window = 256;   // config::max_in_flight_publishes
  bool one_thread = false;
};

nc::config node_config(const settings& s, const std::string& id, const std::string& root) {
  nc::config c;
  c.instance_id = id;
  c.root_path = root;
  c.connection.servers = {s.url};
  c.max_in_flight_publishes = s.publish_window;
  c.outbox_max_messages = std::max<std::size_t>(10000, s.window * 2);
  c.stream.memory_storage = false;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--url") s.url = next();
    else if (a == "--count") s.count = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--size") s.size = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--mode") s.mode = next() == "ephemeral" ? nc::delivery_mode::ephemeral : nc::delivery_mode::durable;
    else if (a == "--window") s.window = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--max-in-flight") s.max_in_flight = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--publish-window") s.publish_window = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--one-thread") s.one_thread = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::optional<server_process> server;
  if (s.url.empty()) {
    server.emplace();
    s.url = server->url;
  }
  const std::string root = "/bench-cluster-" + std::to_string(getpid());

  asio::io_context pub_ioc, sub_ioc_own;
  asio::io_context& sub_ioc = s.one_thread ? pub_ioc : sub_ioc_own;
  auto pub_guard = asio::make_work_guard(pub_ioc);
  auto sub_guard = asio::make_work_guard(sub_ioc_own);
  std::atomic<double> pub_cpu_start{0}, pub_cpu_end{0}, sub_cpu_start{0}, sub_cpu_end{0};
  std::thread pub_thread([&] { pub_ioc.run(); });
  std::thread sub_thread([&] {
    if (!s.one_thread) sub_ioc_own.run();
  });

  std::unique_ptr<nc::node> pub, sub;
  std::atomic<int> started{0};
  run_on(pub_ioc, [&] {
    pub = std::make_unique<nc::node>(pub_ioc.get_executor(), node_config(s, "bench-pub", root));
    pub->async_start([&](error_code ec) {
      if (ec) std::fprintf(stderr, "pub start: %s\n", ec.message().c_str());
      ++started;
    });
  });
  while (started < 1) std::this_thread::sleep_for(1ms);

  // Receiving side: counts, checks the publish order (payload starts with the index).
  const std::uint64_t warmup = std::min<std::uint64_t>(1000, s.count / 10);
  const std::uint64_t total = warmup + s.count;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> inversions{0}, redelivered{0};
  std::int64_t last = -1;
  clk::time_point end_time{};
  std::atomic<bool> all_in{false};
  run_on(sub_ioc, [&] {
    sub = std::make_unique<nc::node>(sub_ioc.get_executor(), node_config(s, "bench-sub", root));
    sub->async_start([&](error_code ec) {
      if (ec) std::fprintf(stderr, "sub start: %s\n", ec.message().c_str());
      ++started;
    });
  });
  while (started < 2) std::this_thread::sleep_for(1ms);
  run_on(sub_ioc, [&] {
    nc::subscribe_options o;
    o.key = "bench";
    o.patterns = "bench-pub.>";
    o.max_in_flight = s.max_in_flight;
    error_code ec;
    sub->subscribe(o, [&](nc::delivery&& d) {
      if (d.redelivered) {
        ++redelivered;
        return;
      }
      auto v = std::strtoll(d.payload.c_str(), nullptr, 10);
      if (v < last) ++inversions;
      last = std::max<std::int64_t>(last, v);
      auto n = ++received;
      if (n == warmup) sub_cpu_start = thread_cpu_us();
      if (n == total) {
        end_time = clk::now();
        sub_cpu_end = thread_cpu_us();
        all_in = true;
      }
    }, ec);
    if (ec) std::fprintf(stderr, "subscribe: %s\n", ec.message().c_str());
  });
  std::this_thread::sleep_for(500ms);  // consumer created

  // Publishing side: keeps `window` publishes outstanding.
  std::uint64_t issued = 0, completed = 0, failed = 0;
  clk::time_point start_time{};
  std::function<void()> pump;
  nc::publish_options po;
  po.mode = s.mode;
  std::string payload(s.size, 'x');
  pump = [&] {
    while (issued < total && issued - completed < s.window) {
      auto n = std::to_string(issued);
      std::memcpy(payload.data(), n.data(), std::min(n.size(), payload.size()));
      if (n.size() < payload.size()) payload[n.size()] = ' ';
      if (issued == warmup) {
        // Timed part: starts once the warm-up messages were received.
        if (received < warmup) {
          auto t = std::make_shared<asio::steady_timer>(pub_ioc, 1ms);
          t->async_wait([&, t](error_code) { pump(); });
          return;
        }
        start_time = clk::now();
        pub_cpu_start = thread_cpu_us();
        if (s.one_thread) sub_cpu_start = 0;
      }
      ++issued;
      pub->async_publish("data", payload, po, [&](error_code ec) {
        ++completed;
        if (ec) ++failed;
        if (completed == total) pub_cpu_end = thread_cpu_us();
        pump();
      });
    }
  };
  double server_cpu_start = 0;
  run_on(pub_ioc, [&] { pump(); });
  while (received < warmup) std::this_thread::sleep_for(1ms);
  if (server) server_cpu_start = process_cpu_us(server->pid);
  auto deadline = clk::now() + 300s;
  while (!all_in && clk::now() < deadline) std::this_thread::sleep_for(1ms);
  double server_cpu_end = server ? process_cpu_us(server->pid) : 0;
  while (pub_cpu_end == 0 && clk::now() < deadline) std::this_thread::sleep_for(1ms);

  nc::node_stats ps{}, ss{};
  run_on(pub_ioc, [&] { ps = pub->stats(); });
  run_on(sub_ioc, [&] { ss = sub->stats(); });
  double secs = std::chrono::duration<double>(end_time - start_time).count();
  bool ok = all_in && failed == 0;
  double n = static_cast<double>(s.count);
  std::printf(
      "{\"workload\":\"cluster_%s\",\"count\":%llu,\"size\":%zu,\"ok\":%s,\"msgs_per_s\":%.0f,\"in_order\":%s,"
      "\"inversions\":%llu,\"redelivered\":%llu,\"pub_cpu_us_per_msg\":%.2f,\"sub_cpu_us_per_msg\":%.2f,"
      "\"server_cpu_us_per_msg\":%.2f,\"publish_retries\":%llu,\"order_held\":%llu,\"threads\":%d}\n",
      s.mode == nc::delivery_mode::durable ? "durable" : "ephemeral", static_cast<unsigned long long>(s.count), s.size,
      ok ? "true" : "false", ok ? n / secs : 0.0, inversions == 0 ? "true" : "false",
      static_cast<unsigned long long>(inversions.load()), static_cast<unsigned long long>(redelivered.load()),
      (pub_cpu_end - pub_cpu_start) / n, s.one_thread ? 0.0 : (sub_cpu_end - sub_cpu_start) / n,
      server ? (server_cpu_end - server_cpu_start) / n : 0.0, static_cast<unsigned long long>(ps.publish_retries),
      static_cast<unsigned long long>(ss.order_held), s.one_thread ? 1 : 2);

  std::atomic<int> stopped{0};
  run_on(sub_ioc, [&] { sub->async_stop(2s, [&](error_code) { ++stopped; }); });
  run_on(pub_ioc, [&] { pub->async_stop(2s, [&](error_code) { ++stopped; }); });
  auto stop_deadline = clk::now() + 10s;
  while (stopped < 2 && clk::now() < stop_deadline) std::this_thread::sleep_for(1ms);
  run_on(sub_ioc, [&] { sub.reset(); });
  run_on(pub_ioc, [&] { pub.reset(); });
  pub_guard.reset();
  sub_guard.reset();
  pub_ioc.stop();
  sub_ioc_own.stop();
  pub_thread.join();
  sub_thread.join();
  return ok ? 0 : 1;
}
