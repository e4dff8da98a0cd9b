// The cluster layer against a real nats-server (JetStream on): wire names, durable/ephemeral delivery,
// offline replay, outbox across outages, presence, discovery, errors.
#define BOOST_TEST_MODULE integration_cluster
#include <boost/test/unit_test.hpp>

#include "certs.hpp"
#include "cluster_util.hpp"

#include <nats/js/jetstream.hpp>
#include <nats/kv/kv.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <set>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;
using nats::test::server_options;

namespace nats::js {
inline std::ostream& operator<<(std::ostream& os, storage_type v) { return os << to_string(v); }
}  // namespace nats::js

namespace {

template <class T>
struct op_result {
  std::optional<error_code> ec;
  T value{};
};

nats::js::stream_info stream_info(asio::io_context& ioc, raw_client& c, const std::string& name) {
  op_result<nats::js::stream_info> r;
  c.js.async_stream_info(name, [&](error_code ec, nats::js::stream_info i) {
    r.ec = ec;
    r.value = std::move(i);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.ec.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*r.ec, "stream info " << name << ": " << r.ec->message());
  return r.value;
}

std::optional<std::string> kv_get(asio::io_context& ioc, raw_client& c, const std::string& bucket, const std::string& key) {
  op_result<nats::kv::bucket> b;
  nats::kv::async_bind_bucket(c.js, bucket, [&](error_code ec, nats::kv::bucket bk) {
    b.ec = ec;
    b.value = std::move(bk);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return b.ec.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*b.ec, "bind " << bucket << ": " << b.ec->message());
  op_result<nats::kv::entry> e;
  b.value.async_get(key, [&](error_code ec, nats::kv::entry en) {
    e.ec = ec;
    e.value = std::move(en);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return e.ec.has_value(); }));
  if (*e.ec) return std::nullopt;
  return e.value.value;
}

std::vector<std::string> numbered(int n, const std::string& tag = "m") {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(tag + std::to_string(i));
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(wire_names_subjects_and_kv_values_match_the_original) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  raw_client raw(ioc, srv);
  std::vector<nats::message> seen;
  error_code sec;
  auto sub = raw.nc.subscribe("nodered-cluster.>", [&](nats::message&& m) { seen.push_back(std::move(m)); }, sec);
  BOOST_REQUIRE(!sec);

  node n(ioc.get_executor(), make_config(srv, "field-a"));
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  BOOST_TEST(n.prefix() == "nodered-cluster");
  BOOST_TEST(n.stream() == "NODERED_CLUSTER");
  BOOST_TEST(n.bucket() == "CLUSTER_NODERED_CLUSTER");

  BOOST_TEST(!publish(ioc, n, "sensors.temperature", R"({"celsius":21.5})"));
  publish_options eph;
  eph.mode = delivery_mode::ephemeral;
  eph.ttl = 10s;
  BOOST_TEST(!publish(ioc, n, "commands.opengate", R"("open")", eph));
  BOOST_REQUIRE(run_until(ioc, [&] { return seen.size() == 2; }));
  BOOST_TEST(seen[0].subject == "nodered-cluster.field-a.sensors.temperature");
  BOOST_TEST(seen[0].payload == R"({"celsius":21.5})");
  BOOST_TEST(seen[0].headers.get("Nats-Msg-Id").has_value());
  BOOST_TEST(seen[1].subject == "nodered-cluster.field-a.commands.opengate");
  BOOST_TEST(seen[1].headers.get("Nats-Cluster-Expires").has_value());

  auto si = stream_info(ioc, raw, "NODERED_CLUSTER");
  BOOST_TEST(si.config.subjects == std::vector<std::string>{"nodered-cluster.>"});
  BOOST_TEST(si.state.messages == 2u);  // the ephemeral one is in the stream too (replayed within its TTL)

  BOOST_REQUIRE(run_until(ioc, [&] {
    return kv_get(ioc, raw, "CLUSTER_NODERED_CLUSTER", "endpoints.field-a.commands.opengate").has_value();
  }));
  auto inst = kv_get(ioc, raw, "CLUSTER_NODERED_CLUSTER", "instances.field-a");
  BOOST_REQUIRE(inst.has_value());
  BOOST_TEST(inst->find(R"("natsAddress":")" + srv.url() + "\"") != std::string::npos, *inst);
  BOOST_TEST(inst->find(R"("role":"Member")") != std::string::npos, *inst);
  auto ep1 = kv_get(ioc, raw, "CLUSTER_NODERED_CLUSTER", "endpoints.field-a.sensors.temperature");
  BOOST_REQUIRE(ep1.has_value());
  BOOST_TEST(ep1->find(R"("mode":"Durable")") != std::string::npos, *ep1);
  auto ep2 = kv_get(ioc, raw, "CLUSTER_NODERED_CLUSTER", "endpoints.field-a.commands.opengate");
  BOOST_REQUIRE(ep2.has_value());
  BOOST_TEST(ep2->find(R"("mode":"Ephemeral")") != std::string::npos, *ep2);
  BOOST_TEST(ep2->find(R"("ttl":10)") != std::string::npos, *ep2);

  // A message the way the original plugin publishes it (JSON text, no headers): received as durable.
  collector c;
  subscribe(n, c, "node-1", "*.sensors.>");
  run_for(ioc, 300ms);  // consumer created
  BOOST_REQUIRE(!raw.nc.publish("nodered-cluster.legacy-b.sensors.humidity", R"({"rh":40})"));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() == 1; }));
  BOOST_TEST(c.got[0].mode == delivery_mode::durable);
  BOOST_TEST(c.got[0].source_instance == "legacy-b");
  BOOST_TEST(c.got[0].relative_subject == "legacy-b.sensors.humidity");
  BOOST_TEST(c.got[0].payload == R"({"rh":40})");

  BOOST_TEST(!stop(ioc, n));
  // Clean stop removes presence; the durable consumer stays.
  BOOST_TEST(!kv_get(ioc, raw, "CLUSTER_NODERED_CLUSTER", "instances.field-a").has_value());
}

