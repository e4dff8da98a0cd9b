// JS class `Cluster` (lib/backend.js wraps it): one nats::cluster::node living on the shared io thread.
// Every method copies its arguments, posts the work to the io thread and returns at once; results come
// back through the node's event_queue, tagged with the call id JS passed in.
#pragma once

#include "event_queue.hpp"

#include <nats/cluster/cluster.hpp>
#include <nats/cluster/leader.hpp>
#include <nats/cluster/store.hpp>

#include <napi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace addon {

/// State shared by the JS object and the io thread. `node` and `subs` are touched on the io thread only.
struct cluster_state {
  std::unique_ptr<nats::cluster::node> node;
  std::shared_ptr<event_queue> queue = std::make_shared<event_queue>();
  std::map<std::uint64_t, std::uint64_t> subs;  // addon subscription id -> cluster subscription id
  std::unique_ptr<nats::cluster::kv_store> store;  // host key-values (src/kv_wrap.cpp), made on first use
  // Leader elections (src/leader_wrap.cpp): made, used and destroyed on the io thread; their
  // thread-safe views are read by the JS thread (isLeader) under views_mutex.
  std::map<std::uint64_t, std::unique_ptr<nats::cluster::leader_election>> leaders;
  std::mutex views_mutex;
  std::map<std::uint64_t, std::shared_ptr<const nats::cluster::leadership>> views;
  std::map<std::uint64_t, std::uint64_t> responders;  // addon responder id -> cluster responder id
  std::uint64_t shutdown_hook = 0;
  bool stopping = false;
};

class cluster_wrap : public Napi::ObjectWrap<cluster_wrap> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit cluster_wrap(const Napi::CallbackInfo& info);
  ~cluster_wrap() override;

 private:
  Napi::Value start(const Napi::CallbackInfo& info);
  Napi::Value publish(const Napi::CallbackInfo& info);
  Napi::Value publish_batch(const Napi::CallbackInfo& info);
  Napi::Value ack_batch(const Napi::CallbackInfo& info);
  Napi::Value settle_batch(const Napi::CallbackInfo& info);
  Napi::Value register_endpoint(const Napi::CallbackInfo& info);
  Napi::Value subscribe(const Napi::CallbackInfo& info);
  Napi::Value ack(const Napi::CallbackInfo& info);
  Napi::Value unsubscribe(const Napi::CallbackInfo& info);
  Napi::Value discover(const Napi::CallbackInfo& info);
  Napi::Value request(const Napi::CallbackInfo& info);
  Napi::Value serve(const Napi::CallbackInfo& info);
  Napi::Value respond(const Napi::CallbackInfo& info);
  Napi::Value stop_serving(const Napi::CallbackInfo& info);
  Napi::Value stop(const Napi::CallbackInfo& info);
  Napi::Value keep_alive(const Napi::CallbackInfo& info);
  Napi::Value kv(const Napi::CallbackInfo& info);  // src/kv_wrap.cpp
  Napi::Value leader_start(const Napi::CallbackInfo& info);  // src/leader_wrap.cpp
  Napi::Value leader_stop(const Napi::CallbackInfo& info);
  Napi::Value is_leader(const Napi::CallbackInfo& info);

  std::shared_ptr<cluster_state> state_;
  std::uint64_t next_sub_ = 1;
  std::uint64_t next_responder_ = 1;
  bool stop_requested_ = false;
};

/// testConnection(config, timeoutMs, callback(result)).
Napi::Value test_connection(const Napi::CallbackInfo& info);

}  // namespace addon
