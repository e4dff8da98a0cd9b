// Key-Value against a real nats-server (2.9.10): bucket lifecycle, get/put/create/update/delete/purge,
// keys, history, watch (all, one key, wildcard, history, updates only, ignore deletes), error paths,
// and a watch that continues across a server restart without missing a revision.
#define BOOST_TEST_MODULE kv_integration
#include "js_test_util.hpp"

#include <nats/kv/kv.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>

using namespace nats;
using namespace nats::test;

namespace nats::kv {
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
inline std::ostream& operator<<(std::ostream& os, operation o) { return os << to_string(o); }
}  // namespace nats::kv

namespace {

const kv::watch_options default_watch{};

asio::awaitable<kv::bucket> make_bucket(js::context& js, std::string name, std::int64_t history = 1) {
  kv::bucket_config cfg;
  cfg.bucket = std::move(name);
  cfg.history = history;
  auto [ec, b] = co_await kv::async_create_bucket(js, cfg, tok);
  BOOST_REQUIRE_MESSAGE(!ec, "create bucket: " << ec.message() << " " << js.last_api_error().description);
  co_return b;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bucket_lifecycle) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);

    kv::bucket_config cfg;
    cfg.bucket = "config";
    cfg.history = 5;
    cfg.ttl = 1h;
    cfg.max_value_size = 1024;
    cfg.storage = js::storage_type::memory;
    auto [e1, b] = co_await kv::async_create_bucket(js, cfg, tok);
    BOOST_REQUIRE_MESSAGE(!e1, e1.message());
    BOOST_TEST(b.name() == "config");
    BOOST_TEST(b.cached_status().history == 5);
    BOOST_TEST((b.cached_status().ttl == 1h));
    BOOST_TEST(b.cached_status().allow_direct);

    // The stream is laid out as other clients expect.
    auto [e2, si] = co_await js.async_stream_info("KV_config", tok);
    BOOST_TEST(!e2);
    BOOST_TEST(si.config.subjects.at(0) == "$KV.config.>");
    BOOST_TEST(si.config.max_msgs_per_subject == 5);
    BOOST_TEST(si.config.deny_delete);
    BOOST_TEST(si.config.allow_rollup_hdrs);
    BOOST_TEST(si.config.discard == js::discard_policy::new_msgs);
    BOOST_TEST(si.config.max_msg_size == 1024);
    BOOST_TEST(si.config.storage == js::storage_type::memory);

    // Idempotent create, bind, status.
    auto [e3, b2] = co_await kv::async_create_bucket(js, cfg, tok);
    BOOST_TEST(!e3);
    auto [e4, bound] = co_await kv::async_bind_bucket(js, "config", tok);
    BOOST_TEST(!e4);
    BOOST_TEST(bound.cached_status().history == 5);
    co_await bound.async_put("a", "1", asio::use_awaitable);
    auto [e5, st] = co_await bound.async_status(tok);
    BOOST_TEST(!e5);
    BOOST_TEST(st.values == 1u);

    // Errors.
    auto [e6, nb] = co_await kv::async_bind_bucket(js, "missing", tok);
    BOOST_TEST(e6 == kv::error::bucket_not_found);
    auto [e7, ib] = co_await kv::async_bind_bucket(js, "bad.name", tok);
    BOOST_TEST(e7 == kv::error::invalid_bucket_name);
    co_await js.async_add_stream(stream("KV_fake", strs("fake.>")), asio::use_awaitable);
    auto [e8, fb] = co_await kv::async_bind_bucket(js, "fake", tok);
    BOOST_TEST(e8 == kv::error::not_a_bucket);
    kv::bucket_config big;
    big.bucket = "big";
    big.history = 100;
    auto [e9, bb] = co_await kv::async_create_bucket(js, big, tok);
    BOOST_TEST(e9 == kv::error::history_too_large);

    auto [e10] = co_await kv::async_delete_bucket(js, "config", tok);
    BOOST_TEST(!e10);
    // A handle bound before the delete now reports bucket_not_found.
    auto [e10b, r10b] = co_await bound.async_put("a", "2", tok);
    BOOST_TEST(e10b == kv::error::bucket_not_found);
    auto [e10c, g10c] = co_await bound.async_get("a", tok);
    BOOST_TEST(e10c == kv::error::bucket_not_found);
    auto [e11] = co_await kv::async_delete_bucket(js, "config", tok);
    BOOST_TEST(e11 == kv::error::bucket_not_found);
    auto [e12, gone] = co_await kv::async_bind_bucket(js, "config", tok);
    BOOST_TEST(e12 == kv::error::bucket_not_found);
  });
}

