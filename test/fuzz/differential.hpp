// The property both fuzzers check (scenarios P1/P2): for any bytes, the parser gives the same
// operations and the same error whether the bytes arrive whole, byte by byte or in odd chunks;
// errors are sticky; buffering stays bounded; and what the other decoders (headers, INFO JSON,
// URLs, subjects) accept round-trips through their writers.
#pragma once

#include <string>
#include <string_view>

namespace nats::fuzz {

/// Runs every check on `data`. Returns an empty string when all hold, otherwise a description of
/// the first violation.
std::string check_input(std::string_view data);

}  // namespace nats::fuzz
