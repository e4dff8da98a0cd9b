#include <nats/kv/bucket.hpp>
#include <nats/kv/error.hpp>

namespace nats::kv {
namespace {

bool key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/' ||
         c == '_' || c == '=';
}

// Keys are subject tokens joined by '.': no empty token, so no leading/trailing/double dot.
bool check_key(std::string_view key, bool wildcards) noexcept {
  if (key.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    const auto tok = key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (tok.empty()) return false;
    if (wildcards && tok == "*") {
    } else if (wildcards && tok == ">") {
      if (dot != std::string_view::npos) return false;  // '>' only last
    } else {
      for (char c : tok)
        if (!key_char(c)) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

std::string stream_name(std::string_view bucket) { return "KV_" + std::string(bucket); }
std::string subject_prefix(std::string_view bucket) { return "$KV." + std::string(bucket) + "."; }
std::string key_subject(std::string_view bucket, std::string_view key) {
  return subject_prefix(bucket) + std::string(key);
}

bool valid_bucket_name(std::string_view b) noexcept {
  if (b.empty()) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

bool valid_key(std::string_view key) noexcept { return check_key(key, false); }
bool valid_key_filter(std::string_view f) noexcept { return check_key(f, true); }

boost::system::error_code validate(const bucket_config& c) {
  if (!valid_bucket_name(c.bucket)) return make_error_code(error::invalid_bucket_name);
  if (c.history > max_history) return make_error_code(error::history_too_large);
  if (c.history < 1 || c.ttl.count() < 0 || c.replicas < 1 || c.replicas > 5)
    return make_error_code(error::invalid_config);
  return {};
}

js::stream_config to_stream_config(const bucket_config& c) {
  using namespace std::chrono_literals;
  js::stream_config s;
  s.name = stream_name(c.bucket);
  s.description = c.description;
  s.subjects = {key_subject(c.bucket, ">")};
  s.max_msgs_per_subject = c.history < 1 ? 1 : c.history;
  s.max_bytes = c.max_bytes;
  s.max_age = c.ttl;
  s.max_msg_size = c.max_value_size;
  s.storage = c.storage;
  s.replicas = c.replicas;
  s.allow_rollup_hdrs = true;
  s.deny_delete = true;
  s.allow_direct = true;
  s.discard = js::discard_policy::new_msgs;
  s.max_msgs = -1;
  s.max_consumers = -1;
  // Same rule as the other clients: 2 min, or the TTL when it is shorter.
  s.duplicate_window = (c.ttl.count() > 0 && c.ttl < std::chrono::nanoseconds(2min)) ? c.ttl
                                                                                     : std::chrono::nanoseconds(2min);
  s.republish = c.republish;
  return s;
}

std::optional<bucket_status> status_from(const js::stream_info& info) {
  const auto& c = info.config;
  if (!c.name.starts_with("KV_")) return std::nullopt;
  bucket_status st;
  st.bucket = c.name.substr(3);
  if (c.subjects.size() != 1 || c.subjects[0] != key_subject(st.bucket, ">")) return std::nullopt;
  st.values = info.state.messages;
  st.history = c.max_msgs_per_subject;
  st.ttl = c.max_age;
  st.bytes = info.state.bytes;
  st.storage = c.storage;
  st.replicas = c.replicas;
  st.allow_direct = c.allow_direct;
  st.stream_name = c.name;
  st.info = info;
  return st;
}

}  // namespace nats::kv
