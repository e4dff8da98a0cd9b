#include "event_queue.hpp"

#include "convert.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

namespace addon {

namespace {
Napi::Object kv_to_js(Napi::Env env, const kv_result& r) {
  Napi::Object o = Napi::Object::New(env);
  if (r.value) o.Set("value", Napi::Buffer<char>::Copy(env, r.value->data(), r.value->size()));
  o.Set("revision", static_cast<double>(r.revision));
  if (r.keys) {
    auto a = Napi::Array::New(env, r.keys->size());
    for (std::size_t i = 0; i < r.keys->size(); ++i) a.Set(static_cast<std::uint32_t>(i), (*r.keys)[i]);
    o.Set("keys", a);
  }
  return o;
}
Napi::Object leader_to_js(Napi::Env env, const nats::cluster::leader_event& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", nats::cluster::to_string(e.kind));
  o.Set("token", static_cast<double>(e.token));
  if (e.kind == nats::cluster::leader_event_kind::lost_leadership) o.Set("reason", nats::cluster::to_string(e.reason));
  o.Set("leader", e.leader);
  o.Set("at", static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(e.wall_at.time_since_epoch()).count()));
  if (e.ec) o.Set("error", error_object(env, e.ec, {}));
  return o;
}
}  // namespace

namespace {

/// Deliveries batch[begin, end) of one subscription as columns, so that crossing into JS costs a few
/// N-API calls per batch instead of a dozen per message (lib/backend.js turns them back into objects):
///   {t: "M", sub, n, ids, seq, count, published: Float64Array, flags: Uint8Array (1 redelivered, 4 out of order,
///    2 ephemeral), payload: one Buffer with all payloads, off: Uint32Array(n + 1) (payload i is
///    payload[off[i], off[i+1])), subject, relative, source: Array of strings (the same JS string when
///    equal to the previous message's), headers: Array of [name, value, ...] or undefined}.
Napi::Object deliveries_to_js(Napi::Env env, std::uint64_t sub, std::vector<js_event>& batch, std::size_t begin,
                              std::size_t end) {
  const std::size_t n = end - begin;
  auto ids = Napi::Float64Array::New(env, n);
  auto seq = Napi::Float64Array::New(env, n);
  auto dcount = Napi::Float64Array::New(env, n);
  auto published = Napi::Float64Array::New(env, n);
  auto flags = Napi::Uint8Array::New(env, n);
  auto off = Napi::Uint32Array::New(env, n + 1);
  auto subjects = Napi::Array::New(env, n);
  auto relatives = Napi::Array::New(env, n);
  auto sources = Napi::Array::New(env, n);
  auto headers = Napi::Array::New(env, n);
  std::size_t bytes = 0;
  for (std::size_t k = begin; k < end; ++k) bytes += std::get<delivery_event>(batch[k]).d.payload.size();
  auto payload = Napi::Buffer<char>::New(env, bytes == 0 ? 1 : bytes);  // one allocation for the batch

  // Repeated strings (same subject, same header names) become one JS string.
  struct last_string {
    const std::string* text = nullptr;
    Napi::String value;
    Napi::String get(Napi::Env env, const std::string& s) {
      if (!text || *text != s) {
        value = Napi::String::New(env, s);
        text = &s;
      }
      return value;
    }
  } subject, relative, source;
  std::vector<std::pair<std::string, Napi::String>> names;
  auto name_of = [&](const std::string& name) {
    for (auto& [text, value] : names)
      if (text == name) return value;
    names.emplace_back(name, Napi::String::New(env, name));
    return names.back().second;
  };

  std::size_t pos = 0;
  for (std::size_t k = begin; k < end; ++k) {
    const auto i = static_cast<std::uint32_t>(k - begin);
    const auto& d = std::get<delivery_event>(batch[k]).d;
    ids[i] = static_cast<double>(d.id);
    seq[i] = static_cast<double>(d.stream_sequence);
    dcount[i] = static_cast<double>(d.delivery_count);
    published[i] = static_cast<double>(
        std::chrono::duration_cast<std::chrono::milliseconds>(d.published.time_since_epoch()).count());
    flags[i] = static_cast<std::uint8_t>((d.redelivered ? 1 : 0) | (d.mode == nats::cluster::delivery_mode::ephemeral ? 2 : 0) |
                                         (d.out_of_order ? 4 : 0));
    off[i] = static_cast<std::uint32_t>(pos);
    if (!d.payload.empty()) std::memcpy(payload.Data() + pos, d.payload.data(), d.payload.size());
    pos += d.payload.size();
    subjects.Set(i, subject.get(env, d.subject));
    relatives.Set(i, relative.get(env, d.relative_subject));
    sources.Set(i, source.get(env, d.source_instance));
    const auto& fields = d.headers.fields();
    if (!fields.empty()) {
      auto h = Napi::Array::New(env, fields.size() * 2);
      std::uint32_t m = 0;
      for (const auto& [name, value] : fields) {
        h.Set(m++, name_of(name));
        h.Set(m++, Napi::String::New(env, value));
      }
      headers.Set(i, h);
    }
  }
  off[n] = static_cast<std::uint32_t>(pos);

  Napi::Object o = Napi::Object::New(env);
  o.Set("t", "M");
  o.Set("sub", static_cast<double>(sub));
  o.Set("n", static_cast<double>(n));
  o.Set("ids", ids);
  o.Set("seq", seq);
  o.Set("count", dcount);
  o.Set("published", published);
  o.Set("flags", flags);
  o.Set("payload", payload);
  o.Set("off", off);
  o.Set("subject", subjects);
  o.Set("relative", relatives);
  o.Set("source", sources);
  o.Set("headers", headers);
  return o;
}

}  // namespace

