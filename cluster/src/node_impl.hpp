// The cluster node's state machine and engines (internal). See cluster.hpp for the contract and
// docs/cluster.md for the design. Everything runs on the node's executor; coroutines keep the
// node_impl alive through shared_from_this.
#pragma once

#include "outbox_file.hpp"
#include "values.hpp"

#include <nats/cluster/cluster.hpp>
#include <nats/connection.hpp>
#include <nats/js/context.hpp>
#include <nats/js/pull.hpp>
#include <nats/kv/kv.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <deque>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace nats::cluster::detail {

using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

/// Header carrying the absolute expiry (ms since the epoch, publisher clock) of an ephemeral message.
inline constexpr std::string_view expires_header = "Nats-Cluster-Expires";
/// Header carrying the TTL in ms (informative; lets a reader judge against the stream timestamp).
inline constexpr std::string_view ttl_header = "Nats-Cluster-TTL";
/// Header of durable messages: "<publisher session>.<n>", n counting 1, 2, ... per session and subject,
/// so a subscriber can hand them out in publish order although a resent one is stored late.
inline constexpr std::string_view seq_header = "Nats-Cluster-Seq";
/// Headers of cluster requests and replies: the sending instance, and (requests) how long the
/// requester waits, in ms, so a responder forgets requests nobody waits for.
inline constexpr std::string_view from_header = "Nats-Cluster-From";
inline constexpr std::string_view timeout_header = "Nats-Cluster-Timeout";

/// Headers a host may add: valid, and none of the reserved "Nats-" names (invalid_config, invalid_header).
boost::system::error_code check_user_headers(const nats::headers& hdrs);

struct outbox_entry {
  outbox_record rec;
  nats::headers hdrs;          ///< parsed rec.headers
  std::size_t bytes = 0;
  std::uint64_t inflight_send = 0;  ///< id of the send awaiting its ack on this link; 0: waiting
  std::uint32_t attempts = 0;       ///< sends so far
  bool msg_id_in_hdrs = false;      ///< hdrs carries Nats-Msg-Id (added at the first send)
  // std::optional: Boost 1.81's any_completion_handler move-assignment recurses; only move-construct it.
  std::optional<void_handler> handler;  ///< caller still waiting (empty once completed)
};

/// A delivery waiting for a missing predecessor of the same publisher session and subject.
struct held_delivery {
  delivery d;
  nats::message ack;  ///< subject + reply (the ack subject)
  std::chrono::steady_clock::time_point since;
};

/// Publish order of one (publisher session, subject) as seen by one subscription.
struct order_track {
  std::uint64_t next = 0;                          ///< the sequence expected next
  std::map<std::uint64_t, held_delivery> held;     ///< arrived ahead of `next`
  std::uint64_t last_use = 0;
};

struct sub_state {
  std::uint64_t id = 0;
  subscribe_options opts;
  std::vector<std::string> patterns;       ///< full patterns "<prefix>.<pattern>"
  delivery_handler handler;
  std::string consumer;
  std::chrono::system_clock::time_point subscribed_at;  ///< start of a new_only consumer created later
  bool active = true;
  bool consumer_ready = false;
  bool creating = false;
  js::consumer_stream stream;
  // Duplicates the server does not flag (delivery count 1 again after a consumer leader change, or a
  // message stored twice when a Msg-Id outlived the new leader's de-duplication state): first
  // deliveries come in increasing stream order, so a sequence at or below the high-water mark, or a
  // Msg-Id seen recently, is a repeat.
  std::uint64_t high_seq = 0;
  // A consumer found with deliveries still unacknowledged when this subscription first attaches: they
  // were handed to an earlier process (stopped, killed) or an earlier subscription of this key, and
  // would come back only after ack wait, behind newer messages. The consumer is re-created at its ack
  // floor so they come at once; stream sequences up to `repeat_upto` may have been seen and are flagged.
  std::uint64_t repeat_upto = 0;
  bool attached = false;  ///< the consumer was attached once (the check above is done)
  std::unordered_set<std::uint64_t> recent_ids;  ///< hashes of recent Msg-Ids
  std::deque<std::uint64_t> recent_order;
  // Publish order (seq_header): "<session> <subject>" -> track; deliveries held across all tracks.
  std::unordered_map<std::string, order_track> order;
  std::size_t held = 0;
  std::size_t unacked = 0;  ///< manual mode: handed out, not yet acked/naked by the host
  /// Manual mode: stream sequence -> the delivery id handed out for it. A redelivery (the host did
  /// not ack within ack wait) replaces the older id, so a flow that never acks cannot grow memory.
  std::unordered_map<std::uint64_t, std::uint64_t> pending_by_seq;
  std::uint64_t order_uses = 0;
  std::unique_ptr<boost::asio::steady_timer> hold_timer;
  std::chrono::steady_clock::time_point hold_timer_at{};
};

/// A responder (node::serve): its queue subscriptions on the request subjects.
struct responder_state {
  std::uint64_t id = 0;
  serve_options opts;
  request_handler handler;
  std::vector<nats::subscription> subs;
};