BOOST_AUTO_TEST_CASE(values_revisions_and_cas) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    auto b = co_await make_bucket(js, "b", 10);

    auto [e1, r1] = co_await b.async_put("user.1", "alice", tok);
    BOOST_TEST(!e1);
    BOOST_TEST(r1 == 1u);
    auto [e2, got] = co_await b.async_get("user.1", tok);
    BOOST_TEST(!e2);
    BOOST_TEST(got.key == "user.1");
    BOOST_TEST(got.value == "alice");
    BOOST_TEST(got.revision == 1u);
    BOOST_TEST(got.op == kv::operation::put);
    BOOST_TEST(got.bucket == "b");

    const std::string bin("bob\0\xff", 5);
    auto [e3, r3] = co_await b.async_put("user.1", bin, tok);
    auto [e4, g4] = co_await b.async_get("user.1", tok);
    BOOST_TEST(g4.value == std::string("bob\0\xff", 5));
    BOOST_TEST(g4.revision == r3);
    auto [e5, old] = co_await b.async_get_revision("user.1", r1, tok);
    BOOST_TEST(!e5);
    BOOST_TEST(old.value == "alice");

    // create: only when absent.
    auto [e6, r6] = co_await b.async_create("user.2", "carol", tok);
    BOOST_TEST(!e6);
    auto [e7, r7] = co_await b.async_create("user.2", "again", tok);
    BOOST_TEST(e7 == kv::error::key_exists);

    // update: compare-and-set on the revision.
    auto [e8, r8] = co_await b.async_update("user.2", "carol2", r6, tok);
    BOOST_TEST(!e8);
    auto [e9, r9] = co_await b.async_update("user.2", "stale", r6, tok);
    BOOST_TEST(e9 == kv::error::wrong_revision);
    auto [e10, g10] = co_await b.async_get("user.2", tok);
    BOOST_TEST(g10.value == "carol2");

    // delete: get says not found, history keeps the marker; create works again after a delete.
    auto [e11] = co_await b.async_delete("user.2", tok);
    BOOST_TEST(!e11);
    auto [e12, g12] = co_await b.async_get("user.2", tok);
    BOOST_TEST(e12 == kv::error::key_not_found);
    auto [e13, r13] = co_await b.async_create("user.2", "dave", tok);
    BOOST_TEST(!e13, e13.message());
    auto [e14, hist] = co_await b.async_history("user.2", tok);
    BOOST_TEST(!e14);
    BOOST_TEST_REQUIRE(hist.size() == 4u);
    BOOST_TEST(hist[0].value == "carol");
    BOOST_TEST(hist[1].value == "carol2");
    BOOST_TEST(hist[2].op == kv::operation::del);
    BOOST_TEST(hist[3].value == "dave");
    BOOST_TEST(hist[3].revision == r13);

    // purge: older revisions go, a purge marker stays.
    auto [e15] = co_await b.async_purge("user.2", tok);
    BOOST_TEST(!e15);
    auto [e16, h16] = co_await b.async_history("user.2", tok);
    BOOST_TEST(!e16);
    BOOST_TEST_REQUIRE(h16.size() == 1u);
    BOOST_TEST(h16[0].op == kv::operation::purge);
    auto [e17, g17] = co_await b.async_get("user.2", tok);
    BOOST_TEST(e17 == kv::error::key_not_found);
    // create after a purge marker works too (and only once).
    auto [e17b, r17b] = co_await b.async_create("user.2", "eve", tok);
    BOOST_TEST(!e17b);
    auto [e17c, r17c] = co_await b.async_create("user.2", "eve again", tok);
    BOOST_TEST(e17c == kv::error::key_exists);
    co_await b.async_purge("user.2", asio::use_awaitable);

    // keys: live values only, with a filter.
    co_await b.async_put("user.3", "x", asio::use_awaitable);
    co_await b.async_put("group.a", "y", asio::use_awaitable);
    auto [e18, keys] = co_await b.async_keys(">", tok);
    BOOST_TEST(!e18);
    BOOST_TEST((std::set<std::string>(keys.begin(), keys.end()) == set_of("user.1", "user.3", "group.a")));
    auto [e19, ukeys] = co_await b.async_keys("user.*", tok);
    BOOST_TEST((std::set<std::string>(ukeys.begin(), ukeys.end()) == set_of("user.1", "user.3")));

    // Missing keys and invalid keys.
    auto [e20, g20] = co_await b.async_get("nobody", tok);
    BOOST_TEST(e20 == kv::error::key_not_found);
    auto [e21, h21] = co_await b.async_history("nobody", tok);
    BOOST_TEST(e21 == kv::error::key_not_found);
    auto [e22, g22] = co_await b.async_get_revision("user.3", r1, tok);  // revision of another key
    BOOST_TEST(e22 == kv::error::key_not_found);
    for (const auto& bad : strs("", ".a", "a..b", "a*", "a b", "a.>")) {
      auto [ek, rk] = co_await b.async_put(bad, "x", tok);
      BOOST_TEST(ek == kv::error::invalid_key, bad);
    }
    auto [e23, g23] = co_await b.async_get("a b", tok);
    BOOST_TEST(e23 == kv::error::invalid_key);
    auto [e24, k24] = co_await b.async_keys("a..b", tok);
    BOOST_TEST(e24 == kv::error::invalid_key);

    // Empty bucket: no keys.
    auto empty = co_await make_bucket(js, "empty");
    auto [e25, k25] = co_await empty.async_keys(">", tok);
    BOOST_TEST(!e25);
    BOOST_TEST(k25.empty());

    // History limit honoured.
    auto h1 = co_await make_bucket(js, "h1", 2);
    for (int i = 0; i < 5; ++i) {
      const std::string v = std::to_string(i);
      co_await h1.async_put("k", v, asio::use_awaitable);
    }
    auto [e26, h26] = co_await h1.async_history("k", tok);
    BOOST_TEST_REQUIRE(h26.size() == 2u);
    BOOST_TEST(h26[1].value == "4");
  });
}

