#include "event_queue.hpp"

#include "convert.hpp"

#include <cstdio>

namespace addon {

void event_queue::open(Napi::Env env, Napi::Function callback) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "nats-cluster events", 0, 1);
  // Node-RED's HTTP server keeps the process alive; a pending cluster must not keep a script alive.
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
    Napi::Array group;                // deliveries of one subscription in a row share one entry
    std::uint64_t group_sub = 0;
    for (auto& ev : batch) {
      if (auto* d = std::get_if<delivery_event>(&ev)) {
        if (group.IsEmpty() || group_sub != d->sub) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("t", "m");
          o.Set("sub", static_cast<double>(d->sub));
          group = Napi::Array::New(env);
          group_sub = d->sub;
          o.Set("items", group);
          out.Set(n++, o);
        }
        group.Set(group.Length(), to_js(env, d->d));
        continue;
      }
      group = Napi::Array();
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
        }
      } else if (auto* s = std::get_if<status_js_event>(&ev)) {
        o.Set("t", "s");
        o.Set("value", to_js(env, s->s));
      } else if (auto* dv = std::get_if<discovery_js_event>(&ev)) {
        o.Set("t", "d");
        o.Set("value", to_js(env, dv->d));
      }
      out.Set(n++, o);
    }
    if (n > 0) cb.Call({out});
  } catch (const Napi::Error& e) {
    // lib/backend.js guards its handlers; an exception here is a bug there. Keep Node-RED alive.
    std::fprintf(stderr, "[nats-cluster] event callback failed: %s\n", e.Message().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[nats-cluster] event conversion failed: %s\n", e.what());
  }
  if (release) tsfn_.Release();
}

}  // namespace addon
