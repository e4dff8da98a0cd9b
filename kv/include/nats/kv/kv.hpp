// Key-Value buckets on JetStream (`KV_<bucket>` streams, `$KV.<bucket>.<key>` subjects), the layout every
// NATS client uses, so buckets are shared with nats.js/nats.go.
//
// Asio style as nats::js::context: member templates wrap the handler, the work is compiled in the
// library; any completion token; call from the connection's executor; the js::context must outlive
// the bucket handles and their operations. Errors: kv::error where a KV meaning exists (bucket/key not
// found, key exists, wrong revision, invalid key), else the js::/nats:: error.
#pragma once

#include <nats/js/context.hpp>
#include <nats/kv/bucket.hpp>
#include <nats/kv/entry.hpp>
#include <nats/kv/error.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nats::kv {

struct watch_options {
  bool include_history = false;  ///< every stored revision first (else only the latest per key)
  bool updates_only = false;     ///< no initial values, only changes from now on
  bool ignore_deletes = false;   ///< skip delete/purge markers
  bool meta_only = false;        ///< entries without values (headers-only delivery)
  std::chrono::milliseconds heartbeat{5000};  ///< idle heartbeat; a watcher silent for 3x re-subscribes
};

namespace detail {
struct watch_state;
}

/// A live watch (ordered consumer). Entries come in stream order; entry::delta is the number still
/// pending behind it (0: caught up). Re-creates its consumer after gaps and lost heartbeats
/// (reconnects, restarts) from the last revision seen, so no revision is skipped.
class watcher {
 public:
  watcher() = default;
  explicit watcher(std::shared_ptr<detail::watch_state> s) noexcept : state_(std::move(s)) {}
  watcher(watcher&&) noexcept = default;
  watcher& operator=(watcher&& o) noexcept;
  ~watcher();

  /// `void(error_code, entry)`; kv::error::watcher_closed after stop(). One wait at a time. Cancellable.
  template <class Token>
  auto async_next(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, entry)>(
        [this](auto h) { next_impl(handler(std::move(h))); }, token);
  }
  /// Entries pending when the watch started (0 with updates_only or an empty bucket).
  std::uint64_t initial_pending() const noexcept;
  /// True once every initial entry was delivered.
  bool caught_up() const noexcept;
  /// Times the consumer was re-created (gap, missed heartbeats).
  std::uint64_t resets() const noexcept;
  void stop();

 private:
  using handler = boost::asio::any_completion_handler<void(boost::system::error_code, entry)>;
  void next_impl(handler h);
  std::shared_ptr<detail::watch_state> state_;
};

class bucket {
 public:
  bucket() = default;
  bucket(js::context& js, bucket_status st);

  const std::string& name() const noexcept { return status_.bucket; }
  /// Status as of create/bind.
  const bucket_status& cached_status() const noexcept { return status_; }
  js::context& jetstream() const noexcept { return *js_; }

