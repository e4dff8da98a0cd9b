#include <nats/cluster/error.hpp>

#include <string>

namespace nats::cluster {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats.cluster"; }
  std::string message(int v) const override {
    switch (static_cast<error>(v)) {
      case error::invalid_instance_id: return "invalid instance id: must be one NATS token (no '.', spaces, '*' or '>')";
      case error::invalid_root_path: return "invalid root path: must give a valid subject prefix";
      case error::invalid_role: return "invalid role: expected Member or Observer";
      case error::invalid_subject: return "invalid subject: non-empty tokens separated by '.', no wildcards or spaces";
      case error::invalid_pattern: return "invalid subject pattern: comma-separated subjects with '*' and a final '>'";
      case error::invalid_key: return "invalid subscription key";
      case error::invalid_config: return "invalid cluster configuration";
      case error::observer_cannot_publish: return "an observer cannot publish";
      case error::duplicate_instance: return "another live process uses this instance id";
      case error::outbox_full: return "outbox full: too many messages waiting for NATS";
      case error::outbox_io: return "outbox file could not be written or read";
      case error::not_started: return "cluster node not started";
      case error::already_started: return "cluster node already started";
      case error::stopped: return "cluster node stopped";
      case error::duplicate_key: return "a subscription with this key exists already";
      case error::unknown_subscription: return "unknown subscription or delivery";
      case error::jetstream_unavailable: return "JetStream is not enabled for this account/server";
      case error::outbox_not_drained: return "stopped with messages left in the outbox";
      case error::payload_too_large: return "payload larger than the server's max_payload";
      case error::invalid_group: return "invalid group name: one token without '.', '*', '>', spaces, '/' or '\\'";
      case error::group_conflict: return "the group exists with other subject patterns: members of a group must use the same patterns";
      case error::no_responders: return "no responders for the request";
      case error::timeout: return "no reply within the timeout";
      case error::not_connected: return "not connected to NATS";
      case error::unknown_request: return "unknown request (already answered, or past its deadline)";
    }
    return "unknown cluster error " + std::to_string(v);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace nats::cluster