BOOST_AUTO_TEST_CASE(existing_stream_is_used_as_it_is) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  raw_client raw(ioc, srv);
  nats::js::stream_config sc;
  sc.name = "PLANT_LINE_1";
  sc.subjects = {"plant.line-1.>"};
  sc.max_msgs = 12345;
  sc.storage = nats::js::storage_type::memory;
  std::optional<error_code> r;
  raw.js.async_add_stream(sc, [&](error_code ec, nats::js::stream_info) { r = ec; });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }));
  BOOST_REQUIRE(!*r);
  auto cfg = make_config(srv, "x1");
  cfg.root_path = "/plant/line-1";
  node n(ioc.get_executor(), cfg);
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  BOOST_TEST(!publish(ioc, n, "a", "1"));
  auto si = stream_info(ioc, raw, "PLANT_LINE_1");
  BOOST_TEST(si.config.max_msgs == 12345);
  BOOST_TEST(si.config.storage == nats::js::storage_type::memory);
  BOOST_TEST(si.state.messages == 1u);
  BOOST_TEST(kv_get(ioc, raw, "CLUSTER_PLANT_LINE_1", "instances.x1").has_value());
  BOOST_TEST(!stop(ioc, n));
}

BOOST_AUTO_TEST_CASE(offline_durable_replay_all_in_order_once) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  collector before;
  {
    node sub(ioc.get_executor(), make_config(srv, "sub"));
    BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
    subscribe(sub, before, "flow-node-7", "pub.data.>");
    run_for(ioc, 300ms);  // the consumer is created in the background (start: new messages only)
    BOOST_TEST(!publish(ioc, pub, "data.x", "first"));
    BOOST_REQUIRE(run_until(ioc, [&] { return before.got.size() == 1; }));
    BOOST_TEST(!stop(ioc, sub));
  }
  // Subscriber down: 100 durable publishes.
  auto want = numbered(100);
  for (auto& p : want) BOOST_REQUIRE(!publish(ioc, pub, "data.x", p));

  node sub(ioc.get_executor(), make_config(srv, "sub"));
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  collector after;
  subscribe(sub, after, "flow-node-7", "pub.data.>");
  BOOST_REQUIRE(run_until(ioc, [&] { return after.got.size() >= 100; }));
  run_for(ioc, 500ms);  // nothing more may come
  BOOST_TEST(after.payloads() == want, boost::test_tools::per_element());
  for (auto& d : after.got) BOOST_TEST(!d.redelivered);
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(ephemeral_ttl_subscriber_back_after_ttl_gets_none_within_ttl_gets_all) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  // Two subscribers create their consumers, then go offline.
  for (auto id : {"late", "early"}) {
    node s(ioc.get_executor(), make_config(srv, id));
    BOOST_REQUIRE_EQUAL(start(ioc, s), error_code{});
    collector c;
    subscribe(s, c, "k", "pub.>");
    run_for(ioc, 300ms);
    BOOST_TEST(!stop(ioc, s));
  }
  publish_options short_ttl;
  short_ttl.mode = delivery_mode::ephemeral;
  short_ttl.ttl = 1500ms;
  auto want = numbered(10, "e");
  for (auto& p : want) BOOST_REQUIRE(!publish(ioc, pub, "ev", p, short_ttl));

  // Back within the TTL: everything.
  node early(ioc.get_executor(), make_config(srv, "early"));
  BOOST_REQUIRE_EQUAL(start(ioc, early), error_code{});
  collector ce;
  subscribe(early, ce, "k", "pub.>");
  BOOST_REQUIRE(run_until(ioc, [&] { return ce.got.size() >= 10; }, 5s));
  BOOST_TEST(ce.payloads() == want, boost::test_tools::per_element());
  for (auto& d : ce.got) BOOST_TEST(d.mode == delivery_mode::ephemeral);

  // Back after the TTL: none of them (skipped and acked), but new messages flow.
  run_for(ioc, 1600ms);
  node late(ioc.get_executor(), make_config(srv, "late"));
  BOOST_REQUIRE_EQUAL(start(ioc, late), error_code{});
  collector cl;
  subscribe(late, cl, "k", "pub.>");
  run_for(ioc, 1000ms);
  BOOST_TEST(cl.got.empty());
  BOOST_TEST(!publish(ioc, pub, "ev", "fresh"));
  BOOST_REQUIRE(run_until(ioc, [&] { return cl.got.size() == 1; }, 5s));
  BOOST_TEST(cl.got[0].payload == "fresh");
  BOOST_TEST(late.stats().expired_skipped == 10u);
  for (node* n : {&late, &early, &pub}) BOOST_TEST(!stop(ioc, *n));
}

