// Error codes of the cluster layer, in their own boost::system category. Values are stable: they cross
// into JavaScript as `code`. Errors of the layers below (nats::error, js::error, kv::error) pass through.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace nats::cluster {

enum class error {
  invalid_instance_id = 1,  ///< empty, or not one NATS token (no '.', spaces, '*', '>')
  invalid_root_path,        ///< empty, or a prefix that is not a valid subject
  invalid_role,             ///< not "Member"/"Observer" (parsing)
  invalid_subject,          ///< a publish subject that is not a valid relative subject (no wildcards)
  invalid_pattern,          ///< a subscribe pattern list with an empty or malformed pattern
  invalid_key,              ///< a subscription key that is empty or too long
  invalid_config,           ///< another bad tunable (the field is named by validate())
  observer_cannot_publish,  ///< publish on a node whose role is observer
  duplicate_instance,       ///< another live process uses the same instance id
  outbox_full,              ///< the outbox reached its message or byte limit
  outbox_io,                ///< the outbox file could not be written or read
  not_started,              ///< the node is not started (or already stopped)
  already_started,          ///< async_start called twice
  stopped,                  ///< the node was stopped while the operation waited
  duplicate_key,            ///< a subscription with this key already exists on this node
  unknown_subscription,     ///< unsubscribe/ack with an id this node does not know
  jetstream_unavailable,    ///< the server (or account) has no JetStream
  outbox_not_drained,       ///< stop: messages were left in a non-persistent outbox
  payload_too_large,        ///< larger than the server's max_payload
  invalid_group,            ///< a group name that is not one token (no '.', wildcards, blanks, '/', '\\')
  group_conflict,           ///< the group's consumer exists with other patterns (members must agree)
  no_responders,            ///< request: nobody serves the subject (or the chosen instance/group)
  timeout,                  ///< request: no answer within the timeout
  not_connected,            ///< request: not connected to NATS now (requests are not queued)
  unknown_request,          ///< respond: the request id is unknown, answered or past its deadline
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace nats::cluster

template <>
struct boost::system::is_error_code_enum<nats::cluster::error> : std::true_type {};
