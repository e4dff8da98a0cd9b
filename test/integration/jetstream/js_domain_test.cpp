// JetStream through a domain and through a custom API prefix (nats-server 2.9.10):
//  - one server with `jetstream { domain: hub }`: a context for domain "hub" (`$JS.hub.API`) manages
//    streams and consumers, publishes, fetches, consumes and acks, and runs a KV bucket;
//  - a custom API prefix (`app.js.API`, mapped to `$JS.API` by the server): the same operations, and a
//    prefix nobody serves fails instead of silently using `$JS.API`;
//  - a hub and a leaf node with their own domains: a client of the leaf reaches both JetStreams by
//    domain, and each stream lands where its domain says.
#define BOOST_TEST_MODULE jetstream_domain
#include "js_test_util.hpp"

#include <nats/kv/kv.hpp>

#include <algorithm>
#include <memory>

using namespace nats;
using namespace nats::test;

namespace nats::kv {
inline std::ostream& operator<<(std::ostream& os, error e) { return os << make_error_code(e).message(); }
}  // namespace nats::kv

namespace {

/// A temporary directory removed at scope exit.
struct temp_dir {
  std::string path = make_temp_dir("js-domain");
  ~temp_dir() { remove_tree(path); }
};

/// A JetStream server whose jetstream block names a domain (the fixture's own block has none).
server_options domain_server(const temp_dir& store, const std::string& domain, const std::string& extra = "") {
  server_options o;
  o.jetstream = false;  // written here instead, with the domain
  o.config = "jetstream {\n  store_dir: \"" + store.path + "\"\n  max_memory_store: 64MB\n  max_file_store: 256MB\n" +
             (domain.empty() ? std::string() : "  domain: " + domain + "\n") + "}\n" + extra;
  return o;
}

js::context_options with_domain(std::string d) {
  js::context_options o;
  o.domain = std::move(d);
  o.timeout = 3s;
  return o;
}

js::consumer_config pull_durable(std::string name) {
  js::consumer_config c;
  c.durable_name = std::move(name);
  c.ack = js::ack_policy::explicit_ack;
  return c;
}

/// Retries stream creation while the domain is not reachable yet (leaf connection being set up).
asio::awaitable<void> add_stream_retrying(js::context& js, const js::stream_config& cfg) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (;;) {
    auto [ec, info] = co_await js.async_add_stream(cfg, tok);
    if (!ec) co_return;
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                          "add stream " << cfg.name << " via " << js.api_prefix() << ": " << ec.message() << " "
                                        << js.last_api_error().description);
    co_await sleep_for(200ms);
  }
}

/// Stream add, publish with Msg-Id, fetch + ack, consume loop, direct get, all through `js`
/// (whatever its prefix). `expect_domain`: the domain PubAcks must name.
asio::awaitable<void> exercise(connection& c, js::context& js, const std::string& name,
                               const std::string& expect_domain) {
  const std::string subj = name + ".x";
  auto cfg = stream(name, strs(name + ".>"));
  cfg.allow_direct = true;
  co_await add_stream_retrying(js, cfg);

  js::publish_options o;
  o.msg_id = "one";
  auto [p1, a1] = co_await js.async_publish(subj, no_hdrs, "m0", o, tok);
  BOOST_REQUIRE_MESSAGE(!p1, "publish: " << p1.message());
  BOOST_TEST(a1.stream == name);
  BOOST_TEST(a1.seq == 1u);
  BOOST_TEST(a1.domain == expect_domain);
  auto [p2, a2] = co_await js.async_publish(subj, no_hdrs, "m0", o, tok);
  BOOST_TEST(!p2);
  BOOST_TEST(a2.duplicate);
  for (int i = 1; i < 6; ++i) {
    const std::string payload = "m" + std::to_string(i);
    auto [ec, a] = co_await js.async_publish(subj, payload, tok);
    BOOST_REQUIRE_MESSAGE(!ec, "publish: " << ec.message());
  }
  auto [ie, info] = co_await js.async_stream_info(name, tok);
  BOOST_TEST(!ie);
  BOOST_TEST(info.state.messages == 6u);

  // Pull consumer: fetch 3 and ack them (one with confirmation), then the consume loop for the rest.
  const auto dcfg = pull_durable("d");
  auto [ce, ci] = co_await js.async_add_consumer(name, dcfg, tok);
  BOOST_REQUIRE_MESSAGE(!ce, "add consumer: " << ce.message() << " " << js.last_api_error().description);
  js::fetch_options fo;
  fo.batch = 3;
  fo.expires = 2s;
  auto [fe, msgs] = co_await js::async_fetch(js, name, "d", fo, tok);
  BOOST_TEST(!fe, fe.message());
  BOOST_REQUIRE_EQUAL(msgs.size(), 3u);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    BOOST_TEST(msgs[i].payload == "m" + std::to_string(i));
    auto md = js::parse_metadata(msgs[i].reply);
    BOOST_REQUIRE_MESSAGE(md.has_value(), "reply " << msgs[i].reply);
    BOOST_TEST(md->stream == name);
    BOOST_TEST(md->consumer == "d");
    BOOST_TEST(md->stream_seq == i + 1);
    BOOST_TEST_MESSAGE(js.api_prefix() << ": ack subject " << msgs[i].reply);
    if (i == 0) {
      auto [ae] = co_await js::async_ack_sync(c, msgs[i], 2s, tok);
      BOOST_TEST(!ae, "ack sync: " << ae.message());
    } else {
      BOOST_TEST(!js::ack(c, msgs[i]));
    }
  }
  js::consume_options co;
  co.batch = 10;
  co.expires = 2s;
  js::consumer_stream cs(js, name, "d", co);
  BOOST_REQUIRE(!cs.start());
  for (int i = 3; i < 6; ++i) {
    auto [ne, m] = co_await cs.async_next(tok);
    BOOST_REQUIRE_MESSAGE(!ne, "consume: " << ne.message());
    BOOST_TEST(m.payload == "m" + std::to_string(i));
    auto [ae] = co_await js::async_ack_sync(c, m, 2s, tok);
    BOOST_TEST(!ae, "ack sync: " << ae.message());
  }
  cs.stop();
  auto [ie2, cinfo] = co_await js.async_consumer_info(name, "d", tok);
  BOOST_TEST(!ie2);
  BOOST_TEST(cinfo.num_ack_pending == 0);
  BOOST_TEST(cinfo.ack_floor.stream_seq == 6u);

  js::get_msg_request last;
  last.last_by_subject = subj;
  auto [ge, gm] = co_await js.async_direct_get(name, last, tok);
  BOOST_TEST(!ge, "direct get: " << ge.message());
  BOOST_TEST(gm.data == "m5");

}