void event_queue::open(Napi::Env env, Napi::Function callback) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "nats-cluster events", 0, 1);
  // Node-RED's HTTP server keeps the process alive; an idle cluster must not keep a script alive (calls
  // awaiting an answer do: keep_loop_alive, driven by lib/backend.js).
  tsfn_.Unref(env);
  std::lock_guard lk(m_);
  closed_ = false;
}

bool event_queue::closed() const {
  std::lock_guard lk(m_);
  return closed_;
}

void event_queue::schedule_locked() {
  if (scheduled_ || closed_) return;
  scheduled_ = true;
  auto self = shared_from_this();
  napi_status st = tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function cb) { self->drain(env, cb); });
  if (st != napi_ok) {
    // The environment is going away: nothing will read the queue any more.
    closed_ = true;
    items_.clear();
  }
}

void event_queue::push(js_event e) {
  std::lock_guard lk(m_);
  if (closed_ || closing_) return;
  items_.push_back(std::move(e));
  schedule_locked();
}

void event_queue::close_after_drain() {
  std::lock_guard lk(m_);
  if (closed_ || closing_) return;
  closing_ = true;
  if (!scheduled_) {
    // Nothing queued: one last call releases the function on the JS thread.
    scheduled_ = true;
    auto self = shared_from_this();
    if (tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function cb) { self->drain(env, cb); }) != napi_ok) {
      closed_ = true;
    }
  }
}

void event_queue::keep_loop_alive(Napi::Env env, bool on) {
  std::lock_guard lk(m_);
  if (closed_) return;
  if (on) tsfn_.Ref(env);
  else tsfn_.Unref(env);
}

