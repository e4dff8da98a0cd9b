// The JetStream context: stream/consumer management, publish with PubAck, message get, over
// request/reply on `$JS.API.…` (or `$JS.<domain>.API.…`, or any API prefix).
//
// Like nats::connection, a non-template façade: the member templates only wrap the completion handler,
// the work is compiled once in the library. Every operation takes any Asio completion token and honours
// per-operation cancellation (it is forwarded to the underlying request). Call from the connection's
// executor. The context refers to the connection; both must outlive the operations.
//
// Errors: nats::error (transport: timeout, no_responders, ...) or js::error. For API errors,
// `ec.value()` is the server's err_code and last_api_error() holds code/err_code/description of the
// most recent failure (read it in the completion handler).
#pragma once

#include <nats/connection.hpp>
#include <nats/js/consumer.hpp>
#include <nats/js/error.hpp>
#include <nats/js/pub_ack.hpp>
#include <nats/js/stored_msg.hpp>
#include <nats/js/stream.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nats::js {

namespace detail {
struct fetch_inbox_cache;
}

struct context_options {
  std::string domain;                       ///< JetStream domain: API prefix `$JS.<domain>.API`
  std::string api_prefix;                   ///< explicit prefix (default `$JS.API`); wins over domain
  std::chrono::milliseconds timeout{5000};  ///< default for API requests and publish acks
  /// Extra attempts on no_responders while a stream leader is elected. With the waits below, 4 retries
  /// span 3.75 s: enough for a stepdown and most elections after a server is killed (3-5 s on 2.9);
  /// a publish to a subject no stream listens on fails after that long. Raise it for more patience.
  int publish_retry_attempts = 4;
  std::chrono::milliseconds publish_retry_wait{250};      ///< first wait; doubles per attempt...
  std::chrono::milliseconds publish_retry_max_wait{2000}; ///< ...up to this
};

/// Per-publish options: de-duplication id and expectations.
struct publish_options {
  std::string msg_id;                                      ///< Nats-Msg-Id
  std::string expected_stream;                             ///< Nats-Expected-Stream
  std::optional<std::uint64_t> expected_last_seq;          ///< Nats-Expected-Last-Sequence
  std::optional<std::uint64_t> expected_last_subject_seq;  ///< Nats-Expected-Last-Subject-Sequence
  std::string expected_last_msg_id;                        ///< Nats-Expected-Last-Msg-Id
  std::optional<std::chrono::milliseconds> timeout;        ///< default: context_options::timeout
  std::optional<int> retry_attempts;                       ///< default: context_options::publish_retry_attempts

  /// Adds the headers these options stand for to `h`.
  void apply(headers& h) const;
};

/// 2.10+ consumer create action (ignored by 2.9 servers, which always create-or-update).
enum class consumer_create_action { create_or_update, create, update };

class context {
 public:
  explicit context(connection& nc, context_options opts = {});

  connection& conn() const noexcept { return *nc_; }
  const context_options& options() const noexcept { return opts_; }
  /// `$JS.API` or the domain/explicit prefix, without trailing dot.
  const std::string& api_prefix() const noexcept { return prefix_; }
  /// The API error of the most recent operation that failed with one.
  const api_error& last_api_error() const noexcept { return last_api_error_; }

  // ---------- streams ----------

  /// `void(error_code, stream_info)`
  template <class Token>
  auto async_add_stream(const stream_config& cfg, Token&& token) {
    return init<stream_info>(token, [=, this](auto h) { add_stream_impl(cfg, false, std::move(h)); });
  }
  template <class Token>
  auto async_update_stream(const stream_config& cfg, Token&& token) {
    return init<stream_info>(token, [=, this](auto h) { add_stream_impl(cfg, true, std::move(h)); });
  }
  template <class Token>
  auto async_stream_info(std::string_view stream, Token&& token) {
    return init<stream_info>(token, [=, this](auto h) { stream_info_impl(stream, std::move(h)); });
  }
  /// `void(error_code)`
  template <class Token>
  auto async_delete_stream(std::string_view stream, Token&& token) {
    return init_void(token, [=, this](auto h) { delete_stream_impl(stream, std::move(h)); });
  }
  /// `void(error_code, std::uint64_t purged)`
  template <class Token>
  auto async_purge_stream(std::string_view stream, const purge_options& opts, Token&& token) {
    return init<std::uint64_t>(token, [=, this](auto h) { purge_stream_impl(stream, opts, std::move(h)); });
  }
  /// All stream names (every page), optionally only streams listening on `subject_filter`.
  /// `void(error_code, std::vector<std::string>)`
  template <class Token>
  auto async_stream_names(std::string_view subject_filter, Token&& token) {
    return init<std::vector<std::string>>(token, [=, this](auto h) { stream_names_impl(subject_filter, std::move(h)); });
  }
  /// `void(error_code, std::vector<stream_info>)`
  template <class Token>
  auto async_list_streams(Token&& token) {
    return init<std::vector<stream_info>>(token, [=, this](auto h) { list_streams_impl(std::move(h)); });
  }

  // ---------- consumers ----------

