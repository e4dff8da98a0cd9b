// Subject and queue-group validation, and wildcard matching.
#pragma once

#include <boost/system/error_code.hpp>

#include <string_view>

namespace nats::protocol {

/// A subject to publish to: non-empty tokens separated by '.', no whitespace/control bytes, no wildcards.
boost::system::error_code validate_publish_subject(std::string_view subject);

/// A subject to subscribe to: like a publish subject, but a token may be `*`, and the last token may be `>`.
boost::system::error_code validate_subscribe_subject(std::string_view subject);

/// A queue group: a single token without '.', whitespace or wildcards... (NATS allows dots; we allow them too
/// but reject whitespace, control bytes and empty names).
boost::system::error_code validate_queue_group(std::string_view queue);

/// True when `subject` (no wildcards) matches `pattern` (may contain `*` and a trailing `>`).
bool subject_matches(std::string_view pattern, std::string_view subject) noexcept;

}  // namespace nats::protocol
