// Host key-values on a cluster node (nats::cluster::kv_store) against a real nats-server: the bucket
// named after the cluster, values written by one node read by another, compare-and-set, bad input
// refused before anything is written, behaviour while NATS is down.
#define BOOST_TEST_MODULE integration_cluster_store
#include <boost/test/unit_test.hpp>

#include "cluster_util.hpp"

#include <nats/cluster/store.hpp>
#include <nats/kv/kv.hpp>

#include <algorithm>

using namespace nats::cluster;
using namespace nats::cluster::test;
using nats::test::nats_server;

namespace {

template <class T>
struct result {
  std::optional<error_code> ec;
  T value{};
};

result<std::uint64_t> write(asio::io_context& ioc, kv_store& s, const std::string& k, const std::string& v,
                            std::int64_t expect = -1) {
  result<std::uint64_t> r;
  auto h = [&](error_code ec, std::uint64_t rev) {
    r.ec = ec;
    r.value = rev;
  };
  if (expect < 0) s.async_put(k, v, h);
  else if (expect == 0) s.async_create(k, v, h);
  else s.async_update(k, v, static_cast<std::uint64_t>(expect), h);
  BOOST_REQUIRE(run_until(ioc, [&] { return r.ec.has_value(); }));
  return r;
}

result<nats::kv::entry> get(asio::io_context& ioc, kv_store& s, const std::string& k) {
  result<nats::kv::entry> r;
  s.async_get(k, [&](error_code ec, nats::kv::entry e) {
    r.ec = ec;
    r.value = std::move(e);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.ec.has_value(); }));
  return r;
}

std::vector<std::string> keys(asio::io_context& ioc, kv_store& s, const std::string& filter) {
  result<std::vector<std::string>> r;
  s.async_keys(filter, [&](error_code ec, std::vector<std::string> k) {
    r.ec = ec;
    r.value = std::move(k);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.ec.has_value(); }));
  BOOST_REQUIRE_MESSAGE(!*r.ec, "keys: " << r.ec->message());
  std::sort(r.value.begin(), r.value.end());
  return r.value;
}

error_code del(asio::io_context& ioc, kv_store& s, const std::string& k) {
  std::optional<error_code> r;
  s.async_delete(k, [&](error_code ec) { r = ec; });
  BOOST_REQUIRE(run_until(ioc, [&] { return r.has_value(); }));
  return *r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(values_written_on_one_node_are_read_on_another_with_cas) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a")), b(ioc.get_executor(), make_config(srv, "b"));
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  BOOST_REQUIRE_EQUAL(start(ioc, b), error_code{});
  kv_store sa(a), sb(b);
  BOOST_CHECK_EQUAL(sa.bucket(), "CLUSTER_NODERED_CLUSTER_CONTEXT");

  auto w = write(ioc, sa, "global.counter", "1");
  BOOST_REQUIRE_EQUAL(*w.ec, error_code{});
  auto r = get(ioc, sb, "global.counter");
  BOOST_REQUIRE_EQUAL(*r.ec, error_code{});
  BOOST_CHECK_EQUAL(r.value.value, "1");
  BOOST_CHECK_EQUAL(r.value.revision, w.value);

  // Compare-and-set: B updates on the revision it read; A's update on the old revision is refused.
  auto wb = write(ioc, sb, "global.counter", "2", static_cast<std::int64_t>(r.value.revision));
  BOOST_REQUIRE_EQUAL(*wb.ec, error_code{});
  auto wa = write(ioc, sa, "global.counter", "2-lost", static_cast<std::int64_t>(r.value.revision));
  BOOST_CHECK_EQUAL(*wa.ec, make_error_code(nats::kv::error::wrong_revision));
  BOOST_CHECK_EQUAL(get(ioc, sa, "global.counter").value.value, "2");
  // Create only when absent.
  BOOST_CHECK_EQUAL(*write(ioc, sa, "global.counter", "x", 0).ec, make_error_code(nats::kv::error::key_exists));
  BOOST_CHECK_EQUAL(*write(ioc, sa, "global.fresh", "x", 0).ec, error_code{});

  BOOST_REQUIRE_EQUAL(*write(ioc, sa, "flow.f1.a", "\"x\"").ec, error_code{});
  BOOST_REQUIRE_EQUAL(*write(ioc, sa, "flow.f1.b", "\"y\"").ec, error_code{});
  BOOST_CHECK(keys(ioc, sb, "flow.f1.>") == (std::vector<std::string>{"flow.f1.a", "flow.f1.b"}));
  BOOST_CHECK_EQUAL(del(ioc, sb, "flow.f1.a"), error_code{});
  BOOST_CHECK(keys(ioc, sa, "flow.f1.>") == (std::vector<std::string>{"flow.f1.b"}));
  BOOST_CHECK_EQUAL(*get(ioc, sa, "flow.f1.a").ec, make_error_code(nats::kv::error::key_not_found));

  // Nothing of this reached the presence bucket.
  raw_client raw(ioc, srv);
  std::optional<error_code> bec;
  nats::kv::bucket pres;
  nats::kv::async_bind_bucket(raw.js, a.bucket(), [&](error_code ec, nats::kv::bucket bk) {
    bec = ec;
    pres = std::move(bk);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return bec.has_value(); }));
  std::optional<error_code> kec;
  std::vector<std::string> pkeys;
  pres.async_keys(">", [&](error_code ec, std::vector<std::string> k) {
    kec = ec;
    pkeys = std::move(k);
  });
  BOOST_REQUIRE(run_until(ioc, [&] { return kec.has_value(); }));
  for (auto& k : pkeys) BOOST_CHECK_MESSAGE(k.starts_with("instances.") || k.starts_with("endpoints."), k);

  BOOST_CHECK_EQUAL(stop(ioc, a), error_code{});
  BOOST_CHECK_EQUAL(stop(ioc, b), error_code{});
}