/// KV bucket create/put/update/get/create/keys/bind through `js` (whatever its prefix).
asio::awaitable<void> exercise_kv(js::context& js, const std::string& name) {
  kv::bucket_config bc;
  bc.bucket = name + "_cfg";
  bc.history = 3;
  auto [be, b] = co_await kv::async_create_bucket(js, bc, tok);
  BOOST_REQUIRE_MESSAGE(!be, "create bucket: " << be.message() << " " << js.last_api_error().description);
  auto [k1, r1] = co_await b.async_put("color", "red", tok);
  BOOST_REQUIRE_MESSAGE(!k1, "kv put: " << k1.message());
  auto [k2, r2] = co_await b.async_update("color", "blue", r1, tok);
  BOOST_TEST(!k2, "kv update: " << k2.message());
  auto [k3, r3] = co_await b.async_update("color", "green", r1, tok);  // stale revision
  BOOST_TEST(k3 == kv::error::wrong_revision, k3.message());
  auto [k4, e4] = co_await b.async_get("color", tok);
  BOOST_TEST(!k4, "kv get: " << k4.message());
  BOOST_TEST(e4.value == "blue");
  BOOST_TEST(e4.revision == r2);
  auto [k5, r5] = co_await b.async_create("size", "L", tok);
  BOOST_TEST(!k5);
  auto [k6, keys] = co_await b.async_keys(">", tok);
  BOOST_TEST(!k6);
  std::sort(keys.begin(), keys.end());
  BOOST_TEST((keys == strs("color", "size")));
  auto [k7, bound] = co_await kv::async_bind_bucket(js, bc.bucket, tok);
  BOOST_TEST(!k7, "kv bind: " << k7.message());
}

asio::awaitable<std::vector<std::string>> names(js::context& js) {
  auto [ec, n] = co_await js.async_stream_names("", tok);
  BOOST_TEST(!ec, "stream names via " << js.api_prefix() << ": " << ec.message());
  std::sort(n.begin(), n.end());
  co_return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(domain_prefix_on_one_server) {
  temp_dir store;
  nats_server server(domain_server(store, "hub"));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context js(c, with_domain("hub"));
    BOOST_TEST(js.api_prefix() == "$JS.hub.API");
    const std::string name = "DOM", domain = "hub";
    co_await exercise(c, js, name, domain);
    co_await exercise_kv(js, name);

    // `$JS.API` is the same JetStream on this server; a domain nobody has is not served.
    js::context plain(c);
    auto n = co_await names(plain);
    BOOST_TEST((n == strs("DOM", "KV_DOM_cfg")));
    js::context nowhere(c, with_domain("nowhere"));
    BOOST_TEST(nowhere.api_prefix() == "$JS.nowhere.API");
    auto [ec, info] = co_await nowhere.async_stream_info(name, tok);
    BOOST_TEST(ec == js::error::jetstream_not_enabled, ec.message());
  });
}

