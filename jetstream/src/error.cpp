#include <nats/js/error.hpp>

#include <string>

namespace nats::js {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats.jetstream"; }
  std::string message(int v) const override {
    switch (static_cast<error>(v)) {
      case error::invalid_reply: return "invalid JetStream reply";
      case error::not_a_jetstream_message: return "not a JetStream message";
      case error::invalid_name: return "invalid stream or consumer name";
      case error::no_stream_response: return "no stream response (no stream for the subject, or no leader)";
      case error::no_messages: return "no messages";
      case error::request_timeout: return "pull request timed out";
      case error::consumer_deleted: return "consumer deleted";
      case error::leadership_change: return "consumer leadership changed";
      case error::max_waiting_exceeded: return "exceeded consumer max waiting";
      case error::max_bytes_exceeded: return "message size exceeds max bytes of the pull request";
      case error::pull_request_conflict: return "pull request conflict";
      case error::missed_heartbeats: return "idle heartbeats missed";
      case error::publisher_closed: return "publisher closed";
      case error::already_acked: return "message already acknowledged";
      case error::not_supported: return "not supported by this server";
      case error::bad_request: return "bad request";
      case error::jetstream_not_enabled_for_account: return "jetstream not enabled for account";
      case error::jetstream_not_enabled: return "jetstream not enabled";
      case error::consumer_create_failed: return "consumer create failed";
      case error::consumer_name_exists: return "consumer name already in use";
      case error::consumer_not_found: return "consumer not found";
      case error::no_message_found: return "no message found";
      case error::stream_invalid_config: return "invalid stream configuration";
      case error::stream_name_exists: return "stream name already in use with a different configuration";
      case error::stream_not_found: return "stream not found";
      case error::stream_not_match: return "expected stream does not match";
      case error::stream_subject_overlap: return "subjects overlap with an existing stream";
      case error::wrong_last_msg_id: return "wrong last msg id";
      case error::wrong_last_sequence: return "wrong last sequence";
      case error::consumer_already_exists: return "consumer already exists";
      case error::consumer_does_not_exist: return "consumer does not exist";
    }
    if (v >= 10000) return "JetStream API error " + std::to_string(v);
    return "unknown JetStream error " + std::to_string(v);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category c;
  return c;
}

boost::system::error_code api_error::to_error_code() const noexcept {
  if (err_code > 0) return {err_code, error_category()};
  // Old servers (or hand-made replies) without err_code: keep the meaning of the status.
  if (code == 404) return make_error_code(error::stream_not_found);
  return make_error_code(error::bad_request);
}

}  // namespace nats::js
