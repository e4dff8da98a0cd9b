// A cluster node: one instance of a cluster of Node-RED processes (or any Asio programs) over NATS,
// wire-compatible with node-red-cluster 0.0.55 (see docs/cluster.md).
//
// A non-template façade: member templates only wrap the completion handler, the work is compiled in
// the library. Runs on the executor it is given and starts no thread; call every member from that
// executor (a strand if the io_context runs on several threads). Handlers (status, discovery,
// deliveries) are called on that executor too. Completion tokens: any Asio token (callbacks,
// use_awaitable, use_future, deferred).
#pragma once

#include <nats/cluster/config.hpp>
#include <nats/cluster/error.hpp>
#include <nats/cluster/naming.hpp>
#include <nats/cluster/types.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nats::cluster {

namespace detail {
class node_impl;
}
class leader_election;
class kv_store;

class node {
 public:
  using executor_type = boost::asio::any_io_executor;

  node(executor_type ex, config cfg);
  ~node();  ///< stops abruptly (no presence removal); prefer async_stop
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  executor_type get_executor() const noexcept;
  const config& get_config() const noexcept;
  /// "<prefix>", stream and bucket names in use.
  const std::string& prefix() const noexcept;
  const std::string& stream() const noexcept;
  const std::string& bucket() const noexcept;
  bool is_connected() const noexcept;
  node_stats stats() const noexcept;

