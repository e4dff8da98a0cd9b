// JetStream error codes, in their own boost::system category.
//
// Values >= 10000 are the server's `err_code` itself (the JetStream API's stable error identifiers),
// so an API error the client does not know by name still reaches the caller with its exact code:
// `ec.value()` is the server's err_code, `ec.category() == js::error_category()`. Values below 10000
// are raised by the client (status messages, bad replies, misuse).
#pragma once

#include <boost/system/error_code.hpp>

#include <string>
#include <type_traits>

namespace nats::js {

enum class error {
  // client side
  invalid_reply = 1,          ///< the API/ack reply is not the JSON we expect
  not_a_jetstream_message,    ///< no `$JS.ACK.` reply subject: cannot ack or read metadata
  invalid_name,               ///< stream/consumer name empty or containing `.`, `*`, `>`, whitespace
  no_stream_response,         ///< publish reached no stream (503 no responders)
  no_messages,                ///< 404 on a pull request: nothing available (no_wait)
  request_timeout,            ///< 408 on a pull request: it expired
  consumer_deleted,           ///< 409 Consumer Deleted
  leadership_change,          ///< 409 Leadership Change
  max_waiting_exceeded,       ///< 409 Exceeded MaxWaiting
  max_bytes_exceeded,         ///< 409 Message Size Exceeds MaxBytes
  pull_request_conflict,      ///< any other 409 on a pull request
  missed_heartbeats,          ///< two idle heartbeats went missing while consuming
  publisher_closed,           ///< the async publisher was closed with acks outstanding
  already_acked,              ///< ack/nak/term on a message already acknowledged
  not_supported,              ///< the server is too old for the requested feature

  // server err_codes (JetStream API)
  bad_request = 10003,
  jetstream_not_enabled_for_account = 10039,
  jetstream_not_enabled = 10076,
  consumer_create_failed = 10012,
  consumer_name_exists = 10013,            ///< durable exists with a different configuration (2.9)
  consumer_not_found = 10014,
  no_message_found = 10037,
  stream_invalid_config = 10052,
  stream_name_exists = 10058,              ///< stream exists with a different configuration
  stream_not_found = 10059,
  stream_not_match = 10060,                ///< Nats-Expected-Stream did not match
  stream_subject_overlap = 10065,
  wrong_last_msg_id = 10070,               ///< Nats-Expected-Last-Msg-Id did not match
  wrong_last_sequence = 10071,             ///< expected last (subject) sequence did not match
  consumer_already_exists = 10148,         ///< create action on an existing consumer (2.10+)
  consumer_does_not_exist = 10149,         ///< update action on a missing consumer (2.10+)
};

/// The category of nats::js::error (and of every server err_code).
const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// An error as the JetStream API reports it: `{"error":{"code":404,"err_code":10059,"description":"..."}}`.
struct api_error {
  int code = 0;              ///< HTTP-like status (400, 404, 503...)
  int err_code = 0;          ///< server's stable identifier (10059...); 0 on servers that omit it
  std::string description;   ///< server's text

  explicit operator bool() const noexcept { return code != 0 || err_code != 0; }
  /// The error_code for it: err_code in js::error_category(), or a generic code when err_code is 0.
  boost::system::error_code to_error_code() const noexcept;
};

}  // namespace nats::js

template <>
struct boost::system::is_error_code_enum<nats::js::error> : std::true_type {};
