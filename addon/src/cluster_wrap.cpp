#include "cluster_wrap.hpp"

#include "convert.hpp"
#include "runtime.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace addon {

namespace asio = boost::asio;
namespace cl = nats::cluster;
using boost::system::error_code;

namespace {

std::uint64_t call_id(const Napi::CallbackInfo& info, std::size_t i = 0) {
  if (info.Length() <= i || !info[i].IsNumber()) throw make_error(info.Env(), "INVALID_ARGUMENT", "call id expected");
  return static_cast<std::uint64_t>(info[i].As<Napi::Number>().DoubleValue());
}

std::string string_arg(const Napi::CallbackInfo& info, std::size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw make_error(info.Env(), "INVALID_ARGUMENT", std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

void post(std::function<void()> f) { asio::post(runtime::instance().executor(), std::move(f)); }

result_event result(std::uint64_t id, error_code ec = {}, std::string detail = {}) {
  result_event r;
  r.call = id;
  r.ec = ec;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

Napi::Function cluster_wrap::define(Napi::Env env) {
  return DefineClass(env, "Cluster",
                     {
                         InstanceMethod<&cluster_wrap::start>("start"),
                         InstanceMethod<&cluster_wrap::publish>("publish"),
                         InstanceMethod<&cluster_wrap::publish_batch>("publishBatch"),
                         InstanceMethod<&cluster_wrap::ack_batch>("ackBatch"),
                         InstanceMethod<&cluster_wrap::settle_batch>("settleBatch"),
                         InstanceMethod<&cluster_wrap::register_endpoint>("registerEndpoint"),
                         InstanceMethod<&cluster_wrap::subscribe>("subscribe"),
                         InstanceMethod<&cluster_wrap::ack>("ack"),
                         InstanceMethod<&cluster_wrap::unsubscribe>("unsubscribe"),
                         InstanceMethod<&cluster_wrap::discover>("discover"),
                         InstanceMethod<&cluster_wrap::request>("request"),
                         InstanceMethod<&cluster_wrap::serve>("serve"),
                         InstanceMethod<&cluster_wrap::respond>("respond"),
                         InstanceMethod<&cluster_wrap::stop_serving>("stopServing"),
                         InstanceMethod<&cluster_wrap::stop>("stop"),
                         InstanceMethod<&cluster_wrap::keep_alive>("keepAlive"),
                         InstanceMethod<&cluster_wrap::kv>("kv"),
                         InstanceMethod<&cluster_wrap::leader_start>("leaderStart"),
                         InstanceMethod<&cluster_wrap::leader_stop>("leaderStop"),
                         InstanceMethod<&cluster_wrap::is_leader>("isLeader"),
                     });
}

// new Cluster(config, onBatch)
cluster_wrap::cluster_wrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<cluster_wrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    throw make_error(env, "INVALID_ARGUMENT", "new Cluster(config, onEvents)");
  }
  cl::config cfg = config_from_js(info[0].As<Napi::Object>());
  std::string bad_field;
  if (error_code ec = cl::validate(cfg, bad_field)) {
    throw make_error(env, error_code_name(ec), ec.message() + (bad_field.empty() ? "" : " (" + bad_field + ")"));
  }
  state_ = std::make_shared<cluster_state>();
  state_->queue->open(env, info[1].As<Napi::Function>());

  // The node is created, used and destroyed on the io thread.
  auto s = state_;
  std::weak_ptr<cluster_state> weak = s;
  s->shutdown_hook = runtime::instance().on_shutdown([weak] {
    if (auto st = weak.lock()) {  // process going away without stop(): abort
      st->leaders.clear();
      st->node.reset();
    }
  });
  post([s, cfg = std::move(cfg)]() mutable {
    try {
      s->node = std::make_unique<cl::node>(runtime::instance().executor(), std::move(cfg));
      auto q = s->queue;
      s->node->set_status_handler([q](const cl::status_event& e) { q->push(status_js_event{e}); });
      s->node->set_discovery_handler([q](const cl::discovery_event& e) { q->push(discovery_js_event{e}); });
    } catch (const std::exception& e) {
      cl::status_event st;
      st.kind = cl::status_kind::error;
      st.ec = cl::make_error_code(cl::error::invalid_config);
      st.text = e.what();
      s->queue->push(status_js_event{st});
    }
  });
}

cluster_wrap::~cluster_wrap() {
  // Collected without stop(): abort the node on the io thread, release the queue.
  if (!state_) return;
  runtime::instance().forget(state_->shutdown_hook);
  if (!stop_requested_) {
    auto s = state_;
    post([s] {
      s->leaders.clear();
      s->node.reset();
    });
    s->queue->close_after_drain();
  }
}

// start(callId)
Napi::Value cluster_wrap::start(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  auto s = state_;
  post([s, id] {
    if (!s->node) return s->queue->push(result(id, cl::make_error_code(cl::error::not_started)));
    try {
      s->node->async_start([s, id](error_code ec) { s->queue->push(result(id, ec)); });
    } catch (const std::exception& e) {
      s->queue->push(result(id, cl::make_error_code(cl::error::invalid_config), e.what()));
    }
  });
  return info.Env().Undefined();
}

// publish(callId, subject, payloadBuffer, mode, ttlSeconds)
Napi::Value cluster_wrap::publish(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  std::string subject = string_arg(info, 1, "subject");
  if (info.Length() < 3 || !info[2].IsBuffer()) throw make_error(info.Env(), "INVALID_ARGUMENT", "payload must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<char>>();
  std::string payload(buf.Data(), buf.Length());
  cl::publish_options opts;
  if (info.Length() > 3 && info[3].IsString() && info[3].As<Napi::String>().Utf8Value() == "ephemeral") {
    opts.mode = cl::delivery_mode::ephemeral;
  }
  if (info.Length() > 4 && info[4].IsNumber()) {
    double ttl = info[4].As<Napi::Number>().DoubleValue();
    if (ttl > 0) opts.ttl = std::chrono::milliseconds(static_cast<long long>(ttl * 1000.0));
  }
  auto s = state_;
  post([s, id, subject = std::move(subject), payload = std::move(payload), opts = std::move(opts)] {
    if (!s->node || s->stopping) return s->queue->push(result(id, cl::make_error_code(cl::error::stopped)));
    try {
      s->node->async_publish(subject, payload, opts, [s, id](error_code ec) { s->queue->push(result(id, ec)); });
    } catch (const std::exception& e) {
      s->queue->push(result(id, cl::make_error_code(cl::error::invalid_subject), e.what()));
    }
  });
  return info.Env().Undefined();
}

// registerEndpoint(callId, subject, mode, ttlSeconds): announce a publish subject before the first message.
Napi::Value cluster_wrap::register_endpoint(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  std::string subject = string_arg(info, 1, "subject");
  auto mode = cl::delivery_mode::durable;
  if (info.Length() > 2 && info[2].IsString() && info[2].As<Napi::String>().Utf8Value() == "ephemeral") {
    mode = cl::delivery_mode::ephemeral;
  }
  std::chrono::milliseconds ttl{0};
  if (info.Length() > 3 && info[3].IsNumber() && info[3].As<Napi::Number>().DoubleValue() > 0) {
    ttl = std::chrono::milliseconds(static_cast<long long>(info[3].As<Napi::Number>().DoubleValue() * 1000.0));
  }
  auto s = state_;
  post([s, id, subject = std::move(subject), mode, ttl] {
    if (!s->node || s->stopping) return s->queue->push(result(id, cl::make_error_code(cl::error::stopped)));
    s->node->async_register_endpoint(subject, mode, ttl, [s, id](error_code ec) { s->queue->push(result(id, ec)); });
  });
  return info.Env().Undefined();
}

// publishBatch(ids: Float64Array, subjects: string[], subjectOf: Uint32Array, payload: Buffer,
//              off: Uint32Array(n + 1), ephemeral: Uint8Array, ttls: Float64Array (seconds)):
// many publishes, one trip to the io thread (a burst from a flow costs one wake-up, not one per
// message), in order. Columns instead of per-message values keep the N-API calls per batch constant:
// message i is payload[off[i], off[i+1]) on subjects[subjectOf[i]].
Napi::Value cluster_wrap::publish_batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsTypedArray() || !info[1].IsArray() || !info[2].IsTypedArray() ||
      !info[3].IsBuffer() || !info[4].IsTypedArray() || !info[5].IsTypedArray() || !info[6].IsTypedArray()) {
    throw make_error(env, "INVALID_ARGUMENT", "publishBatch(ids, subjects, subjectOf, payload, off, ephemeral, ttls)");
  }
  auto ids = info[0].As<Napi::TypedArray>();
  auto subject_list = info[1].As<Napi::Array>();
  auto subject_of = info[2].As<Napi::TypedArray>();
  auto payload = info[3].As<Napi::Buffer<char>>();
  auto off = info[4].As<Napi::TypedArray>();
  auto eph = info[5].As<Napi::TypedArray>();
  auto ttls = info[6].As<Napi::TypedArray>();
  if (ids.TypedArrayType() != napi_float64_array || subject_of.TypedArrayType() != napi_uint32_array ||
      off.TypedArrayType() != napi_uint32_array || eph.TypedArrayType() != napi_uint8_array ||
      ttls.TypedArrayType() != napi_float64_array) {
    throw make_error(env, "INVALID_ARGUMENT", "publishBatch: wrong typed array types");
  }
  const std::size_t n = ids.ElementLength();
  if (subject_of.ElementLength() != n || off.ElementLength() != n + 1 || eph.ElementLength() != n || ttls.ElementLength() != n) {
    throw make_error(env, "INVALID_ARGUMENT", "publishBatch: columns of different lengths");
  }
  const auto* id_v = ids.As<Napi::Float64Array>().Data();
  const auto* subj_v = subject_of.As<Napi::Uint32Array>().Data();
  const auto* off_v = off.As<Napi::Uint32Array>().Data();
  const auto* eph_v = eph.As<Napi::Uint8Array>().Data();
  const auto* ttl_v = ttls.As<Napi::Float64Array>().Data();

  struct batch_t {
    std::vector<std::string> subjects;
    std::string payload;  // every message's bytes, back to back
    struct item {
      std::uint64_t id;
      std::uint32_t subject;
      std::uint32_t begin, end;
      cl::publish_options opts;
    };
    std::vector<item> items;
  };
  auto batch = std::make_shared<batch_t>();
  const std::uint32_t ns = subject_list.Length();
  batch->subjects.reserve(ns);
  for (std::uint32_t k = 0; k < ns; ++k) {
    Napi::Value sv = subject_list.Get(k);
    if (!sv.IsString()) throw make_error(env, "INVALID_ARGUMENT", "publishBatch: subjects must be strings");
    batch->subjects.push_back(sv.As<Napi::String>().Utf8Value());
  }
  batch->payload.assign(payload.Data(), payload.Length());
  batch->items.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch_t::item it{static_cast<std::uint64_t>(id_v[i]), subj_v[i], off_v[i], off_v[i + 1], {}};
    if (it.subject >= ns || it.begin > it.end || it.end > batch->payload.size()) {
      throw make_error(env, "INVALID_ARGUMENT", "publishBatch: subject index or payload offsets out of range");
    }
    if (eph_v[i]) it.opts.mode = cl::delivery_mode::ephemeral;
    if (ttl_v[i] > 0) it.opts.ttl = std::chrono::milliseconds(static_cast<long long>(ttl_v[i] * 1000.0));
    batch->items.push_back(std::move(it));
  }
  auto s = state_;
  post([s, batch] {
    const std::string_view all(batch->payload);
    for (auto& it : batch->items) {
      if (!s->node || s->stopping) {
        s->queue->push(result(it.id, cl::make_error_code(cl::error::stopped)));
        continue;
      }
      try {
        const auto id = it.id;
        // The cluster layer copies subject and payload before returning; the handler keeps the batch
        // anyway, so a view can never dangle.
        s->node->async_publish(batch->subjects[it.subject], all.substr(it.begin, it.end - it.begin), it.opts,
                               [s, id, batch](error_code ec) { s->queue->push(result(id, ec)); });
      } catch (const std::exception& e) {
        s->queue->push(result(it.id, cl::make_error_code(cl::error::invalid_subject), e.what()));
      }
    }
  });
  return env.Undefined();
}