BOOST_AUTO_TEST_CASE(observer_cannot_publish_but_subscribes_and_registers) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node obs(ioc.get_executor(), make_config(srv, "watcher", role::observer));
  BOOST_REQUIRE_EQUAL(start(ioc, obs), error_code{});
  BOOST_TEST(publish(ioc, obs, "x", "1") == make_error_code(error::observer_cannot_publish));
  collector c;
  subscribe(obs, c, "k", ">");
  node m(ioc.get_executor(), make_config(srv, "member"));
  BOOST_REQUIRE_EQUAL(start(ioc, m), error_code{});
  run_for(ioc, 300ms);
  BOOST_TEST(!publish(ioc, m, "x", "1"));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() == 1; }));
  std::optional<std::vector<instance_info>> found;
  BOOST_REQUIRE(run_until(ioc, [&] {
    found.reset();
    m.async_discover([&](error_code, std::vector<instance_info> v) { found = std::move(v); });
    run_until(ioc, [&] { return found.has_value(); });
    return std::any_of(found->begin(), found->end(), [](auto& i) { return i.id == "watcher" && i.role == role::observer; });
  }));
  BOOST_TEST(!stop(ioc, obs));
  BOOST_TEST(!stop(ioc, m));
}

BOOST_AUTO_TEST_CASE(bad_config_fails_start_with_the_field_named) {
  asio::io_context ioc;
  auto cfg = make_config(std::vector<std::string>{"nats://127.0.0.1:1"}, "bad.id");
  node n(ioc.get_executor(), cfg);
  std::vector<status_event> st;
  n.set_status_handler([&](const status_event& e) { st.push_back(e); });
  BOOST_TEST(start(ioc, n) == make_error_code(error::invalid_instance_id));
  run_for(ioc, 50ms);
  BOOST_REQUIRE(!st.empty());
  BOOST_TEST(st.back().text.find("instance_id") != std::string::npos, st.back().text);
  BOOST_TEST(publish(ioc, n, "x", "1") == make_error_code(error::not_started));
  auto cfg2 = make_config(std::vector<std::string>{"nats://127.0.0.1:1"}, "ok");
  cfg2.root_path = "/";
  node n2(ioc.get_executor(), cfg2);
  BOOST_TEST(start(ioc, n2) == make_error_code(error::invalid_root_path));
}