/// A request handed to a responder, waiting for node::respond.
struct waiting_request {
  std::string reply;
  std::chrono::steady_clock::time_point deadline;
};

struct pending_delivery {
  std::uint64_t sub = 0;
  std::uint64_t stream_seq = 0;
  nats::message msg;  ///< only the reply (the ack subject)
};

struct peer {
  presence_value value;
  std::uint64_t revision = 0;
  std::chrono::steady_clock::time_point last_change{};
  std::chrono::system_clock::time_point last_seen{};
  presence state = presence::online;
  bool legacy = false;
  bool cleaning = false;
};

/// The latest value of a `leaders.<group>` key seen by the watch (discovery shows live ones).
struct lease_seen {
  std::string candidate;
  std::uint64_t token = 0;
  std::uint64_t revision = 0;
  std::chrono::milliseconds lease{0};
  std::chrono::steady_clock::time_point at{};  ///< seen (by our monotonic clock, aged like presence)
  std::chrono::system_clock::time_point wall{};
};

class node_impl : public std::enable_shared_from_this<node_impl> {
 public:
  using executor_type = boost::asio::any_io_executor;
  node_impl(executor_type ex, config cfg);
  ~node_impl();

  void start(void_handler h);
  void publish(std::string_view subject, std::string_view payload, const publish_options& opts, void_handler h);
  void register_endpoint(std::string_view subject, delivery_mode mode, std::chrono::milliseconds ttl, void_handler h);
  std::uint64_t subscribe(const subscribe_options& opts, delivery_handler handler, boost::system::error_code& ec);
  boost::system::error_code ack(std::uint64_t id);
  boost::system::error_code nak(std::uint64_t id, std::chrono::milliseconds delay);
  void forget_pending(std::unordered_map<std::uint64_t, pending_delivery>::iterator it);
  void unsubscribe(std::uint64_t id, bool remove_consumer, void_handler h);
  void send_request(std::string_view subject, std::string_view payload, const request_options& opts,
                    boost::asio::any_completion_handler<void(boost::system::error_code, reply)> h);
  std::uint64_t serve(const serve_options& opts, request_handler handler, boost::system::error_code& ec);
  boost::system::error_code respond(std::uint64_t id, std::string_view payload, const nats::headers& headers);
  boost::system::error_code stop_serving(std::uint64_t id);
  std::vector<instance_info> snapshot() const;
  void stop(std::chrono::milliseconds timeout, void_handler h);
  void shutdown();  ///< abrupt (destructor)

  executor_type ex_;
  config cfg_;
  std::string prefix_, stream_, bucket_, session_;
  status_handler on_status_;
  discovery_handler on_discovery_;
  status_event status_;
  node_stats stats_;

  bool is_ready() const noexcept { return ready_; }
  std::size_t outbox_count() const noexcept { return outbox_.size(); }
  std::size_t outbox_size_bytes() const noexcept { return outbox_bytes_; }
  /// The bound bucket while the link is up and set up (leader election, host KV use); else null.
  kv::bucket* ready_bucket() noexcept { return ready_ && bucket_ready_ ? &kv_ : nullptr; }

 private:
  enum class phase { idle, starting, running, stopping, stopped };

  // link
  void on_connection_event(const nats::event& ev);
  boost::asio::awaitable<void> setup(std::uint64_t gen);
  boost::asio::awaitable<boost::system::error_code> ensure_stream();
  boost::asio::awaitable<boost::system::error_code> ensure_bucket();
  boost::asio::awaitable<boost::system::error_code> check_duplicate();
  boost::asio::awaitable<boost::system::error_code> register_presence();
  void link_down(const boost::system::error_code& why);
  void on_failed_attempt(const nats::reconnect_context& ctx, std::optional<std::chrono::milliseconds> next);
  void fatal(const boost::system::error_code& ec, const std::string& text);
  void finish_start(const boost::system::error_code& ec);

  // outbox / publishing
  boost::system::error_code enqueue(outbox_record rec, std::size_t header_bytes = 0);
  void pump();
  bool send(outbox_entry& e);  ///< false: not written (queued for resend)
  void on_publish_result(std::uint64_t seq, std::uint64_t send_id, const boost::system::error_code& ec, bool duplicate);
  void resend_later(outbox_entry& e, std::uint64_t seq);
  void complete_entry(outbox_entry& e, const boost::system::error_code& ec);
  void erase_entry(std::uint64_t seq);
  void schedule_pump(std::chrono::milliseconds delay);
  void note_outbox_change();
  // Durable sends await their PubAck on one inbox subscription of the node (reply `<ack_prefix_><seq>-<id>`,
  // base 36): no request object, timer or handler per message. Sends of one link share one timeout,
  // so the oldest in flight is always the first due and one timer serves them all.
  struct inflight_send {
    std::uint64_t seq = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  bool ensure_ack_inbox();
  void on_ack_reply(nats::message&& m);
  void arm_ack_timer();
  void on_ack_timer();
  std::map<std::uint64_t, inflight_send> inflight_;  ///< send id -> outbox seq + deadline, on this link
  nats::subscription ack_sub_;
  std::string ack_prefix_;  ///< "<inbox>." once subscribed
  std::string ack_reply_;   ///< scratch: the reply subject being written
  std::unique_ptr<boost::asio::steady_timer> ack_timer_;
  std::chrono::steady_clock::time_point ack_timer_at_ = std::chrono::steady_clock::time_point::max();
  std::uint64_t next_send_id_ = 1;
  std::uint64_t next_unsent_ = 0;  ///< outbox seq where pump() continues (older ones are in flight)
  std::set<std::uint64_t> retrying_;  ///< outbox seqs being resent: new messages wait until they are stored
  std::unordered_map<std::string, std::uint64_t> subject_seq_;  ///< durable messages per subject (seq_header)

