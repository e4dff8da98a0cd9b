// JetStream on a 3-server cluster (nats-server 2.9.10), R3 stream and consumer, leaders moved while
// traffic flows:
//  - publish (one-shot and js::async_publisher) across a stream leader stepdown and across SIGKILL of
//    the stream leader's server: every publish is acknowledged, the stream holds each acknowledged
//    Msg-Id exactly once at its acknowledged sequence;
//  - a continuous pull consume (js::consumer_stream) across a consumer leader stepdown and across
//    SIGKILL of the consumer leader's server: every published message is received and acknowledged,
//    redeliveries are counted; the status messages the server sent the consume loop are reported.
#define BOOST_TEST_MODULE jetstream_cluster
#include "js_cluster_util.hpp"
#include "js_consume_util.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <map>
#include <set>

using namespace nats;
using namespace nats::test;

namespace {

// Enough backoff for an election after a server is killed (2.9 elections take up to a few seconds):
// 250 ms doubling, 6 extra attempts, ~16 s in all.
js::context_options cluster_js_options() {
  js::context_options o;
  o.timeout = 2s;
  o.publish_retry_attempts = 6;
  return o;
}

js::stream_config r3_stream(std::string name, std::string subject) {
  auto c = stream(std::move(name), strs(std::move(subject)));
  c.replicas = 3;
  c.duplicate_window = 2min;
  return c;
}

/// Kills the server that currently leads `leader_name`; returns its index.
int kill_leader(js_cluster& cl, const std::string& leader_name) {
  const int i = cl.index_of(leader_name);
  BOOST_REQUIRE_MESSAGE(i >= 0, "unknown leader '" << leader_name << "'");
  cl.nodes[i]->kill();
  return i;
}

const std::string none;  ///< "no leader yet" for wait_new_leader

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Stream leader change while publishing

BOOST_AUTO_TEST_CASE(one_shot_publish_across_stream_leader_stepdown) {
  js_cluster cl;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), cluster_client_options(cl));
        co_await connect(c);
        js::context js(c, cluster_js_options());
        const std::string stream_name = "LS", subject = "ls.x";
        const std::string l0 = co_await add_stream_and_wait_leader(js, r3_stream("LS", "ls.>"));

        publish_log log;
        std::vector<std::string> leaders{l0};
        int stepdowns_done = 0;
        constexpr int total = 600;
        for (int i = 0; i < total; ++i) {
          if (i == 150 || i == 350) {
            // Not awaited: the publishes go on while the leader moves.
            js.async_api_request("STREAM.LEADER.STEPDOWN.LS", "", [&](error_code ec, message m) {
              BOOST_CHECK_MESSAGE(!ec && m.payload.find("\"success\":true") != std::string::npos,
                                  "stepdown: " << ec.message() << " " << m.payload);
              ++stepdowns_done;
            });
          }
          if (i == 250 || i == total - 1) {
            // Each stepdown has taken effect before the next one.
            const std::string prev = leaders.back();
            leaders.push_back(co_await wait_new_leader([&] { return stream_leader(js, "LS"); }, prev));
          }
          const std::string id = "p" + std::to_string(i);
          co_await publish_until_acked(js, subject, id, log);
        }
        BOOST_TEST(stepdowns_done == 2);
        BOOST_TEST_MESSAGE("leaders: " << leaders[0] << " -> " << leaders[1] << " -> " << leaders[2]
                                       << "; errors reaching the application: " << log.errors()
                                       << "; duplicate acks: " << log.duplicate_acks);
        BOOST_TEST(log.acked.size() == static_cast<std::size_t>(total));
        co_await check_stream_matches(js, stream_name, log);
      },
      std::chrono::seconds(90));
}