  /// Validates the config, opens the outbox file (replaying what it holds), connects, makes sure the
  /// stream and bucket exist (existing ones are used as they are), checks that no live process uses
  /// the instance id, registers presence and starts heartbeats, discovery and the outbox pump.
  /// `void(error_code)`. With config::wait_until_ready it completes when all that is done (errors:
  /// invalid_*, duplicate_instance, jetstream_unavailable, auth errors, timeout); otherwise it
  /// completes after validation and the rest happens in the background (reported by status events).
  template <class Token>
  auto async_start(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto h) { start_impl(void_handler(std::move(h))); }, token);
  }

  /// Publishes `payload` on "<prefix>.<instance>.<subject>". `void(error_code)`, completing when the
  /// message is accepted: durable = acknowledged by JetStream; ephemeral = written to the connection;
  /// while disconnected (either mode) = stored in the outbox, from which it goes out in order on
  /// reconnect. Errors: observer_cannot_publish, invalid_subject, outbox_full, outbox_io,
  /// not_started, stopped. Publishes from one node keep their order. The subject is registered as an
  /// endpoint ("endpoints.<id>.<subject>") the first time it is used with a mode/TTL.
  template <class Token>
  auto async_publish(std::string_view subject, std::string_view payload, const publish_options& opts,
                     Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, subject, payload, opts](auto h) { publish_impl(subject, payload, opts, void_handler(std::move(h))); },
        token);
  }

  /// Registers (or refreshes) an endpoint without publishing, e.g. when a publish node is deployed.
  /// `void(error_code)`.
  template <class Token>
  auto async_register_endpoint(std::string_view subject, delivery_mode mode, std::chrono::milliseconds ttl,
                               Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, subject, mode, ttl](auto h) { register_endpoint_impl(subject, mode, ttl, void_handler(std::move(h))); },
        token);
  }

  /// Subscribes; returns the subscription id (0 and `ec` set on error: invalid_pattern, invalid_key,
  /// duplicate_key, stopped). Works before the node is connected: the consumer is created/bound
  /// when it is. Each message is handed to `handler` once per delivery on the node's executor;
  /// messages matching several patterns are delivered once.
  std::uint64_t subscribe(const subscribe_options& opts, delivery_handler handler, boost::system::error_code& ec);

  /// Acknowledges a delivery (ack_mode::manual): it will not be redelivered. unknown_subscription when
  /// the id is not pending (already acked, or its subscription is gone).
  boost::system::error_code ack(std::uint64_t delivery_id);
  /// Asks for redelivery of a delivery now (or after `delay`).
  boost::system::error_code nak(std::uint64_t delivery_id, std::chrono::milliseconds delay = {});

  /// Stops a subscription. remove_consumer = true deletes its durable consumer for good (messages
  /// published meanwhile are not kept for it); false keeps it (restart/redeploy resumes). `void(error_code)`.
  template <class Token>
  auto async_unsubscribe(std::uint64_t id, bool remove_consumer, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, id, remove_consumer](auto h) { unsubscribe_impl(id, remove_consumer, void_handler(std::move(h))); },
        token);
  }

  /// Sends a request to a responder of the relative `subject` (node::serve on some instance) and
  /// waits for its answer: `void(error_code, reply)`. opts.instance picks the instance, opts.group a
  /// responder group; otherwise any responder of the subject answers. Requests are core NATS
  /// messages on "_CLUSTER.<stream>.req.…" (not stored, not queued while disconnected). Errors:
  /// invalid_subject, invalid_instance_id, invalid_group, invalid_config (reserved header, zero
  /// timeout, instance and group both set), payload_too_large, not_connected, no_responders, timeout,
  /// not_started, stopped.
  template <class Token>
  auto async_request(std::string_view subject, std::string_view payload, const request_options& opts,
                     Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, reply)>(
        [this, subject, payload, opts](auto h) { request_impl(subject, payload, opts, reply_handler(std::move(h))); },
        token);
  }

  /// Answers requests for a relative subject (wildcards allowed): each request is handed to
  /// `handler` on the node's executor; answer with respond(). Returns the responder id (0 and `ec`
  /// set on error: invalid_pattern, invalid_group, invalid_config, stopped). Works before start.
  std::uint64_t serve(const serve_options& opts, request_handler handler, boost::system::error_code& ec);
  /// Sends the answer to a request handed out by serve(). unknown_request when the id is not
  /// waiting (answered already, or its requester's deadline passed); invalid_config for a reserved
  /// header; payload_too_large; not_connected.
  boost::system::error_code respond(std::uint64_t request_id, std::string_view payload,
                                    const nats::headers& headers = {});
  /// Stops a responder (requests it handed out can still be answered until their deadline).
  boost::system::error_code stop_serving(std::uint64_t responder_id);

  /// Instances and their endpoints as known now (`void(error_code, std::vector<instance_info>)`):
  /// the view kept current by the node's watch on the bucket (the last known view while disconnected).
  template <class Token>
  auto async_discover(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::vector<instance_info>)>(
        [this](auto h) { discover_impl(discover_handler(std::move(h))); }, token);
  }

  /// Status events (connecting, connected, disconnected, reconnecting, error, closed, outbox changes).
  void set_status_handler(status_handler h);
  /// Discovery events (joined, left, stale, endpoint added/removed).
  void set_discovery_handler(discovery_handler h);
  /// The latest status.
  status_event status() const;

  /// Clean stop (`void(error_code)`): waits (bounded by `timeout`) for the outbox to drain and for
  /// in-flight deliveries, stops subscriptions (keeping their consumers), removes this instance's
  /// presence entry, drains and closes the connection. outbox_not_drained when messages were left in a
  /// memory-only outbox (a file outbox keeps them for the next start).
  template <class Token>
  auto async_stop(std::chrono::milliseconds timeout, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this, timeout](auto h) { stop_impl(timeout, void_handler(std::move(h))); }, token);
  }

  /// One-shot connection test with the config's servers, credentials and TLS (`void(test_result)`):
  /// reachability, TLS, auth, JetStream. Never more than `timeout`.
  template <class Token>
  static auto async_test_connection(executor_type ex, const config& cfg, std::chrono::milliseconds timeout,
                                    Token&& token) {
    return boost::asio::async_initiate<Token, void(test_result)>(
        [ex, cfg, timeout](auto h) { test_connection_impl(ex, cfg, timeout, test_handler(std::move(h))); }, token);
  }

 private:
  friend class leader_election;  // campaigns on the node's bucket and connection
  friend class kv_store;         // host key-values on the node's connection
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  using discover_handler =
      boost::asio::any_completion_handler<void(boost::system::error_code, std::vector<instance_info>)>;
  using test_handler = boost::asio::any_completion_handler<void(test_result)>;
  using reply_handler = boost::asio::any_completion_handler<void(boost::system::error_code, reply)>;

  void start_impl(void_handler h);
  void publish_impl(std::string_view subject, std::string_view payload, const publish_options& opts, void_handler h);
  void register_endpoint_impl(std::string_view subject, delivery_mode mode, std::chrono::milliseconds ttl,
                              void_handler h);
  void unsubscribe_impl(std::uint64_t id, bool remove_consumer, void_handler h);
  void discover_impl(discover_handler h);
  void request_impl(std::string_view subject, std::string_view payload, const request_options& opts, reply_handler h);
  void stop_impl(std::chrono::milliseconds timeout, void_handler h);
  static void test_connection_impl(executor_type ex, config cfg, std::chrono::milliseconds timeout, test_handler h);

  std::shared_ptr<detail::node_impl> impl_;
};

}  // namespace nats::cluster