BOOST_AUTO_TEST_CASE(duplicate_instance_id_is_refused) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "twin"));
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  node b(ioc.get_executor(), make_config(srv, "twin"));
  BOOST_TEST(start(ioc, b) == make_error_code(error::duplicate_instance));
  BOOST_TEST(b.status().kind == status_kind::closed);
  // A process that slipped past the start check (e.g. a network split) is noticed on the next
  // heartbeat: its write to our key carries another session.
  std::vector<status_event> st;
  a.set_status_handler([&](const status_event& e) { st.push_back(e); });
  raw_client raw(ioc, srv);
  {
    op_result<nats::kv::bucket> b;
    nats::kv::async_bind_bucket(raw.js, "CLUSTER_NODERED_CLUSTER", [&](error_code ec, nats::kv::bucket bk) {
      b.ec = ec;
      b.value = std::move(bk);
    });
    BOOST_REQUIRE(run_until(ioc, [&] { return b.ec.has_value(); }));
    BOOST_REQUIRE(!*b.ec);
    std::optional<error_code> put;
    b.value.async_put("instances.twin", R"({"natsAddress":"x","role":"Member","session":"intruder"})",
                      [&](error_code ec, std::uint64_t) { put = ec; });
    BOOST_REQUIRE(run_until(ioc, [&] { return put.has_value(); }));
  }
  BOOST_TEST(run_until(ioc, [&] {
    return std::any_of(st.begin(), st.end(), [](auto& e) { return e.ec == error::duplicate_instance; });
  }, 15s));
  // After a clean stop the id is free again.
  BOOST_TEST(!stop(ioc, a));
  node c(ioc.get_executor(), make_config(srv, "twin"));
  BOOST_TEST(start(ioc, c) == error_code{});
  BOOST_TEST(!stop(ioc, c));
}

BOOST_AUTO_TEST_CASE(crashed_instance_goes_stale_then_is_cleaned_up) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  auto fast = [&](const char* id) {
    auto c = make_config(srv, id);
    c.heartbeat_interval = 200ms;
    c.stale_after = 1000ms;
    c.cleanup_after = 2000ms;
    return c;
  };
  std::vector<discovery_event> events, events2;
  node a(ioc.get_executor(), fast("alive"));
  a.set_discovery_handler([&](const discovery_event& e) { events.push_back(e); });
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  // A second live instance cleans up too: both compare-and-delete the same revision, one wins.
  node a2(ioc.get_executor(), fast("alive2"));
  std::vector<status_event> errors2;
  a2.set_discovery_handler([&](const discovery_event& e) { events2.push_back(e); });
  a2.set_status_handler([&](const status_event& e) {
    if (e.kind == status_kind::error) errors2.push_back(e);
  });
  BOOST_REQUIRE_EQUAL(start(ioc, a2), error_code{});
  auto b = std::make_unique<node>(ioc.get_executor(), fast("crashy"));
  BOOST_REQUIRE_EQUAL(start(ioc, *b), error_code{});
  auto has = [&](discovery_kind k, const char* id) {
    return std::any_of(events.begin(), events.end(), [&](auto& e) { return e.kind == k && e.instance.id == id; });
  };
  BOOST_REQUIRE(run_until(ioc, [&] { return has(discovery_kind::joined, "crashy"); }, 5s));
  run_for(ioc, 1500ms);
  BOOST_TEST(!has(discovery_kind::stale, "crashy"));  // refreshed: not stale
  auto t0 = std::chrono::steady_clock::now();
  b.reset();  // abrupt: no presence removal, like SIGKILL
  BOOST_REQUIRE(run_until(ioc, [&] { return has(discovery_kind::stale, "crashy"); }, 5s));
  auto stale_after = std::chrono::steady_clock::now() - t0;
  // Stale is measured from the crashed instance's last heartbeat, which may have been sent up to one
  // heartbeat interval (200 ms) before the kill: 1000 - 200 ms is the earliest legitimate moment.
  BOOST_TEST(stale_after >= 750ms);
  BOOST_TEST(stale_after < 2500ms);
  BOOST_REQUIRE(run_until(ioc, [&] { return has(discovery_kind::left, "crashy"); }, 5s));
  BOOST_TEST(!has(discovery_kind::stale, "alive"));
  BOOST_TEST(!has(discovery_kind::stale, "alive2"));
  BOOST_REQUIRE(run_until(ioc, [&] {
    return std::any_of(events2.begin(), events2.end(), [](auto& e) { return e.kind == discovery_kind::left && e.instance.id == "crashy"; });
  }, 5s));
  run_for(ioc, 1000ms);
  BOOST_TEST(errors2.empty());
  std::optional<std::vector<instance_info>> found;
  a.async_discover([&](error_code, std::vector<instance_info> v) { found = std::move(v); });
  BOOST_REQUIRE(run_until(ioc, [&] { return found.has_value(); }));
  std::set<std::string> ids;
  for (auto& i : *found) {
    ids.insert(i.id);
    BOOST_TEST(i.state == presence::online);
  }
  BOOST_TEST(ids == (std::set<std::string>{"alive", "alive2"}), boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, a2));
  BOOST_TEST(!stop(ioc, a));
}

