// Naming, validation, JSON values and the outbox log: no server needed.
#define BOOST_TEST_MODULE cluster_naming
#include <boost/test/unit_test.hpp>

#include <nats/cluster/cluster.hpp>

#include "outbox_file.hpp"
#include "values.hpp"
#include "cluster_util.hpp"

#include <fstream>

using namespace nats::cluster;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(names_match_the_original_plugin) {
  BOOST_TEST(prefix("/nodered-cluster") == "nodered-cluster");
  BOOST_TEST(prefix("/plant/line-1") == "plant.line-1");
  BOOST_TEST(stream_name("nodered-cluster") == "NODERED_CLUSTER");
  BOOST_TEST(stream_name("plant.line-1") == "PLANT_LINE_1");
  BOOST_TEST(bucket_name("nodered-cluster") == "CLUSTER_NODERED_CLUSTER");
  BOOST_TEST(stream_subject("nodered-cluster") == "nodered-cluster.>");
  BOOST_TEST(publish_subject("nodered-cluster", "field-a", "sensors.temperature") ==
             "nodered-cluster.field-a.sensors.temperature");
  BOOST_TEST(instance_key("field-a") == "instances.field-a");
  BOOST_TEST(endpoint_key("field-a", "sensors.temperature") == "endpoints.field-a.sensors.temperature");
  BOOST_TEST(consumer_name("field-a", "a1b2.c3 d>") == "field-a_a1b2_c3_d_");
}

BOOST_AUTO_TEST_CASE(patterns_are_split_trimmed_and_validated) {
  auto p = parse_patterns("*.sensors.temperature, field-a.commands.>");
  BOOST_REQUIRE(p.has_value());
  BOOST_TEST(p->size() == 2u);
  BOOST_TEST((*p)[0] == "*.sensors.temperature");
  BOOST_TEST((*p)[1] == "field-a.commands.>");
  BOOST_TEST(!parse_patterns("").has_value());
  BOOST_TEST(!parse_patterns("a,,b").has_value());
  BOOST_TEST(!parse_patterns("a.>.b").has_value());
  BOOST_TEST(!parse_patterns("a..b").has_value());
  BOOST_TEST(!parse_patterns("a b").has_value());
  BOOST_TEST(!parse_patterns("a,").has_value());
  BOOST_TEST(subject_matches("x.*.y", "x.a.y"));
  BOOST_TEST(!subject_matches("x.*.y", "x.a.b.y"));
  BOOST_TEST(patterns_overlap("*.a.>", "n1.a.b"));
  BOOST_TEST(patterns_overlap("n1.>", "*.a"));
  BOOST_TEST(!patterns_overlap("n1.a", "n1.a.>"));
  BOOST_TEST(!patterns_overlap("n1.a", "n2.*"));
  BOOST_TEST(!patterns_overlap("a.*", "a.b.c"));
}

BOOST_AUTO_TEST_CASE(subjects_and_ids) {
  BOOST_TEST(valid_instance_id("field-a"));
  BOOST_TEST(!valid_instance_id(""));
  BOOST_TEST(!valid_instance_id("a.b"));
  BOOST_TEST(!valid_instance_id("a b"));
  BOOST_TEST(!valid_instance_id("a*"));
  BOOST_TEST(!valid_instance_id(">"));
  BOOST_TEST(valid_relative_subject("sensors.temperature"));
  BOOST_TEST(!valid_relative_subject("sensors.*"));
  BOOST_TEST(!valid_relative_subject(""));
  auto parts = split_subject("nodered-cluster", "nodered-cluster.field-a.sensors.t");
  BOOST_REQUIRE(parts.has_value());
  BOOST_TEST(parts->instance == "field-a");
  BOOST_TEST(parts->subject == "sensors.t");
  BOOST_TEST(!split_subject("nodered-cluster", "other.field-a.x").has_value());
}

