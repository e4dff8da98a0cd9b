// Conversions between JavaScript values and the cluster layer's types. JS thread only.
#pragma once

#include <nats/cluster/cluster.hpp>

#include <napi.h>

#include <boost/system/error_code.hpp>

#include <string>

namespace addon {

/// Stable upper-case name of an error code for JS (`err.code`), e.g. "AUTHORIZATION_VIOLATION",
/// "OUTBOX_FULL", "ECONNREFUSED"; "<CATEGORY>_<value>" for codes without a name.
std::string error_code_name(const boost::system::error_code& ec);

/// {code, message, category} for an error code, with an optional detail text.
Napi::Object error_object(Napi::Env env, const boost::system::error_code& ec, const std::string& detail = {});

/// A JS `Error` with `code`, for throwing.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

/// The object built by lib/backend.js normalizeConfig() → cluster config. Throws Napi::Error
/// (code INVALID_CONFIG) on a wrong type.
nats::cluster::config config_from_js(const Napi::Object& o);

Napi::Object to_js(Napi::Env env, const nats::cluster::delivery& d);
Napi::Object to_js(Napi::Env env, const nats::cluster::instance_info& i);
Napi::Object to_js(Napi::Env env, const nats::cluster::endpoint_info& e);
Napi::Object to_js(Napi::Env env, const nats::cluster::status_event& s);
Napi::Object to_js(Napi::Env env, const nats::cluster::discovery_event& d);
Napi::Object to_js(Napi::Env env, const nats::cluster::test_result& r);
Napi::Object to_js(Napi::Env env, const nats::cluster::reply& r);
Napi::Object to_js(Napi::Env env, const nats::cluster::request& q);
/// {name: "value" | ["v1", "v2"]} → headers (other value types are skipped).
nats::headers headers_from_js(const Napi::Value& v);

}  // namespace addon