BOOST_AUTO_TEST_CASE(watch_modes) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    auto b = co_await make_bucket(js, "w", 5);
    co_await b.async_put("a.1", "v1", asio::use_awaitable);
    co_await b.async_put("a.1", "v2", asio::use_awaitable);
    co_await b.async_put("b.1", "x", asio::use_awaitable);
    co_await b.async_delete("b.1", asio::use_awaitable);

    // Latest per key, markers included, then live updates.
    auto [e1, all] = co_await b.async_watch(">", default_watch, tok);
    BOOST_REQUIRE_MESSAGE(!e1, e1.message());
    BOOST_TEST(all.initial_pending() == 2u);
    auto [e2, w1] = co_await all.async_next(tok);
    BOOST_TEST(w1.key == "a.1");
    BOOST_TEST(w1.value == "v2");
    BOOST_TEST(w1.delta == 1u);
    auto [e3, w2] = co_await all.async_next(tok);
    BOOST_TEST(w2.key == "b.1");
    BOOST_TEST(w2.op == kv::operation::del);
    BOOST_TEST(w2.delta == 0u);
    BOOST_TEST(all.caught_up());

    // History of one key.
    kv::watch_options hist;
    hist.include_history = true;
    auto [e4, one] = co_await b.async_watch("a.1", hist, tok);
    BOOST_TEST(!e4);
    auto [e5, h1] = co_await one.async_next(tok);
    auto [e6, h2] = co_await one.async_next(tok);
    BOOST_TEST(h1.value == "v1");
    BOOST_TEST(h2.value == "v2");

    // Updates only, wildcard, ignoring deletes.
    kv::watch_options upd;
    upd.updates_only = true;
    upd.ignore_deletes = true;
    auto [e7, wild] = co_await b.async_watch("b.*", upd, tok);
    BOOST_TEST(!e7);
    BOOST_TEST(wild.initial_pending() == 0u);
    BOOST_TEST(wild.caught_up());

    co_await b.async_put("b.2", "new", asio::use_awaitable);
    co_await b.async_delete("b.2", asio::use_awaitable);
    co_await b.async_put("a.1", "v3", asio::use_awaitable);
    co_await b.async_put("b.3", "newer", asio::use_awaitable);

    auto [e8, u1] = co_await wild.async_next(tok);
    BOOST_TEST(u1.key == "b.2");
    BOOST_TEST(u1.value == "new");
    auto [e9, u2] = co_await wild.async_next(tok);  // the delete of b.2 and a.1 are skipped
    BOOST_TEST(u2.key == "b.3");

    auto [e10, l1] = co_await all.async_next(tok);
    BOOST_TEST(l1.key == "b.2");
    auto [e11, l2] = co_await all.async_next(tok);
    BOOST_TEST(l2.key == "b.2");
    BOOST_TEST(l2.op == kv::operation::del);
    auto [e12, l3] = co_await all.async_next(tok);
    BOOST_TEST(l3.key == "a.1");
    BOOST_TEST(l3.value == "v3");
    BOOST_TEST(l3.revision > w2.revision);
    auto [e13, h3] = co_await one.async_next(tok);
    BOOST_TEST(h3.value == "v3");

    // Purge is seen as such.
    co_await b.async_purge("a.1", asio::use_awaitable);
    auto [e14, l4] = co_await all.async_next(tok);
    BOOST_TEST(l4.key == "b.3");
    auto [e15, l5] = co_await all.async_next(tok);
    BOOST_TEST(l5.key == "a.1");
    BOOST_TEST(l5.op == kv::operation::purge);

    // A watcher with meta_only carries no values.
    kv::watch_options meta;
    meta.meta_only = true;
    auto [e16, mw] = co_await b.async_watch("b.3", meta, tok);
    auto [e17, m1] = co_await mw.async_next(tok);
    BOOST_TEST(m1.key == "b.3");
    BOOST_TEST(m1.value.empty());

    // Cancelling a wait completes it once with operation_aborted; the watcher keeps working.
    asio::cancellation_signal sig;
    int calls = 0;
    error_code got;
    all.async_next(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, kv::entry) {
      ++calls;
      got = ec;
    }));
    co_await sleep_for(50ms);
    sig.emit(asio::cancellation_type::terminal);
    for (int i = 0; i < 100 && calls == 0; ++i) co_await sleep_for(10ms);
    BOOST_TEST(calls == 1);
    BOOST_TEST((got == asio::error::operation_aborted));
    co_await b.async_put("c.1", "after cancel", asio::use_awaitable);
    auto [e17b, l6] = co_await all.async_next(tok);
    BOOST_TEST(!e17b);
    BOOST_TEST(l6.key == "c.1");

    all.stop();
    auto [e18, s1] = co_await all.async_next(tok);
    BOOST_TEST(e18 == kv::error::watcher_closed);
    auto [e19, bad] = co_await b.async_watch("a..b", default_watch, tok);
    BOOST_TEST(e19 == kv::error::invalid_key);
  });
}

