// JetStream API JSON: requests written with json_writer, replies read with simdjson's DOM.
#include <nats/js/json.hpp>

#include "json_writer.hpp"

#include <simdjson.h>

#include <charconv>
#include <limits>

namespace nats::js::json {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;
using detail::json_writer;

// ---------- enum names ----------

template <class E>
struct names;
template <>
struct names<retention_policy> {
  static constexpr const char* v[] = {"limits", "interest", "workqueue"};
};
template <>
struct names<storage_type> {
  static constexpr const char* v[] = {"file", "memory"};
};
template <>
struct names<discard_policy> {
  static constexpr const char* v[] = {"old", "new"};
};
template <>
struct names<deliver_policy> {
  static constexpr const char* v[] = {"all", "last", "new", "by_start_sequence", "by_start_time",
                                      "last_per_subject"};
};
template <>
struct names<ack_policy> {
  static constexpr const char* v[] = {"none", "all", "explicit"};
};
template <>
struct names<replay_policy> {
  static constexpr const char* v[] = {"instant", "original"};
};

template <class E>
const char* name_of(E e) noexcept {
  return names<E>::v[static_cast<std::size_t>(e)];
}

// ---------- reading ----------

simdjson::dom::parser& parser() {
  thread_local simdjson::dom::parser p;
  return p;
}

bool read(element v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  out.assign(s);
  return true;
}
bool read(element v, bool& out) { return v.get_bool().get(out) == simdjson::SUCCESS; }
bool read(element v, std::int64_t& out) {
  if (v.get_int64().get(out) == simdjson::SUCCESS) return true;
  double d;  // some servers print large limits as floats
  if (v.get_double().get(d) != simdjson::SUCCESS) return false;
  out = static_cast<std::int64_t>(d);
  return true;
}
bool read(element v, std::uint64_t& out) {
  if (v.get_uint64().get(out) == simdjson::SUCCESS) return true;
  std::int64_t i;
  if (v.get_int64().get(i) == simdjson::SUCCESS && i < 0) {  // -1 "unlimited" where we use unsigned
    out = 0;
    return true;
  }
  return false;
}
bool read(element v, int& out) {
  std::int64_t n;
  if (!read(v, n) || n < std::numeric_limits<int>::min() || n > std::numeric_limits<int>::max()) return false;
  out = static_cast<int>(n);
  return true;
}
bool read(element v, std::chrono::nanoseconds& out) {
  std::int64_t n;
  if (!read(v, n)) return false;
  out = std::chrono::nanoseconds{n};
  return true;
}
bool read(element v, std::optional<time_point>& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  if (s.starts_with("0001-01-01T00:00:00")) {  // Go's zero time: "unset"
    out.reset();
    return true;
  }
  auto t = parse_rfc3339(s);
  if (!t) return false;
  out = *t;
  return true;
}
bool read(element v, std::vector<std::string>& out) {
  simdjson::dom::array arr;
  if (v.is_null()) {
    out.clear();
    return true;
  }
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  out.clear();
  for (element item : arr) {
    std::string s;
    if (!read(item, s)) return false;
    out.push_back(std::move(s));
  }
  return true;
}
bool read(element v, std::vector<std::chrono::nanoseconds>& out) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  out.clear();
  for (element item : arr) {
    std::chrono::nanoseconds d;
    if (!read(item, d)) return false;
    out.push_back(d);
  }
  return true;
}
bool read(element v, std::map<std::string, std::string>& out) {
  object obj;
  if (v.get_object().get(obj) != simdjson::SUCCESS) return false;
  out.clear();
  for (auto [k, val] : obj) {
    std::string s;
    if (!read(val, s)) return false;
    out.emplace(std::string(k), std::move(s));
  }
  return true;
}
template <class E>
bool read_enum(element v, E& out) {
  std::string_view s;
  if (v.get_string().get(s) != simdjson::SUCCESS) return false;
  std::size_t i = 0;
  for (const char* n : names<E>::v) {
    if (s == n) {
      out = static_cast<E>(i);
      return true;
    }
    ++i;
  }
  return true;  // a newer server's value we do not know: keep the default, do not fail the reply
}