BOOST_AUTO_TEST_CASE(async_publisher_across_stream_leader_stepdown) {
  js_cluster cl;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), cluster_client_options(cl));
        co_await connect(c);
        js::context js(c, cluster_js_options());
        const std::string stream_name = "AS", subject = "as.x", stepdown_api = "STREAM.LEADER.STEPDOWN.AS";
        const std::string l0 = co_await add_stream_and_wait_leader(js, r3_stream("AS", "as.>"));

        publish_log log;
        std::vector<std::string> failed;  // Msg-Ids whose publish failed in the publisher
        js::publisher_options po;
        po.max_pending = 64;
        po.on_ack = [&](const js::publish_result& r) {
          if (r.ec) {
            ++log.app_errors[r.ec.message()];
            failed.push_back(r.msg_id);
          } else {
            log.record_ack(r.msg_id, r.ack);
          }
        };
        js::async_publisher pub(js, po);
        constexpr int total = 3000;
        std::string last_leader = l0;
        for (int i = 0; i < total; ++i) {
          if (i == 800 || i == 2000) {
            co_await stepdown(js, stepdown_api);  // the window stays full meanwhile
          }
          if (i == 1400) last_leader = co_await wait_new_leader([&] { return stream_leader(js, "AS"); }, l0);
          js::publish_options o;
          o.msg_id = "a" + std::to_string(i);
          const std::string payload = o.msg_id;
          auto [ec] = co_await pub.async_publish("as.x", no_hdrs, payload, o, tok);
          BOOST_REQUIRE_MESSAGE(!ec, "async publish " << i << ": " << ec.message());
        }
        auto [wec] = co_await pub.async_wait_all(tok);
        const std::string final_leader = co_await wait_new_leader([&] { return stream_leader(js, "AS"); }, last_leader);
        BOOST_TEST_MESSAGE("leaders: " << l0 << " -> " << last_leader << " -> " << final_leader << "; wait_all: " << wec.message()
                                       << "; publisher acked " << pub.acked() << ", failed " << pub.failed() << " ("
                                       << log.errors() << "); duplicate acks: " << log.duplicate_acks);
        BOOST_TEST(pub.failed() == failed.size());
        // Failures (if any) are retried one-shot with the same Msg-Id, as an application would.
        for (auto& id : failed) co_await publish_until_acked(js, subject, id, log);
        BOOST_TEST(log.acked.size() == static_cast<std::size_t>(total));
        co_await check_stream_matches(js, stream_name, log);
      },
      std::chrono::seconds(90));
}

BOOST_AUTO_TEST_CASE(publish_across_killed_stream_leader) {
  js_cluster cl;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), cluster_client_options(cl));
        co_await connect(c);
        js::context js(c, cluster_js_options());
        const std::string stream_name = "KS", subject = "ks.x";
        const std::string l0 = co_await add_stream_and_wait_leader(js, r3_stream("KS", "ks.>"));

        // Phase 1: one-shot publishes; the leader's server is killed in the middle.
        publish_log log;
        int killed = -1;
        for (int i = 0; i < 400; ++i) {
          if (i == 150) killed = kill_leader(cl, l0);
          const std::string id = "k" + std::to_string(i);
          co_await publish_until_acked(js, subject, id, log);
        }
        const std::string l1 = co_await wait_new_leader([&] { return stream_leader(js, "KS"); }, l0);
        BOOST_TEST_MESSAGE("one-shot: leader " << l0 << " killed, new leader " << l1
                                               << "; errors reaching the application: " << log.errors());

        // Phase 2: the killed server comes back; the async publisher runs while the new leader is killed.
        cl.nodes[killed]->start();
        co_await sleep_for(1500ms);  // let it catch up before its peers lose another member
        publish_log alog;
        std::vector<std::string> failed;
        js::publisher_options po;
        po.max_pending = 64;
        po.on_ack = [&](const js::publish_result& r) {
          if (r.ec) {
            ++alog.app_errors[r.ec.message()];
            failed.push_back(r.msg_id);
          } else {
            alog.record_ack(r.msg_id, r.ack);
          }
        };
        {
          js::async_publisher pub(js, po);
          for (int i = 0; i < 2000; ++i) {
            if (i == 700) kill_leader(cl, l1);
            js::publish_options o;
            o.msg_id = "q" + std::to_string(i);
            const std::string payload = o.msg_id;
            auto [ec] = co_await pub.async_publish("ks.x", no_hdrs, payload, o, tok);
            BOOST_REQUIRE_MESSAGE(!ec, "async publish " << i << ": " << ec.message());
          }
          auto [wec] = co_await pub.async_wait_all(tok);
          BOOST_TEST_MESSAGE("async publisher: leader " << l1 << " killed; wait_all: " << wec.message() << "; acked " << pub.acked() << ", failed "
                                                        << pub.failed() << " (" << alog.errors() << ")");
        }
        for (auto& id : failed) co_await publish_until_acked(js, subject, id, alog);
        const std::string l2 = co_await wait_new_leader([&] { return stream_leader(js, "KS"); }, l1);
        BOOST_TEST_MESSAGE("new leader " << l2 << "; retries after failures: " << alog.errors());
        for (auto& [id, seq] : alog.acked) log.acked.emplace(id, seq);
        BOOST_TEST(log.acked.size() == 2400u);
        co_await check_stream_matches(js, stream_name, log);
      },
      std::chrono::seconds(120));
}