BOOST_AUTO_TEST_CASE(outbox_across_server_outage_1000_in_order_exactly_once) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  collector c;
  start_pub_sub(ioc, pub, sub, c, "pub.>");
  run_for(ioc, 300ms);
  BOOST_TEST(!publish(ioc, pub, "seq", "before"));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() == 1; }));

  srv.stop();
  BOOST_REQUIRE(run_until(ioc, [&] { return !pub.is_connected(); }, 5s));
  auto want = numbered(1000);
  for (auto& p : want) BOOST_REQUIRE(!publish(ioc, pub, "seq", p));  // accepted into the outbox
  BOOST_TEST(pub.stats().outbox_messages <= 1000u);
  srv.start();
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 1001; }, 60s));
  run_for(ioc, 1000ms);
  std::vector<std::string> got;
  for (std::size_t i = 1; i < c.got.size(); ++i) got.push_back(c.got[i].payload);
  BOOST_TEST(got == want, boost::test_tools::per_element());
  std::set<std::uint64_t> seqs;
  for (auto& d : c.got) seqs.insert(d.stream_sequence);
  BOOST_TEST(seqs.size() == c.got.size());  // exactly once in the stream
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(outbox_full_is_an_error_not_a_drop) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  auto cfg = make_config(srv, "pub");
  cfg.outbox_max_messages = 10;
  node pub(ioc.get_executor(), cfg);
  std::vector<status_event> statuses;
  pub.set_status_handler([&](const status_event& e) { statuses.push_back(e); });
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  srv.stop();
  BOOST_REQUIRE(run_until(ioc, [&] { return !pub.is_connected(); }, 5s));
  for (int i = 0; i < 10; ++i) BOOST_REQUIRE(!publish(ioc, pub, "x", std::to_string(i)));
  BOOST_TEST(publish(ioc, pub, "x", "11th") == make_error_code(error::outbox_full));
  run_for(ioc, 300ms);
  BOOST_TEST(std::any_of(statuses.begin(), statuses.end(), [](auto& s) { return s.kind == status_kind::disconnected; }));
  BOOST_TEST(std::any_of(statuses.begin(), statuses.end(), [](auto& s) { return s.ec == error::outbox_full; }));
  srv.start();
  BOOST_REQUIRE(run_until(ioc, [&] { return pub.stats().outbox_messages == 0 && pub.is_connected(); }, 20s));
  BOOST_TEST(pub.stats().published == 10u);
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(outbox_file_survives_a_crash_during_an_outage) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  auto dir = nats::test::make_temp_dir("cluster-outbox");
  auto cfg = make_config(srv, "pub");
  cfg.outbox_dir = dir;
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  collector c;
  subscribe(sub, c, "k", "pub.>");
  {
    node pub(ioc.get_executor(), cfg);
    BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
    srv.stop();
    BOOST_REQUIRE(run_until(ioc, [&] { return !pub.is_connected(); }, 5s));
    for (auto& p : numbered(20)) BOOST_REQUIRE(!publish(ioc, pub, "x", p));
  }  // destroyed without stop: a crash as far as the outbox is concerned
  srv.start();
  cfg.wait_until_ready = true;
  node pub2(ioc.get_executor(), cfg);
  BOOST_REQUIRE_EQUAL(start(ioc, pub2), error_code{});
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 20; }, 30s));
  run_for(ioc, 500ms);
  BOOST_TEST(c.payloads() == numbered(20), boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, pub2));
  BOOST_TEST(!stop(ioc, sub));
  nats::test::remove_tree(dir);
}

