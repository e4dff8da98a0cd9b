// Helpers for JetStream tests on a 3-server cluster (the settings of nats/cluster/n*.conf on free
// ports): start the cluster, wait for the meta leader, find and move stream/consumer leaders, publish
// until acknowledged, and check a stream against what was acknowledged.
#pragma once

#include "js_test_util.hpp"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nats::test {

/// Three JetStream servers js-n1..js-n3 routed to each other on 127.0.0.1.
struct js_cluster {
  std::vector<std::unique_ptr<nats_server>> nodes;

  js_cluster() {
    int client[3], route[3];
    for (int i = 0; i < 3; ++i) {
      client[i] = free_port();
      route[i] = free_port();
    }
    for (int i = 0; i < 3; ++i) {
      server_options o;
      o.jetstream = true;
      o.port = client[i];
      std::string routes;
      for (int j = 0; j < 3; ++j)
        if (j != i) routes += "    nats-route://127.0.0.1:" + std::to_string(route[j]) + "\n";
      o.config = "server_name: " + name(i) + "\ncluster {\n  name: js-cluster\n  listen: 127.0.0.1:" +
                 std::to_string(route[i]) + "\n  routes: [\n" + routes + "  ]\n}\n";
      nodes.push_back(std::make_unique<nats_server>(o));
    }
  }

  static std::string name(int i) { return "js-n" + std::to_string(i + 1); }
  /// Index of the server called `server_name`, -1 when none is.
  int index_of(std::string_view server_name) const {
    for (int i = 0; i < 3; ++i)
      if (name(i) == server_name) return i;
    return -1;
  }
  std::vector<std::string> urls() const {
    std::vector<std::string> u;
    for (auto& n : nodes) u.push_back(n->url());
    return u;
  }
};

/// A client of the whole cluster that reconnects quickly and forever.
inline options cluster_client_options(const js_cluster& cl) {
  options o;
  o.servers = cl.urls();
  o.reconnect.wait = 100ms;
  o.reconnect.jitter = 20ms;
  o.reconnect.max_attempts_per_server = -1;
  return o;
}

/// Adds the stream, retrying while the cluster has no JetStream meta leader yet.
inline asio::awaitable<void> add_stream_when_ready(js::context& js, const js::stream_config& cfg,
                                                   std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto [ec, info] = co_await js.async_add_stream(cfg, tok);
    if (!ec) co_return;
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "add stream " << cfg.name << ": " << ec.message() << " "
                                        << js.last_api_error().description);
    co_await sleep_for(250ms);
  }
}

/// The value of `"<key>":"..."` found after `after` in a JSON text (tests only: no escapes).
inline std::string json_string_after(std::string_view json, std::string_view after, std::string_view key) {
  auto p = json.find(after);
  if (p == std::string_view::npos) return {};
  const std::string needle = "\"" + std::string(key) + "\":\"";
  p = json.find(needle, p);
  if (p == std::string_view::npos) return {};
  p += needle.size();
  const auto e = json.find('"', p);
  return e == std::string_view::npos ? std::string() : std::string(json.substr(p, e - p));
}

/// Current leader of a stream's raft group; empty while there is none.
inline asio::awaitable<std::string> stream_leader(js::context& js, std::string stream) {
  auto [ec, info] = co_await js.async_stream_info(stream, tok);
  if (ec || !info.cluster) co_return std::string();
  co_return info.cluster->leader;
}

/// Current leader of a consumer (consumer_info has no cluster section: read it from the raw reply).
inline asio::awaitable<std::string> consumer_leader(js::context& js, std::string stream, std::string consumer) {
  const std::string api = "CONSUMER.INFO." + stream + "." + consumer;
  auto [ec, m] = co_await js.async_api_request(api, "", tok);
  if (ec) co_return std::string();
  co_return json_string_after(m.payload, "\"cluster\"", "leader");
}

/// Waits until `leader()` names a leader other than `old` and returns it.
template <class F>
asio::awaitable<std::string> wait_new_leader(F leader, std::string old,
                                             std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    std::string now = co_await leader();
    if (!now.empty() && now != old) co_return now;
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "no leader other than " << old);
    co_await sleep_for(100ms);
  }
}

/// Adds the stream (once the cluster can) and waits until its raft group has elected a leader: the
/// opening of every stream test, which must not move a leader that does not exist yet. Returns the
/// leader's server name.
inline asio::awaitable<std::string> add_stream_and_wait_leader(js::context& js, js::stream_config cfg) {
  co_await add_stream_when_ready(js, cfg);
  co_return co_await wait_new_leader([&] { return stream_leader(js, cfg.name); }, std::string());
}