  /// Latest value (`void(error_code, entry)`): key_not_found when never set, deleted or purged.
  template <class Token>
  auto async_get(std::string_view key, Token&& token) {
    return init<entry>(token, [=, this](auto h) { get_impl(key, 0, std::move(h)); });
  }
  /// The entry at `revision`, which must belong to `key`.
  template <class Token>
  auto async_get_revision(std::string_view key, std::uint64_t revision, Token&& token) {
    return init<entry>(token, [=, this](auto h) { get_impl(key, revision, std::move(h)); });
  }
  /// `void(error_code, std::uint64_t revision)`
  template <class Token>
  auto async_put(std::string_view key, std::string_view value, Token&& token) {
    return init<std::uint64_t>(token, [=, this](auto h) { put_impl(key, value, std::nullopt, std::move(h)); });
  }
  /// Only if the key has no live value (never set, or deleted/purged): else key_exists.
  template <class Token>
  auto async_create(std::string_view key, std::string_view value, Token&& token) {
    return init<std::uint64_t>(token, [=, this](auto h) { create_impl(key, value, std::move(h)); });
  }
  /// Compare-and-set: only if the key's latest revision is `last_revision`; else wrong_revision.
  template <class Token>
  auto async_update(std::string_view key, std::string_view value, std::uint64_t last_revision, Token&& token) {
    return init<std::uint64_t>(token, [=, this](auto h) { put_impl(key, value, last_revision, std::move(h)); });
  }
  /// Writes a delete marker (history kept). `void(error_code)`
  template <class Token>
  auto async_delete(std::string_view key, Token&& token) {
    return init_void(token, [=, this](auto h) { marker_impl(key, false, std::move(h)); });
  }
  /// Writes a purge marker and removes every older revision of the key.
  template <class Token>
  auto async_purge(std::string_view key, Token&& token) {
    return init_void(token, [=, this](auto h) { marker_impl(key, true, std::move(h)); });
  }
  /// Keys with a live value, optionally matching a filter with `*`/`>`. `void(error_code, std::vector<std::string>)`
  template <class Token>
  auto async_keys(std::string_view filter, Token&& token) {
    return init<std::vector<std::string>>(token, [=, this](auto h) { keys_impl(filter, std::move(h)); });
  }
  /// Every stored revision of a key (markers included), oldest first; key_not_found when none.
  template <class Token>
  auto async_history(std::string_view key, Token&& token) {
    return init<std::vector<entry>>(token, [=, this](auto h) { history_impl(key, std::move(h)); });
  }
  /// `void(error_code, bucket_status)`
  template <class Token>
  auto async_status(Token&& token) {
    return init<bucket_status>(token, [=, this](auto h) { status_impl(std::move(h)); });
  }
  /// Starts watching keys matching `filter` (`>` for all). `void(error_code, watcher)`
  template <class Token>
  auto async_watch(std::string_view filter, const watch_options& opts, Token&& token) {
    return init<watcher>(token, [=, this](auto h) { watch_impl(filter, opts, std::move(h)); });
  }

  template <class T>
  using handler = boost::asio::any_completion_handler<void(boost::system::error_code, T)>;
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

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

  void get_impl(std::string_view key, std::uint64_t revision, handler<entry> h);
  void put_impl(std::string_view key, std::string_view value, std::optional<std::uint64_t> last, handler<std::uint64_t> h);
  void create_impl(std::string_view key, std::string_view value, handler<std::uint64_t> h);
  void marker_impl(std::string_view key, bool purge, void_handler h);
  void keys_impl(std::string_view filter, handler<std::vector<std::string>> h);
  void history_impl(std::string_view key, handler<std::vector<entry>> h);
  void status_impl(handler<bucket_status> h);
  void watch_impl(std::string_view filter, const watch_options& opts, handler<watcher> h);

  js::context* js_ = nullptr;
  bucket_status status_;
};

namespace detail {
void create_bucket_impl(js::context& js, const bucket_config& cfg,
                        boost::asio::any_completion_handler<void(boost::system::error_code, bucket)> h);
void bind_bucket_impl(js::context& js, std::string_view name,
                      boost::asio::any_completion_handler<void(boost::system::error_code, bucket)> h);
void delete_bucket_impl(js::context& js, std::string_view name,
                        boost::asio::any_completion_handler<void(boost::system::error_code)> h);
}  // namespace detail

/// Creates a bucket (idempotent for an identical config). `void(error_code, bucket)`
template <class Token>
auto async_create_bucket(js::context& js, const bucket_config& cfg, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, bucket)>(
      [=, &js](auto h) {
        detail::create_bucket_impl(js, cfg, boost::asio::any_completion_handler<void(boost::system::error_code, bucket)>(std::move(h)));
      },
      token);
}
/// Binds to an existing bucket: bucket_not_found / not_a_bucket. `void(error_code, bucket)`
template <class Token>
auto async_bind_bucket(js::context& js, std::string_view name, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code, bucket)>(
      [=, &js](auto h) {
        detail::bind_bucket_impl(js, name, boost::asio::any_completion_handler<void(boost::system::error_code, bucket)>(std::move(h)));
      },
      token);
}
/// Deletes a bucket and all its values. `void(error_code)`
template <class Token>
auto async_delete_bucket(js::context& js, std::string_view name, Token&& token) {
  return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
      [=, &js](auto h) {
        detail::delete_bucket_impl(js, name, boost::asio::any_completion_handler<void(boost::system::error_code)>(std::move(h)));
      },
      token);
}

}  // namespace nats::kv
