// Names on the wire, exactly as node-red-cluster 0.0.55 forms them (see docs/cluster.md):
//   prefix      "/nodered-cluster"      -> "nodered-cluster"   (leading '/' dropped, other '/' -> '.')
//   stream      "nodered-cluster"       -> "NODERED_CLUSTER"   (upper-cased; '.', '-', '/' -> '_')
//   bucket                              -> "CLUSTER_NODERED_CLUSTER"
//   subject     instance i, subject s   -> "<prefix>.<i>.<s>"
//   KV keys     "instances.<id>", "endpoints.<id>.<subject>"
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nats::cluster {

/// Root path -> subject prefix.
std::string prefix(std::string_view root_path);
/// Prefix -> JetStream stream name.
std::string stream_name(std::string_view prefix);
/// Prefix -> KV bucket name ("CLUSTER_" + stream name).
std::string bucket_name(std::string_view prefix);
/// Subjects of the stream: "<prefix>.>".
std::string stream_subject(std::string_view prefix);
/// Full subject of a publish: "<prefix>.<instance>.<subject>".
std::string publish_subject(std::string_view prefix, std::string_view instance, std::string_view subject);
/// "instances.<id>"
std::string instance_key(std::string_view instance);
/// "endpoints.<id>.<subject>"
std::string endpoint_key(std::string_view instance, std::string_view subject);
/// Durable consumer name of a subscription: "<instance>_<key>", characters not allowed in consumer
/// names ('.', '*', '>', whitespace, '/', '\\') replaced by '_'.
std::string consumer_name(std::string_view instance, std::string_view key);
/// Durable consumer shared by the members of a group: "<stream>_group_<group>", sanitized like
/// consumer_name.
std::string group_consumer_name(std::string_view stream, std::string_view group);
/// Request subjects (outside the stream's "<prefix>.>", so requests are never stored):
///   any responder of `subject`     "_CLUSTER.<stream>.req.any.<subject>"
///   a responder on `instance`      "_CLUSTER.<stream>.req.inst.<instance>.<subject>"
///   a responder of group `group`   "_CLUSTER.<stream>.req.group.<group>.<subject>"
std::string request_subject_any(std::string_view stream, std::string_view subject);
std::string request_subject_instance(std::string_view stream, std::string_view instance, std::string_view subject);
std::string request_subject_group(std::string_view stream, std::string_view group, std::string_view subject);

/// Splits "a.b, *.c.>" at commas, trims blanks, and checks every pattern (relative subject with `*`/`>`
/// wildcards, `>` last). nullopt when the list is empty or any pattern is bad.
std::optional<std::vector<std::string>> parse_patterns(std::string_view patterns);
/// True when a concrete subject matches a pattern (NATS wildcard rules).
bool subject_matches(std::string_view pattern, std::string_view subject) noexcept;
/// True when some subject matches both patterns.
bool patterns_overlap(std::string_view a, std::string_view b) noexcept;

/// One NATS token: non-empty, printable, no '.', whitespace, '*' or '>'.
bool valid_instance_id(std::string_view id) noexcept;
/// A group name: one NATS token (as valid_instance_id) without '/' or '\\' (it names a consumer).
bool valid_group_name(std::string_view group) noexcept;
/// A relative publish subject: valid subject tokens, no wildcards.
bool valid_relative_subject(std::string_view subject) noexcept;

/// Parses "<prefix>.<instance>.<subject>" -> {instance, subject}; nullopt when it does not start with
/// the prefix or has no subject part.
struct subject_parts {
  std::string instance;
  std::string subject;
};
std::optional<subject_parts> split_subject(std::string_view prefix, std::string_view full_subject);

}  // namespace nats::cluster
