// Incremental NATS protocol parser. The hot path (MSG) is: one bounded memchr for the end of the
// control line, a hand-written split of at most five arguments, two integer parses, and a length
// check for the body. Nothing is allocated per message; operations are views into buf_.
#include <nats/protocol/parser.hpp>

#include <nats/error.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace nats::protocol {
namespace {

using boost::system::error_code;

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

// Bytes allowed inside a subject or reply token: anything but control bytes, space and DEL.
// Bytes >= 0x80 pass: subjects are not required to be UTF-8 and we must not choke on them.
constexpr bool is_token_byte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// `p` starts with the lower-case literal `lit` (ASCII case-insensitive).
bool starts_with_nocase(const char* p, std::size_t len, std::string_view lit) noexcept {
  if (len < lit.size()) return false;
  for (std::size_t i = 0; i < lit.size(); ++i) {
    if (ascii_lower(p[i]) != lit[i]) return false;
  }
  return true;
}

bool only_blanks(const char* p, std::size_t len) noexcept {
  for (std::size_t i = 0; i < len; ++i) {
    if (!is_blank(p[i])) return false;
  }
  return true;
}

// Decimal digits only, at least one; false on anything else or on overflow.
bool parse_u64(const char* p, std::size_t len, std::uint64_t& out) noexcept {
  if (len == 0) return false;
  std::uint64_t v = 0;
  if (len <= 19) {
    // 19 digits always fit in 64 bits: no overflow check on the common path.
    for (std::size_t i = 0; i < len; ++i) {
      const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(p[i])) - '0';
      if (d > 9) return false;
      v = v * 10 + d;
    }
  } else {
    for (std::size_t i = 0; i < len; ++i) {
      const unsigned d = static_cast<unsigned>(static_cast<unsigned char>(p[i])) - '0';
      if (d > 9) return false;
      if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
      v = v * 10 + d;
    }
  }
  out = v;
  return true;
}

struct arg {
  std::size_t off;
  std::size_t len;
};

// Splits line[from, len) at runs of spaces/tabs, checking on the way that every argument holds
// only token bytes. Returns the number of arguments; max + 1 when there are more than `max`, or
// when an argument holds a control byte (both are protocol errors to the caller).
std::size_t split_args(const char* line, std::size_t len, std::size_t from, arg* args, std::size_t max) noexcept {
  std::size_t n = 0;
  std::size_t i = from;
  while (true) {
    while (i < len && is_blank(line[i])) ++i;
    if (i == len) return n;
    if (n == max) return max + 1;
    const std::size_t start = i;
    while (i < len && is_token_byte(line[i])) ++i;
    if (i < len && !is_blank(line[i])) return max + 1;
    args[n++] = {start, i - start};
  }
}