  // endpoints
  void flush_endpoints();

  // subscriptions
  boost::asio::awaitable<void> ensure_consumer(std::shared_ptr<sub_state> s);
  boost::asio::awaitable<void> consume(std::shared_ptr<sub_state> s);
  void handle_message(const std::shared_ptr<sub_state>& s, nats::message& m);
  void deliver(sub_state& s, delivery&& d, nats::message&& ack);
  void release(sub_state& s, order_track& t, bool skip_gap);
  void check_holds(const std::shared_ptr<sub_state>& s);
  void arm_hold_timer(const std::shared_ptr<sub_state>& s);
  std::chrono::milliseconds hold_time(const sub_state& s) const;
  std::chrono::milliseconds ack_wait_of(const sub_state& s) const;

  // groups (subscribe_options::group)
  std::vector<group_membership> my_groups() const;
  bool group_has_other_members(const std::string& group) const;
  void refresh_presence();
  boost::asio::awaitable<boost::system::error_code> write_presence();

  // request / reply
  void subscribe_responder(responder_state& r);
  void on_request(std::uint64_t responder, nats::message&& m);

  // presence / discovery
  boost::asio::awaitable<void> heartbeat_loop();
  boost::asio::awaitable<void> watch_loop();
  boost::asio::awaitable<void> heartbeat_once();
  void apply_entry(const kv::entry& e);
  void check_stale();
  instance_info info_of(const std::string& id, const peer* p) const;
  std::vector<lease_info> leads_of(const std::string& id) const;
  void emit_discovery(discovery_kind k, const std::string& id, std::optional<endpoint_info> ep = std::nullopt);

  void emit_status(status_kind k, boost::system::error_code ec = {}, std::string text = {});
  void post_handler(void_handler h, boost::system::error_code ec);

  phase phase_ = phase::idle;
  std::unique_ptr<nats::connection> nc_;
  std::unique_ptr<js::context> js_;
  kv::bucket kv_;
  bool bucket_ready_ = false;
  bool ready_ = false;
  bool first_setup_done_ = false;
  bool setup_running_ = false;
  std::uint64_t gen_ = 1;  ///< link generation: bumped on every link loss
  std::optional<void_handler> start_handler_;
  std::unique_ptr<boost::asio::steady_timer> start_timer_;
  bool stream_allows_ttl_ = false;
  std::int64_t started_ms_ = 0;

  // outbox
  std::map<std::uint64_t, outbox_entry> outbox_;
  std::size_t outbox_bytes_ = 0;
  std::uint64_t next_seq_ = 1;
  outbox_file file_;
  std::unique_ptr<boost::asio::steady_timer> pump_timer_;
  bool pump_scheduled_ = false;
  std::unique_ptr<boost::asio::steady_timer> outbox_status_timer_;
  bool outbox_status_pending_ = false;

  // endpoints: relative subject -> value; those not yet written
  std::map<std::string, endpoint_value, std::less<>> my_endpoints_;
  std::set<std::string> endpoints_dirty_;
  bool endpoints_flushing_ = false;

  // subscriptions
  std::map<std::uint64_t, std::shared_ptr<sub_state>> subs_;
  std::unordered_map<std::uint64_t, pending_delivery> pending_;
  std::uint64_t next_sub_id_ = 1;
  std::uint64_t next_delivery_id_ = 1;
  std::string order_key_;  ///< scratch for order lookups
  bool multi_filter_ = false;

  // responders and the requests they handed out
  std::map<std::uint64_t, std::shared_ptr<responder_state>> responders_;
  std::map<std::uint64_t, waiting_request> waiting_requests_;
  std::uint64_t next_responder_id_ = 1;
  std::uint64_t next_request_id_ = 1;

  // presence
  bool presence_busy_ = false;   ///< a write_presence() runs
  bool presence_again_ = false;  ///< ... and must write once more (groups changed meanwhile)
  nats::subscription ping_sub_;
  std::uint64_t presence_rev_ = 0;
  bool duplicate_reported_ = false;
  std::unique_ptr<boost::asio::steady_timer> heartbeat_timer_;
  kv::watcher watcher_;
  bool watching_ = false;
  bool caught_up_ = false;
  std::map<std::string, peer> peers_;
  std::map<std::string, lease_seen> leases_;  ///< group → latest lease value seen
  std::map<std::string, std::map<std::string, endpoint_value>> endpoints_;  ///< instance -> subject -> value
};

}  // namespace nats::cluster::detail
