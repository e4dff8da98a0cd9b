// Module entry: exports {Cluster, testConnection, version}. Loaded once per Node-API environment.
#include "cluster_wrap.hpp"
#include "runtime.hpp"

#include <napi.h>

namespace {

struct env_data {
  env_data() { addon::runtime::instance().attach(); }
  ~env_data() { addon::runtime::instance().detach(); }  // stops the io thread when the last env goes
};

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new env_data());
  exports.Set("Cluster", addon::cluster_wrap::define(env));
  exports.Set("testConnection", Napi::Function::New(env, addon::test_connection, "testConnection"));
  exports.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(nats_cluster, init)