// What the server itself maps for a domain (`$JS.<domain>.API.…`), here for the prefix `app.js.API`:
// API subjects onto `$JS.API.…`, KV writes (`<prefix>.$KV.…`, as other clients send them through a
// prefix) onto `$KV.…`. Non-overlapping, as the server picks any matching mapping.
const std::string prefix_mappings = R"(mappings: {
  "app.js.API.INFO": "$JS.API.INFO"
  "app.js.API.STREAM.>": "$JS.API.STREAM.>"
  "app.js.API.CONSUMER.>": "$JS.API.CONSUMER.>"
  "app.js.API.DIRECT.>": "$JS.API.DIRECT.>"
  "app.js.API.$KV.>": "$KV.>"
}
)";

BOOST_AUTO_TEST_CASE(custom_api_prefix) {
  temp_dir store;
  // The server maps the application's prefix onto the JetStream API.
  nats_server server(domain_server(store, "", prefix_mappings));
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), client_options(server));
    co_await connect(c);
    js::context_options jo;
    jo.api_prefix = "app.js.API.";  // a trailing dot is tolerated
    jo.domain = "ignored";          // the explicit prefix wins
    js::context js(c, jo);
    BOOST_TEST(js.api_prefix() == "app.js.API");
    const std::string name = "PFX", no_domain;
    co_await exercise(c, js, name, no_domain);
    co_await exercise_kv(js, name);

    // A prefix nobody serves fails: the context does not fall back to $JS.API.
    js::context_options other;
    other.api_prefix = "other.API";
    js::context wrong(c, other);
    auto [ec, info] = co_await wrong.async_stream_info(name, tok);
    BOOST_TEST(ec == js::error::jetstream_not_enabled, ec.message());
    js::fetch_options fo;
    fo.batch = 1;
    fo.expires = 1s;
    auto [fe, msgs] = co_await js::async_fetch(wrong, name, "d", fo, tok);
    BOOST_TEST(msgs.empty());
  });
}

/// A hub with domain "hub" and a leaf node with its own JetStream in domain "leaf", on 127.0.0.1.
struct hub_and_leaf {
  temp_dir hub_store, leaf_store;
  int leaf_port = free_port();
  nats_server hub{domain_server(hub_store, "hub",
                                "server_name: js-hub\nleafnodes {\n  listen: 127.0.0.1:" + std::to_string(leaf_port) +
                                    "\n}\n")};
  nats_server leaf{domain_server(leaf_store, "leaf",
                                 "server_name: js-leaf\nleafnodes {\n  remotes: [ { url: \"nats-leaf://127.0.0.1:" +
                                     std::to_string(leaf_port) + "\" } ]\n}\n")};
};

BOOST_AUTO_TEST_CASE(hub_and_leaf_domains) {
  hub_and_leaf net;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        // The application talks to the leaf only.
        connection c(ioc.get_executor(), client_options(net.leaf));
        co_await connect(c);
        js::context to_hub(c, with_domain("hub"));
        js::context to_leaf(c, with_domain("leaf"));
        const std::string hub_stream = "HUBS", leaf_stream = "LEAFS", hub_domain = "hub", leaf_domain = "leaf";
        co_await exercise(c, to_hub, hub_stream, hub_domain);
        co_await exercise(c, to_leaf, leaf_stream, leaf_domain);
        co_await exercise_kv(to_leaf, leaf_stream);

        // Each stream lives where its domain is: ask each server directly with the plain prefix.
        connection hc(ioc.get_executor(), client_options(net.hub));
        co_await connect(hc);
        js::context hub_local(hc);
        js::context leaf_local(c);
        auto hn = co_await names(hub_local);
        auto ln = co_await names(leaf_local);
        BOOST_TEST((hn == strs("HUBS")));
        BOOST_TEST((ln == strs("KV_LEAFS_cfg", "LEAFS")));
        auto [ie, info] = co_await hub_local.async_stream_info(hub_stream, tok);
        BOOST_TEST(!ie);
        BOOST_TEST(info.state.messages == 6u);
      },
      std::chrono::seconds(60));
}

// KV writes through a domain: across a leaf node with JetStream
// domains the servers do not carry `$KV.>` between domains (503 no responders), they map
// `$JS.<domain>.API.$KV.>` onto `$KV.>` instead, so writes through a domain must be published on
// `<api prefix>.$KV.<bucket>.<key>`.
BOOST_AUTO_TEST_CASE(kv_in_hub_domain_from_leaf_client) {
  hub_and_leaf net;
  run_test(
      [&](asio::io_context& ioc) -> asio::awaitable<void> {
        connection c(ioc.get_executor(), client_options(net.leaf));
        co_await connect(c);
        js::context to_hub(c, with_domain("hub"));
        const std::string name = "HUBKV";
        co_await add_stream_retrying(to_hub, stream(name, strs("hubkv.>")));  // waits for the leaf link
        co_await exercise_kv(to_hub, name);
        connection hc(ioc.get_executor(), client_options(net.hub));
        co_await connect(hc);
        js::context hub_local(hc);
        auto hn = co_await names(hub_local);
        BOOST_TEST((hn == strs("HUBKV", "KV_HUBKV_cfg")));
      },
      std::chrono::seconds(60));
}
