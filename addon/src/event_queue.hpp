// Everything the io thread reports to JavaScript for one cluster node (operation results, deliveries,
// status and discovery events) goes through one queue and one thread-safe function. The io thread only
// appends; the first append after a drain schedules one JS call, which takes the whole batch, so under
// load one JS call carries many messages.
#pragma once

#include <nats/cluster/cluster.hpp>
#include <nats/cluster/leader.hpp>

#include <napi.h>

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace addon {

/// Host key-value results (kv()): a value with its revision, a revision, or a key list.
struct kv_result {
  std::optional<std::string> value;
  std::uint64_t revision = 0;
  std::optional<std::vector<std::string>> keys;
};
struct result_event {
  std::uint64_t call = 0;
  boost::system::error_code ec;
  std::string detail;
  std::optional<std::vector<nats::cluster::instance_info>> instances;  // discover()
  std::optional<double> number;                                        // subscribe(): the id
  std::optional<kv_result> kv;                                         // kv()
  std::optional<nats::cluster::reply> reply;                           // request()
};
struct delivery_event {
  std::uint64_t sub = 0;  // the addon's subscription id (as returned to JS)
  nats::cluster::delivery d;
};
struct status_js_event {
  nats::cluster::status_event s;
};
struct discovery_js_event {
  nats::cluster::discovery_event d;
};
struct leader_js_event {
  std::uint64_t handle = 0;  // the addon's election id (lib/backend.js Leader)
  nats::cluster::leader_event ev;
};
struct request_js_event {
  std::uint64_t responder = 0;  // the addon's responder id (as returned to JS)
  nats::cluster::request q;
};
using js_event = std::variant<result_event, delivery_event, status_js_event, discovery_js_event, leader_js_event,
                              request_js_event>;

class event_queue : public std::enable_shared_from_this<event_queue> {
 public:
  /// JS thread. `callback(batch)` receives an array of plain objects (see lib/backend.js).
  void open(Napi::Env env, Napi::Function callback);
  /// Any thread. Dropped silently once the queue is closed.
  void push(js_event e);
  /// Any thread: deliver what is queued, then release the thread-safe function.
  void close_after_drain();
  /// JS thread: whether the queue keeps the event loop alive (lib/backend.js: while calls await their
  /// answer). No effect once the queue is released.
  void keep_loop_alive(Napi::Env env, bool on);
  bool closed() const;

 private:
  void drain(Napi::Env env, Napi::Function cb);
  void schedule_locked();

  mutable std::mutex m_;
  std::vector<js_event> items_;
  bool scheduled_ = false;
  bool closing_ = false;
  bool closed_ = true;
  Napi::ThreadSafeFunction tsfn_;
};

}  // namespace addon
