// NATS message headers: `NATS/1.0[ <3-digit status>[ <description>]]\r\n`, then `Name: value\r\n`
// lines, then an empty line.
#include <nats/headers.hpp>

#include <nats/error.hpp>

#include <algorithm>
#include <charconv>

namespace nats {
namespace {

constexpr std::string_view version_line = "NATS/1.0";

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }

bool valid_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != ':';
  });
}

bool valid_value(std::string_view value) noexcept { return value.find_first_of("\r\n") == std::string_view::npos; }

// Writes a status code with at least three digits, so parse() reads it back.
void append_status(std::string& out, int code) {
  char buf[16];
  auto r = std::to_chars(buf, buf + sizeof buf, code);
  const auto len = static_cast<std::size_t>(r.ptr - buf);
  if (code >= 0 && len < 3) out.append(3 - len, '0');
  out.append(buf, len);
}

std::size_t status_digits(int code) {
  char buf[16];
  auto r = std::to_chars(buf, buf + sizeof buf, code);
  const auto len = static_cast<std::size_t>(r.ptr - buf);
  return (code >= 0 && len < 3) ? 3 : len;
}

}  // namespace

void headers::set_status(int code, std::string description) {
  status_ = code;
  description_ = std::move(description);
}

void headers::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void headers::set(std::string name, std::string value) {
  auto first = std::find_if(fields_.begin(), fields_.end(), [&](const field& f) { return iequals(f.first, name); });
  if (first == fields_.end()) {
    fields_.emplace_back(std::move(name), std::move(value));
    return;
  }
  // Keep the position of the first occurrence, drop the others.
  fields_.erase(std::remove_if(std::next(first), fields_.end(), [&](const field& f) { return iequals(f.first, name); }),
                fields_.end());
  first->first = std::move(name);
  first->second = std::move(value);
}

std::size_t headers::erase(std::string_view name) {
  const auto before = fields_.size();
  fields_.erase(std::remove_if(fields_.begin(), fields_.end(), [&](const field& f) { return iequals(f.first, name); }),
                fields_.end());
  return before - fields_.size();
}

std::optional<std::string_view> headers::get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (iequals(f.first, name)) return std::string_view(f.second);
  }
  return std::nullopt;
}

std::vector<std::string_view> headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (iequals(f.first, name)) out.emplace_back(f.second);
  }
  return out;
}

std::size_t headers::serialized_size() const {
  std::size_t n = version_line.size() + 2 + 2;
  if (status_ != 0) {
    n += 1 + status_digits(status_);
    if (!description_.empty()) n += 1 + description_.size();
  }
  for (const auto& f : fields_) n += f.first.size() + 2 + f.second.size() + 2;
  return n;
}

void headers::serialize(std::string& out) const {
  out.reserve(out.size() + serialized_size());
  out.append(version_line);
  if (status_ != 0) {
    out.push_back(' ');
    append_status(out, status_);
    if (!description_.empty()) out.append(" ").append(description_);
  }
  out.append("\r\n");
  for (const auto& f : fields_) out.append(f.first).append(": ").append(f.second).append("\r\n");
  out.append("\r\n");
}

headers headers::parse(std::string_view block, boost::system::error_code& ec) {
  ec.clear();
  headers h;
  const auto bad = [&ec]() {
    ec = error::invalid_header;
    return headers{};
  };

  // Takes the next CRLF-terminated line off `block`; false when there is no complete line.
  std::string_view line;
  const auto next_line = [&block, &line]() {
    const auto nl = block.find('\n');
    if (nl == std::string_view::npos || nl == 0 || block[nl - 1] != '\r') return false;
    line = block.substr(0, nl - 1);
    block.remove_prefix(nl + 1);
    return true;
  };

  if (!next_line() || line.substr(0, version_line.size()) != version_line) return bad();
  auto rest = line.substr(version_line.size());
  if (!rest.empty()) {
    if (!is_blank(rest.front())) return bad();  // e.g. NATS/1.01
    while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
    if (!rest.empty()) {
      // Three digits, the first non-zero, then the end or a blank and a description.
      if (rest.size() < 3 || rest[0] < '1' || rest[0] > '9' || rest[1] < '0' || rest[1] > '9' || rest[2] < '0' ||
          rest[2] > '9') {
        return bad();
      }
      if (rest.size() > 3 && !is_blank(rest[3])) return bad();
      h.status_ = (rest[0] - '0') * 100 + (rest[1] - '0') * 10 + (rest[2] - '0');
      auto desc = rest.substr(3);
      while (!desc.empty() && is_blank(desc.front())) desc.remove_prefix(1);
      while (!desc.empty() && is_blank(desc.back())) desc.remove_suffix(1);
      if (!valid_value(desc)) return bad();
      h.description_.assign(desc);
    }
  }

  while (!block.empty()) {
    if (!next_line()) return bad();
    if (line.empty()) {
      // The blank line ends the block; nothing may follow it.
      if (!block.empty()) return bad();
      break;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return bad();
    const auto name = line.substr(0, colon);
    auto value = line.substr(colon + 1);
    while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
    if (!valid_name(name) || !valid_value(value)) return bad();
    h.fields_.emplace_back(std::string(name), std::string(value));
  }
  return h;
}

boost::system::error_code headers::validate(std::string_view name, std::string_view value) {
  if (!valid_name(name) || !valid_value(value)) return error::invalid_header;
  return {};
}

}  // namespace nats
