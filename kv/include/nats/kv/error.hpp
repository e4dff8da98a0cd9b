// Key-Value error codes. JetStream API errors (js::error) pass through unchanged where no KV meaning fits.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace nats::kv {

enum class error {
  invalid_bucket_name = 1,  ///< bucket names are [A-Za-z0-9_-]+
  invalid_key,              ///< keys are [-/_=.A-Za-z0-9]+, no leading/trailing '.', no empty token
  bucket_not_found,         ///< no KV_<bucket> stream
  not_a_bucket,             ///< the stream exists but is not a KV bucket
  key_not_found,            ///< no value (never set, deleted or purged)
  key_exists,               ///< create: the key has a live value
  wrong_revision,           ///< update: the key's last revision is not the expected one
  history_too_large,        ///< history above 64
  invalid_config,           ///< other bad bucket settings
  watcher_closed,           ///< the watcher was stopped
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace nats::kv

template <>
struct boost::system::is_error_code_enum<nats::kv::error> : std::true_type {};