BOOST_AUTO_TEST_CASE(large_bucket_watch_flow_control) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    auto b = co_await make_bucket(js, "big");
    js::async_publisher pub(js, js::publisher_options{.max_pending = 128, .on_ack = {}});
    const std::string value(2000, 'v');
    for (int i = 0; i < 3000; ++i) {
      const std::string subject = kv::key_subject("big", "k" + std::to_string(i));
      co_await pub.async_publish(subject, no_hdrs, value, no_opts, asio::use_awaitable);
    }
    co_await pub.async_wait_all(asio::use_awaitable);
    auto [e1, keys] = co_await b.async_keys(">", tok);
    BOOST_TEST(!e1);
    BOOST_TEST(keys.size() == 3000u);
    auto [e2, w] = co_await b.async_watch(">", default_watch, tok);
    std::size_t n = 0;
    while (!w.caught_up()) {
      auto [ec, e] = co_await w.async_next(tok);
      BOOST_REQUIRE(!ec);
      BOOST_TEST_REQUIRE(e.value.size() == 2000u);
      ++n;
    }
    BOOST_TEST(n == 3000u);
    BOOST_TEST(w.resets() == 0u);
  });
}

BOOST_AUTO_TEST_CASE(watch_across_server_restart_misses_no_revision) {
  nats_server server(js_server());
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), client_options(server));
        co_await connect(c);
        js::context js(c);
        auto b = co_await make_bucket(js, "rs", 64);
        kv::watch_options o;
        o.updates_only = true;
        o.heartbeat = 500ms;
        auto [e1, w] = co_await b.async_watch(">", o, tok);
        BOOST_REQUIRE(!e1);
        for (int i = 0; i < 10; ++i) {
          const std::string v = std::to_string(i);
          co_await b.async_put("k", v, asio::use_awaitable);
        }
        std::uint64_t last_rev = 0;
        for (int i = 0; i < 10; ++i) {
          auto [ec, e] = co_await w.async_next(tok);
          BOOST_REQUIRE(!ec);
          BOOST_TEST(e.value == std::to_string(i));
          last_rev = e.revision;
        }
        server.stop();
        server.start();
        std::vector<std::uint64_t> revs;
        for (int i = 10; i < 20; ++i) {
          for (int attempt = 0; attempt < 50; ++attempt) {
            const std::string v = std::to_string(i);
            auto [ec, rev] = co_await b.async_put("k", v, tok);
            if (!ec) {
              revs.push_back(rev);
              break;
            }
            co_await sleep_for(200ms);
          }
        }
        BOOST_TEST_REQUIRE(revs.size() == 10u);
        for (int i = 10; i < 20; ++i) {
          auto [ec, e] = co_await w.async_next(tok);
          BOOST_REQUIRE_MESSAGE(!ec, ec.message());
          BOOST_TEST(e.value == std::to_string(i));
          BOOST_TEST(e.revision == revs[static_cast<std::size_t>(i - 10)]);
          BOOST_TEST(e.revision > last_rev);
          last_rev = e.revision;
        }
        BOOST_TEST(w.resets() >= 1u);
      },
      std::chrono::seconds(90));
}

