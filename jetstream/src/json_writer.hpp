// A tiny JSON writer for API requests: appends to a string, escapes per RFC 8259, tracks commas.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace nats::js::detail {

class json_writer {
 public:
  json_writer& begin_object() { value_prefix(); out_.push_back('{'); first_ = true; return *this; }
  json_writer& end_object() { out_.push_back('}'); first_ = false; return *this; }
  json_writer& begin_array() { value_prefix(); out_.push_back('['); first_ = true; return *this; }
  json_writer& end_array() { out_.push_back(']'); first_ = false; return *this; }

  json_writer& key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    escaped(k);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  json_writer& value(std::string_view s) { value_prefix(); escaped(s); return *this; }
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(bool b) { value_prefix(); out_.append(b ? "true" : "false"); return *this; }
  template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  json_writer& value(Int n) {
    value_prefix();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out_.append(buf, r.ptr);
    return *this;
  }

  template <class T>
  json_writer& field(std::string_view k, const T& v) { key(k); return value(v); }

  std::string take() { return std::move(out_); }
  const std::string& str() const noexcept { return out_; }

 private:
  void value_prefix() {
    if (after_key_) { after_key_ = false; return; }
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  void escaped(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out_.push_back('"');
    for (char c : s) {
      const auto u = static_cast<unsigned char>(c);
      switch (c) {
        case '"': out_.append("\\\""); break;
        case '\\': out_.append("\\\\"); break;
        case '\b': out_.append("\\b"); break;
        case '\f': out_.append("\\f"); break;
        case '\n': out_.append("\\n"); break;
        case '\r': out_.append("\\r"); break;
        case '\t': out_.append("\\t"); break;
        default:
          if (u < 0x20) {
            out_.append("\\u00");
            out_.push_back(hex[u >> 4]);
            out_.push_back(hex[u & 0xf]);
          } else {
            out_.push_back(c);  // UTF-8 passes through unchanged
          }
      }
    }
    out_.push_back('"');
  }

  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace nats::js::detail