BOOST_AUTO_TEST_CASE(manual_ack_unacked_is_redelivered_and_flagged) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  auto cfg = make_config(srv, "sub");
  cfg.ack_wait = 1000ms;
  node sub(ioc.get_executor(), cfg);
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  collector c;
  subscribe(sub, c, "k", "pub.>", start_position::new_only, ack_mode::manual);
  run_for(ioc, 300ms);
  BOOST_TEST(!publish(ioc, pub, "job", "work"));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() == 1; }));
  BOOST_TEST(!c.got[0].redelivered);
  // Not acked (the flow never called done()): back after ack_wait, flagged.
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() == 2; }, 5s));
  BOOST_TEST(c.got[1].redelivered);
  BOOST_TEST(c.got[1].delivery_count == 2u);
  BOOST_TEST(c.got[1].stream_sequence == c.got[0].stream_sequence);
  // The redelivery replaced the first delivery: its id is void, nothing piles up for a host that never acks.
  BOOST_TEST(sub.ack(c.got[0].id) == make_error_code(error::unknown_subscription));
  BOOST_TEST(!sub.ack(c.got[1].id));
  BOOST_TEST(sub.ack(c.got[1].id) == make_error_code(error::unknown_subscription));
  run_for(ioc, 2000ms);
  BOOST_TEST(c.got.size() == 2u);
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(overlapping_patterns_deliver_once_and_bad_patterns_are_refused) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node n(ioc.get_executor(), make_config(srv, "n1"));
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  collector c;
  subscribe(n, c, "k", "*.a.>, n1.a.b, n1.>, other.x");
  run_for(ioc, 300ms);
  BOOST_TEST(!publish(ioc, n, "a.b", "1"));
  BOOST_TEST(!publish(ioc, n, "z", "2"));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 2; }));
  run_for(ioc, 500ms);
  BOOST_TEST(c.payloads() == (std::vector<std::string>{"1", "2"}), boost::test_tools::per_element());

  for (auto bad : {"", "a,,b", "a.>.b", "a..b", "a b", ",", "x,"}) {
    subscribe_options o;
    o.key = "bad";
    o.patterns = bad;
    error_code ec;
    BOOST_TEST(n.subscribe(o, [](delivery&&) {}, ec) == 0u);
    BOOST_TEST(ec == make_error_code(error::invalid_pattern), "pattern '" << bad << "'");
  }
  subscribe_options dup;
  dup.key = "k";
  dup.patterns = "x";
  error_code ec;
  n.subscribe(dup, [](delivery&&) {}, ec);
  BOOST_TEST(ec == make_error_code(error::duplicate_key));
  BOOST_TEST(publish(ioc, n, "bad.*", "x") == make_error_code(error::invalid_subject));
  BOOST_TEST(!stop(ioc, n));
}

BOOST_AUTO_TEST_CASE(unsubscribe_keeps_or_removes_the_consumer) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  raw_client raw(ioc, srv);
  node n(ioc.get_executor(), make_config(srv, "n1"));
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  collector c1, c2;
  auto keep = subscribe(n, c1, "keep", ">");
  auto drop = subscribe(n, c2, "drop", ">");
  run_for(ioc, 500ms);
  auto names = [&] { return consumer_names(ioc, raw); };
  BOOST_TEST(names() == (std::vector<std::string>{"n1_drop", "n1_keep"}), boost::test_tools::per_element());
  std::optional<error_code> r1, r2;
  n.async_unsubscribe(keep, false, [&](error_code ec) { r1 = ec; });
  n.async_unsubscribe(drop, true, [&](error_code ec) { r2 = ec; });
  BOOST_REQUIRE(run_until(ioc, [&] { return r1 && r2; }));
  BOOST_TEST(!*r1);
  BOOST_TEST(!*r2);
  BOOST_TEST(names() == std::vector<std::string>{"n1_keep"}, boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, n));
}

BOOST_AUTO_TEST_CASE(start_without_server_then_connects_and_reports_status) {
  int port = nats::test::free_port();
  server_options so = jetstream_server_options();
  so.port = port;
  asio::io_context ioc;
  auto cfg = make_config(std::vector<std::string>{"nats://127.0.0.1:" + std::to_string(port)}, "early-bird");
  cfg.wait_until_ready = false;
  node n(ioc.get_executor(), cfg);
  std::vector<status_kind> kinds;
  n.set_status_handler([&](const status_event& e) { kinds.push_back(e.kind); });
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  BOOST_TEST(!n.is_connected());
  BOOST_TEST(!publish(ioc, n, "x", "queued"));  // into the outbox
  BOOST_TEST(n.stats().outbox_messages == 1u);
  nats_server srv(so);
  BOOST_REQUIRE(run_until(ioc, [&] { return n.is_connected() && n.stats().published == 1; }, 20s));
  BOOST_TEST(kinds.front() == status_kind::connecting);
  BOOST_TEST(std::count(kinds.begin(), kinds.end(), status_kind::connected) == 1);
  BOOST_TEST(!stop(ioc, n));
  run_for(ioc, 100ms);
  BOOST_TEST(kinds.back() == status_kind::closed);
}

