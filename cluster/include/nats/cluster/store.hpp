// Key-value storage for the host (e.g. Node-RED context) on a cluster node's connection, in a bucket of
// its own named after the cluster: `CLUSTER_<stream>_<suffix>` (default `CLUSTER_NODERED_CLUSTER_CONTEXT`),
// created with history 1 when missing (an existing one is used as it is). A bucket separate from the
// presence bucket, so the nodes' discovery watch never carries host data.
//
// Operations need the node's link: while NATS is unreachable they fail at once with
// nats::error::not_connected (no queueing: the host decides what a failed write means). Values larger
// than the server's max_payload fail with error::payload_too_large before anything is sent; keys
// follow the KV rules (kv::error::invalid_key). Revisions allow compare-and-set (async_update).
// Call from the node's executor; handlers run there.
#pragma once

#include <nats/cluster/cluster.hpp>
#include <nats/kv/entry.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nats::cluster {

struct store_options {
  std::string suffix = "CONTEXT";  ///< bucket CLUSTER_<stream>_<suffix>
  int replicas = 0;                ///< when created; 0: the node's config::bucket_replicas
};

namespace detail {
class store_impl;
}

class kv_store {
 public:
  kv_store(node& n, store_options opts = {});
  ~kv_store();
  kv_store(const kv_store&) = delete;
  kv_store& operator=(const kv_store&) = delete;

  const std::string& bucket() const noexcept;

  /// `void(error_code, kv::entry)`; kv::error::key_not_found when absent.
  template <class Token>
  auto async_get(std::string_view key, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, kv::entry)>(
        [this, k = std::string(key)](auto h) { get_impl(k, entry_handler(std::move(h))); }, token);
  }
  /// `void(error_code, std::uint64_t revision)`
  template <class Token>
  auto async_put(std::string_view key, std::string_view value, Token&& token) {
    return init_rev(token, key, value, -1);
  }
  /// Only when absent (kv::error::key_exists otherwise).
  template <class Token>
  auto async_create(std::string_view key, std::string_view value, Token&& token) {
    return init_rev(token, key, value, 0);
  }
  /// Compare-and-set on `revision` (kv::error::wrong_revision otherwise).
  template <class Token>
  auto async_update(std::string_view key, std::string_view value, std::uint64_t revision, Token&& token) {
    return init_rev(token, key, value, static_cast<std::int64_t>(revision));
  }
  /// Writes a delete marker. `void(error_code)`
  template <class Token>
  auto async_delete(std::string_view key, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, k = std::string(key)](auto h) { delete_impl(k, void_handler(std::move(h))); }, token);
  }
  /// Keys with a live value matching `filter` (`>`: all). `void(error_code, std::vector<std::string>)`
  template <class Token>
  auto async_keys(std::string_view filter, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::vector<std::string>)>(
        [this, f = std::string(filter)](auto h) { keys_impl(f, keys_handler(std::move(h))); }, token);
  }

 private:
  using entry_handler = boost::asio::any_completion_handler<void(boost::system::error_code, kv::entry)>;
  using rev_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::uint64_t)>;
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  using keys_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, std::vector<std::string>)>;

  template <class Token>
  auto init_rev(Token& token, std::string_view key, std::string_view value, std::int64_t expect) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::uint64_t)>(
        [this, k = std::string(key), v = std::string(value), expect](auto h) {
          write_impl(k, v, expect, rev_handler(std::move(h)));
        },
        token);
  }
  void get_impl(const std::string& key, entry_handler h);
  /// expect: -1 put, 0 create, >0 compare-and-set on that revision.
  void write_impl(const std::string& key, const std::string& value, std::int64_t expect, rev_handler h);
  void delete_impl(const std::string& key, void_handler h);
  void keys_impl(const std::string& filter, keys_handler h);

  std::shared_ptr<detail::store_impl> impl_;
};

}  // namespace nats::cluster
