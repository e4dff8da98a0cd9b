#include <nats/kv/entry.hpp>

#include <nats/js/metadata.hpp>

namespace nats::kv {

const char* to_string(operation op) noexcept {
  switch (op) {
    case operation::put: return "PUT";
    case operation::del: return "DEL";
    case operation::purge: return "PURGE";
  }
  return "?";
}

operation operation_of(const headers& h) noexcept {
  auto v = h.get(operation_header);
  if (!v) return operation::put;
  if (*v == "DEL") return operation::del;
  if (*v == "PURGE") return operation::purge;
  return operation::put;
}

std::optional<std::string_view> key_of(std::string_view bucket, std::string_view subject) noexcept {
  constexpr std::string_view kv = "$KV.";
  if (subject.size() <= kv.size() + bucket.size() + 1 || !subject.starts_with(kv)) return std::nullopt;
  subject.remove_prefix(kv.size());
  if (!subject.starts_with(bucket) || subject[bucket.size()] != '.') return std::nullopt;
  return subject.substr(bucket.size() + 1);
}

std::optional<entry> entry_from(std::string_view bucket, const js::stored_msg& m) {
  auto key = key_of(bucket, m.subject);
  if (!key) return std::nullopt;
  entry e;
  e.bucket = bucket;
  e.key = *key;
  e.value = m.data;
  e.revision = m.seq;
  e.created = m.time;
  e.op = operation_of(m.headers);
  return e;
}

std::optional<entry> entry_from(std::string_view bucket, const message& m) {
  auto key = key_of(bucket, m.subject);
  auto md = js::parse_metadata(m.reply);
  if (!key || !md) return std::nullopt;
  entry e;
  e.bucket = bucket;
  e.key = *key;
  e.value = m.payload;
  e.revision = md->stream_seq;
  e.delta = md->num_pending;
  e.created = md->timestamp;
  e.op = m.has_headers ? operation_of(m.headers) : operation::put;
  return e;
}

}  // namespace nats::kv