BOOST_AUTO_TEST_CASE(failed_connect_attempts_are_reported_while_nats_is_down) {
  int port = nats::test::free_port();
  server_options so = jetstream_server_options();
  so.port = port;
  asio::io_context ioc;
  auto cfg = make_config(std::vector<std::string>{"nats://127.0.0.1:" + std::to_string(port)}, "patient");
  cfg.wait_until_ready = false;
  cfg.connection.reconnect.wait = 200ms;
  node n(ioc.get_executor(), cfg);
  std::vector<status_event> events;
  n.set_status_handler([&](const status_event& e) { events.push_back(e); });
  BOOST_REQUIRE_EQUAL(start(ioc, n), error_code{});
  run_for(ioc, 1500ms);
  // Each failed attempt: disconnected with the reason, then reconnecting with when the next one comes.
  auto count = [&](status_kind k) {
    return std::count_if(events.begin(), events.end(), [&](const status_event& e) { return e.kind == k; });
  };
  BOOST_TEST(events.front().kind == status_kind::connecting);
  BOOST_TEST(count(status_kind::disconnected) >= 3);
  BOOST_TEST(count(status_kind::reconnecting) >= 3);
  BOOST_TEST(count(status_kind::disconnected) <= 10);  // paced by reconnect.wait, not a busy loop
  for (auto& e : events)
    if (e.kind == status_kind::disconnected) {
      BOOST_TEST(e.ec == boost::asio::error::connection_refused, e.ec.message());
      BOOST_TEST(e.text.find("refused") != std::string::npos, e.text);
    }
  BOOST_TEST(count(status_kind::connected) == 0);
  nats_server srv(so);
  BOOST_REQUIRE(run_until(ioc, [&] { return n.is_connected(); }, 20s));
  run_for(ioc, 300ms);
  BOOST_TEST(events.back().kind == status_kind::connected);
  auto after = events.size();
  run_for(ioc, 500ms);
  BOOST_TEST(events.size() == after);  // nothing more once connected
  BOOST_TEST(!stop(ioc, n));
}

BOOST_AUTO_TEST_CASE(new_only_starts_at_subscribe_not_when_the_consumer_is_created) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  BOOST_REQUIRE_EQUAL(start(ioc, pub), error_code{});
  BOOST_TEST(!publish(ioc, pub, "x", "before"));
  run_for(ioc, 50ms);
  {
    // Subscribed before the node is even started: the consumer can only be created later.
    node sub(ioc.get_executor(), make_config(srv, "sub"));
    collector c;
    subscribe(sub, c, "k", "pub.>", start_position::new_only);
    for (auto& p : numbered(5)) BOOST_TEST(!publish(ioc, pub, "x", p));
    BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
    BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 5; }, 10s));
    run_for(ioc, 300ms);
    BOOST_TEST(c.payloads() == numbered(5), boost::test_tools::per_element());
    BOOST_TEST(!stop(ioc, sub));
  }
  // An existing consumer is used as it is: it resumes where it stopped.
  BOOST_TEST(!publish(ioc, pub, "x", "while-away"));
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  BOOST_REQUIRE_EQUAL(start(ioc, sub), error_code{});
  collector c;
  subscribe(sub, c, "k", "pub.>", start_position::new_only);
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 1; }, 10s));
  run_for(ioc, 300ms);
  BOOST_TEST(c.payloads() == std::vector<std::string>{"while-away"}, boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(consumer_deleted_behind_our_back_is_recreated_after_the_last_message_received) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node pub(ioc.get_executor(), make_config(srv, "pub"));
  node sub(ioc.get_executor(), make_config(srv, "sub"));
  collector c;
  start_pub_sub(ioc, pub, sub, c, "pub.>", start_position::all);
  for (auto& p : numbered(3, "a")) BOOST_TEST(!publish(ioc, pub, "x", p));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 3; }, 10s));
  raw_client raw(ioc, srv);
  std::optional<error_code> del;
  raw.js.async_delete_consumer(sub.stream(), consumer_name("sub", "k"), [&](error_code ec) { del = ec; });
  BOOST_REQUIRE(run_until(ioc, [&] { return del.has_value(); }));
  BOOST_REQUIRE(!*del);
  for (auto& p : numbered(3, "b")) BOOST_TEST(!publish(ioc, pub, "x", p));
  BOOST_REQUIRE(run_until(ioc, [&] { return c.got.size() >= 6; }, 20s));
  run_for(ioc, 500ms);
  // Neither the a's again (start position "all") nor a b missed.
  BOOST_TEST(c.payloads() == (std::vector<std::string>{"a0", "a1", "a2", "b0", "b1", "b2"}), boost::test_tools::per_element());
  BOOST_TEST(!stop(ioc, sub));
  BOOST_TEST(!stop(ioc, pub));
}