// ackBatch(deliveryIds: Float64Array)
Napi::Value cluster_wrap::ack_batch(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw make_error(info.Env(), "INVALID_ARGUMENT", "ackBatch(ids: Float64Array)");
  auto a = info[0].As<Napi::Float64Array>();
  std::vector<std::uint64_t> ids(a.ElementLength());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::uint64_t>(a[i]);
  auto s = state_;
  post([s, ids = std::move(ids)] {
    if (!s->node) return;
    for (auto id : ids) (void)s->node->ack(id);
  });
  return info.Env().Undefined();
}

// settleBatch(callIds[], deliveryIds[], naks[], delaysMs[]): acks (naks[i] false) or naks (true, redelivery
// after delaysMs[i]) decided by the flow; each call id settles with the cluster layer's answer
// (UNKNOWN_SUBSCRIPTION: not pending any more: already settled, or its subscription stopped).
Napi::Value cluster_wrap::settle_batch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray()) {
    throw make_error(env, "INVALID_ARGUMENT", "settleBatch(callIds, deliveryIds, naks, delays)");
  }
  auto calls = info[0].As<Napi::Array>();
  auto deliveries = info[1].As<Napi::Array>();
  auto naks = info[2].As<Napi::Array>();
  auto delays = info[3].As<Napi::Array>();
  struct item {
    std::uint64_t call;
    std::uint64_t delivery;
    bool nak;
    std::chrono::milliseconds delay;
  };
  std::vector<item> items;
  const std::uint32_t n = calls.Length();
  if (deliveries.Length() != n || naks.Length() != n || delays.Length() != n) {
    throw make_error(env, "INVALID_ARGUMENT", "settleBatch: arrays of different lengths");
  }
  items.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    Napi::Value c = calls.Get(i), d = deliveries.Get(i), dl = delays.Get(i);
    if (!c.IsNumber() || !d.IsNumber()) throw make_error(env, "INVALID_ARGUMENT", "settleBatch: numeric ids expected");
    double delay = dl.IsNumber() ? dl.As<Napi::Number>().DoubleValue() : 0;
    if (!(delay > 0)) delay = 0;
    items.push_back(item{static_cast<std::uint64_t>(c.As<Napi::Number>().DoubleValue()),
                         static_cast<std::uint64_t>(d.As<Napi::Number>().DoubleValue()), naks.Get(i).ToBoolean().Value(),
                         std::chrono::milliseconds(static_cast<long long>(delay))});
  }
  auto s = state_;
  post([s, items = std::move(items)] {
    for (const auto& it : items) {
      if (!s->node || s->stopping) {
        s->queue->push(result(it.call, cl::make_error_code(cl::error::stopped)));
        continue;
      }
      error_code ec = it.nak ? s->node->nak(it.delivery, it.delay) : s->node->ack(it.delivery);
      s->queue->push(result(it.call, ec));
    }
  });
  return env.Undefined();
}

