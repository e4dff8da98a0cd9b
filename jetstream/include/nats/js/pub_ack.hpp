// Acknowledgement of a JetStream publish.
#pragma once

#include <cstdint>
#include <string>

namespace nats::js {

struct pub_ack {
  std::string stream;
  std::uint64_t seq = 0;
  bool duplicate = false;   ///< the Nats-Msg-Id was seen within the duplicate window: not stored again
  std::string domain;
};

}  // namespace nats::js