BOOST_AUTO_TEST_CASE(ttl_expires_values) {
  nats_server server(js_server());
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c);
    kv::bucket_config cfg;
    cfg.bucket = "ttl";
    cfg.ttl = 1s;
    auto [e1, b] = co_await kv::async_create_bucket(js, cfg, tok);
    BOOST_REQUIRE(!e1);
    BOOST_TEST((b.cached_status().ttl == 1s));
    BOOST_TEST((b.cached_status().info.config.duplicate_window == 1s));  // follows a TTL below 2 min
    co_await b.async_put("k", "v", asio::use_awaitable);
    auto [e2, g2] = co_await b.async_get("k", tok);
    BOOST_TEST(!e2);
    co_await sleep_for(2s);
    auto [e3, g3] = co_await b.async_get("k", tok);
    BOOST_TEST(e3 == kv::error::key_not_found);
  });
}

// A waiting async_next whose handler owns the watcher (a coroutine that owns the object that owns the
// watcher, as the cluster layer's leader election does) is a reference cycle until the wait ends.
// stop() must end it even when the io_context is stopped and never runs again: the handler then goes
// with the io_context instead of staying in the watcher's state for ever (found by LeakSanitizer).
BOOST_AUTO_TEST_CASE(stop_releases_a_waiting_handler_even_if_the_io_context_never_runs_again) {
  nats_server server(js_server());
  std::weak_ptr<std::optional<kv::watcher>> released;
  {
    asio::io_context ioc;
    connection c(ioc.get_executor(), client_options(server));
    js::context js(c);
    auto holder = std::make_shared<std::optional<kv::watcher>>();
    std::optional<kv::bucket> b;
    bool ready = false;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
      co_await connect(c);
      b.emplace(co_await make_bucket(js, "cycle"));
      auto [ec, w] = co_await b->async_watch(">", default_watch, tok);
      BOOST_REQUIRE_MESSAGE(!ec, ec.message());
      holder->emplace(std::move(w));
      ready = true;
    }, asio::detached);
    for (int i = 0; i < 1000 && !ready; ++i) ioc.run_one_for(10ms);
    BOOST_REQUIRE(ready);
    released = holder;
    (*holder)->async_next([holder](error_code, kv::entry) {});  // owns the watcher while it waits
    (*holder)->stop();
    holder.reset();
    ioc.stop();  // never run again: what is queued is destroyed with the io_context
  }
  BOOST_TEST(released.expired());
}