// subscribe(callId, {key, patterns: [...], start, ack, maxInFlight, group, ackWaitMs}) -> subscription id (sync); the call
// id settles when the subscription is registered (or failed).
Napi::Value cluster_wrap::subscribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto id = call_id(info);
  if (info.Length() < 2 || !info[1].IsObject()) throw make_error(env, "INVALID_ARGUMENT", "subscribe options expected");
  auto o = info[1].As<Napi::Object>();
  cl::subscribe_options opts;
  if (o.Get("key").IsString()) opts.key = o.Get("key").As<Napi::String>().Utf8Value();
  Napi::Value pv = o.Get("patterns");
  if (pv.IsArray()) {
    auto a = pv.As<Napi::Array>();
    for (std::uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsString()) continue;
      if (!opts.patterns.empty()) opts.patterns += ",";
      opts.patterns += a.Get(i).As<Napi::String>().Utf8Value();
    }
  } else if (pv.IsString()) {
    opts.patterns = pv.As<Napi::String>().Utf8Value();
  }
  std::string start = o.Get("start").IsString() ? o.Get("start").As<Napi::String>().Utf8Value() : "new";
  opts.start = start == "all" ? cl::start_position::all
             : start == "last" ? cl::start_position::last_per_subject
                               : cl::start_position::new_only;
  std::string ack = o.Get("ack").IsString() ? o.Get("ack").As<Napi::String>().Utf8Value() : "auto";
  // "auto": JS acks once the message was handed to the flow (manual here); "none": acked on arrival.
  opts.ack = ack == "none" ? cl::ack_mode::on_delivery : cl::ack_mode::manual;
  if (o.Get("maxInFlight").IsNumber()) {
    double m = o.Get("maxInFlight").As<Napi::Number>().DoubleValue();
    if (m > 0) opts.max_in_flight = static_cast<std::size_t>(m);
  }
  // Empty group: every instance gets every message (as before); a name: one member of the group.
  if (o.Get("group").IsString()) opts.group = o.Get("group").As<Napi::String>().Utf8Value();
  if (o.Get("ackWaitMs").IsNumber()) {
    double w = o.Get("ackWaitMs").As<Napi::Number>().DoubleValue();
    if (w > 0) opts.ack_wait = std::chrono::milliseconds(static_cast<long long>(w));
  }

  const std::uint64_t sub = next_sub_++;
  auto s = state_;
  post([s, id, sub, opts = std::move(opts)] {
    if (!s->node || s->stopping) return s->queue->push(result(id, cl::make_error_code(cl::error::stopped)));
    auto q = s->queue;
    error_code ec;
    std::uint64_t cid = 0;
    try {
      cid = s->node->subscribe(opts, [q, sub](cl::delivery&& d) { q->push(delivery_event{sub, std::move(d)}); }, ec);
    } catch (const std::exception& e) {
      return s->queue->push(result(id, cl::make_error_code(cl::error::invalid_pattern), e.what()));
    }
    if (!ec) s->subs[sub] = cid;
    auto r = result(id, ec);
    if (!ec) r.number = static_cast<double>(sub);
    s->queue->push(std::move(r));
  });
  return Napi::Number::New(env, static_cast<double>(sub));
}

