// Test helper shared by the parser unit tests and the fuzzers: feeds bytes to a parser in a given
// chunking, records every operation as owned strings, and stops at the first error. Two runs over
// the same bytes must record the same thing whatever the chunking (scenario P2).
#pragma once

#include <nats/error.hpp>
#include <nats/protocol/parser.hpp>

#include <cstdint>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace nats::test {

struct recorded_op {
  protocol::op_kind kind{};
  std::string subject;
  std::string reply;
  std::uint64_t sid = 0;
  std::string headers;
  std::string payload;
  std::string text;

  friend bool operator==(const recorded_op&, const recorded_op&) = default;
};

inline recorded_op record(const protocol::server_op& op) {
  return {op.kind,
          std::string(op.subject),
          std::string(op.reply),
          op.sid,
          std::string(op.headers),
          std::string(op.payload),
          std::string(op.text)};
}

inline const char* kind_name(protocol::op_kind k) {
  switch (k) {
    case protocol::op_kind::info:
      return "INFO";
    case protocol::op_kind::msg:
      return "MSG";
    case protocol::op_kind::hmsg:
      return "HMSG";
    case protocol::op_kind::ping:
      return "PING";
    case protocol::op_kind::pong:
      return "PONG";
    case protocol::op_kind::ok:
      return "+OK";
    case protocol::op_kind::err:
      return "-ERR";
  }
  return "?";
}

inline std::string describe(const recorded_op& op) {
  std::ostringstream os;
  os << kind_name(op.kind);
  if (op.kind == protocol::op_kind::msg || op.kind == protocol::op_kind::hmsg) {
    os << " subject=" << op.subject << " sid=" << op.sid << " reply=" << op.reply << " headers=" << op.headers.size()
       << "B payload=" << op.payload.size() << "B";
  } else if (!op.text.empty()) {
    os << " text=" << op.text.size() << "B";
  }
  return os.str();
}

inline std::ostream& operator<<(std::ostream& os, const recorded_op& op) { return os << describe(op); }

struct run_result {
  std::vector<recorded_op> ops;
  boost::system::error_code ec;  // first error, if any
  bool sticky_error = true;      // next() kept returning the error
  bool bounded = true;           // buffered() never exceeded what one operation may need

  friend bool operator==(const run_result& a, const run_result& b) { return a.ops == b.ops && a.ec == b.ec; }
};

inline std::string describe(const run_result& r) {
  std::ostringstream os;
  os << r.ops.size() << " ops, ec=" << (r.ec ? r.ec.message() : std::string("none"));
  for (const auto& op : r.ops) os << "\n  " << describe(op);
  return os.str();
}

/// Largest number of bytes the parser may hold after next() returned nullopt: one partial control
/// line, or a parsed control line plus a partial body.
inline std::size_t buffer_bound(const protocol::parser_limits& l) { return l.max_control_line + 2 + l.max_payload + 2; }

/// Feeds `input` in chunks whose sizes come from `next_size()` (values of 0 are treated as 1),
/// draining the parser after each chunk.
template <class NextSize>
run_result run_chunked(std::string_view input, protocol::parser_limits limits, NextSize&& next_size) {
  run_result r;
  protocol::parser p(limits);
  std::size_t pos = 0;
  while (pos < input.size() && !r.ec) {
    std::size_t n = next_size();
    if (n == 0) n = 1;
    if (n > input.size() - pos) n = input.size() - pos;
    p.feed(input.substr(pos, n));
    pos += n;
    while (true) {
      boost::system::error_code ec;
      auto op = p.next(ec);
      if (ec) {
        r.ec = ec;
        boost::system::error_code again;
        r.sticky_error = !p.next(again) && again == ec;
        p.feed("PING\r\n");
        r.sticky_error = r.sticky_error && !p.next(again) && again == ec;
        break;
      }
      if (!op) break;
      r.ops.push_back(record(*op));
    }
    if (p.buffered() > buffer_bound(limits)) r.bounded = false;
  }
  return r;
}

inline run_result run_whole(std::string_view input, protocol::parser_limits limits = {}) {
  return run_chunked(input, limits, [n = input.size()] { return n; });
}

inline run_result run_bytewise(std::string_view input, protocol::parser_limits limits = {}) {
  return run_chunked(input, limits, [] { return std::size_t{1}; });
}

/// Two chunks: [0, cut) and [cut, end).
inline run_result run_split(std::string_view input, std::size_t cut, protocol::parser_limits limits = {}) {
  bool first = true;
  return run_chunked(input, limits, [&]() -> std::size_t {
    if (first) {
      first = false;
      return cut == 0 ? input.size() : cut;
    }
    return input.size();
  });
}

/// Small deterministic PRNG (xorshift64*), so failures reproduce from the seed.
struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed) : s(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  std::uint64_t operator()() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>((*this)() % n); }
};

}  // namespace nats::test