// Reads the field when present; a present field of the wrong type fails the whole reply.
template <class T>
bool opt(object o, std::string_view key, T& out) {
  element v;
  if (o.at_key(key).get(v) != simdjson::SUCCESS) return true;
  if (v.is_null()) return true;
  if constexpr (std::is_enum_v<T>) {
    return read_enum(v, out);
  } else {
    return read(v, out);
  }
}

bool read(element v, stream_source& out) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  bool ok = opt(o, "name", out.name) && opt(o, "opt_start_seq", out.opt_start_seq) &&
            opt(o, "opt_start_time", out.opt_start_time) && opt(o, "filter_subject", out.filter_subject);
  object ext;
  if (ok && o["external"].get_object().get(ext) == simdjson::SUCCESS) {
    std::string api;
    ok = opt(ext, "api", api);
    // "$JS.<domain>.API" → domain
    constexpr std::string_view pre = "$JS.", suf = ".API";
    if (api.size() > pre.size() + suf.size() && api.starts_with(pre) && api.ends_with(suf))
      out.domain = api.substr(pre.size(), api.size() - pre.size() - suf.size());
  }
  return ok;
}

bool read(element v, stream_config& c) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  bool ok = opt(o, "name", c.name) && opt(o, "description", c.description) && opt(o, "subjects", c.subjects) &&
            opt(o, "retention", c.retention) && opt(o, "storage", c.storage) && opt(o, "num_replicas", c.replicas) &&
            opt(o, "max_consumers", c.max_consumers) && opt(o, "max_msgs", c.max_msgs) &&
            opt(o, "max_bytes", c.max_bytes) && opt(o, "max_age", c.max_age) &&
            opt(o, "max_msgs_per_subject", c.max_msgs_per_subject) && opt(o, "max_msg_size", c.max_msg_size) &&
            opt(o, "discard", c.discard) && opt(o, "discard_new_per_subject", c.discard_new_per_subject) &&
            opt(o, "duplicate_window", c.duplicate_window) && opt(o, "no_ack", c.no_ack) &&
            opt(o, "sealed", c.sealed) && opt(o, "deny_delete", c.deny_delete) && opt(o, "deny_purge", c.deny_purge) &&
            opt(o, "allow_rollup_hdrs", c.allow_rollup_hdrs) && opt(o, "allow_direct", c.allow_direct) &&
            opt(o, "mirror_direct", c.mirror_direct) && opt(o, "metadata", c.metadata) &&
            opt(o, "allow_msg_ttl", c.allow_msg_ttl);
  if (!ok) return false;
  element e;
  if (o["first_seq"].get(e) == simdjson::SUCCESS) {
    std::uint64_t fs = 0;
    if (!read(e, fs)) return false;
    c.first_seq = fs;
  }
  object rp;
  if (o["republish"].get_object().get(rp) == simdjson::SUCCESS) {
    republish_config r;
    if (!opt(rp, "src", r.src) || !opt(rp, "dest", r.dest) || !opt(rp, "headers_only", r.headers_only)) return false;
    c.republish = std::move(r);
  }
  if (o["mirror"].get(e) == simdjson::SUCCESS && !e.is_null()) {
    stream_source s;
    if (!read(e, s)) return false;
    c.mirror = std::move(s);
  }
  simdjson::dom::array arr;
  if (o["sources"].get_array().get(arr) == simdjson::SUCCESS) {
    c.sources.clear();
    for (element it : arr) {
      stream_source s;
      if (!read(it, s)) return false;
      c.sources.push_back(std::move(s));
    }
  }
  return true;
}