// request(callId, subject, payloadBuffer, {instance, group, timeoutMs, headers}): settles with
// {payload, headers, instance} or an error (NO_RESPONDERS, TIMEOUT, NOT_CONNECTED, PAYLOAD_TOO_LARGE...).
Napi::Value cluster_wrap::request(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  std::string subject = string_arg(info, 1, "subject");
  if (info.Length() < 3 || !info[2].IsBuffer()) throw make_error(info.Env(), "INVALID_ARGUMENT", "payload must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<char>>();
  std::string payload(buf.Data(), buf.Length());
  cl::request_options opts;
  if (info.Length() > 3 && info[3].IsObject()) {
    auto o = info[3].As<Napi::Object>();
    if (o.Get("instance").IsString()) opts.instance = o.Get("instance").As<Napi::String>().Utf8Value();
    if (o.Get("group").IsString()) opts.group = o.Get("group").As<Napi::String>().Utf8Value();
    if (o.Get("timeoutMs").IsNumber()) {
      double t = o.Get("timeoutMs").As<Napi::Number>().DoubleValue();
      opts.timeout = std::chrono::milliseconds(t > 0 ? static_cast<long long>(t) : 0);
    }
    opts.headers = headers_from_js(o.Get("headers"));
  }
  auto s = state_;
  post([s, id, subject = std::move(subject), payload = std::move(payload), opts = std::move(opts)] {
    if (!s->node || s->stopping) return s->queue->push(result(id, cl::make_error_code(cl::error::stopped)));
    s->node->async_request(subject, payload, opts, [s, id](error_code ec, cl::reply r) {
      auto ev = result(id, ec);
      if (!ec) ev.reply = std::move(r);
      s->queue->push(std::move(ev));
    });
  });
  return info.Env().Undefined();
}

// serve(callId, {subject, group}) -> responder id (sync); requests arrive as {t: "q", responder, value}.
Napi::Value cluster_wrap::serve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto id = call_id(info);
  if (info.Length() < 2 || !info[1].IsObject()) throw make_error(env, "INVALID_ARGUMENT", "serve options expected");
  auto o = info[1].As<Napi::Object>();
  cl::serve_options opts;
  if (o.Get("subject").IsString()) opts.subject = o.Get("subject").As<Napi::String>().Utf8Value();
  if (o.Get("group").IsString()) opts.group = o.Get("group").As<Napi::String>().Utf8Value();
  const std::uint64_t responder = next_responder_++;
  auto s = state_;
  post([s, id, responder, opts = std::move(opts)] {
    if (!s->node || s->stopping) return s->queue->push(result(id, cl::make_error_code(cl::error::stopped)));
    auto q = s->queue;
    error_code ec;
    auto cid = s->node->serve(opts, [q, responder](cl::request&& r) { q->push(request_js_event{responder, std::move(r)}); }, ec);
    if (!ec) s->responders[responder] = cid;
    auto r = result(id, ec);
    if (!ec) r.number = static_cast<double>(responder);
    s->queue->push(std::move(r));
  });
  return Napi::Number::New(env, static_cast<double>(responder));
}

