// Reply subjects of the form "<inbox>.<a>-<b>" (two numbers in base 36): PubAcks come back on one
// wildcard inbox subscription, and the last token says which publish each one answers (the async
// publisher: slot and id; the cluster layer: outbox sequence and send id). Internal header.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace nats::js::detail {

/// Appends "<a>-<b>" to `out`.
inline void append_reply_token(std::string& out, std::uint64_t a, std::uint64_t b) {
  char buf[16];  // a 64-bit number has at most 13 base-36 digits
  auto r = std::to_chars(buf, buf + sizeof buf, a, 36);
  out.append(buf, r.ptr);
  out += '-';
  r = std::to_chars(buf, buf + sizeof buf, b, 36);
  out.append(buf, r.ptr);
}

/// Reads "<a>-<b>" (the whole of `token`); false when it is anything else.
inline bool parse_reply_token(std::string_view token, std::uint64_t& a, std::uint64_t& b) {
  const char* end = token.data() + token.size();
  auto r = std::from_chars(token.data(), end, a, 36);
  if (r.ec != std::errc{} || r.ptr == end || *r.ptr != '-') return false;
  r = std::from_chars(r.ptr + 1, end, b, 36);
  return r.ec == std::errc{} && r.ptr == end;
}

}  // namespace nats::js::detail
