#include <nats/js/metadata.hpp>

#include <array>
#include <charconv>

namespace nats::js {
namespace {

bool to_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace

std::optional<msg_metadata> parse_metadata(std::string_view reply) {
  constexpr std::string_view prefix = "$JS.ACK.";
  if (reply.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = reply.substr(prefix.size());
  std::array<std::string_view, 12> tok{};
  std::size_t n = 0;
  while (!rest.empty()) {
    const auto dot = rest.find('.');
    if (n < tok.size()) tok[n] = rest.substr(0, dot);  // later tokens: reserved for future use
    ++n;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
    if (rest.empty()) return std::nullopt;  // trailing dot
  }
  msg_metadata md;
  std::size_t i = 0;
  if (n == 7) {
    // old form: stream.consumer.delivered.sseq.cseq.ts.pending
  } else if (n >= 9) {
    // new form: domain.acchash.stream.consumer.delivered.sseq.cseq.ts.pending[.token...]
    if (tok[0] != "_") md.domain = tok[0];
    md.account_hash = tok[1];
    i = 2;
  } else {
    return std::nullopt;
  }
  md.stream = tok[i];
  md.consumer = tok[i + 1];
  std::uint64_t ts = 0;
  if (md.stream.empty() || md.consumer.empty() || !to_u64(tok[i + 2], md.num_delivered) ||
      !to_u64(tok[i + 3], md.stream_seq) || !to_u64(tok[i + 4], md.consumer_seq) || !to_u64(tok[i + 5], ts) ||
      !to_u64(tok[i + 6], md.num_pending))
    return std::nullopt;
  md.timestamp = time_point{std::chrono::nanoseconds{static_cast<std::int64_t>(ts)}};
  return md;
}

}  // namespace nats::js