BOOST_AUTO_TEST_CASE(bad_config_names_the_field) {
  config c;
  c.instance_id = "ok";
  std::string field;
  BOOST_TEST(!validate(c, field));
  struct bad_case {
    std::function<void(config&)> change;
    const char* field;
    error e;
  };
  std::vector<bad_case> cases = {
      {[](config& c) { c.instance_id = "a.b"; }, "instance_id", error::invalid_instance_id},
      {[](config& c) { c.instance_id = ""; }, "instance_id", error::invalid_instance_id},
      {[](config& c) { c.root_path = "/"; }, "root_path", error::invalid_root_path},
      {[](config& c) { c.root_path = "/a//b"; }, "root_path", error::invalid_root_path},
      {[](config& c) { c.root_path = "/a b"; }, "root_path", error::invalid_root_path},
      {[](config& c) { c.connection.servers.clear(); }, "connection.servers", error::invalid_config},
      {[](config& c) { c.stale_after = c.heartbeat_interval; }, "stale_after", error::invalid_config},
      {[](config& c) { c.outbox_max_messages = 0; }, "outbox_max_messages", error::invalid_config},
      {[](config& c) { c.stream.replicas = 0; }, "stream.replicas", error::invalid_config},
  };
  for (auto& bc : cases) {
    config b = c;
    bc.change(b);
    auto ec = validate(b, field);
    BOOST_TEST(ec == make_error_code(bc.e));
    BOOST_TEST(field == bc.field);
  }
  BOOST_TEST(make_error_code(error::observer_cannot_publish).message() == "an observer cannot publish");
}

