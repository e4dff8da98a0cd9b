// Wall-clock times as JetStream sends them (RFC 3339 with nanoseconds, UTC).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace nats::js {

using time_point = std::chrono::sys_time<std::chrono::nanoseconds>;

/// Formats as `YYYY-MM-DDTHH:MM:SS[.fffffffff]Z` (trailing zeros of the fraction dropped).
std::string format_rfc3339(time_point t);
/// Parses RFC 3339 (any fraction length, `Z` or `±hh:mm`). nullopt when malformed.
std::optional<time_point> parse_rfc3339(std::string_view s);

}  // namespace nats::js