bool read(element v, stream_state& s) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  return opt(o, "messages", s.messages) && opt(o, "bytes", s.bytes) && opt(o, "first_seq", s.first_seq) &&
         opt(o, "first_ts", s.first_ts) && opt(o, "last_seq", s.last_seq) && opt(o, "last_ts", s.last_ts) &&
         opt(o, "num_deleted", s.num_deleted) && opt(o, "num_subjects", s.num_subjects) &&
         opt(o, "consumer_count", s.consumer_count);
}

bool read(element v, stream_info& info) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  element e;
  if (o["config"].get(e) != simdjson::SUCCESS || !read(e, info.config)) return false;
  if (o["state"].get(e) == simdjson::SUCCESS && !read(e, info.state)) return false;
  if (!opt(o, "created", info.created)) return false;
  object cl;
  if (o["cluster"].get_object().get(cl) == simdjson::SUCCESS) {
    cluster_info ci;
    if (!opt(cl, "name", ci.name) || !opt(cl, "leader", ci.leader)) return false;
    info.cluster = std::move(ci);
  }
  return true;
}

bool read(element v, consumer_config& c) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  return opt(o, "durable_name", c.durable_name) && opt(o, "name", c.name) && opt(o, "description", c.description) &&
         opt(o, "deliver_policy", c.deliver) && opt(o, "opt_start_seq", c.opt_start_seq) &&
         opt(o, "opt_start_time", c.opt_start_time) && opt(o, "ack_policy", c.ack) && opt(o, "ack_wait", c.ack_wait) &&
         opt(o, "max_deliver", c.max_deliver) && opt(o, "backoff", c.backoff) &&
         opt(o, "filter_subject", c.filter_subject) && opt(o, "filter_subjects", c.filter_subjects) &&
         opt(o, "replay_policy", c.replay) && opt(o, "rate_limit_bps", c.rate_limit_bps) &&
         opt(o, "sample_freq", c.sample_frequency) && opt(o, "max_waiting", c.max_waiting) &&
         opt(o, "max_ack_pending", c.max_ack_pending) && opt(o, "headers_only", c.headers_only) &&
         opt(o, "max_batch", c.max_batch) && opt(o, "max_expires", c.max_expires) &&
         opt(o, "max_bytes", c.max_bytes) && opt(o, "inactive_threshold", c.inactive_threshold) &&
         opt(o, "num_replicas", c.replicas) && opt(o, "mem_storage", c.mem_storage) &&
         opt(o, "deliver_subject", c.deliver_subject) && opt(o, "deliver_group", c.deliver_group) &&
         opt(o, "flow_control", c.flow_control) && opt(o, "idle_heartbeat", c.idle_heartbeat) &&
         opt(o, "metadata", c.metadata);
}

bool read(element v, sequence_info& s) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  return opt(o, "consumer_seq", s.consumer_seq) && opt(o, "stream_seq", s.stream_seq) &&
         opt(o, "last_active", s.last_active);
}

bool read(element v, consumer_info& info) {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  element e;
  if (o["config"].get(e) != simdjson::SUCCESS || !read(e, info.config)) return false;
  if (o["delivered"].get(e) == simdjson::SUCCESS && !read(e, info.delivered)) return false;
  if (o["ack_floor"].get(e) == simdjson::SUCCESS && !read(e, info.ack_floor)) return false;
  return opt(o, "stream_name", info.stream_name) && opt(o, "name", info.name) && opt(o, "created", info.created) &&
         opt(o, "num_ack_pending", info.num_ack_pending) && opt(o, "num_redelivered", info.num_redelivered) &&
         opt(o, "num_waiting", info.num_waiting) && opt(o, "num_pending", info.num_pending) &&
         opt(o, "push_bound", info.push_bound);
}

// Parses the document; on `{"error":...}` fills api. Returns success with `root` set otherwise.
error_code open(std::string_view json, object& root, api_error& api, element* doc_out = nullptr) {
  element doc;
  if (parser().parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(root) != simdjson::SUCCESS)
    return make_error_code(error::invalid_reply);
  object err;
  if (root["error"].get_object().get(err) == simdjson::SUCCESS) {
    api = {};
    if (!opt(err, "code", api.code) || !opt(err, "err_code", api.err_code) ||
        !opt(err, "description", api.description))
      return make_error_code(error::invalid_reply);
    if (!api) api.code = 500;
    return api.to_error_code();
  }
  if (doc_out) *doc_out = doc;
  return {};
}

