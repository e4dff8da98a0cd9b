// Client → server operations. Every function computes the exact size, reserves once (the string
// grows geometrically, so a reused buffer stops allocating) and appends; numbers via to_chars.
#include <nats/protocol/serializer.hpp>

#include <charconv>

namespace nats::protocol {
namespace {

constexpr std::string_view crlf = "\r\n";

// A decimal number in a small stack buffer.
struct decimal {
  char buf[24];
  std::size_t len;
  explicit decimal(std::uint64_t v) noexcept {
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    len = static_cast<std::size_t>(r.ptr - buf);
  }
  std::string_view view() const noexcept { return {buf, len}; }
};

}  // namespace

void write_connect(std::string& out, std::string_view json) {
  out.reserve(out.size() + 8 + json.size() + 2);
  out.append("CONNECT ").append(json).append(crlf);
}

void write_pub(std::string& out, std::string_view subject, std::string_view reply, std::string_view payload) {
  const decimal size(payload.size());
  out.reserve(out.size() + 4 + subject.size() + 1 + (reply.empty() ? 0 : reply.size() + 1) + size.len + 2 +
              payload.size() + 2);
  out.append("PUB ").append(subject).push_back(' ');
  if (!reply.empty()) out.append(reply).push_back(' ');
  out.append(size.view()).append(crlf).append(payload).append(crlf);
}

void write_hpub(std::string& out, std::string_view subject, std::string_view reply, std::string_view header_block,
                std::string_view payload) {
  const decimal hsize(header_block.size());
  const decimal tsize(header_block.size() + payload.size());
  out.reserve(out.size() + 5 + subject.size() + 1 + (reply.empty() ? 0 : reply.size() + 1) + hsize.len + 1 + tsize.len +
              2 + header_block.size() + payload.size() + 2);
  out.append("HPUB ").append(subject).push_back(' ');
  if (!reply.empty()) out.append(reply).push_back(' ');
  out.append(hsize.view()).append(" ").append(tsize.view()).append(crlf);
  out.append(header_block).append(payload).append(crlf);
}

void write_sub(std::string& out, std::string_view subject, std::string_view queue, std::uint64_t sid) {
  const decimal s(sid);
  out.reserve(out.size() + 4 + subject.size() + 1 + (queue.empty() ? 0 : queue.size() + 1) + s.len + 2);
  out.append("SUB ").append(subject).push_back(' ');
  if (!queue.empty()) out.append(queue).push_back(' ');
  out.append(s.view()).append(crlf);
}

void write_unsub(std::string& out, std::uint64_t sid, std::optional<std::uint64_t> max) {
  const decimal s(sid);
  out.append("UNSUB ").append(s.view());
  if (max) {
    const decimal m(*max);
    out.append(" ").append(m.view());
  }
  out.append(crlf);
}

void write_ping(std::string& out) { out.append("PING\r\n"); }
void write_pong(std::string& out) { out.append("PONG\r\n"); }

}  // namespace nats::protocol