BOOST_AUTO_TEST_CASE(bad_keys_and_too_large_values_are_refused_and_nothing_is_written) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  kv_store s(a);
  BOOST_CHECK_EQUAL(*write(ioc, s, "has space", "1").ec, make_error_code(nats::kv::error::invalid_key));
  BOOST_CHECK_EQUAL(*write(ioc, s, "a..b", "1").ec, make_error_code(nats::kv::error::invalid_key));
  BOOST_CHECK_EQUAL(*write(ioc, s, "wild.*", "1").ec, make_error_code(nats::kv::error::invalid_key));
  BOOST_CHECK_EQUAL(del(ioc, s, "bad key"), make_error_code(nats::kv::error::invalid_key));
  std::string huge(2 * 1024 * 1024, 'x');  // above the default max_payload (1 MiB)
  BOOST_CHECK_EQUAL(*write(ioc, s, "global.huge", huge).ec, make_error_code(error::payload_too_large));
  BOOST_CHECK_EQUAL(*get(ioc, s, "global.huge").ec, make_error_code(nats::kv::error::key_not_found));
  BOOST_CHECK(keys(ioc, s, ">").empty());
  BOOST_CHECK_EQUAL(stop(ioc, a), error_code{});
}

BOOST_AUTO_TEST_CASE(while_nats_is_down_operations_fail_at_once_and_work_again_after) {
  nats_server srv(jetstream_server_options());
  asio::io_context ioc;
  node a(ioc.get_executor(), make_config(srv, "a"));
  BOOST_REQUIRE_EQUAL(start(ioc, a), error_code{});
  kv_store s(a);
  BOOST_REQUIRE_EQUAL(*write(ioc, s, "global.k", "1").ec, error_code{});
  srv.stop();
  BOOST_REQUIRE(run_until(ioc, [&] { return !a.is_connected(); }, 10s));
  BOOST_CHECK_EQUAL(*write(ioc, s, "global.k", "2").ec, make_error_code(nats::error::not_connected));
  BOOST_CHECK_EQUAL(*get(ioc, s, "global.k").ec, make_error_code(nats::error::not_connected));
  srv.start();
  BOOST_REQUIRE(run_until(ioc, [&] { return a.is_connected(); }, 20s));
  BOOST_CHECK_EQUAL(get(ioc, s, "global.k").value.value, "1");  // the refused write left nothing
  BOOST_CHECK_EQUAL(*write(ioc, s, "global.k", "3").ec, error_code{});
  BOOST_CHECK_EQUAL(get(ioc, s, "global.k").value.value, "3");
  BOOST_CHECK_EQUAL(stop(ioc, a), error_code{});
}