template <class T>
error_code decode_root(std::string_view json, T& out, api_error& api) {
  object root;
  element doc;
  if (auto ec = open(json, root, api, &doc)) return ec;
  out = T{};
  if (!read(doc, out)) return make_error_code(error::invalid_reply);
  return {};
}

bool read_paging(object root, std::uint64_t& total, std::uint64_t& offset, std::uint64_t& limit) {
  return opt(root, "total", total) && opt(root, "offset", offset) && opt(root, "limit", limit);
}

// ---------- writing ----------

void write_ns(json_writer& w, std::string_view key, std::chrono::nanoseconds d) {
  if (d.count() != 0) w.field(key, static_cast<std::int64_t>(d.count()));
}
void write_str(json_writer& w, std::string_view key, const std::string& s) {
  if (!s.empty()) w.field(key, std::string_view(s));
}
void write_time(json_writer& w, std::string_view key, const std::optional<time_point>& t) {
  if (t) w.field(key, std::string_view(format_rfc3339(*t)));
}
void write_metadata(json_writer& w, const std::map<std::string, std::string>& md) {
  if (md.empty()) return;
  w.key("metadata").begin_object();
  for (const auto& [k, v] : md) w.field(k, std::string_view(v));
  w.end_object();
}
void write_source(json_writer& w, const stream_source& s) {
  w.begin_object();
  w.field("name", std::string_view(s.name));
  if (s.opt_start_seq) w.field("opt_start_seq", s.opt_start_seq);
  write_time(w, "opt_start_time", s.opt_start_time);
  write_str(w, "filter_subject", s.filter_subject);
  if (!s.domain.empty()) {
    w.key("external").begin_object();
    w.field("api", std::string_view("$JS." + s.domain + ".API"));
    w.end_object();
  }
  w.end_object();
}

void write_config(json_writer& w, const stream_config& c) {
  w.begin_object();
  w.field("name", std::string_view(c.name));
  write_str(w, "description", c.description);
  if (!c.subjects.empty()) {
    w.key("subjects").begin_array();
    for (const auto& s : c.subjects) w.value(std::string_view(s));
    w.end_array();
  }
  w.field("retention", name_of(c.retention));
  w.field("max_consumers", c.max_consumers);
  w.field("max_msgs", c.max_msgs);
  w.field("max_bytes", c.max_bytes);
  w.field("max_age", static_cast<std::int64_t>(c.max_age.count()));
  w.field("max_msgs_per_subject", c.max_msgs_per_subject);
  w.field("max_msg_size", c.max_msg_size);
  w.field("discard", name_of(c.discard));
  if (c.discard_new_per_subject) w.field("discard_new_per_subject", true);
  w.field("storage", name_of(c.storage));
  w.field("num_replicas", c.replicas);
  write_ns(w, "duplicate_window", c.duplicate_window);
  if (c.no_ack) w.field("no_ack", true);
  if (c.sealed) w.field("sealed", true);
  w.field("deny_delete", c.deny_delete);
  w.field("deny_purge", c.deny_purge);
  w.field("allow_rollup_hdrs", c.allow_rollup_hdrs);
  w.field("allow_direct", c.allow_direct);
  if (c.mirror_direct) w.field("mirror_direct", true);
  if (c.republish) {
    w.key("republish").begin_object();
    w.field("src", std::string_view(c.republish->src)).field("dest", std::string_view(c.republish->dest));
    if (c.republish->headers_only) w.field("headers_only", true);
    w.end_object();
  }
  if (c.mirror) {
    w.key("mirror");
    write_source(w, *c.mirror);
  }
  if (!c.sources.empty()) {
    w.key("sources").begin_array();
    for (const auto& s : c.sources) write_source(w, s);
    w.end_array();
  }
  write_metadata(w, c.metadata);
  if (c.first_seq) w.field("first_seq", *c.first_seq);
  if (c.allow_msg_ttl) w.field("allow_msg_ttl", true);
  w.end_object();
}

