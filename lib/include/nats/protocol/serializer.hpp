// Sans-io serializer for what a NATS client sends. Each function appends one operation to `out`.
// Arguments are assumed valid (validate subjects first); the functions never fail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nats::protocol {

/// `CONNECT <json>\r\n`
void write_connect(std::string& out, std::string_view json);
/// `PUB <subject> [reply] <size>\r\n<payload>\r\n`
void write_pub(std::string& out, std::string_view subject, std::string_view reply, std::string_view payload);
/// `HPUB <subject> [reply] <hdr size> <total size>\r\n<headers><payload>\r\n` — `header_block` is
/// the serialized header block (see nats::headers::serialize).
void write_hpub(std::string& out, std::string_view subject, std::string_view reply,
                std::string_view header_block, std::string_view payload);
/// `SUB <subject> [queue] <sid>\r\n`
void write_sub(std::string& out, std::string_view subject, std::string_view queue, std::uint64_t sid);
/// `UNSUB <sid> [max]\r\n`
void write_unsub(std::string& out, std::uint64_t sid, std::optional<std::uint64_t> max = std::nullopt);
void write_ping(std::string& out);
void write_pong(std::string& out);

}  // namespace nats::protocol