// DISABLED: not reliable with the default context options (4 retries spanning 3.75 s, a trade against
// how long a publish to a subject without any stream takes to fail): a publish sent when the stream
// leader's server dies can still get no_stream_response when the election takes longer (3-5 s on 2.9).
// Passes with publish_retry_attempts = 6 (the other cases here).
BOOST_AUTO_TEST_CASE(default_publish_retry_covers_an_election, *boost::unit_test::disabled()) {
  js_cluster cl;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), cluster_client_options(cl));
        co_await connect(c);
        js::context js(c);  // default options
        const std::string stream_name = "DS", subject = "ds.x";
        const std::string l0 = co_await add_stream_and_wait_leader(js, r3_stream("DS", "ds.>"));
        publish_log log;
        for (int i = 0; i < 300; ++i) {
          if (i == 100) kill_leader(cl, l0);
          const std::string id = "d" + std::to_string(i);
          co_await publish_until_acked(js, subject, id, log);
        }
        BOOST_TEST_MESSAGE("errors reaching the application: " << log.errors());
        BOOST_TEST(log.app_errors.count(make_error_code(js::error::no_stream_response).message()) == 0u);
        co_await check_stream_matches(js, stream_name, log);
      },
      std::chrono::seconds(90));
}

// ---------------------------------------------------------------------------------------------------
// Consumer leader change while consuming