  /// Creates (or, on 2.9, creates-or-updates) a consumer; durable when cfg.durable_name is set.
  /// filter_subjects (2.10+) with one subject falls back to filter_subject on older servers; more than
  /// one gives error::not_supported there.
  /// `void(error_code, consumer_info)`
  template <class Token>
  auto async_add_consumer(std::string_view stream, const consumer_config& cfg, Token&& token,
                          consumer_create_action action = consumer_create_action::create_or_update) {
    return init<consumer_info>(token, [=, this](auto h) { add_consumer_impl(stream, cfg, action, std::move(h)); });
  }
  template <class Token>
  auto async_consumer_info(std::string_view stream, std::string_view consumer, Token&& token) {
    return init<consumer_info>(token, [=, this](auto h) { consumer_info_impl(stream, consumer, std::move(h)); });
  }
  template <class Token>
  auto async_delete_consumer(std::string_view stream, std::string_view consumer, Token&& token) {
    return init_void(token, [=, this](auto h) { delete_consumer_impl(stream, consumer, std::move(h)); });
  }
  template <class Token>
  auto async_consumer_names(std::string_view stream, Token&& token) {
    return init<std::vector<std::string>>(token, [=, this](auto h) { consumer_names_impl(stream, std::move(h)); });
  }
  template <class Token>
  auto async_list_consumers(std::string_view stream, Token&& token) {
    return init<std::vector<consumer_info>>(token, [=, this](auto h) { list_consumers_impl(stream, std::move(h)); });
  }

  // ---------- publish ----------

  /// Publishes and waits for the PubAck. Retries (same Msg-Id) on no_responders with backoff; after
  /// the last attempt fails with error::no_stream_response. `void(error_code, pub_ack)`
  template <class Token>
  auto async_publish(std::string_view subject, std::string_view payload, Token&& token) {
    return async_publish(subject, headers{}, payload, publish_options{}, std::forward<Token>(token));
  }
  template <class Token>
  auto async_publish(std::string_view subject, const headers& hdrs, std::string_view payload,
                     const publish_options& opts, Token&& token) {
    return init<pub_ack>(token, [=, this](auto h) { publish_impl(subject, hdrs, payload, opts, std::move(h)); });
  }

  // ---------- messages ----------

  /// Gets a stored message through the API (`STREAM.MSG.GET`). `void(error_code, stored_msg)`;
  /// error::no_message_found when there is none.
  template <class Token>
  auto async_get_msg(std::string_view stream, const get_msg_request& req, Token&& token) {
    return init<stored_msg>(token, [=, this](auto h) { get_msg_impl(stream, req, false, std::move(h)); });
  }
  /// The same through direct get (`DIRECT.GET`, any replica answers; needs allow_direct).
  template <class Token>
  auto async_direct_get(std::string_view stream, const get_msg_request& req, Token&& token) {
    return init<stored_msg>(token, [=, this](auto h) { get_msg_impl(stream, req, true, std::move(h)); });
  }
  /// Deletes one message (`erase`: overwrite its bytes). `void(error_code)`
  template <class Token>
  auto async_delete_msg(std::string_view stream, std::uint64_t seq, bool erase, Token&& token) {
    return init_void(token, [=, this](auto h) { delete_msg_impl(stream, seq, erase, std::move(h)); });
  }

  // ---------- raw ----------

  /// Any API request: `<prefix>.<api_subject>` with a JSON body; the reply message as is.
  template <class Token>
  auto async_api_request(std::string_view api_subject, std::string_view body, Token&& token) {
    return init<message>(token, [=, this](auto h) { api_request_impl(api_subject, body, std::move(h)); });
  }

  template <class T>
  using handler = boost::asio::any_completion_handler<void(boost::system::error_code, T)>;
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  /// True when the connected server's version (from INFO) is at least major.minor.patch.
  bool server_at_least(int major, int minor, int patch) const;

  /// Records an API error for last_api_error() (used by kv:: and the pull engine).
  void set_last_api_error(api_error e) { last_api_error_ = std::move(e); }

 private:
  template <class T, class Token, class F>
  static auto init(Token& token, F&& f) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, T)>(
        [f = std::forward<F>(f)](auto h) mutable { f(handler<T>(std::move(h))); }, token);
  }
  template <class Token, class F>
  static auto init_void(Token& token, F&& f) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [f = std::forward<F>(f)](auto h) mutable { f(void_handler(std::move(h))); }, token);
  }

  void add_stream_impl(const stream_config& cfg, bool update, handler<stream_info> h);
  void stream_info_impl(std::string_view stream, handler<stream_info> h);
  void delete_stream_impl(std::string_view stream, void_handler h);
  void purge_stream_impl(std::string_view stream, const purge_options& opts, handler<std::uint64_t> h);
  void stream_names_impl(std::string_view filter, handler<std::vector<std::string>> h);
  void list_streams_impl(handler<std::vector<stream_info>> h);
  void add_consumer_impl(std::string_view stream, const consumer_config& cfg, consumer_create_action action,
                         handler<consumer_info> h);
  void consumer_info_impl(std::string_view stream, std::string_view consumer, handler<consumer_info> h);
  void delete_consumer_impl(std::string_view stream, std::string_view consumer, void_handler h);
  void consumer_names_impl(std::string_view stream, handler<std::vector<std::string>> h);
  void list_consumers_impl(std::string_view stream, handler<std::vector<consumer_info>> h);
  void publish_impl(std::string_view subject, const headers& hdrs, std::string_view payload,
                    const publish_options& opts, handler<pub_ack> h);
  void get_msg_impl(std::string_view stream, const get_msg_request& req, bool direct, handler<stored_msg> h);
  void delete_msg_impl(std::string_view stream, std::uint64_t seq, bool erase, void_handler h);
  void api_request_impl(std::string_view api_subject, std::string_view body, handler<message> h);

  friend struct detail::fetch_inbox_cache;

  connection* nc_;
  context_options opts_;
  std::string prefix_;
  api_error last_api_error_;
  std::shared_ptr<detail::fetch_inbox_cache> fetch_inboxes_;  // idle pull inboxes for the next fetch
};

/// True for names usable as stream/consumer names (non-empty; no `.`, `*`, `>`, whitespace, path separators).
bool valid_name(std::string_view name) noexcept;

}  // namespace nats::js
