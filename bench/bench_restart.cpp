// Time from "subscriber ready again" to "every message published during its restart delivered", for the
// cluster layer against a nats-server of its own. Two cases per count:
//   down  — the subscriber stops cleanly; N durable messages are published (and acknowledged by
//           JetStream) while it is down; a new subscriber node with the same id and key starts;
//   abort — the subscriber received N messages and acknowledged none (a flow still working on them)
//           when its node is torn down without a stop (what the server sees of a SIGKILL: the link
//           closes, the deliveries stay pending); a new node starts.
// "ready" is the moment async_start completes (connected, stream/bucket set up); the subscription is
// made right after, as a Node-RED subscribe node does. Prints one line per case and count.
//
//   bench_restart [--url nats://host:port] [--counts 1,100,10000]
#include "cluster_bench_util.hpp"

#include <nats/cluster/cluster.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace nc = nats::cluster;
using namespace std::chrono_literals;
using boost::system::error_code;
using clk = std::chrono::steady_clock;

namespace {

bool run_until(asio::io_context& ioc, const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = clk::now() + timeout;
  while (!pred() && clk::now() < deadline) {
    ioc.run_one_for(5ms);
    if (ioc.stopped()) ioc.restart();
  }
  return pred();
}

nc::config node_config(const std::string& url, const std::string& id, const std::string& root) {
  nc::config c;
  c.instance_id = id;
  c.root_path = root;
  c.connection.servers = {url};
  c.outbox_max_messages = 20000;
  return c;
}

struct result {
  double ready_to_all_ms = -1;
  std::uint64_t delivered = 0;
  std::uint64_t flagged = 0;
};

bool start(asio::io_context& ioc, nc::node& n) {
  std::optional<error_code> r;
  n.async_start([&](error_code ec) { r = ec; });
  return run_until(ioc, [&] { return r.has_value(); }, 30s) && !*r;
}

void stop(asio::io_context& ioc, nc::node& n) {
  bool done = false;
  n.async_stop(5s, [&](error_code) { done = true; });
  run_until(ioc, [&] { return done; }, 15s);
}

result run_case(const std::string& url, const std::string& root, std::uint64_t count, bool abort) {
  asio::io_context ioc;
  nc::node pub(ioc.get_executor(), node_config(url, "pub", root));
  if (!start(ioc, pub)) return {};
  std::uint64_t acked = 0;
  auto publish = [&](std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i)
      pub.async_publish("data", std::to_string(i), {}, [&](error_code ec) {
        if (!ec) ++acked;
      });
  };
  nc::subscribe_options o;
  o.key = "k";
  o.patterns = "pub.>";
  o.start = nc::start_position::all;
  {
    // The first run: creates the consumer; in `abort`, gets the messages and acks none.
    auto sub = std::make_unique<nc::node>(ioc.get_executor(), node_config(url, "sub", root));
    if (!start(ioc, *sub)) return {};
    std::uint64_t got = 0;
    o.ack = abort ? nc::ack_mode::manual : nc::ack_mode::on_delivery;
    error_code ec;
    sub->subscribe(o, [&](nc::delivery&&) { ++got; }, ec);
    if (abort) {
      publish(count);
      if (!run_until(ioc, [&] { return got >= std::min<std::uint64_t>(count, 1000); }, 60s)) return {};
      sub.reset();  // no stop: the link closes with the deliveries unacknowledged
    } else {
      run_until(ioc, [] { return false; }, 300ms);  // consumer created
      stop(ioc, *sub);
      sub.reset();
      publish(count);
    }
  }
  if (!run_until(ioc, [&] { return acked == count; }, 120s)) return {};
  nc::node sub(ioc.get_executor(), node_config(url, "sub", root));
  if (!start(ioc, sub)) return {};
  auto ready = clk::now();
  result r;
  std::vector<bool> seen(count, false);
  std::uint64_t distinct = 0;
  clk::time_point last{};
  o.ack = nc::ack_mode::on_delivery;
  error_code ec;
  sub.subscribe(o, [&](nc::delivery&& d) {
    ++r.delivered;
    if (d.redelivered) ++r.flagged;
    auto i = std::strtoull(d.payload.c_str(), nullptr, 10);
    if (i < count && !seen[i]) {
      seen[i] = true;
      if (++distinct == count) last = clk::now();
    }
  }, ec);
  if (ec || !run_until(ioc, [&] { return distinct == count; }, 120s)) return r;
  r.ready_to_all_ms = std::chrono::duration<double, std::milli>(last - ready).count();
  stop(ioc, sub);
  stop(ioc, pub);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  std::vector<std::uint64_t> counts{1, 100, 10000};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--url" && i + 1 < argc) {
      url = argv[++i];
    } else if (a == "--counts" && i + 1 < argc) {
      counts.clear();
      std::string list = argv[++i];
      for (std::size_t p = 0; p <= list.size();) {
        auto q = list.find(',', p);
        if (q == std::string::npos) q = list.size();
        counts.push_back(std::strtoull(list.substr(p, q - p).c_str(), nullptr, 10));
        p = q + 1;
      }
    } else {
      std::fprintf(stderr, "usage: bench_restart [--url nats://host:port] [--counts 1,100,10000]\n");
      return 2;
    }
  }
  std::optional<bench_cluster_util::server_process> server;
  if (url.empty()) {
    server.emplace();
    url = server->url;
  }
  std::printf("| case | messages | ready → all delivered (ms) | deliveries | flagged redelivered |\n|---|---|---|---|---|\n");
  int run = 0;
  bool ok = true;
  for (bool abort : {false, true})
    for (auto n : counts) {
      auto root = "/bench-restart-" + std::to_string(getpid()) + "-" + std::to_string(run++);
      auto r = run_case(url, root, n, abort);
      ok = ok && r.ready_to_all_ms >= 0;
      std::printf("| %s | %llu | %.0f | %llu | %llu |\n", abort ? "abort (received, unacked)" : "down (published while stopped)",
                  static_cast<unsigned long long>(n), r.ready_to_all_ms, static_cast<unsigned long long>(r.delivered),
                  static_cast<unsigned long long>(r.flagged));
      std::fflush(stdout);
    }
  return ok ? 0 : 1;
}