void event_queue::drain(Napi::Env env, Napi::Function cb) {
  std::vector<js_event> batch;
  bool release = false;
  {
    std::lock_guard lk(m_);
    batch.swap(items_);
    scheduled_ = false;
    if (closing_ && !closed_) {
      closed_ = true;
      release = true;
    }
  }
  if (env == nullptr || cb.IsEmpty()) return;  // environment teardown

  try {
    Napi::HandleScope scope(env);
    Napi::Array out = Napi::Array::New(env);
    std::uint32_t n = 0;
    const std::size_t count = batch.size();
    for (std::size_t i = 0; i < count;) {
      // Deliveries of one subscription in a row: one columnar entry (see deliveries_to_js).
      if (auto* d = std::get_if<delivery_event>(&batch[i])) {
        std::size_t j = i + 1;
        std::size_t bytes = d->d.payload.size();
        while (j < count) {
          auto* e = std::get_if<delivery_event>(&batch[j]);
          // Payload offsets are 32-bit: a huge batch is cut into several entries.
          if (!e || e->sub != d->sub || bytes + e->d.payload.size() > (std::size_t{1} << 30)) break;
          bytes += e->d.payload.size();
          ++j;
        }
        out.Set(n++, deliveries_to_js(env, d->sub, batch, i, j));
        i = j;
        continue;
      }
      // Plain successes of calls in a row (publish results under load): one entry with their ids.
      if (auto* r = std::get_if<result_event>(&batch[i]); r && !r->ec && !r->instances && !r->number && !r->kv && !r->reply) {
        std::size_t j = i + 1;
        while (j < count) {
          auto* e = std::get_if<result_event>(&batch[j]);
          if (!e || e->ec || e->instances || e->number || e->kv || e->reply) break;
          ++j;
        }
        if (j - i > 1) {
          auto ids = Napi::Float64Array::New(env, j - i);
          for (std::size_t k = i; k < j; ++k) ids[k - i] = static_cast<double>(std::get<result_event>(batch[k]).call);
          Napi::Object o = Napi::Object::New(env);
          o.Set("t", "R");
          o.Set("ids", ids);
          out.Set(n++, o);
          i = j;
          continue;
        }
      }
      auto& ev = batch[i++];
      Napi::Object o = Napi::Object::New(env);
      if (auto* r = std::get_if<result_event>(&ev)) {
        o.Set("t", "r");
        o.Set("id", static_cast<double>(r->call));
        if (r->ec) {
          o.Set("error", error_object(env, r->ec, r->detail));
        } else if (r->instances) {
          auto a = Napi::Array::New(env, r->instances->size());
          for (std::size_t k = 0; k < r->instances->size(); ++k) a.Set(static_cast<std::uint32_t>(k), to_js(env, (*r->instances)[k]));
          o.Set("value", a);
        } else if (r->number) {
          o.Set("value", *r->number);
        } else if (r->kv) {
          o.Set("value", kv_to_js(env, *r->kv));
        } else if (r->reply) {
          o.Set("value", to_js(env, *r->reply));
        }
      } else if (auto* s = std::get_if<status_js_event>(&ev)) {
        o.Set("t", "s");
        o.Set("value", to_js(env, s->s));
      } else if (auto* dv = std::get_if<discovery_js_event>(&ev)) {
        o.Set("t", "d");
        o.Set("value", to_js(env, dv->d));
      } else if (auto* lv = std::get_if<leader_js_event>(&ev)) {
        o.Set("t", "l");
        o.Set("handle", static_cast<double>(lv->handle));
        o.Set("value", leader_to_js(env, lv->ev));
      } else if (auto* q = std::get_if<request_js_event>(&ev)) {
        o.Set("t", "q");
        o.Set("responder", static_cast<double>(q->responder));
        o.Set("value", to_js(env, q->q));
      }
      out.Set(n++, o);
    }
    if (n > 0) cb.Call({out});
  } catch (const Napi::Error& e) {
    // lib/backend.js guards its handlers; an exception here is a bug there. Keep Node-RED alive.
    // A call refused without any JS exception means the environment is being torn down (the process is
    // exiting while events were queued): nothing can receive them any more, so say nothing.
    if (!e.Message().empty()) std::fprintf(stderr, "[nats-cluster] event callback failed: %s\n", e.Message().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[nats-cluster] event conversion failed: %s\n", e.what());
  }
  if (release) tsfn_.Release();
}

}  // namespace addon