BOOST_AUTO_TEST_CASE(consume_across_consumer_leader_stepdown_and_kill) {
  js_cluster cl;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), cluster_client_options(cl));
        co_await connect(c);
        connection spy_conn(ioc.get_executor(), cluster_client_options(cl));
        co_await connect(spy_conn);
        status_spy spy;
        spy.start(spy_conn);
        auto [fe] = co_await spy_conn.async_flush(tok);
        BOOST_REQUIRE(!fe);
        js::context js(c, cluster_js_options());
        const std::string subject = "cs.x", stepdown_api = "CONSUMER.LEADER.STEPDOWN.CS.worker";
        const auto cfg = r3_stream("CS", "cs.>");
        co_await add_stream_when_ready(js, cfg);
        js::consumer_config cc;
        cc.durable_name = "worker";
        cc.ack = js::ack_policy::explicit_ack;
        cc.ack_wait = 3s;  // lost acks come back soon
        cc.replicas = 3;
        auto [cec, ci] = co_await js.async_add_consumer("CS", cc, tok);
        BOOST_REQUIRE_MESSAGE(!cec, "add consumer: " << cec.message() << " " << js.last_api_error().description);
        const std::string cl0 = co_await wait_new_leader([&] { return consumer_leader(js, "CS", "worker"); }, none);

        // Producer: 800 messages, paced, so that they keep arriving across both leader changes.
        constexpr int total = 800;
        publish_log log;
        bool producer_done = false;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
              for (int i = 0; i < total; ++i) {
                const std::string id = "c" + std::to_string(i);
                co_await publish_until_acked(js, subject, id, log);
                if (i % 10 == 0) co_await sleep_for(40ms);
              }
              producer_done = true;
            },
            [&](std::exception_ptr e) {
              producer_done = true;
              if (e) std::rethrow_exception(e);
            });

        js::consume_options co;
        co.batch = 50;
        co.expires = 4s;
        co.idle_heartbeat = 500ms;
        js::consumer_stream cs(js, "CS", "worker", co);
        BOOST_REQUIRE(!cs.start());

        std::map<std::string, int> deliveries;  // payload → times delivered to us
        int redelivered = 0, max_gap_ms = 0;
        std::string cl1, cl2;
        bool stepped = false, killed = false;
        auto last = std::chrono::steady_clock::now();
        while (!producer_done || deliveries.size() < log.acked.size()) {
          auto [ec, m] = co_await next_within(cs, 20s);
          BOOST_REQUIRE_MESSAGE(!ec, "consume after " << deliveries.size() << " messages: " << ec.message()
                                                      << "; statuses: " << spy.report());
          const auto now = std::chrono::steady_clock::now();
          max_gap_ms = std::max<int>(max_gap_ms, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now - last).count()));
          last = now;
          auto md = js::parse_metadata(m.reply);
          BOOST_REQUIRE(md.has_value());
          if (md->num_delivered > 1) ++redelivered;
          ++deliveries[m.payload];
          BOOST_TEST(!js::ack(c, m));
          if (!stepped && deliveries.size() >= 200) {
            stepped = true;
            co_await stepdown(js, stepdown_api);
            cl1 = co_await wait_new_leader([&] { return consumer_leader(js, "CS", "worker"); }, cl0);
          }
          if (!killed && deliveries.size() >= 450) {
            killed = true;
            kill_leader(cl, cl1);
            cl2 = co_await wait_new_leader([&] { return consumer_leader(js, "CS", "worker"); }, cl1);
          }
        }
        BOOST_TEST(stepped);
        BOOST_TEST(killed);
        // The stepdown ended the loop's waiting pull requests with a status, which the loop absorbed.
        BOOST_TEST(spy.count("409 Leadership Change") >= 1, "statuses: " << spy.report());
        // Acks sent to a dying leader may be lost: those messages come back after ack_wait. Keep consuming
        // until the consumer has nothing pending or unacknowledged.
        js::consumer_info info;
        for (int i = 0; i < 100; ++i) {
          auto [iec, inf] = co_await js.async_consumer_info("CS", "worker", tok);
          if (!iec && inf.num_pending == 0 && inf.num_ack_pending == 0) {
            info = inf;
            break;
          }
          auto [ec, m] = co_await next_within(cs, 500ms);
          if (ec == asio::error::operation_aborted) continue;
          BOOST_REQUIRE_MESSAGE(!ec, "consume (draining redeliveries): " << ec.message());
          auto md = js::parse_metadata(m.reply);
          if (md && md->num_delivered > 1) ++redelivered;
          ++deliveries[m.payload];
          BOOST_TEST(!js::ack(c, m));
        }
        int duplicates = 0;
        std::set<std::string> unexpected;
        for (auto& [p, n] : deliveries) {
          duplicates += n - 1;
          if (!log.acked.count(p)) unexpected.insert(p);
        }
        std::size_t received_acked = 0;
        for (auto& [id, seq] : log.acked) received_acked += deliveries.count(id);
        BOOST_TEST_MESSAGE("consumer leaders: " << cl0 << " -> (stepdown) " << cl1 << " -> (killed) " << cl2
                                                << "; delivered " << cs.delivered() << ", distinct "
                                                << deliveries.size() << ", redelivered " << redelivered
                                                << ", duplicates " << duplicates << "; pull requests "
                                                << cs.pull_requests() << ", missed heartbeats "
                                                << cs.missed_heartbeats() << ", longest gap " << max_gap_ms
                                                << " ms; statuses: " << spy.report()
                                                << " | publish errors reaching the application: " << log.errors());
        BOOST_TEST(log.acked.size() == static_cast<std::size_t>(total));
        BOOST_TEST(received_acked == log.acked.size());  // every acknowledged publish was received
        BOOST_TEST(unexpected.empty());
        BOOST_TEST(info.num_pending == 0u);
        BOOST_TEST(info.num_ack_pending == 0);
        BOOST_TEST(info.ack_floor.stream_seq == static_cast<std::uint64_t>(total));
        cs.stop();
      },
      std::chrono::seconds(120));
}