void write_config(json_writer& w, const consumer_config& c) {
  w.begin_object();
  write_str(w, "durable_name", c.durable_name);
  write_str(w, "name", c.name);
  write_str(w, "description", c.description);
  w.field("deliver_policy", name_of(c.deliver));
  if (c.deliver == deliver_policy::by_start_sequence) w.field("opt_start_seq", c.opt_start_seq);
  if (c.deliver == deliver_policy::by_start_time) write_time(w, "opt_start_time", c.opt_start_time);
  w.field("ack_policy", name_of(c.ack));
  write_ns(w, "ack_wait", c.ack_wait);
  if (c.max_deliver != 0) w.field("max_deliver", c.max_deliver);
  if (!c.backoff.empty()) {
    w.key("backoff").begin_array();
    for (auto d : c.backoff) w.value(static_cast<std::int64_t>(d.count()));
    w.end_array();
  }
  write_str(w, "filter_subject", c.filter_subject);
  if (!c.filter_subjects.empty()) {
    w.key("filter_subjects").begin_array();
    for (const auto& s : c.filter_subjects) w.value(std::string_view(s));
    w.end_array();
  }
  w.field("replay_policy", name_of(c.replay));
  if (c.rate_limit_bps) w.field("rate_limit_bps", c.rate_limit_bps);
  write_str(w, "sample_freq", c.sample_frequency);
  if (c.max_waiting) w.field("max_waiting", c.max_waiting);
  if (c.max_ack_pending) w.field("max_ack_pending", c.max_ack_pending);
  if (c.headers_only) w.field("headers_only", true);
  if (c.max_batch) w.field("max_batch", c.max_batch);
  write_ns(w, "max_expires", c.max_expires);
  if (c.max_bytes) w.field("max_bytes", c.max_bytes);
  write_ns(w, "inactive_threshold", c.inactive_threshold);
  if (c.replicas) w.field("num_replicas", c.replicas);
  if (c.mem_storage) w.field("mem_storage", true);
  write_str(w, "deliver_subject", c.deliver_subject);
  write_str(w, "deliver_group", c.deliver_group);
  if (c.flow_control) w.field("flow_control", true);
  write_ns(w, "idle_heartbeat", c.idle_heartbeat);
  write_metadata(w, c.metadata);
  w.end_object();
}

