// A message read back from a stream (get message / direct get).
#pragma once

#include <nats/headers.hpp>
#include <nats/js/time.hpp>

#include <cstdint>
#include <string>

namespace nats::js {

struct stored_msg {
  std::string subject;
  std::uint64_t seq = 0;
  std::string data;
  nats::headers headers;
  time_point time{};
};

/// Which message to get: by sequence, the last on a subject, or the first at/after a sequence on a subject.
struct get_msg_request {
  std::uint64_t seq = 0;
  std::string last_by_subject;
  std::string next_by_subject;  ///< with seq: first message on this subject with sequence >= seq
};

}  // namespace nats::js
