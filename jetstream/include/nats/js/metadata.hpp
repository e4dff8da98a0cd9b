// Metadata of a message delivered by a consumer, read from its `$JS.ACK.` reply subject.
#pragma once

#include <nats/js/time.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nats::js {

struct msg_metadata {
  std::string domain;          ///< empty when the server sent the old 9-token form
  std::string account_hash;
  std::string stream;
  std::string consumer;
  std::uint64_t num_delivered = 0;  ///< 1 on first delivery, more on redeliveries
  std::uint64_t stream_seq = 0;
  std::uint64_t consumer_seq = 0;
  time_point timestamp{};
  std::uint64_t num_pending = 0;
};

/// Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>` or the 12+-token form
/// `$JS.ACK.<domain>.<acchash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ns>.<pending>.<token>`
/// (domain `_` means none). nullopt when `reply` is not such a subject.
std::optional<msg_metadata> parse_metadata(std::string_view reply);

}  // namespace nats::js
