// Cluster request/reply (node::async_request, serve, respond) against a real nats-server: a chosen
// instance answers, responders share requests as a queue group, groups of responders, headers both
// ways, and the errors: no responders, timeout, not connected, payload too large, bad input.
#define BOOST_TEST_MODULE integration_cluster_request
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"

#include <map>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;

namespace {

struct result {
  error_code ec;
  reply r;
};

result ask(asio::io_context& ioc, node& n, const std::string& subject, const std::string& payload,
           request_options opts = {}) {
  std::optional<result> res;
  n.async_request(subject, payload, opts, [&](error_code ec, reply r) { res = result{ec, std::move(r)}; });
  BOOST_REQUIRE_MESSAGE(run_until(ioc, [&] { return res.has_value(); }, opts.timeout + 10s), "request did not complete");
  return *res;
}

// A responder that answers "<instance>:<payload>" at once and counts what it answered.
struct echo {
  node& n;
  std::string name;
  int answered = 0;
  std::uint64_t id = 0;
  echo(node& nd, std::string nm, serve_options o) : n(nd), name(std::move(nm)) {
    error_code ec;
    id = n.serve(o, [this](request&& q) {
      ++answered;
      nats::headers h;
      if (auto v = q.headers.get("X-Trace")) h.set("X-Trace", std::string(*v) + "-back");
      BOOST_TEST(!n.respond(q.id, name + ":" + q.subject + ":" + q.payload + ":" + q.source_instance, h));
    }, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "serve: " << ec.message());
  }
};

serve_options on(std::string subject, std::string group = {}) {
  serve_options o;
  o.subject = std::move(subject);
  o.group = std::move(group);
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_chosen_instance_answers_and_headers_pass_both_ways) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  node b(ioc.get_executor(), make_config(srv, "b"));
  node asker(ioc.get_executor(), make_config(srv, "asker"));
  echo ea(a, "a", on("svc.*"));  // served before start: subscribed when the node starts
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, b), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, asker), error_code{});
  echo eb(b, "b", on("svc.*"));
  run_for(ioc, 200ms);
  for (auto who : {"a", "b", "b", "a"}) {
    request_options o;
    o.instance = who;
    o.headers.set("X-Trace", "t1");
    auto res = ask(ioc, asker, "svc.time", "now", o);
    BOOST_REQUIRE_MESSAGE(!res.ec, res.ec.message());
    BOOST_TEST(res.r.instance == who);
    BOOST_TEST(res.r.payload == std::string(who) + ":svc.time:now:asker");
    BOOST_TEST(res.r.headers.get("X-Trace").value_or("") == "t1-back");
  }
  BOOST_TEST(ea.answered == 2);
  BOOST_TEST(eb.answered == 2);
  // An instance without a responder for the subject: nobody answers.
  request_options o;
  o.instance = "asker";
  BOOST_TEST(ask(ioc, asker, "svc.time", "x", o).ec == make_error_code(error::no_responders));
  for (auto* n : {&asker, &b, &a}) BOOST_TEST(!stop(ioc, *n));
}

BOOST_AUTO_TEST_CASE(responders_share_requests_as_a_queue_group) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  node b(ioc.get_executor(), make_config(srv, "b"));
  node asker(ioc.get_executor(), make_config(srv, "asker"));
  for (auto* n : {&a, &b, &asker}) BOOST_REQUIRE_EQUAL(start(ioc, *n), error_code{});
  echo ea(a, "a", on("work"));
  echo eb(b, "b", on("work"));
  run_for(ioc, 200ms);
  constexpr int n = 60;
  std::map<std::string, int> by;
  for (int i = 0; i < n; ++i) {
    auto res = ask(ioc, asker, "work", std::to_string(i));
    BOOST_REQUIRE_MESSAGE(!res.ec, res.ec.message());
    BOOST_TEST(res.r.payload == res.r.instance + ":work:" + std::to_string(i) + ":asker");
    ++by[res.r.instance];
  }
  // Each request answered once, by one of the two; both took some.
  BOOST_TEST(ea.answered + eb.answered == n);
  BOOST_TEST(by["a"] == ea.answered);
  BOOST_TEST(by["b"] == eb.answered);
  BOOST_TEST(ea.answered > 0);
  BOOST_TEST(eb.answered > 0);
  for (auto* nd : {&asker, &b, &a}) BOOST_TEST(!stop(ioc, *nd));
}

BOOST_AUTO_TEST_CASE(a_responder_group_answers_requests_addressed_to_it) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  node b(ioc.get_executor(), make_config(srv, "b"));
  for (auto* n : {&a, &b}) BOOST_REQUIRE_EQUAL(start(ioc, *n), error_code{});
  echo ea(a, "a", on("job", "gpu"));
  echo eb(b, "b", on("job"));
  run_for(ioc, 200ms);
  request_options g;
  g.group = "gpu";
  for (int i = 0; i < 5; ++i) {
    auto res = ask(ioc, b, "job", "x", g);
    BOOST_REQUIRE_MESSAGE(!res.ec, res.ec.message());
    BOOST_TEST(res.r.instance == "a");
  }
  g.group = "tpu";
  BOOST_TEST(ask(ioc, b, "job", "x", g).ec == make_error_code(error::no_responders));
  // After stop_serving, requests no longer reach it.
  BOOST_TEST(!a.stop_serving(ea.id));
  BOOST_TEST(a.stop_serving(ea.id) == make_error_code(error::unknown_subscription));
  run_for(ioc, 200ms);
  g.group = "gpu";
  BOOST_TEST(ask(ioc, b, "job", "x", g).ec == make_error_code(error::no_responders));
  for (auto* n : {&b, &a}) BOOST_TEST(!stop(ioc, *n));
}