constexpr char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool parse_u64(std::string_view s, std::uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace

// ---------- public ----------

std::string encode(const stream_config& cfg) {
  json_writer w;
  write_config(w, cfg);
  return w.take();
}

std::string encode_consumer_create(std::string_view stream, const consumer_config& cfg, consumer_action action) {
  json_writer w;
  w.begin_object();
  w.field("stream_name", stream);
  w.key("config");
  write_config(w, cfg);
  if (action == consumer_action::create) w.field("action", "create");
  if (action == consumer_action::update) w.field("action", "update");
  w.end_object();
  return w.take();
}

std::string encode(const purge_options& p) {
  json_writer w;
  w.begin_object();
  write_str(w, "filter", p.filter);
  if (p.sequence) w.field("seq", p.sequence);
  if (p.keep) w.field("keep", p.keep);
  w.end_object();
  return w.take();
}

std::string encode(const get_msg_request& r) {
  json_writer w;
  w.begin_object();
  if (!r.last_by_subject.empty()) {
    w.field("last_by_subj", std::string_view(r.last_by_subject));
  } else {
    w.field("seq", r.seq);
    write_str(w, "next_by_subj", r.next_by_subject);
  }
  w.end_object();
  return w.take();
}

std::string encode(const pull_request& r) {
  json_writer w;
  w.begin_object();
  w.field("batch", r.batch);
  if (r.max_bytes) w.field("max_bytes", r.max_bytes);
  write_ns(w, "expires", r.expires);
  if (r.no_wait) w.field("no_wait", true);
  write_ns(w, "idle_heartbeat", r.idle_heartbeat);
  w.end_object();
  return w.take();
}

std::string encode_list_request(std::uint64_t offset, std::string_view subject_filter) {
  json_writer w;
  w.begin_object();
  w.field("offset", offset);
  if (!subject_filter.empty()) w.field("subject", subject_filter);
  w.end_object();
  return w.take();
}

error_code decode(std::string_view json, stream_info& out, api_error& api) { return decode_root(json, out, api); }
error_code decode(std::string_view json, consumer_info& out, api_error& api) { return decode_root(json, out, api); }

namespace {

// The PubAck a server sends is a flat object of a few simple members: {"stream":"S","seq":12} with
// optional "duplicate":true and "domain":"D". This scanner reads exactly that shape (strings without
// escapes, unsigned integers, booleans) and gives up on anything else, which then goes through the DOM.
struct ack_scanner {
  const char* p;
  const char* end;

  void ws() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  }
  bool lit(char c) {
    ws();
    if (p == end || *p != c) return false;
    ++p;
    return true;
  }
  bool str(std::string_view& out) {
    if (!lit('"')) return false;
    const char* b = p;
    while (p < end && *p != '"') {
      if (*p == '\\' || static_cast<unsigned char>(*p) < 0x20) return false;
      ++p;
    }
    if (p == end) return false;
    out = std::string_view(b, static_cast<std::size_t>(p - b));
    ++p;
    return true;
  }
  bool u64(std::uint64_t& out) {
    ws();
    const auto r = std::from_chars(p, end, out);
    if (r.ec != std::errc{} || r.ptr == p) return false;
    p = r.ptr;
    return p == end || *p == ',' || *p == '}' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t';
  }
  bool boolean(bool& out) {
    ws();
    const std::string_view rest(p, static_cast<std::size_t>(end - p));
    if (rest.starts_with("true")) {
      out = true, p += 4;
    } else if (rest.starts_with("false")) {
      out = false, p += 5;
    } else {
      return false;
    }
    return true;
  }
};

// True when `json` was a plain PubAck and `out` is filled; false: use the DOM (errors, odd shapes).
bool scan_pub_ack(std::string_view json, pub_ack& out) {
  ack_scanner s{json.data(), json.data() + json.size()};
  if (!s.lit('{')) return false;
  bool has_stream = false, has_seq = false;
  for (bool first = true;; first = false) {
    if (s.lit('}')) break;
    if (!first && !s.lit(',')) return false;
    std::string_view key, v;
    if (!s.str(key) || !s.lit(':')) return false;
    if (key == "stream") {
      if (has_stream || !s.str(v)) return false;
      out.stream.assign(v);
      has_stream = true;
    } else if (key == "seq") {
      if (has_seq || !s.u64(out.seq)) return false;
      has_seq = true;
    } else if (key == "duplicate") {
      if (!s.boolean(out.duplicate)) return false;
    } else if (key == "domain") {
      if (!s.str(v)) return false;
      out.domain.assign(v);
    } else {
      return false;  // "error" or anything new
    }
  }
  s.ws();
  return s.p == s.end && has_stream && has_seq && !out.stream.empty();
}

}  // namespace

error_code decode(std::string_view json, pub_ack& out, api_error& api) {
  out.seq = 0;
  out.duplicate = false;
  out.domain.clear();
  if (scan_pub_ack(json, out)) return {};
  object root;
  if (auto ec = open(json, root, api)) return ec;
  out = {};
  if (!opt(root, "stream", out.stream) || !opt(root, "seq", out.seq) || !opt(root, "duplicate", out.duplicate) ||
      !opt(root, "domain", out.domain) || out.stream.empty())
    return make_error_code(error::invalid_reply);
  return {};
}

