#include "convert.hpp"

#include <nats/kv/error.hpp>

#include <nats/error.hpp>

#include <boost/system/errc.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <string_view>

namespace addon {

namespace cl = nats::cluster;
using boost::system::error_code;

namespace {

// Indexed by enum value; values are stable (see the error headers).
constexpr std::array<std::string_view, 35> nats_names = {
    "",
    "PROTOCOL_ERROR", "CONTROL_LINE_TOO_LONG", "MAX_PAYLOAD_EXCEEDED", "INVALID_SUBJECT",
    "INVALID_QUEUE_GROUP", "INVALID_HEADER", "INVALID_JSON", "INVALID_URL",
    "NOT_CONNECTED", "CONNECTION_CLOSED", "CONNECTION_DRAINING", "STALE_CONNECTION", "NO_SERVERS",
    "CONNECT_TIMEOUT", "MAX_RECONNECTS", "RECONNECT_BUFFER_FULL", "LAME_DUCK",
    "SLOW_CONSUMER", "SUBSCRIPTION_CLOSED", "NO_RESPONDERS", "TIMEOUT",
    "AUTHORIZATION_VIOLATION", "AUTHENTICATION_EXPIRED", "AUTHENTICATION_REVOKED", "PERMISSIONS_VIOLATION",
    "SERVER_MAX_PAYLOAD", "SERVER_MAX_CONNECTIONS", "TLS_REQUIRED", "SERVER_ERROR",
    "TLS_ERROR", "BAD_SEED", "BAD_CREDENTIALS", "NONCE_REQUIRED", "WRITE_BUFFER_FULL",
};
constexpr std::array<std::string_view, 26> cluster_names = {
    "",
    "INVALID_INSTANCE_ID", "INVALID_ROOT_PATH", "INVALID_ROLE", "INVALID_SUBJECT", "INVALID_PATTERN",
    "INVALID_KEY", "INVALID_CONFIG", "OBSERVER_CANNOT_PUBLISH", "DUPLICATE_INSTANCE", "OUTBOX_FULL",
    "OUTBOX_IO", "NOT_STARTED", "ALREADY_STARTED", "STOPPED", "DUPLICATE_KEY", "UNKNOWN_SUBSCRIPTION",
    "JETSTREAM_UNAVAILABLE", "OUTBOX_NOT_DRAINED", "PAYLOAD_TOO_LARGE", "INVALID_GROUP", "GROUP_CONFLICT",
    "NO_RESPONDERS", "TIMEOUT", "NOT_CONNECTED", "UNKNOWN_REQUEST",
};

// nats::kv::error values (host key-values: the context store tells these apart).
constexpr std::array<std::string_view, 11> kv_names = {
    "OK", "INVALID_BUCKET_NAME", "INVALID_KEY", "BUCKET_NOT_FOUND", "NOT_A_BUCKET", "KEY_NOT_FOUND",
    "KEY_EXISTS", "WRONG_REVISION", "HISTORY_TOO_LARGE", "INVALID_BUCKET_CONFIG", "WATCHER_CLOSED"};

std::string upper_token(std::string_view s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : '_';
  return out;
}

std::string str(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return {};
  if (!v.IsString()) throw make_error(o.Env(), "INVALID_CONFIG", std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

double num(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return 0;
  return v.As<Napi::Number>().DoubleValue();
}

double ms_since_epoch(std::chrono::system_clock::time_point t) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

}  // namespace

std::string error_code_name(const error_code& ec) {
  if (!ec) return "OK";
  const auto& cat = ec.category();
  const int v = ec.value();
  if (cat == nats::nats_category() && v > 0 && v < static_cast<int>(nats_names.size())) return std::string(nats_names[v]);
  if (cat == cl::error_category() && v > 0 && v < static_cast<int>(cluster_names.size())) return std::string(cluster_names[v]);
  if (cat == nats::kv::error_category() && v > 0 && v < static_cast<int>(kv_names.size())) return std::string(kv_names[v]);
  // Handshake and certificate failures come in OpenSSL's and the transport's own categories: one code
  // for all of them (the message keeps the reason), so they show as a TLS problem, not as "unreachable".
  if (nats::is_tls_error(ec)) return "TLS_ERROR";
  if (cat == boost::system::system_category() || cat == boost::system::generic_category()) {
    namespace errc = boost::system::errc;
    switch (v) {
      case errc::connection_refused: return "ECONNREFUSED";
      case errc::connection_reset: return "ECONNRESET";
      case errc::timed_out: return "ETIMEDOUT";
      case errc::host_unreachable: return "EHOSTUNREACH";
      case errc::network_unreachable: return "ENETUNREACH";
      case errc::operation_canceled: return "ECANCELED";
      case errc::broken_pipe: return "EPIPE";
      default: break;
    }
  }
  if (std::string_view(cat.name()) == "asio.netdb") return "ENOTFOUND";
  return upper_token(cat.name()) + "_" + std::to_string(v);
}

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

Napi::Object error_object(Napi::Env env, const error_code& ec, const std::string& detail) {
  Napi::Object o = Napi::Object::New(env);
  std::string msg = ec.message();
  if (!detail.empty() && detail.find(msg) != std::string::npos) msg = detail;  // already says it
  else if (!detail.empty()) msg += ": " + detail;
  o.Set("code", error_code_name(ec));
  o.Set("message", msg);
  o.Set("category", ec.category().name());
  return o;
}

cl::config config_from_js(const Napi::Object& o) {
  cl::config c;
  c.instance_id = str(o, "instanceId");
  c.root_path = str(o, "rootPath");
  if (c.root_path.empty()) c.root_path = "/nodered-cluster";
  c.role = str(o, "role") == "observer" ? cl::role::observer : cl::role::member;
  c.nats_address = str(o, "natsAddress");

  c.connection.servers.clear();
  Napi::Value servers = o.Get("servers");
  if (servers.IsArray()) {
    auto a = servers.As<Napi::Array>();
    for (std::uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value s = a.Get(i);
      if (s.IsString()) c.connection.servers.push_back(s.As<Napi::String>().Utf8Value());
    }
  }
  c.connection.name = str(o, "name");

  Napi::Value av = o.Get("auth");
  if (av.IsObject()) {
    auto a = av.As<Napi::Object>();
    c.connection.auth.user = str(a, "user");
    c.connection.auth.password = str(a, "password");
    c.connection.auth.token = str(a, "token");
    c.connection.auth.nkey_seed = str(a, "nkeySeed");
    c.connection.auth.creds = str(a, "creds");
  }
  Napi::Value tv = o.Get("tls");
  if (tv.IsObject()) {
    auto t = tv.As<Napi::Object>();
    c.connection.tls.enabled = t.Get("enabled").ToBoolean();
    c.connection.tls.ca_pem = str(t, "ca");
    c.connection.tls.cert_pem = str(t, "cert");
    c.connection.tls.key_pem = str(t, "key");
    c.connection.tls.server_name = str(t, "serverName");
    Napi::Value verify = t.Get("verify");
    c.connection.tls.insecure_skip_verify_dangerous = verify.IsBoolean() && !verify.As<Napi::Boolean>().Value();
  }
  using ms = std::chrono::milliseconds;
  if (double v = num(o, "heartbeatMs"); v > 0) c.heartbeat_interval = ms(static_cast<long long>(v));
  if (double v = num(o, "staleMs"); v > 0) {
    c.stale_after = ms(static_cast<long long>(v));
    c.cleanup_after = std::max(c.cleanup_after, 2 * c.stale_after);
  }
  if (double v = num(o, "outboxMessages"); v > 0) c.outbox_max_messages = static_cast<std::size_t>(v);
  if (double v = num(o, "outboxBytes"); v > 0) c.outbox_max_bytes = static_cast<std::size_t>(v);
  if (double v = num(o, "startTimeoutMs"); v > 0) c.start_timeout = ms(static_cast<long long>(v));
  if (double v = num(o, "ackWaitMs"); v > 0) c.ack_wait = ms(static_cast<long long>(v));
  c.outbox_dir = str(o, "outboxDir");
  // Node-RED must not wait for NATS at deploy: connect in the background, report through status.
  c.wait_until_ready = false;
  return c;
}

namespace {
Napi::Object headers_to_js(Napi::Env env, const nats::headers& h) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [name, value] : h.fields()) {
    Napi::Value prev = o.Get(name);
    if (prev.IsUndefined()) {
      o.Set(name, value);
    } else if (prev.IsArray()) {
      auto a = prev.As<Napi::Array>();
      a.Set(a.Length(), value);
    } else {
      auto a = Napi::Array::New(env, 2);
      a.Set(0u, prev);
      a.Set(1u, Napi::String::New(env, value));
      o.Set(name, a);
    }
  }
  return o;
}
}  // namespace

nats::headers headers_from_js(const Napi::Value& v) {
  nats::headers h;
  if (!v.IsObject()) return h;
  auto o = v.As<Napi::Object>();
  auto names = o.GetPropertyNames();
  for (std::uint32_t i = 0; i < names.Length(); ++i) {
    std::string name = names.Get(i).ToString().Utf8Value();
    Napi::Value val = o.Get(name);
    if (val.IsString()) {
      h.add(name, val.As<Napi::String>().Utf8Value());
    } else if (val.IsArray()) {
      auto a = val.As<Napi::Array>();
      for (std::uint32_t k = 0; k < a.Length(); ++k)
        if (a.Get(k).IsString()) h.add(name, a.Get(k).As<Napi::String>().Utf8Value());
    } else if (val.IsNumber() || val.IsBoolean()) {
      h.add(name, val.ToString().Utf8Value());
    }
  }
  return h;
}

Napi::Object to_js(Napi::Env env, const cl::reply& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("payload", Napi::Buffer<char>::Copy(env, r.payload.data(), r.payload.size()));
  o.Set("headers", headers_to_js(env, r.headers));
  o.Set("instance", r.instance);
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::request& q) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(q.id));
  o.Set("subject", q.subject);
  o.Set("sourceInstance", q.source_instance);
  o.Set("payload", Napi::Buffer<char>::Copy(env, q.payload.data(), q.payload.size()));
  o.Set("headers", headers_to_js(env, q.headers));
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(q.deadline - std::chrono::steady_clock::now());
  o.Set("timeoutMs", static_cast<double>(std::max<long long>(0, left.count())));
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::delivery& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", static_cast<double>(d.id));
  o.Set("subject", d.subject);
  o.Set("relativeSubject", d.relative_subject);
  o.Set("sourceInstance", d.source_instance);
  o.Set("payload", Napi::Buffer<char>::Copy(env, d.payload.data(), d.payload.size()));
  o.Set("headers", headers_to_js(env, d.headers));
  o.Set("mode", d.mode == cl::delivery_mode::ephemeral ? "ephemeral" : "durable");
  o.Set("streamSequence", static_cast<double>(d.stream_sequence));
  o.Set("deliveryCount", static_cast<double>(d.delivery_count));
  o.Set("redelivered", d.redelivered);
  o.Set("published", ms_since_epoch(d.published));
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::endpoint_info& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("instanceId", e.instance);
  o.Set("subject", e.subject);
  o.Set("mode", cl::to_string(e.mode));  // "Durable"/"Ephemeral", as the original stores it
  o.Set("ttl", static_cast<double>(e.ttl.count()) / 1000.0);
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::instance_info& i) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("instanceId", i.id);
  o.Set("role", cl::to_string(i.role));
  o.Set("natsAddress", i.nats_address);
  o.Set("presence", cl::to_string(i.state));
  o.Set("online", i.state == cl::presence::online);
  if (i.last_seen.time_since_epoch().count() != 0) o.Set("lastSeen", ms_since_epoch(i.last_seen));
  o.Set("legacy", i.legacy);
  o.Set("self", i.self);
  auto eps = Napi::Array::New(env, i.endpoints.size());
  for (std::size_t k = 0; k < i.endpoints.size(); ++k) eps.Set(static_cast<std::uint32_t>(k), to_js(env, i.endpoints[k]));
  o.Set("endpoints", eps);
  auto groups = Napi::Array::New(env, i.groups.size());
  for (std::size_t k = 0; k < i.groups.size(); ++k) {
    auto g = Napi::Object::New(env);
    g.Set("group", i.groups[k].group);
    g.Set("patterns", i.groups[k].patterns);
    groups.Set(static_cast<std::uint32_t>(k), g);
  }
  o.Set("groups", groups);
  auto leads = Napi::Array::New(env, i.leads.size());
  for (std::size_t k = 0; k < i.leads.size(); ++k) {
    auto l = Napi::Object::New(env);
    l.Set("group", i.leads[k].group);
    l.Set("token", static_cast<double>(i.leads[k].token));
    l.Set("revision", static_cast<double>(i.leads[k].revision));
    l.Set("seen", ms_since_epoch(i.leads[k].seen));
    leads.Set(static_cast<std::uint32_t>(k), l);
  }
  o.Set("leads", leads);
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::status_event& s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", cl::to_string(s.kind));
  if (s.ec) o.Set("error", error_object(env, s.ec, s.text));
  o.Set("text", s.text);
  o.Set("server", s.server);
  o.Set("outboxMessages", static_cast<double>(s.outbox_messages));
  o.Set("outboxBytes", static_cast<double>(s.outbox_bytes));
  o.Set("authError", s.ec && nats::is_auth_error(s.ec));
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::discovery_event& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", cl::to_string(d.kind));
  o.Set("instance", to_js(env, d.instance));
  if (d.endpoint) o.Set("endpoint", to_js(env, *d.endpoint));
  return o;
}

Napi::Object to_js(Napi::Env env, const cl::test_result& r) {
  Napi::Object o = Napi::Object::New(env);
  const char* code = "ok";
  if (!r.reachable) code = "unreachable";
  else if (!r.tls_ok) code = "tls";
  else if (!r.auth_ok) code = "auth_failed";
  else if (!r.jetstream_enabled) code = "jetstream_disabled";
  else if (r.ec) code = "error";
  o.Set("ok", std::string_view(code) == "ok");
  o.Set("code", code);
  std::string msg = r.error_text;
  if (msg.empty() && r.ec) msg = r.ec.message();
  o.Set("message", msg);
  if (r.ec) o.Set("errorCode", error_code_name(r.ec));
  o.Set("reachable", r.reachable);
  o.Set("tls", r.tls_ok);
  o.Set("auth", r.auth_ok);
  o.Set("jetstream", r.jetstream_enabled);
  o.Set("server", r.server);
  o.Set("serverVersion", r.server_version);
  return o;
}

}  // namespace addon
