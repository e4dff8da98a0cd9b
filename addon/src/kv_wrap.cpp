// Cluster.kv(): host key-values (nats::cluster::kv_store, bucket CLUSTER_<stream>_CONTEXT) on the
// cluster's connection, for the Node-RED context store (lib/context-store.js via lib/backend.js).
#include "cluster_wrap.hpp"

#include "convert.hpp"
#include "runtime.hpp"

#include <boost/asio/post.hpp>

#include <string>

namespace addon {

namespace asio = boost::asio;
namespace cl = nats::cluster;
using boost::system::error_code;

namespace {

enum class kv_op { get, put, create, update, del, keys };

result_event kv_answer(std::uint64_t id, error_code ec, kv_result r = {}) {
  result_event e;
  e.call = id;
  e.ec = ec;
  if (!ec) e.kv = std::move(r);
  return e;
}

}  // namespace

// kv(callId, op, key, value: Buffer | undefined, revision): op 'get' | 'put' | 'create' | 'update'
// (compare-and-set on revision) | 'delete' | 'keys' (key = filter). Settles with {value?: Buffer,
// revision, keys?: string[]}; errors carry KV codes (KEY_NOT_FOUND, KEY_EXISTS, WRONG_REVISION,
// INVALID_KEY), PAYLOAD_TOO_LARGE, NOT_CONNECTED.
Napi::Value cluster_wrap::kv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsString()) {
    throw make_error(env, "INVALID_ARGUMENT", "kv(callId, op, key, value, revision)");
  }
  const auto id = static_cast<std::uint64_t>(info[0].As<Napi::Number>().DoubleValue());
  const std::string name = info[1].As<Napi::String>().Utf8Value();
  kv_op op;
  if (name == "get") op = kv_op::get;
  else if (name == "put") op = kv_op::put;
  else if (name == "create") op = kv_op::create;
  else if (name == "update") op = kv_op::update;
  else if (name == "delete") op = kv_op::del;
  else if (name == "keys") op = kv_op::keys;
  else throw make_error(env, "INVALID_ARGUMENT", "kv: unknown operation " + name);
  std::string key = info[2].As<Napi::String>().Utf8Value();
  std::string value;
  if (info.Length() > 3 && info[3].IsBuffer()) {
    auto b = info[3].As<Napi::Buffer<char>>();
    value.assign(b.Data(), b.Length());
  } else if (op == kv_op::put || op == kv_op::create || op == kv_op::update) {
    throw make_error(env, "INVALID_ARGUMENT", "kv: the value must be a Buffer");
  }
  std::uint64_t revision = 0;
  if (info.Length() > 4 && info[4].IsNumber() && info[4].As<Napi::Number>().DoubleValue() > 0)
    revision = static_cast<std::uint64_t>(info[4].As<Napi::Number>().DoubleValue());
  if (op == kv_op::update && revision == 0) throw make_error(env, "INVALID_ARGUMENT", "kv update: revision expected");

  auto s = state_;
  asio::post(runtime::instance().executor(), [s, id, op, key = std::move(key), value = std::move(value), revision] {
    if (!s->node || s->stopping) return s->queue->push(kv_answer(id, cl::make_error_code(cl::error::stopped)));
    if (!s->store) s->store = std::make_unique<cl::kv_store>(*s->node);
    auto rev_done = [s, id](error_code ec, std::uint64_t rev) { s->queue->push(kv_answer(id, ec, kv_result{std::nullopt, rev, std::nullopt})); };
    switch (op) {
      case kv_op::get:
        s->store->async_get(key, [s, id](error_code ec, nats::kv::entry e) {
          s->queue->push(kv_answer(id, ec, kv_result{std::move(e.value), e.revision, std::nullopt}));
        });
        break;
      case kv_op::put: s->store->async_put(key, value, rev_done); break;
      case kv_op::create: s->store->async_create(key, value, rev_done); break;
      case kv_op::update: s->store->async_update(key, value, revision, rev_done); break;
      case kv_op::del:
        s->store->async_delete(key, [s, id](error_code ec) { s->queue->push(kv_answer(id, ec)); });
        break;
      case kv_op::keys:
        s->store->async_keys(key, [s, id](error_code ec, std::vector<std::string> k) {
          s->queue->push(kv_answer(id, ec, kv_result{std::nullopt, 0, std::move(k)}));
        });
        break;
    }
  });
  return env.Undefined();
}

}  // namespace addon
