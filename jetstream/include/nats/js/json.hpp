// JSON codecs of the JetStream API (sans-io: strings in, typed structs out).
//
// Decoders ignore unknown fields. When the reply carries `{"error":{...}}` they fill `api` and return
// api.to_error_code(); malformed replies give error::invalid_reply.
#pragma once

#include <nats/js/consumer.hpp>
#include <nats/js/error.hpp>
#include <nats/js/pub_ack.hpp>
#include <nats/js/stored_msg.hpp>
#include <nats/js/stream.hpp>
#include <nats/message.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nats::js::json {

using boost::system::error_code;

/// 2.10+ consumer create action: create only, update only, or either (field omitted).
enum class consumer_action { create_or_update, create, update };

/// Body of a pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`).
struct pull_request {
  std::int64_t batch = 1;
  std::int64_t max_bytes = 0;
  std::chrono::nanoseconds expires{0};
  bool no_wait = false;
  std::chrono::nanoseconds idle_heartbeat{0};
};

struct names_page {
  std::vector<std::string> names;
  std::uint64_t total = 0, offset = 0, limit = 0;
};
struct stream_list_page {
  std::vector<stream_info> streams;
  std::uint64_t total = 0, offset = 0, limit = 0;
};
struct consumer_list_page {
  std::vector<consumer_info> consumers;
  std::uint64_t total = 0, offset = 0, limit = 0;
};

struct account_info {
  int api_level = 0;   ///< 0 on servers before 2.11 (no "api.level")
  std::string domain;
  std::uint64_t streams = 0, consumers = 0, memory = 0, storage = 0;
};

// --- requests ---
std::string encode(const stream_config& cfg);
std::string encode_consumer_create(std::string_view stream, const consumer_config& cfg,
                                   consumer_action action = consumer_action::create_or_update);
std::string encode(const purge_options& opts);
std::string encode(const get_msg_request& req);
std::string encode(const pull_request& req);
/// `{"offset":N}` plus `"subject"` when a filter is given (stream names/list).
std::string encode_list_request(std::uint64_t offset, std::string_view subject_filter = {});

// --- replies ---
error_code decode(std::string_view json, stream_info& out, api_error& api);
error_code decode(std::string_view json, consumer_info& out, api_error& api);
error_code decode(std::string_view json, pub_ack& out, api_error& api);
error_code decode(std::string_view json, stored_msg& out, api_error& api);  ///< STREAM.MSG.GET
error_code decode(std::string_view json, names_page& out, api_error& api);  ///< "streams" or "consumers"
error_code decode(std::string_view json, stream_list_page& out, api_error& api);
error_code decode(std::string_view json, consumer_list_page& out, api_error& api);
error_code decode(std::string_view json, account_info& out, api_error& api);
/// `{"success":true}` replies (delete); `purged` is filled for purge replies when non-null.
error_code decode_success(std::string_view json, api_error& api, std::uint64_t* purged = nullptr);

/// A direct-get reply (headers Nats-Stream, Nats-Sequence, Nats-Subject, Nats-Time-Stamp) as a stored_msg.
/// Status 404 gives error::no_message_found; other statuses error::invalid_reply with the status in `api`.
error_code from_direct_get(const message& msg, stored_msg& out, api_error& api);

/// Maps a status message received on a pull request's inbox (404, 408, 409...) to an error.
/// Returns success for 100 (idle heartbeat / flow control) — check msg.status() first.
error_code classify_pull_status(const message& msg);

/// Base64 (standard alphabet, padding optional) — used by STREAM.MSG.GET replies.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

}  // namespace nats::js::json
