// A message as delivered to subscribers and returned by requests.
#pragma once

#include <nats/headers.hpp>

#include <cstdint>
#include <string>

namespace nats {

struct message {
  std::string subject;
  std::string reply;    ///< empty if the publisher expects no answer
  std::string payload;  ///< raw bytes
  nats::headers headers;
  bool has_headers = false;
  std::uint64_t sid = 0;

  /// Status code of a header-only status message (503 no responders, JetStream 404/408/409...), 0 if none.
  int status() const noexcept { return has_headers ? headers.status() : 0; }
};

}  // namespace nats