BOOST_AUTO_TEST_CASE(no_responders_timeout_and_late_or_double_answers) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  node asker(ioc.get_executor(), make_config(srv, "asker"));
  for (auto* n : {&a, &asker}) BOOST_REQUIRE_EQUAL(start(ioc, *n), error_code{});
  BOOST_TEST(ask(ioc, asker, "nobody.home", "x").ec == make_error_code(error::no_responders));

  // A responder that keeps the request (the flow never reaches the response node in time).
  std::vector<request> kept;
  error_code ec;
  a.serve(on("slow"), [&](request&& q) { kept.push_back(std::move(q)); }, ec);
  BOOST_REQUIRE(!ec);
  run_for(ioc, 200ms);
  request_options o;
  o.timeout = 300ms;
  BOOST_TEST(ask(ioc, asker, "slow", "x", o).ec == make_error_code(error::timeout));
  BOOST_REQUIRE_EQUAL(kept.size(), 1u);
  BOOST_TEST(kept[0].source_instance == "asker");
  run_for(ioc, 100ms);  // past the requester's deadline, as the request told the responder
  BOOST_TEST(a.respond(kept[0].id, "late") == make_error_code(error::unknown_request));

  // Answered once; a second answer is refused.
  o.timeout = 5s;
  std::optional<error_code> done;
  asker.async_request("slow", "y", o, [&](error_code e, reply) { done = e; });
  BOOST_REQUIRE(run_until(ioc, [&] { return kept.size() == 2; }));
  nats::headers reserved;
  reserved.set("Nats-Msg-Id", "x");
  BOOST_TEST(a.respond(kept[1].id, "r", reserved) == make_error_code(error::invalid_config));
  BOOST_TEST(!a.respond(kept[1].id, "ok"));
  BOOST_TEST(a.respond(kept[1].id, "again") == make_error_code(error::unknown_request));
  BOOST_REQUIRE(run_until(ioc, [&] { return done.has_value(); }));
  BOOST_TEST(!*done);
  for (auto* n : {&asker, &a}) BOOST_TEST(!stop(ioc, *n));
}

BOOST_AUTO_TEST_CASE(bad_input_too_large_and_not_connected_are_clear_errors) {
  nats_server srv(jetstream_server_options("max_payload: 4096\n"));
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  // Not started yet.
  BOOST_TEST(ask(ioc, a, "x", "y").ec == make_error_code(error::not_started));
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  echo ea(a, "a", on("x"));

  BOOST_TEST(ask(ioc, a, "bad.*", "y").ec == make_error_code(error::invalid_subject));
  request_options o;
  o.instance = "a.b";
  BOOST_TEST(ask(ioc, a, "x", "y", o).ec == make_error_code(error::invalid_instance_id));
  o = {};
  o.group = "g*";
  BOOST_TEST(ask(ioc, a, "x", "y", o).ec == make_error_code(error::invalid_group));
  o = {};
  o.instance = "a";
  o.group = "g";
  BOOST_TEST(ask(ioc, a, "x", "y", o).ec == make_error_code(error::invalid_config));
  o = {};
  o.headers.set("Nats-Expected-Stream", "S");
  BOOST_TEST(ask(ioc, a, "x", "y", o).ec == make_error_code(error::invalid_config));
  BOOST_TEST(ask(ioc, a, "x", std::string(8192, 'z')).ec == make_error_code(error::payload_too_large));
  error_code ec;
  BOOST_TEST(a.serve(on("a..b"), [](request&&) {}, ec) == 0u);
  BOOST_TEST(ec == make_error_code(error::invalid_pattern));
  BOOST_TEST(a.serve(on("x", "g.h"), [](request&&) {}, ec) == 0u);
  BOOST_TEST(ec == make_error_code(error::invalid_group));
  BOOST_TEST(a.respond(12345, "x") == make_error_code(error::unknown_request));
  // Still fine after all that.
  auto res = ask(ioc, a, "x", "y");
  BOOST_REQUIRE_MESSAGE(!res.ec, res.ec.message());
  BOOST_TEST(res.r.payload == "a:x:y:a");

  srv.stop();
  BOOST_REQUIRE(run_until(ioc, [&] { return !a.is_connected(); }, 5s));
  run_for(ioc, 200ms);
  BOOST_TEST(ask(ioc, a, "x", "y").ec == make_error_code(error::not_connected));
  stop(ioc, a, 1s);
}