error_code decode(std::string_view json, stored_msg& out, api_error& api) {
  object root;
  if (auto ec = open(json, root, api)) return ec;
  out = {};
  object m;
  if (root["message"].get_object().get(m) != simdjson::SUCCESS) return make_error_code(error::invalid_reply);
  std::string hdrs, data, time;
  if (!opt(m, "subject", out.subject) || !opt(m, "seq", out.seq) || !opt(m, "hdrs", hdrs) || !opt(m, "data", data) ||
      !opt(m, "time", time))
    return make_error_code(error::invalid_reply);
  if (!base64_decode(data, out.data)) return make_error_code(error::invalid_reply);
  if (!hdrs.empty()) {
    std::string raw;
    if (!base64_decode(hdrs, raw)) return make_error_code(error::invalid_reply);
    error_code hec;
    out.headers = headers::parse(raw, hec);
    if (hec) return make_error_code(error::invalid_reply);
  }
  if (!time.empty()) {
    auto t = parse_rfc3339(time);
    if (!t) return make_error_code(error::invalid_reply);
    out.time = *t;
  }
  return {};
}

error_code decode(std::string_view json, names_page& out, api_error& api) {
  object root;
  if (auto ec = open(json, root, api)) return ec;
  out = {};
  element arr;
  bool ok = read_paging(root, out.total, out.offset, out.limit);
  if (ok && root["streams"].get(arr) == simdjson::SUCCESS) ok = read(arr, out.names);
  else if (ok && root["consumers"].get(arr) == simdjson::SUCCESS) ok = read(arr, out.names);
  return ok ? error_code{} : make_error_code(error::invalid_reply);
}

error_code decode(std::string_view json, stream_list_page& out, api_error& api) {
  object root;
  if (auto ec = open(json, root, api)) return ec;
  out = {};
  if (!read_paging(root, out.total, out.offset, out.limit)) return make_error_code(error::invalid_reply);
  simdjson::dom::array arr;
  if (root["streams"].get_array().get(arr) == simdjson::SUCCESS) {
    for (element e : arr) {
      stream_info si;
      if (!read(e, si)) return make_error_code(error::invalid_reply);
      out.streams.push_back(std::move(si));
    }
  }
  return {};
}

error_code decode(std::string_view json, consumer_list_page& out, api_error& api) {
  object root;
  if (auto ec = open(json, root, api)) return ec;
  out = {};
  if (!read_paging(root, out.total, out.offset, out.limit)) return make_error_code(error::invalid_reply);
  simdjson::dom::array arr;
  if (root["consumers"].get_array().get(arr) == simdjson::SUCCESS) {
    for (element e : arr) {
      consumer_info ci;
      if (!read(e, ci)) return make_error_code(error::invalid_reply);
      out.consumers.push_back(std::move(ci));
    }
  }
  return {};
}

error_code decode(std::string_view json, account_info& out, api_error& api) {
  object root;
  if (auto ec = open(json, root, api)) return ec;
  out = {};
  bool ok = opt(root, "domain", out.domain) && opt(root, "streams", out.streams) &&
            opt(root, "consumers", out.consumers) && opt(root, "memory", out.memory) &&
            opt(root, "storage", out.storage);
  object a;
  if (ok && root["api"].get_object().get(a) == simdjson::SUCCESS) ok = opt(a, "level", out.api_level);
  return ok ? error_code{} : make_error_code(error::invalid_reply);
}

error_code decode_success(std::string_view json, api_error& api, std::uint64_t* purged) {
  object root;
  if (auto ec = open(json, root, api)) return ec;
  bool success = false;
  if (!opt(root, "success", success) || !success) return make_error_code(error::invalid_reply);
  if (purged && !opt(root, "purged", *purged)) return make_error_code(error::invalid_reply);
  return {};
}

