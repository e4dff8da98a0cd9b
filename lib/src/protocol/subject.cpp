// Subject rules: tokens separated by '.', none empty, no whitespace or control bytes. Wildcards are
// whole tokens only (`*` one token, `>` the rest); `a*` is an ordinary token.
#include <nats/protocol/subject.hpp>

#include <nats/error.hpp>

namespace nats::protocol {
namespace {

constexpr bool is_bad_byte(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;  // control bytes, space, DEL
}

enum class wildcards { none, allowed };

boost::system::error_code validate(std::string_view subject, wildcards w) noexcept {
  if (subject.empty()) return error::invalid_subject;
  std::size_t start = 0;
  while (true) {
    auto dot = subject.find('.', start);
    const bool last = dot == std::string_view::npos;
    if (last) dot = subject.size();
    const auto token = subject.substr(start, dot - start);
    if (token.empty()) return error::invalid_subject;
    for (char c : token) {
      if (is_bad_byte(c)) return error::invalid_subject;
    }
    if (token == "*" || token == ">") {
      if (w == wildcards::none) return error::invalid_subject;
      if (token == ">" && !last) return error::invalid_subject;
    }
    if (last) return {};
    start = dot + 1;
  }
}

}  // namespace

boost::system::error_code validate_publish_subject(std::string_view subject) {
  return validate(subject, wildcards::none);
}

boost::system::error_code validate_subscribe_subject(std::string_view subject) {
  return validate(subject, wildcards::allowed);
}

boost::system::error_code validate_queue_group(std::string_view queue) {
  if (queue.empty()) return error::invalid_queue_group;
  for (char c : queue) {
    if (is_bad_byte(c)) return error::invalid_queue_group;
  }
  return {};
}

bool subject_matches(std::string_view pattern, std::string_view subject) noexcept {
  if (pattern.empty() || subject.empty()) return false;
  std::size_t p = 0;
  std::size_t s = 0;
  while (true) {
    auto pdot = pattern.find('.', p);
    if (pdot == std::string_view::npos) pdot = pattern.size();
    const auto ptok = pattern.substr(p, pdot - p);
    if (ptok == ">" && pdot == pattern.size()) return s < subject.size();  // one or more tokens left
    auto sdot = subject.find('.', s);
    if (sdot == std::string_view::npos) sdot = subject.size();
    const auto stok = subject.substr(s, sdot - s);
    if (ptok != "*" && ptok != stok) return false;
    const bool pend = pdot == pattern.size();
    const bool send = sdot == subject.size();
    if (pend || send) return pend && send;
    p = pdot + 1;
    s = sdot + 1;
  }
}

}  // namespace nats::protocol
