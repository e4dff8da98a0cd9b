// JetStream/KV interop with nats.js (npm `nats`, installed in test/interop/node_modules): a bucket and a
// stream written by one client are read, watched and updated by the other; bytes, headers, revisions and
// operations must agree.
#define BOOST_TEST_MODULE natsjs_kv_interop
#include "js_test_util.hpp"

#include <nats/kv/kv.hpp>

#include <cstdio>
#include <map>
#include <sstream>

using namespace nats;
using namespace nats::test;

namespace nats::kv {
inline std::ostream& operator<<(std::ostream& os, operation o) { return os << to_string(o); }
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
}  // namespace nats::kv

namespace {

/// Runs the peer script to completion (blocking) and returns its `KEY value` lines.
std::map<std::string, std::string> run_peer(const std::string& url, std::uint64_t rev, std::string& out) {
  const std::string cmd = "NATSJS_NODE_MODULES='" INTEROP_NODE_MODULES "' node '" NATSJS_KV_PEER_SCRIPT "' '" + url + "' " +
                          std::to_string(rev) + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int status = ::pclose(p);
  BOOST_TEST_MESSAGE("peer output:\n" << out);
  BOOST_REQUIRE_MESSAGE(status == 0, "nats.js peer failed:\n" << out);
  std::map<std::string, std::string> kv;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto sp = line.find(' ');
    kv[line.substr(0, sp)] = sp == std::string::npos ? "" : line.substr(sp + 1);
  }
  return kv;
}

}  // namespace

BOOST_AUTO_TEST_CASE(kv_and_stream_shared_with_natsjs) {
  nats_server server(js_server());
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), client_options(server));
        co_await connect(c);
        js::context js(c);

        kv::bucket_config cfg;
        cfg.bucket = "cppbucket";
        cfg.history = 5;
        auto [e1, b] = co_await kv::async_create_bucket(js, cfg, tok);
        BOOST_REQUIRE(!e1);
        auto [e2, rev1] = co_await b.async_put("k1", "from-cpp", tok);
        BOOST_REQUIRE(!e2);
        co_await b.async_put("k2", "gone soon", asio::use_awaitable);
        co_await b.async_delete("k2", asio::use_awaitable);
        co_await js.async_add_stream(stream("IOP", strs("iop.>")), asio::use_awaitable);
        headers h;
        h.add("X-From", "cpp");
        js::publish_options po;
        po.msg_id = "cpp-1";
        co_await js.async_publish("iop.cpp", h, "hello from cpp", po, asio::use_awaitable);

        // Watch the C++ bucket for what nats.js is about to write.
        kv::watch_options wo;
        wo.updates_only = true;
        auto [e3, w] = co_await b.async_watch(">", wo, tok);
        BOOST_REQUIRE(!e3);
        co_await c.async_flush(asio::use_awaitable);

        std::string out;
        auto peer = run_peer(server.url(), rev1, out);  // blocks this thread while node runs
        BOOST_TEST(peer.count("READ_OK") == 1u);
        BOOST_TEST(peer.count("CAS_CONFLICT_OK") == 1u);
        BOOST_TEST(peer.count("STREAM_OK") == 1u);
        BOOST_REQUIRE(peer.count("DONE") == 1u);
        const auto k1_rev = std::stoull(peer["K1_REV"]);
        const auto k3_rev = std::stoull(peer["K3_REV"]);

        // What nats.js wrote, seen through get and through the watch, in order.
        auto [e4, k1] = co_await b.async_get("k1", tok);
        BOOST_TEST(!e4);
        BOOST_TEST(k1.value == "from-js");
        BOOST_TEST(k1.revision == k1_rev);
        auto [e5, k3] = co_await b.async_get("k3", tok);
        BOOST_TEST(k3.value == "created-by-js");
        BOOST_TEST(k3.revision == k3_rev);
        auto [e6, k2] = co_await b.async_get("k2", tok);
        BOOST_TEST(e6 == kv::error::key_not_found);
        auto [e7, hist] = co_await b.async_history("k2", tok);
        BOOST_TEST_REQUIRE(hist.size() == 1u);  // nats.js purge: rollup + PURGE marker
        BOOST_TEST(hist[0].op == kv::operation::purge);
        auto [e8, bin] = co_await b.async_get("bin", tok);
        BOOST_TEST(bin.value == std::string("\x00\xff\x01\xfe", 4));

        const char* expect_keys[] = {"k1", "k3", "k2", "bin"};
        const kv::operation expect_ops[] = {kv::operation::put, kv::operation::put, kv::operation::purge,
                                            kv::operation::put};
        for (int i = 0; i < 4; ++i) {
          auto [ec, e] = co_await w.async_next(tok);
          BOOST_REQUIRE_MESSAGE(!ec, ec.message());
          BOOST_TEST(e.key == expect_keys[i]);
          BOOST_TEST(e.op == expect_ops[i]);
        }

        // CAS from our side against nats.js's revision.
        auto [e9, r9] = co_await b.async_update("k1", "cpp again", k1_rev - 1, tok);
        BOOST_TEST(e9 == kv::error::wrong_revision);
        auto [e10, r10] = co_await b.async_update("k1", "cpp again", k1_rev, tok);
        BOOST_TEST(!e10);

        // A bucket created by nats.js: bound, same stream layout as ours.
        auto [e11, jb] = co_await kv::async_bind_bucket(js, "jsbucket", tok);
        BOOST_REQUIRE_MESSAGE(!e11, e11.message());
        BOOST_TEST(jb.cached_status().history == 3);
        auto [e12, a] = co_await jb.async_get("a", tok);
        BOOST_TEST(a.value == "2");
        auto [e13, ah] = co_await jb.async_history("a", tok);
        BOOST_TEST(ah.size() == 2u);
        kv::bucket_config same;
        same.bucket = "jsbucket";
        same.history = 3;
        const auto ours = kv::to_stream_config(same);
        const auto& theirs = jb.cached_status().info.config;
        BOOST_TEST(theirs.subjects == ours.subjects);
        BOOST_TEST(theirs.max_msgs_per_subject == ours.max_msgs_per_subject);
        BOOST_TEST(theirs.allow_rollup_hdrs == ours.allow_rollup_hdrs);
        // deny_delete differs on purpose: nats.js 2.x leaves it false, nats.go (and we) set it. It only
        // guards the stream's message-delete API; KV deletes are markers either way.
        BOOST_TEST(theirs.allow_direct == ours.allow_direct);
        BOOST_TEST((theirs.discard == ours.discard));
        BOOST_TEST((theirs.duplicate_window == ours.duplicate_window));

        // The stream message nats.js published, with its headers.
        js::get_msg_request last;
        last.last_by_subject = "iop.js";
        auto [e14, sm] = co_await js.async_get_msg("IOP", last, tok);
        BOOST_TEST(!e14);
        BOOST_TEST(sm.data == "hello from js");
        BOOST_TEST(sm.headers.get("X-From").value_or("") == "js");
        BOOST_TEST(sm.headers.get("Nats-Msg-Id").value_or("") == "js-1");
        BOOST_TEST(std::to_string(sm.seq) == peer["IOP_SEQ"]);
      },
      std::chrono::seconds(90));
}