BOOST_AUTO_TEST_CASE(test_connection_reports_reachability_and_jetstream) {
  asio::io_context ioc;
  auto run = [&](config cfg) {
    std::optional<test_result> r;
    cfg.connection.connect_timeout = 4000ms;  // TLS handshakes are slow under valgrind/sanitizers
    node::async_test_connection(ioc.get_executor(), cfg, 5000ms, [&](test_result t) { r = std::move(t); });
    BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }, 10s));
    return *r;
  };
  {
    nats_server srv(jetstream_server_options());
    auto r = run(make_config(srv, "t"));
    BOOST_TEST(r.reachable);
    BOOST_TEST(r.auth_ok);
    BOOST_TEST(r.tls_ok);
    BOOST_TEST(r.jetstream_enabled);
    BOOST_TEST(!r.ec);
    BOOST_TEST(!r.server_version.empty());
  }
  {
    nats_server srv;  // no JetStream
    auto r = run(make_config(srv, "t"));
    BOOST_TEST(r.reachable);
    BOOST_TEST(r.auth_ok);
    BOOST_TEST(!r.jetstream_enabled);
    BOOST_TEST(r.ec == make_error_code(error::jetstream_unavailable));
  }
  {
    server_options so;
    so.config = "authorization { user: nodered, password: right }\n";
    nats_server srv(so);
    auto cfg = make_config(srv, "t");
    cfg.connection.auth.user = "nodered";
    cfg.connection.auth.password = "s3cret-pw";
    auto r = run(cfg);
    BOOST_TEST(r.reachable);
    BOOST_TEST(!r.auth_ok);
    BOOST_TEST(r.ec);
    BOOST_TEST(r.error_text.find("s3cret-pw") == std::string::npos, r.error_text);  // no secret in the text
    // Credentials that cannot be used at all are a login problem too, never reported as TLS: an nkey
    // seed against this server (it offers no nkey login), a seed and a .creds that do not parse.
    auto nkey = make_config(srv, "t");
    nkey.connection.auth.nkey_seed = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4";
    auto bad_seed = make_config(srv, "t");
    bad_seed.connection.auth.nkey_seed = "SUNOTASEED";
    auto bad_creds = make_config(srv, "t");
    bad_creds.connection.auth.creds = "not a creds file";
    for (auto& [c, want] : {std::pair{nkey, nats::error::nonce_required}, std::pair{bad_seed, nats::error::bad_seed},
                            std::pair{bad_creds, nats::error::bad_credentials}}) {
      auto u = run(c);
      BOOST_TEST(u.reachable);
      BOOST_TEST(u.tls_ok, u.error_text);
      BOOST_TEST(!u.auth_ok);
      BOOST_TEST(u.ec == make_error_code(want), u.ec.message());
    }
  }
  {
    // TLS: the right CA passes; a CA that did not sign the server's certificate fails on TLS only.
    auto dir = nats::test::make_temp_dir("cluster-certs");
    auto certs = nats::test::make_test_certs(dir);
    server_options so = jetstream_server_options();
    so.config = nats::test::server_tls_block(certs);
    nats_server srv(so);
    auto cfg = make_config(std::vector<std::string>{"tls://127.0.0.1:" + std::to_string(srv.port())}, "t");
    cfg.connection.tls.ca_file = certs.ca_file;
    auto ok = run(cfg);
    BOOST_TEST(ok.reachable);
    BOOST_TEST(ok.tls_ok);
    BOOST_TEST(ok.auth_ok);
    BOOST_TEST(ok.jetstream_enabled, ok.error_text);
    cfg.connection.tls.ca_file = certs.other_ca_file;
    auto bad = run(cfg);
    BOOST_TEST(bad.reachable, bad.error_text);
    BOOST_TEST(!bad.tls_ok, bad.ec.message());
    BOOST_TEST(!bad.auth_ok);
    BOOST_TEST(bad.ec);
    nats::test::remove_tree(dir);
  }
  {
    auto r = run(make_config(std::vector<std::string>{"nats://127.0.0.1:" + std::to_string(nats::test::free_port())}, "t"));
    BOOST_TEST(!r.reachable);
    BOOST_TEST(!r.auth_ok);
    BOOST_TEST(r.ec);
  }
}