// respond(callId, requestId, payloadBuffer, headers)
Napi::Value cluster_wrap::respond(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsBuffer())
    throw make_error(info.Env(), "INVALID_ARGUMENT", "respond(callId, requestId, payload, headers)");
  const auto request = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  auto buf = info[2].As<Napi::Buffer<char>>();
  std::string payload(buf.Data(), buf.Length());
  nats::headers headers = info.Length() > 3 ? headers_from_js(info[3]) : nats::headers{};
  auto s = state_;
  post([s, id, request, payload = std::move(payload), headers = std::move(headers)] {
    if (!s->node || s->stopping) return s->queue->push(result(id, cl::make_error_code(cl::error::stopped)));
    s->queue->push(result(id, s->node->respond(request, payload, headers)));
  });
  return info.Env().Undefined();
}

// stopServing(callId, responderId)
Napi::Value cluster_wrap::stop_serving(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  if (info.Length() < 2 || !info[1].IsNumber()) throw make_error(info.Env(), "INVALID_ARGUMENT", "stopServing(callId, responderId)");
  const auto responder = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  auto s = state_;
  post([s, id, responder] {
    auto it = s->responders.find(responder);
    if (!s->node || it == s->responders.end()) return s->queue->push(result(id, {}));
    auto ec = s->node->stop_serving(it->second);
    s->responders.erase(it);
    s->queue->push(result(id, ec));
  });
  return info.Env().Undefined();
}