std::string_view trim_blanks(std::string_view s) noexcept {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

parser::parser(parser_limits limits) : limits_(limits) {}

std::span<char> parser::prepare(std::size_t n) {
  if (begin_ == end_) {
    // Nothing unconsumed (the common case between reads): restart at the front, no copy.
    begin_ = end_ = 0;
  } else if (buf_.size() - end_ < n && begin_ > 0) {
    // Move the unconsumed tail (at most one partial operation) to the front. Offsets kept in
    // pending_ and scanned_ are relative to begin_, so they stay valid.
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - end_ < n) {
    if (n > buf_.max_size() - end_) throw std::length_error("nats::protocol::parser::prepare");
    std::size_t want = end_ + n;
    // A large message whose size is known: make room for all of it at once rather than doubling
    // (and copying) repeatedly while it arrives. total_len is bounded by max_payload.
    if (has_pending_) want = std::max(want, begin_ + pending_.body_off + pending_.total_len + 2);
    const std::size_t doubled = buf_.size() <= buf_.max_size() / 2 ? buf_.size() * 2 : want;
    buf_.resize(std::max(want, doubled));
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void parser::commit(std::size_t n) noexcept {
  if (failed_) return;  // a failed parser keeps nothing, so it cannot grow
  end_ += std::min(n, buf_.size() - end_);
}

void parser::feed(std::string_view bytes) {
  if (bytes.empty() || failed_) return;
  auto area = prepare(bytes.size());
  std::memcpy(area.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void parser::reset() noexcept {
  failed_.clear();
  begin_ = end_ = 0;
  scanned_ = 0;
  has_pending_ = false;
  // Give back the memory of a huge message from the previous connection.
  if (buf_.size() > (1u << 20)) std::string().swap(buf_);
}

std::optional<server_op> parser::fail(error_code& ec, error_code what) noexcept {
  failed_ = what;
  ec = what;
  begin_ = end_ = 0;
  scanned_ = 0;
  has_pending_ = false;
  return std::nullopt;
}

error_code parser::parse_msg_line(const char* line, std::size_t len, bool with_headers) noexcept {
  // MSG  <subject> <sid> [reply] <#bytes>
  // HMSG <subject> <sid> [reply] <#header bytes> <#total bytes>
  arg a[5];
  const std::size_t op_len = with_headers ? 4 : 3;
  const std::size_t min_args = with_headers ? 4 : 3;
  const std::size_t n = split_args(line, len, op_len, a, min_args + 1);
  if (n < min_args || n > min_args + 1) return error::protocol_error;
  const bool has_reply = n == min_args + 1;

  pending_msg m;
  m.kind = with_headers ? op_kind::hmsg : op_kind::msg;
  m.subject_off = a[0].off;
  m.subject_len = a[0].len;
  if (!parse_u64(line + a[1].off, a[1].len, m.sid)) return error::protocol_error;
  std::size_t next = 2;
  if (has_reply) {
    m.reply_off = a[2].off;
    m.reply_len = a[2].len;
    next = 3;
  }
  std::uint64_t header_len = 0;
  std::uint64_t total_len = 0;
  if (with_headers) {
    if (!parse_u64(line + a[next].off, a[next].len, header_len)) return error::protocol_error;
    ++next;
  }
  if (!parse_u64(line + a[next].off, a[next].len, total_len)) return error::protocol_error;
  if (header_len > total_len) return error::protocol_error;
  // Refuse before buffering a single payload byte. The second bound keeps offset arithmetic
  // far away from overflow whatever max_payload was set to.
  if (total_len > limits_.max_payload || total_len > std::numeric_limits<std::size_t>::max() / 4) {
    return error::max_payload_exceeded;
  }
  m.header_len = static_cast<std::size_t>(header_len);
  m.total_len = static_cast<std::size_t>(total_len);
  m.body_off = len + 2;
  pending_ = m;
  has_pending_ = true;
  return {};
}

server_op parser::take_pending() noexcept {
  const char* base = buf_.data() + begin_;
  const char* body = base + pending_.body_off;
  server_op op;
  op.kind = pending_.kind;
  op.sid = pending_.sid;
  op.subject = std::string_view(base + pending_.subject_off, pending_.subject_len);
  if (pending_.reply_len != 0) op.reply = std::string_view(base + pending_.reply_off, pending_.reply_len);
  op.headers = std::string_view(body, pending_.header_len);
  op.payload = std::string_view(body + pending_.header_len, pending_.total_len - pending_.header_len);
  begin_ += pending_.body_off + pending_.total_len + 2;
  has_pending_ = false;
  return op;
}

std::optional<server_op> parser::next(error_code& ec) {
  if (failed_) {
    ec = failed_;
    return std::nullopt;
  }
  ec.clear();

  if (!has_pending_) {
    const char* line = buf_.data() + begin_;
    const std::size_t avail = end_ - begin_;
    // The line (without CRLF) may be max_control_line long, so '\n' may sit at index max + 1 at
    // the latest. Searching only that window bounds both the work and the buffering.
    const std::size_t window = limits_.max_control_line > std::numeric_limits<std::size_t>::max() - 2
                                   ? std::numeric_limits<std::size_t>::max()
                                   : limits_.max_control_line + 2;
    const std::size_t search_end = std::min(avail, window);
    const void* nl = scanned_ < search_end ? std::memchr(line + scanned_, '\n', search_end - scanned_) : nullptr;
    if (nl == nullptr) {
      if (avail >= window) return fail(ec, error::control_line_too_long);
      scanned_ = search_end;
      return std::nullopt;
    }
    scanned_ = 0;
    const std::size_t nl_pos = static_cast<std::size_t>(static_cast<const char*>(nl) - line);
    if (nl_pos == 0 || line[nl_pos - 1] != '\r') return fail(ec, error::protocol_error);
    const std::size_t len = nl_pos - 1;
    if (len == 0) return fail(ec, error::protocol_error);

    server_op op;
    switch (ascii_lower(line[0])) {
      case 'm':
        if (len > 3 && starts_with_nocase(line, len, "msg") && is_blank(line[3])) {
          if (auto e = parse_msg_line(line, len, false)) return fail(ec, e);
          goto body;
        }
        break;
      case 'h':
        if (len > 4 && starts_with_nocase(line, len, "hmsg") && is_blank(line[4])) {
          if (auto e = parse_msg_line(line, len, true)) return fail(ec, e);
          goto body;
        }
        break;
      case 'p':
        if (starts_with_nocase(line, len, "ping") && only_blanks(line + 4, len - 4)) {
          op.kind = op_kind::ping;
        } else if (starts_with_nocase(line, len, "pong") && only_blanks(line + 4, len - 4)) {
          op.kind = op_kind::pong;
        } else {
          break;
        }
        begin_ += nl_pos + 1;
        return op;
      case '+':
        if (starts_with_nocase(line, len, "+ok") && only_blanks(line + 3, len - 3)) {
          op.kind = op_kind::ok;
          begin_ += nl_pos + 1;
          return op;
        }
        break;
      case 'i':
        if (len > 4 && starts_with_nocase(line, len, "info") && is_blank(line[4])) {
          op.kind = op_kind::info;
          op.text = trim_blanks(std::string_view(line + 5, len - 5));
          if (op.text.empty()) return fail(ec, error::protocol_error);
          begin_ += nl_pos + 1;
          return op;
        }
        break;
      case '-':
        if (starts_with_nocase(line, len, "-err") && (len == 4 || is_blank(line[4]))) {
          op.kind = op_kind::err;
          auto text = trim_blanks(std::string_view(line + 4, len - 4));
          if (!text.empty() && text.front() == '\'') text.remove_prefix(1);
          if (!text.empty() && text.back() == '\'') text.remove_suffix(1);
          op.text = text;
          begin_ += nl_pos + 1;
          return op;
        }
        break;
      default:
        break;
    }
    return fail(ec, error::protocol_error);
  }

body:
  const std::size_t need = pending_.body_off + pending_.total_len + 2;
  if (end_ - begin_ < need) return std::nullopt;
  const char* tail = buf_.data() + begin_ + need - 2;
  if (tail[0] != '\r' || tail[1] != '\n') return fail(ec, error::protocol_error);
  return take_pending();
}

}  // namespace nats::protocol
