// Helpers for cluster integration tests: drive an io_context until a condition holds, start/stop
// nodes synchronously, collect deliveries.
#pragma once

#include <nats/cluster/cluster.hpp>
#include <nats/connection.hpp>
#include <nats/js/context.hpp>

#include "nats_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace nats::cluster {
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
inline std::ostream& operator<<(std::ostream& os, delivery_mode m) { return os << to_string(m); }
inline std::ostream& operator<<(std::ostream& os, presence p) { return os << to_string(p); }
inline std::ostream& operator<<(std::ostream& os, role r) { return os << to_string(r); }
inline std::ostream& operator<<(std::ostream& os, status_kind k) { return os << to_string(k); }
inline std::ostream& operator<<(std::ostream& os, discovery_kind k) { return os << to_string(k); }
}  // namespace nats::cluster

namespace nats::cluster::test {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;

/// Runs handlers until `pred()` is true or `timeout` passes; returns pred().
inline bool run_until(asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(20ms);
    if (ioc.stopped()) ioc.restart();
  }
  return pred();
}

/// Runs handlers for `d` (lets background work happen).
inline void run_for(asio::io_context& ioc, std::chrono::milliseconds d) {
  auto deadline = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < deadline) {
    ioc.run_one_for(10ms);
    if (ioc.stopped()) ioc.restart();
  }
}

/// A single nats-server with JetStream (what the cluster layer needs); `extra` is appended to its
/// configuration file.
inline nats::test::server_options jetstream_server_options(std::string extra = {}) {
  nats::test::server_options o;
  o.jetstream = true;
  o.config = std::move(extra);
  return o;
}

inline config make_config(const std::vector<std::string>& urls, std::string id, role r = role::member) {
  config c;
  c.instance_id = std::move(id);
  c.role = r;
  c.connection.servers = urls;
  c.connection.reconnect.wait = 100ms;
  c.connection.reconnect.jitter = 20ms;
  c.connection.connect_timeout = 1000ms;
  return c;
}

inline config make_config(const nats::test::nats_server& s, std::string id, role r = role::member) {
  return make_config(std::vector<std::string>{s.url()}, std::move(id), r);
}

/// Waits longer than any config::start_timeout used in the tests (60 s on a fresh 3-server cluster):
/// the node's own timeout is what should end a start that cannot succeed.
inline error_code start(asio::io_context& ioc, node& n) {
  std::optional<error_code> result;
  auto t0 = std::chrono::steady_clock::now();
  n.async_start([&](error_code ec) { result = ec; });
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return result.has_value(); }, 90s), "async_start did not complete");
  auto took = std::chrono::steady_clock::now() - t0;
  if (took > 5s)
    BOOST_TEST_MESSAGE("slow start: " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  return *result;
}

/// Unsubscribes and waits for the answer (remove_consumer: delete the durable consumer too).
inline error_code unsubscribe(asio::io_context& ioc, node& n, std::uint64_t id, bool remove_consumer) {
  std::optional<error_code> result;
  n.async_unsubscribe(id, remove_consumer, [&](error_code ec) { result = ec; });
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return result.has_value(); }), "async_unsubscribe did not complete");
  return *result;
}

inline error_code stop(asio::io_context& ioc, node& n, std::chrono::milliseconds timeout = 5s) {
  std::optional<error_code> result;
  n.async_stop(timeout, [&](error_code ec) { result = ec; });
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return result.has_value(); }, timeout + 10s), "async_stop did not complete");
  return *result;
}

inline error_code publish(asio::io_context& ioc, node& n, const std::string& subject, const std::string& payload,
                          publish_options opts = {}) {
  std::optional<error_code> result;
  n.async_publish(subject, payload, opts, [&](error_code ec) { result = ec; });
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return result.has_value(); }, 30s), "async_publish did not complete");
  return *result;
}

/// A plain client for looking at the wire (stream, bucket, raw subscriptions).
struct raw_client {
  nats::connection nc;
  nats::js::context js;
  raw_client(asio::io_context& ioc, const nats::test::nats_server& s) : raw_client(ioc, std::vector<std::string>{s.url()}) {}
  raw_client(asio::io_context& ioc, std::vector<std::string> urls)
      : nc(ioc.get_executor(), [&] {
          nats::options o;
          o.servers = std::move(urls);
          return o;
        }()),
        js(nc) {
    std::optional<error_code> r;
    nc.async_connect([&](error_code ec) { r = ec; });
    BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }));
    BOOST_REQUIRE_MESSAGE(!*r, "raw connect: " << r->message());
  }
};

/// Collects deliveries of one subscription.
struct collector {
  std::vector<delivery> got;
  delivery_handler handler() {
    return [this](delivery&& d) { got.push_back(std::move(d)); };
  }
  std::vector<std::string> payloads() const {
    std::vector<std::string> out;
    for (auto& d : got) out.push_back(d.payload);
    return out;
  }
};

inline std::uint64_t subscribe(node& n, collector& c, const subscribe_options& o) {
  error_code ec;
  auto id = n.subscribe(o, c.handler(), ec);
  BOOST_REQUIRE_MESSAGE(!ec, "subscribe: " << ec.message());
  return id;
}

inline std::uint64_t subscribe(node& n, collector& c, std::string key, std::string patterns,
                               start_position start = start_position::new_only, ack_mode ack = ack_mode::on_delivery) {
  subscribe_options o;
  o.key = std::move(key);
  o.patterns = std::move(patterns);
  o.start = start;
  o.ack = ack;
  return subscribe(n, c, o);
}

/// Names of the consumers on `stream`, sorted.
inline std::vector<std::string> consumer_names(asio::io_context& ioc, raw_client& raw,
                                               const std::string& stream = "NODERED_CLUSTER") {
  std::optional<error_code> r;
  std::vector<std::string> names;
  raw.js.async_consumer_names(stream, [&](error_code ec, std::vector<std::string> v) {
    r = ec;
    names = std::move(v);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*r, "consumer names: " << r->message());
  std::sort(names.begin(), names.end());
  return names;
}

/// node::async_discover, synchronously.
inline std::vector<instance_info> discover(asio::io_context& ioc, node& n) {
  std::optional<std::vector<instance_info>> found;
  n.async_discover([&](error_code, std::vector<instance_info> v) { found = std::move(v); });
  BOOST_REQUIRE(run_until(ioc, [&] { return found.has_value(); }));
  return *found;
}

/// Starts a publishing node and then a subscribing node, and subscribes `c` on `sub` with key "k" to
/// `patterns`: the opening of the publish/deliver tests, here so that each test shows only what differs.
inline void start_pub_sub(asio::io_context& ioc, node& pub, node& sub, collector& c, std::string patterns,
                          start_position from = start_position::new_only) {
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  subscribe(sub, c, "k", std::move(patterns), from);
}

}  // namespace nats::cluster::test