// ack(subscriptionId, deliveryId)
Napi::Value cluster_wrap::ack(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[1].IsNumber()) throw make_error(info.Env(), "INVALID_ARGUMENT", "ack(subscription, delivery)");
  const auto delivery = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  auto s = state_;
  post([s, delivery] {
    if (s->node) (void)s->node->ack(delivery);  // unknown ids (already gone) are harmless here
  });
  return info.Env().Undefined();
}

// unsubscribe(callId, subscriptionId, removeConsumer)
Napi::Value cluster_wrap::unsubscribe(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  if (info.Length() < 2 || !info[1].IsNumber()) throw make_error(info.Env(), "INVALID_ARGUMENT", "subscription id expected");
  const auto sub = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  const bool remove = info.Length() > 2 && info[2].ToBoolean().Value();
  auto s = state_;
  post([s, id, sub, remove] {
    auto it = s->subs.find(sub);
    if (!s->node || it == s->subs.end()) return s->queue->push(result(id));  // already gone
    const auto cid = it->second;
    s->subs.erase(it);
    s->node->async_unsubscribe(cid, remove, [s, id](error_code ec) { s->queue->push(result(id, ec)); });
  });
  return info.Env().Undefined();
}

// discover(callId)
Napi::Value cluster_wrap::discover(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  auto s = state_;
  post([s, id] {
    if (!s->node) return s->queue->push(result(id, cl::make_error_code(cl::error::not_started)));
    s->node->async_discover([s, id](error_code ec, std::vector<cl::instance_info> list) {
      auto r = result(id, ec);
      if (!ec) r.instances = std::move(list);
      s->queue->push(std::move(r));
    });
  });
  return info.Env().Undefined();
}