error_code from_direct_get(const message& msg, stored_msg& out, api_error& api) {
  out = {};
  if (const int st = msg.status(); st != 0) {
    api = {st, 0, msg.headers.description()};
    if (st == 404) {
      api.err_code = static_cast<int>(error::no_message_found);
      return make_error_code(error::no_message_found);
    }
    return make_error_code(error::invalid_reply);
  }
  auto seq = msg.headers.get("Nats-Sequence");
  auto subj = msg.headers.get("Nats-Subject");
  if (!seq || !subj || !parse_u64(*seq, out.seq)) return make_error_code(error::invalid_reply);
  out.subject = *subj;
  if (auto ts = msg.headers.get("Nats-Time-Stamp")) {
    if (auto t = parse_rfc3339(*ts)) out.time = *t;
  }
  out.data = msg.payload;
  // Keep the user's headers, without the ones the direct-get reply adds.
  for (const auto& [k, v] : msg.headers.fields()) {
    std::string_view n = k;
    auto ieq = [](std::string_view a, std::string_view b) {
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
      return true;
    };
    if (ieq(n, "Nats-Stream") || ieq(n, "Nats-Sequence") || ieq(n, "Nats-Subject") || ieq(n, "Nats-Time-Stamp") ||
        ieq(n, "Nats-Last-Sequence") || ieq(n, "Nats-Num-Pending"))
      continue;
    out.headers.add(k, v);
  }
  return {};
}

error_code classify_pull_status(const message& msg) {
  const int st = msg.status();
  const std::string& d = msg.headers.description();
  auto has = [&](std::string_view s) { return d.find(s) != std::string::npos; };
  switch (st) {
    case 0:
    case 100: return {};
    case 404: return make_error_code(error::no_messages);
    case 408: return make_error_code(error::request_timeout);
    case 409:
      if (has("Consumer Deleted")) return make_error_code(error::consumer_deleted);
      if (has("Leadership Change")) return make_error_code(error::leadership_change);
      // "Exceeded MaxRequestBatch/MaxRequestExpires/MaxRequestMaxBytes of N": the request breaks a limit
      // of the consumer (checked before "MaxBytes", which "MaxRequestMaxBytes" contains).
      if (has("Exceeded MaxRequest")) return make_error_code(error::pull_request_conflict);
      if (has("MaxWaiting")) return make_error_code(error::max_waiting_exceeded);
      if (has("MaxBytes")) return make_error_code(error::max_bytes_exceeded);
      return make_error_code(error::pull_request_conflict);
    case 400: return make_error_code(error::bad_request);
    case 503: return make_error_code(error::no_stream_response);
    default: return make_error_code(error::invalid_reply);
  }
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+' || c == '-') v = 62;
    else if (c == '/' || c == '_') v = 63;
    else if (c == '=') { ++pad; continue; }
    else return false;
    if (pad) return false;  // data after padding
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2 && bits < 6;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t(static_cast<unsigned char>(in[i])) << 16) |
                            (std::uint32_t(static_cast<unsigned char>(in[i + 1])) << 8) |
                            std::uint32_t(static_cast<unsigned char>(in[i + 2]));
    out.push_back(b64chars[(n >> 18) & 63]);
    out.push_back(b64chars[(n >> 12) & 63]);
    out.push_back(b64chars[(n >> 6) & 63]);
    out.push_back(b64chars[n & 63]);
  }
  if (i < in.size()) {
    std::uint32_t n = std::uint32_t(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) n |= std::uint32_t(static_cast<unsigned char>(in[i + 1])) << 8;
    out.push_back(b64chars[(n >> 18) & 63]);
    out.push_back(b64chars[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? b64chars[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace nats::js::json

namespace nats::js {

const char* to_string(retention_policy p) noexcept { return json::name_of(p); }
const char* to_string(storage_type s) noexcept { return json::name_of(s); }
const char* to_string(discard_policy d) noexcept { return json::name_of(d); }
const char* to_string(deliver_policy p) noexcept { return json::name_of(p); }
const char* to_string(ack_policy p) noexcept { return json::name_of(p); }
const char* to_string(replay_policy p) noexcept { return json::name_of(p); }

}  // namespace nats::js