BOOST_AUTO_TEST_CASE(presence_and_endpoint_values) {
  // The original plugin's values (no extra fields) parse; ours carry its fields.
  auto legacy = detail::parse_presence(R"({"natsAddress":"localhost:4222","role":"Observer"})");
  BOOST_REQUIRE(legacy.has_value());
  BOOST_TEST(legacy->nats_address == "localhost:4222");
  BOOST_TEST(legacy->role == role::observer);
  BOOST_TEST(legacy->session.empty());
  detail::presence_value v{"nats://h:4222", role::member, "s1", 5, 6};
  auto json = detail::to_json(v);
  BOOST_TEST(json.find(R"("natsAddress":"nats://h:4222")") != std::string::npos);
  BOOST_TEST(json.find(R"("role":"Member")") != std::string::npos);
  auto ep = detail::parse_endpoint(R"({"mode":"Ephemeral","ttl":10})");
  BOOST_REQUIRE(ep.has_value());
  BOOST_TEST(ep->mode == delivery_mode::ephemeral);
  BOOST_TEST(ep->ttl.count() == 10000);
  auto ej = detail::to_json(detail::endpoint_value{delivery_mode::durable, 30s});
  BOOST_TEST(ej.find(R"("mode":"Durable")") != std::string::npos);
  BOOST_TEST(ej.find(R"("ttl":30)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(leader_values_round_trip) {
  detail::leader_value v{"field \"a\"", "0123abcd", 4096, 5000, 1700000000000};
  auto back = detail::parse_leader(detail::to_json(v));
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->candidate == v.candidate);
  BOOST_TEST(back->session == v.session);
  BOOST_TEST(back->token == 4096u);
  BOOST_TEST(back->lease_ms == 5000);
  BOOST_TEST(back->at_ms == 1700000000000);
  BOOST_TEST(!detail::parse_leader("not json").has_value());
}

BOOST_AUTO_TEST_CASE(group_and_request_names) {
  BOOST_TEST(group_consumer_name("NODERED_CLUSTER", "workers") == "NODERED_CLUSTER_group_workers");
  BOOST_TEST(group_consumer_name("A_B", "x\\y") == "A_B_group_x_y");
  for (auto good : {"workers", "nodered-cluster_jobs", "G1"}) BOOST_TEST(valid_group_name(good), good);
  for (auto bad : {"", "a.b", "a*", "a>", "a b", "a/b", "a\\b", "a\tb"}) BOOST_TEST(!valid_group_name(bad), bad);
  BOOST_TEST(request_subject_any("S", "svc.time") == "_CLUSTER.S.req.any.svc.time");
  BOOST_TEST(request_subject_instance("S", "field-a", "svc.time") == "_CLUSTER.S.req.inst.field-a.svc.time");
  BOOST_TEST(request_subject_group("S", "gpu", "svc.time") == "_CLUSTER.S.req.group.gpu.svc.time");

  // Groups are a new field of the presence value: absent when none (the entry stays as before),
  // read back when present, ignored gracefully when malformed.
  detail::presence_value v{"nats://h:4222", role::member, "s1", 5, 6};
  BOOST_TEST(detail::to_json(v).find("groups") == std::string::npos);
  v.groups = {{"workers", "jobs.>"}, {"b\"q", "x"}};
  auto back = detail::parse_presence(detail::to_json(v));
  BOOST_REQUIRE(back.has_value());
  BOOST_REQUIRE_EQUAL(back->groups.size(), 2u);
  BOOST_TEST(back->groups[0].group == "workers");
  BOOST_TEST(back->groups[0].patterns == "jobs.>");
  BOOST_TEST(back->groups[1].group == "b\"q");
  auto odd = detail::parse_presence(R"({"natsAddress":"x","role":"Member","groups":[1,{"patterns":"p"},{"group":"g"}]})");
  BOOST_REQUIRE(odd.has_value());
  BOOST_REQUIRE_EQUAL(odd->groups.size(), 1u);
  BOOST_TEST(odd->groups[0].group == "g");
}

BOOST_AUTO_TEST_CASE(outbox_log_replays_live_records_and_ignores_a_torn_tail) {
  detail::outbox_record a{1, false, 0, "id-1", "p.i.s", "", "one"};
  detail::outbox_record b{2, true, 123, "", "p.i.s", "NATS/1.0\r\nX: y\r\n\r\n", "two\nlines"};
  detail::outbox_record c{3, false, 0, "id-3", "p.i.s", "", "three"};
  std::string log = detail::serialize_outbox_record(a) + detail::serialize_outbox_record(b) + "D 1\n" +
                    detail::serialize_outbox_record(c);
  auto torn = log.substr(0, log.size() - 3);
  auto live = detail::parse_outbox_log(log);
  BOOST_REQUIRE(live.size() == 2u);
  BOOST_TEST(live[0].seq == 2u);
  BOOST_TEST(live[0].payload == "two\nlines");
  BOOST_TEST(live[0].ephemeral);
  BOOST_TEST(live[0].expires_ms == 123);
  BOOST_TEST(live[1].msg_id == "id-3");
  auto live2 = detail::parse_outbox_log(torn);
  BOOST_REQUIRE(live2.size() == 1u);
  BOOST_TEST(live2[0].seq == 2u);

  // The file: open replays and compacts; a second opener is refused (lock) as a duplicate instance.
  auto dir = nats::test::make_temp_dir("outbox");
  nats::test::write_file(dir + "/o", log);
  {
    detail::outbox_file f;
    std::vector<detail::outbox_record> got;
    BOOST_TEST(!f.open(dir + "/o", got));
    BOOST_TEST(got.size() == 2u);
    detail::outbox_file g;
    std::vector<detail::outbox_record> got2;
    BOOST_TEST(g.open(dir + "/o", got2) == make_error_code(error::duplicate_instance));
    BOOST_TEST(!f.mark_done(2));
  }
  {
    detail::outbox_file f;
    std::vector<detail::outbox_record> got;
    BOOST_TEST(!f.open(dir + "/o", got));
    BOOST_REQUIRE(got.size() == 1u);
    BOOST_TEST(got[0].seq == 3u);
  }
  nats::test::remove_tree(dir);
}