// stop(callId[, timeoutMs]): clean stop, then the queue delivers the result and closes.
Napi::Value cluster_wrap::stop(const Napi::CallbackInfo& info) {
  const auto id = call_id(info);
  auto timeout = std::chrono::milliseconds(5000);
  if (info.Length() > 1 && info[1].IsNumber() && info[1].As<Napi::Number>().DoubleValue() > 0) {
    timeout = std::chrono::milliseconds(static_cast<long long>(info[1].As<Napi::Number>().DoubleValue()));
  }
  stop_requested_ = true;
  auto s = state_;
  runtime::instance().forget(s->shutdown_hook);
  auto finish = [s, id](error_code ec) {
    s->queue->push(result(id, ec));
    s->queue->close_after_drain();
    // Destroy the node outside its own completion handler.
    post([s] {
      s->subs.clear();
      s->store.reset();
      {
        std::lock_guard lk(s->views_mutex);
        s->views.clear();
      }
      s->leaders.clear();  // lib/backend.js stopped them cleanly before (handover); this is the rest
      s->node.reset();
    });
  };
  post([s, timeout, finish] {
    if (!s->node || s->stopping) return finish({});
    s->stopping = true;
    s->node->async_stop(timeout, finish);
  });
  return info.Env().Undefined();
}

// keepAlive(on): whether this cluster's event queue keeps the event loop alive.
Napi::Value cluster_wrap::keep_alive(const Napi::CallbackInfo& info) {
  if (state_) state_->queue->keep_loop_alive(info.Env(), info.Length() > 0 && info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

// testConnection(config, timeoutMs, callback)
Napi::Value test_connection(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsNumber() || !info[2].IsFunction()) {
    throw make_error(env, "INVALID_ARGUMENT", "testConnection(config, timeoutMs, callback)");
  }
  cl::config cfg = config_from_js(info[0].As<Napi::Object>());
  auto timeout = std::chrono::milliseconds(static_cast<long long>(info[1].As<Napi::Number>().DoubleValue()));
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[2].As<Napi::Function>(), "nats-cluster test", 0, 1);
  post([cfg = std::move(cfg), timeout, tsfn]() mutable {
    auto deliver = [tsfn](cl::test_result r) mutable {
      tsfn.NonBlockingCall([r = std::move(r)](Napi::Env env, Napi::Function cb) {
        if (env == nullptr) return;
        try {
          cb.Call({to_js(env, r)});
        } catch (...) {
        }
      });
      tsfn.Release();
    };
    try {
      cl::node::async_test_connection(runtime::instance().executor(), cfg, timeout, deliver);
    } catch (const std::exception& e) {
      cl::test_result r;
      r.ec = cl::make_error_code(cl::error::invalid_config);
      r.error_text = e.what();
      deliver(std::move(r));
    }
  });
  return env.Undefined();
}

}  // namespace addon