/// Sends `$JS.API.<what>.LEADER.STEPDOWN.<names>` and checks the server accepted it.
inline asio::awaitable<void> stepdown(js::context& js, std::string api) {
  auto [ec, m] = co_await js.async_api_request(api, "", tok);
  BOOST_REQUIRE_MESSAGE(!ec, api << ": " << ec.message());
  BOOST_REQUIRE_MESSAGE(m.payload.find("\"success\":true") != std::string::npos, api << ": " << m.payload);
}

/// What a publisher got: the sequence acknowledged for each Msg-Id, and what reached the application.
struct publish_log {
  std::map<std::string, std::uint64_t> acked;  ///< Msg-Id → stream sequence in the PubAck
  std::map<std::string, int> app_errors;       ///< errors the application saw (then retried), by message
  int app_retries = 0;
  int duplicate_acks = 0;                      ///< PubAcks flagged duplicate (a retry of a stored message)

  void record_ack(const std::string& id, const js::pub_ack& a) {
    auto [it, fresh] = acked.emplace(id, a.seq);
    BOOST_CHECK_MESSAGE(fresh || it->second == a.seq,
                        id << " acked twice with different sequences " << it->second << " and " << a.seq);
    if (a.duplicate) ++duplicate_acks;
  }
  std::string errors() const {
    std::string s;
    for (auto& [what, n] : app_errors) s += what + " x" + std::to_string(n) + "; ";
    return s.empty() ? "none" : s;
  }
};

/// Publishes `id` (also the payload) with Nats-Msg-Id = id until a PubAck arrives. The library retries
/// no-responders itself; anything that still reaches the application (a timeout when the request died
/// with a server, ...) is logged and retried here with the same Msg-Id.
inline asio::awaitable<void> publish_until_acked(js::context& js, const std::string& subject, const std::string& id,
                                                 publish_log& log,
                                                 std::chrono::seconds limit = std::chrono::seconds(40)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  js::publish_options o;
  o.msg_id = id;
  for (;;) {
    auto [ec, ack] = co_await js.async_publish(subject, no_hdrs, id, o, tok);
    if (!ec) {
      log.record_ack(id, ack);
      co_return;
    }
    ++log.app_errors[ec.message()];
    ++log.app_retries;
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "publish " << id << ": " << ec.message());
    co_await sleep_for(100ms);
  }
}

/// Reads the whole stream back: every acknowledged Msg-Id is stored exactly once, at the acknowledged
/// sequence, with its payload, and nothing else is stored.
inline asio::awaitable<void> check_stream_matches(js::context& js, const std::string& stream, const publish_log& log) {
  auto [ec, info] = co_await js.async_stream_info(stream, tok);
  BOOST_REQUIRE_MESSAGE(!ec, "stream info: " << ec.message());
  std::map<std::string, std::uint64_t> stored;
  int duplicates = 0, mismatched = 0;
  for (std::uint64_t seq = info.state.first_seq; seq <= info.state.last_seq && seq > 0; ++seq) {
    js::get_msg_request r;
    r.seq = seq;
    auto [gec, m] = co_await js.async_get_msg(stream, r, tok);
    // The read-back checks what was stored, not the election: a cluster still settling after a kill
    // may answer "temporarily unavailable" (10008) or not at all for a moment; ask again.
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
         (gec == boost::system::error_code(10008, js::error_category()) || gec == nats::error::timeout ||
          gec == nats::error::no_responders) &&
         std::chrono::steady_clock::now() < until;) {
      co_await sleep_for(250ms);
      std::tie(gec, m) = co_await js.async_get_msg(stream, r, tok);
    }
    if (gec == js::error::no_message_found) continue;
    BOOST_REQUIRE_MESSAGE(!gec, "get " << seq << ": " << gec.message());
    const std::string id(m.headers.get("Nats-Msg-Id").value_or(""));
    if (m.data != id) ++mismatched;
    if (!stored.emplace(id, seq).second) {
      if (++duplicates <= 5) BOOST_TEST_MESSAGE("stored twice: " << id << " at " << stored[id] << " and " << seq);
    }
  }
  int lost = 0, moved = 0;
  for (auto& [id, seq] : log.acked) {
    auto it = stored.find(id);
    if (it == stored.end()) {
      if (++lost <= 5) BOOST_TEST_MESSAGE("acknowledged but missing: " << id << " (seq " << seq << ")");
    } else if (it->second != seq) {
      if (++moved <= 5) BOOST_TEST_MESSAGE(id << " acknowledged at " << seq << ", stored at " << it->second);
    }
  }
  BOOST_TEST(info.state.messages == log.acked.size());
  BOOST_TEST(stored.size() == log.acked.size());
  BOOST_TEST(lost == 0);
  BOOST_TEST(duplicates == 0);
  BOOST_TEST(moved == 0);
  BOOST_TEST(mismatched == 0);
}

}  // namespace nats::test
