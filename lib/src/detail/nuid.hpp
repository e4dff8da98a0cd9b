// Internal: unique identifiers for inboxes (12 random base62 chars + 10 sequential ones).
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace nats::detail {

class nuid {
 public:
  nuid();
  /// A new 22-character identifier.
  std::string next();

 private:
  void randomize_prefix();
  std::mt19937_64 rng_;
  char prefix_[12];
  std::uint64_t seq_ = 0;
  std::uint64_t inc_ = 0;
};

}  // namespace nats::detail
