#include <nats/cluster/naming.hpp>
#include <nats/protocol/subject.hpp>

#include <cctype>

namespace nats::cluster {

std::string prefix(std::string_view root_path) {
  std::string p(root_path);
  if (!p.empty() && p.front() == '/') p.erase(0, 1);
  for (char& c : p)
    if (c == '/') c = '.';
  return p;
}

std::string stream_name(std::string_view prefix) {
  std::string s;
  s.reserve(prefix.size());
  for (char c : prefix) {
    if (c == '.' || c == '-' || c == '/')
      s.push_back('_');
    else
      s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return s;
}

std::string bucket_name(std::string_view prefix) { return "CLUSTER_" + stream_name(prefix); }

std::string stream_subject(std::string_view prefix) { return std::string(prefix) + ".>"; }

std::string publish_subject(std::string_view prefix, std::string_view instance, std::string_view subject) {
  std::string s;
  s.reserve(prefix.size() + instance.size() + subject.size() + 2);
  s.append(prefix).append(".").append(instance).append(".").append(subject);
  return s;
}

std::string instance_key(std::string_view instance) { return "instances." + std::string(instance); }

std::string endpoint_key(std::string_view instance, std::string_view subject) {
  return "endpoints." + std::string(instance) + "." + std::string(subject);
}

namespace {
// Characters not allowed in consumer names become '_'.
void sanitize_consumer_name(std::string& s) {
  for (char& c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || std::isspace(u) || u < 0x20 || u == 0x7f) c = '_';
  }
}
}  // namespace

std::string consumer_name(std::string_view instance, std::string_view key) {
  std::string s(instance);
  s.push_back('_');
  s.append(key);
  sanitize_consumer_name(s);
  return s;
}

std::string group_consumer_name(std::string_view stream, std::string_view group) {
  std::string s(stream);
  s.append("_group_").append(group);
  sanitize_consumer_name(s);
  return s;
}

namespace {
std::string request_base(std::string_view stream, std::string_view kind) {
  std::string s = "_CLUSTER.";
  s.append(stream).append(".req.").append(kind).append(".");
  return s;
}
}  // namespace

std::string request_subject_any(std::string_view stream, std::string_view subject) {
  return request_base(stream, "any").append(subject);
}

std::string request_subject_instance(std::string_view stream, std::string_view instance, std::string_view subject) {
  return request_base(stream, "inst").append(instance).append(".").append(subject);
}

std::string request_subject_group(std::string_view stream, std::string_view group, std::string_view subject) {
  return request_base(stream, "group").append(group).append(".").append(subject);
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<std::vector<std::string>> parse_patterns(std::string_view patterns) {
  std::vector<std::string> out;
  while (true) {
    auto comma = patterns.find(',');
    auto part = trim(patterns.substr(0, comma));
    if (part.empty() || protocol::validate_subscribe_subject(part)) return std::nullopt;
    out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    patterns.remove_prefix(comma + 1);
  }
  return out;
}

bool subject_matches(std::string_view pattern, std::string_view subject) noexcept {
  return protocol::subject_matches(pattern, subject);
}

bool patterns_overlap(std::string_view a, std::string_view b) noexcept {
  // Walk both token lists: '*' matches any one token, '>' matches the rest (at least one token).
  while (true) {
    auto da = a.find('.'), db = b.find('.');
    auto ta = a.substr(0, da), tb = b.substr(0, db);
    if (ta == ">" || tb == ">") return true;
    if (ta != "*" && tb != "*" && ta != tb) return false;
    bool enda = da == std::string_view::npos, endb = db == std::string_view::npos;
    if (enda || endb) {
      if (enda && endb) return true;
      // One ran out while the other has more tokens: '>' needs at least one token, so no subject fits
      // both (a trailing '>' on the longer one was handled above).
      return false;
    }
    a.remove_prefix(da + 1);
    b.remove_prefix(db + 1);
  }
}

bool valid_instance_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '.' || c == '*' || c == '>') return false;
  }
  return true;
}

bool valid_group_name(std::string_view group) noexcept {
  return valid_instance_id(group) && group.find_first_of("/\\") == std::string_view::npos;
}

bool valid_relative_subject(std::string_view subject) noexcept {
  return !protocol::validate_publish_subject(subject);
}

std::optional<subject_parts> split_subject(std::string_view prefix, std::string_view full) {
  if (full.size() <= prefix.size() + 1 || full.substr(0, prefix.size()) != prefix || full[prefix.size()] != '.')
    return std::nullopt;
  auto rest = full.substr(prefix.size() + 1);
  auto dot = rest.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= rest.size()) return std::nullopt;
  return subject_parts{std::string(rest.substr(0, dot)), std::string(rest.substr(dot + 1))};
}

}  // namespace nats::cluster
