// Leader elections on the cluster's node (nats::cluster::leader_election, keys leaders.<group> in the
// cluster bucket) for the Cluster Leader node (nodes/cluster-leader.js via lib/backend.js).
#include "cluster_wrap.hpp"

#include "convert.hpp"
#include "runtime.hpp"

#include <boost/asio/post.hpp>

#include <chrono>
#include <string>

namespace addon {

namespace asio = boost::asio;
namespace cl = nats::cluster;
using boost::system::error_code;

namespace {

result_event answer(std::uint64_t id, error_code ec, std::string detail = {}) {
  result_event r;
  r.call = id;
  r.ec = ec;
  r.detail = std::move(detail);
  return r;
}

std::chrono::milliseconds ms_field(const Napi::Object& o, const char* name, std::chrono::milliseconds def) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) return def;
  double d = v.As<Napi::Number>().DoubleValue();
  return d > 0 ? std::chrono::milliseconds(static_cast<long long>(d)) : def;
}

}  // namespace

// leaderStart(callId, handle, {group, candidate, leaseMs, renewMs, marginMs}): settles once the election
// runs (or with INVALID_KEY / INVALID_CONFIG); events arrive as {t: 'l', handle, value}.
Napi::Value cluster_wrap::leader_start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsObject()) {
    throw make_error(env, "INVALID_ARGUMENT", "leaderStart(callId, handle, options)");
  }
  const auto id = static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  const auto handle = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  auto o = info[2].As<Napi::Object>();
  cl::leader_options opts;
  if (o.Get("group").IsString()) opts.group = o.Get("group").As<Napi::String>().Utf8Value();
  if (o.Get("candidate").IsString()) opts.candidate = o.Get("candidate").As<Napi::String>().Utf8Value();
  opts.lease = ms_field(o, "leaseMs", opts.lease);
  opts.renew_interval = ms_field(o, "renewMs", opts.renew_interval);
  opts.margin = ms_field(o, "marginMs", opts.margin);

  auto s = state_;
  asio::post(runtime::instance().executor(), [s, id, handle, opts = std::move(opts)] {
    if (!s->node || s->stopping) return s->queue->push(answer(id, cl::make_error_code(cl::error::stopped)));
    if (s->leaders.count(handle)) return s->queue->push(answer(id, cl::make_error_code(cl::error::duplicate_key)));
    auto le = std::make_unique<cl::leader_election>(*s->node, opts);
    auto q = s->queue;
    if (error_code ec = le->start([q, handle](const cl::leader_event& ev) { q->push(leader_js_event{handle, ev}); })) {
      return s->queue->push(answer(id, ec));
    }
    {
      std::lock_guard lk(s->views_mutex);
      s->views[handle] = le->leadership_view();
    }
    s->leaders.emplace(handle, std::move(le));
    s->queue->push(answer(id, {}));
  });
  return env.Undefined();
}

// leaderStop(callId, handle): clean stop (immediate handover), then the election is gone.
Napi::Value cluster_wrap::leader_stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) throw make_error(env, "INVALID_ARGUMENT", "leaderStop(callId, handle)");
  const auto id = static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  const auto handle = static_cast<std::uint64_t>(info[1].As<Napi::Number>().DoubleValue());
  auto s = state_;
  asio::post(runtime::instance().executor(), [s, id, handle] {
    auto it = s->leaders.find(handle);
    if (it == s->leaders.end()) return s->queue->push(answer(id, {}));  // gone already
    it->second->async_stop([s, id, handle](error_code ec) {
      {
        std::lock_guard lk(s->views_mutex);
        s->views.erase(handle);
      }
      s->queue->push(answer(id, ec));
      // Destroyed outside its own completion handler.
      asio::post(runtime::instance().executor(), [s, handle] { s->leaders.erase(handle); });
    });
  });
  return env.Undefined();
}

// isLeader(handle) -> [leader: boolean, token: number], synchronous: the lease deadline checked against
// the clock now, so a message is passed on only while this instance holds the lease.
Napi::Value cluster_wrap::is_leader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw make_error(env, "INVALID_ARGUMENT", "isLeader(handle)");
  const auto handle = static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  std::shared_ptr<const cl::leadership> view;
  {
    std::lock_guard lk(state_->views_mutex);
    auto it = state_->views.find(handle);
    if (it != state_->views.end()) view = it->second;
  }
  // Token read first: is_leader() after it confirms the token is of a live lease.
  const double token = view ? static_cast<double>(view->token()) : 0;
  const bool leader = view && token > 0 && view->is_leader();
  auto a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Boolean::New(env, leader));
  a.Set(1u, Napi::Number::New(env, leader ? token : 0));
  return a;
}

}  // namespace addon
