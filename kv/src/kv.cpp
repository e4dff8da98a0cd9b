// KV on JetStream: get = (direct) get of the last message on `$KV.<b>.<key>`, put/create/update =
// JetStream publish with expectation headers, delete/purge = marker messages, watch/keys/history =
// an ordered push consumer (flow control + heartbeats, re-created on gaps).
#include <nats/kv/kv.hpp>

#include <nats/error.hpp>
#include <nats/js/metadata.hpp>
#include <nats/js/stream.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <optional>

namespace nats::kv {

namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;

namespace {

template <class H, class... Args>
void complete(H&& h, Args&&... args) {
  asio::dispatch(asio::append(std::forward<H>(h), std::forward<Args>(args)...));
}

template <class H, class... Args>
void post_to(js::context& js, H&& h, Args&&... args) {
  asio::post(js.conn().get_executor(), asio::append(std::forward<H>(h), std::forward<Args>(args)...));
}

error_code map_stream_error(error_code ec) {
  if (ec == js::error::stream_not_found) return make_error_code(error::bucket_not_found);
  return ec;
}

/// Where writes of `key` go: `$KV.<bucket>.<key>`, or `<api prefix>.$KV.<bucket>.<key>` when the context
/// uses a domain or another prefix. Servers with JetStream domains do not carry `$KV.>` between domains
/// (leaf nodes); they map `$JS.<domain>.API.$KV.>` onto `$KV.>`, and other clients write that way too.
std::string write_subject(const js::context& js, std::string_view bucket, std::string_view key) {
  if (js.api_prefix() == "$JS.API") return key_subject(bucket, key);
  return js.api_prefix() + "." + key_subject(bucket, key);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// bucket management

namespace detail {

void create_bucket_impl(js::context& js, const bucket_config& cfg, asio::any_completion_handler<void(error_code, bucket)> h) {
  if (auto ec = validate(cfg)) return post_to(js, std::move(h), ec, bucket{});
  js.async_add_stream(to_stream_config(cfg), [&js, h = std::move(h)](error_code ec, js::stream_info info) mutable {
    if (ec) return complete(std::move(h), ec, bucket{});
    auto st = status_from(info);
    if (!st) return complete(std::move(h), make_error_code(error::not_a_bucket), bucket{});
    complete(std::move(h), error_code{}, bucket(js, std::move(*st)));
  });
}

void bind_bucket_impl(js::context& js, std::string_view name, asio::any_completion_handler<void(error_code, bucket)> h) {
  if (!valid_bucket_name(name)) return post_to(js, std::move(h), make_error_code(error::invalid_bucket_name), bucket{});
  js.async_stream_info(stream_name(name), [&js, h = std::move(h)](error_code ec, js::stream_info info) mutable {
    if (ec) return complete(std::move(h), map_stream_error(ec), bucket{});
    auto st = status_from(info);
    if (!st) return complete(std::move(h), make_error_code(error::not_a_bucket), bucket{});
    complete(std::move(h), error_code{}, bucket(js, std::move(*st)));
  });
}

void delete_bucket_impl(js::context& js, std::string_view name, asio::any_completion_handler<void(error_code)> h) {
  if (!valid_bucket_name(name)) return post_to(js, std::move(h), make_error_code(error::invalid_bucket_name));
  js.async_delete_stream(stream_name(name), [h = std::move(h)](error_code ec) mutable {
    complete(std::move(h), map_stream_error(ec));
  });
}

}  // namespace detail

bucket::bucket(js::context& js, bucket_status st) : js_(&js), status_(std::move(st)) {}

void bucket::status_impl(handler<bucket_status> h) {
  js_->async_stream_info(status_.stream_name, [h = std::move(h)](error_code ec, js::stream_info info) mutable {
    if (ec) return complete(std::move(h), map_stream_error(ec), bucket_status{});
    auto st = status_from(info);
    if (!st) return complete(std::move(h), make_error_code(error::not_a_bucket), bucket_status{});
    complete(std::move(h), error_code{}, std::move(*st));
  });
}

// ---------------------------------------------------------------------------------------------
// get

namespace {

/// The latest stored entry of a key, markers included (`raw`), or a revision.
void get_raw(js::context& js, const bucket_status& st, std::string key, std::uint64_t revision,
             asio::any_completion_handler<void(error_code, entry)> h, bool direct_allowed = true) {
  js::get_msg_request req;
  if (revision) {
    req.seq = revision;
  } else {
    req.last_by_subject = key_subject(st.bucket, key);
  }
  const bool direct = st.allow_direct && direct_allowed;
  auto on_msg = [&js, st, direct, key, revision, h = std::move(h)](error_code ec, js::stored_msg m) mutable {
    if (direct && ec == nats::error::timeout) {
      // Nobody answered the direct get (2.9 keeps answering-nobody subscriptions of a deleted stream):
      // ask the API, which knows whether the stream exists.
      return get_raw(js, st, std::move(key), revision, std::move(h), false);
    }
    const auto& bucket = st.bucket;
    if (ec == js::error::no_message_found) return complete(std::move(h), make_error_code(error::key_not_found), entry{});
    if (ec) return complete(std::move(h), map_stream_error(ec), entry{});
    auto e = entry_from(bucket, m);
    if (!e || e->key != key) return complete(std::move(h), make_error_code(error::key_not_found), entry{});
    complete(std::move(h), error_code{}, std::move(*e));
  };
  if (direct) {
    js.async_direct_get(st.stream_name, req, std::move(on_msg));
  } else {
    js.async_get_msg(st.stream_name, req, std::move(on_msg));
  }
}

}  // namespace

void bucket::get_impl(std::string_view key, std::uint64_t revision, handler<entry> h) {
  if (!valid_key(key)) return post_to(*js_, std::move(h), make_error_code(error::invalid_key), entry{});
  get_raw(*js_, status_, std::string(key), revision, [h = std::move(h)](error_code ec, entry e) mutable {
    // A delete/purge marker means "no value".
    if (!ec && e.op != operation::put) ec = make_error_code(error::key_not_found);
    if (ec) e = {};
    complete(std::move(h), ec, std::move(e));
  });
}

// ---------------------------------------------------------------------------------------------
// writes

void bucket::put_impl(std::string_view key, std::string_view value, std::optional<std::uint64_t> last,
                      handler<std::uint64_t> h) {
  if (!valid_key(key)) return post_to(*js_, std::move(h), make_error_code(error::invalid_key), std::uint64_t{0});
  js::publish_options o;
  o.expected_last_subject_seq = last;
  js_->async_publish(write_subject(*js_, status_.bucket, key), headers{}, value, o,
                     [h = std::move(h), cas = last.has_value()](error_code ec, js::pub_ack ack) mutable {
                       if (cas && ec == js::error::wrong_last_sequence) ec = make_error_code(error::wrong_revision);
                       if (ec == js::error::no_stream_response) ec = make_error_code(error::bucket_not_found);
                       complete(std::move(h), ec, ec ? std::uint64_t{0} : ack.seq);
                     });
}

void bucket::create_impl(std::string_view key, std::string_view value, handler<std::uint64_t> h) {
  if (!valid_key(key)) return post_to(*js_, std::move(h), make_error_code(error::invalid_key), std::uint64_t{0});
  js::publish_options o;
  o.expected_last_subject_seq = 0;
  js_->async_publish(
      write_subject(*js_, status_.bucket, key), headers{}, value, o,
      [this, key = std::string(key), value = std::string(value), h = std::move(h)](error_code ec, js::pub_ack ack) mutable {
        if (ec == js::error::no_stream_response) ec = make_error_code(error::bucket_not_found);
        if (ec != js::error::wrong_last_sequence) return complete(std::move(h), ec, ec ? std::uint64_t{0} : ack.seq);
        // The key has history. Creating is still allowed when its latest entry is a delete/purge marker:
        // update on that marker's revision (as the other clients do).
        get_raw(*js_, status_, key, 0,
                [this, key, value = std::move(value), h = std::move(h)](error_code gec, entry e) mutable {
                  if (gec || e.op == operation::put) return complete(std::move(h), make_error_code(error::key_exists), std::uint64_t{0});
                  put_impl(key, value, e.revision,
                           [h = std::move(h)](error_code uec, std::uint64_t rev) mutable {
                             if (uec == error::wrong_revision) uec = make_error_code(error::key_exists);
                             complete(std::move(h), uec, rev);
                           });
                });
      });
}

void bucket::marker_impl(std::string_view key, bool purge, void_handler h) {
  if (!valid_key(key)) return post_to(*js_, std::move(h), make_error_code(error::invalid_key));
  headers hd;
  hd.set(std::string(operation_header), purge ? "PURGE" : "DEL");
  if (purge) hd.set(std::string(rollup_header), "sub");
  js_->async_publish(write_subject(*js_, status_.bucket, key), hd, "", js::publish_options{},
                     [h = std::move(h)](error_code ec, js::pub_ack) mutable {
                       if (ec == js::error::no_stream_response) ec = make_error_code(error::bucket_not_found);
                       complete(std::move(h), ec);
                     });
}

// ---------------------------------------------------------------------------------------------
// watch (ordered push consumer)

namespace detail {

struct watch_state : std::enable_shared_from_this<watch_state> {
  using next_handler = asio::any_completion_handler<void(error_code, entry)>;

  js::context& js;
  bucket_status st;
  std::string filter;
  watch_options opts;
  subscription sub;
  std::string consumer_name;
  std::uint64_t last_sseq = 0;   // last stream sequence delivered (resume point)
  std::uint64_t last_cseq = 0;   // last consumer sequence (gap detection)
  std::uint64_t initial = 0;
  std::uint64_t delivered_initial = 0;
  bool caught_up = false;
  std::uint64_t resets = 0;
  bool stopped = false;
  bool resetting = false;
  asio::steady_timer timer;
  asio::cancellation_signal wait_cancel;
  std::optional<next_handler> waiter;
  bool user_cancelled = false;
  std::uint64_t gen = 0;  // identifies the current wait, so a stale timer completion cannot cancel a newer one
  clock::time_point last_activity{};

  watch_state(js::context& j, bucket_status s, std::string f, watch_options o)
      : js(j), st(std::move(s)), filter(std::move(f)), opts(o), timer(j.conn().get_executor()) {
    if (opts.heartbeat < std::chrono::milliseconds(100)) opts.heartbeat = std::chrono::milliseconds(100);
  }

  js::consumer_config config(bool resume) const {
    js::consumer_config c;
    c.ack = js::ack_policy::none;
    c.filter_subject = key_subject(st.bucket, filter);
    c.deliver_subject = sub.subject();
    c.flow_control = true;
    c.idle_heartbeat = opts.heartbeat;
    c.headers_only = opts.meta_only;
    c.mem_storage = true;
    c.replicas = 1;
    c.max_deliver = -1;
    if (resume) {
      c.deliver = js::deliver_policy::by_start_sequence;
      c.opt_start_seq = last_sseq + 1;
    } else if (opts.updates_only) {
      c.deliver = js::deliver_policy::new_msgs;
    } else if (opts.include_history) {
      c.deliver = js::deliver_policy::all;
    } else {
      c.deliver = js::deliver_policy::last_per_subject;
    }
    return c;
  }

  // Subscribes on a fresh inbox and creates the consumer; `done(ec)` when it exists.
  template <class Done>
  void create(bool resume, Done done) {
    error_code ec;
    if (sub.valid()) sub.unsubscribe();
    sub = js.conn().subscribe(js.conn().new_inbox(), ec);
    if (ec) return done(ec);
    last_cseq = 0;
    last_activity = clock::now();
    auto self = shared_from_this();
    js.async_add_consumer(st.stream_name, config(resume), [self, resume, done = std::move(done)](error_code cec, js::consumer_info info) mutable {
      if (cec) return done(cec);
      self->consumer_name = info.name;
      if (!resume) {
        self->initial = info.num_pending;
        self->caught_up = self->initial == 0;
      }
      self->last_activity = clock::now();
      done(error_code{});
    });
  }

  void next(next_handler h) {
    if (stopped) return post_to(js, std::move(h), make_error_code(error::watcher_closed), entry{});
    if (waiter) return post_to(js, std::move(h), error_code(asio::error::already_started), entry{});
    auto slot = asio::get_associated_cancellation_slot(h);
    waiter.emplace(std::move(h));
    user_cancelled = false;
    if (slot.is_connected()) {
      slot.assign([w = weak_from_this()](asio::cancellation_type) {
        if (auto self = w.lock()) {
          self->user_cancelled = true;
          self->wait_cancel.emit(asio::cancellation_type::all);
        }
      });
    }
    if (!resetting) wait();
  }

  void wait() {
    timer.expires_at(last_activity + 3 * opts.heartbeat);
    timer.async_wait([w = weak_from_this(), g = ++gen](error_code ec) {
      if (auto self = w.lock(); self && !ec && self->gen == g) self->wait_cancel.emit(asio::cancellation_type::all);
    });
    sub.async_next(asio::bind_cancellation_slot(wait_cancel.slot(), [self = shared_from_this()](error_code ec, message m) {
      self->on_message(ec, std::move(m));
    }));
  }

  // Gap or silence: a new consumer from the revision after the last one delivered.
  void reset() {
    ++resets;
    resetting = true;
    if (!consumer_name.empty()) {
      js.async_delete_consumer(st.stream_name, consumer_name, [](error_code) {});  // best effort
    }
    auto self = shared_from_this();
    create(true, [self](error_code ec) {
      self->resetting = false;
      if (self->stopped) return;
      if (ec) {
        // Server not back yet: try again after a heartbeat interval.
        self->last_activity = clock::now();
        self->timer.expires_after(self->opts.heartbeat);
        self->timer.async_wait([self](error_code tec) {
          if (!tec && !self->stopped) self->reset();
        });
        return;
      }
      if (self->waiter) self->wait();
    });
  }

  void on_message(error_code ec, message m) {
    ++gen;
    timer.cancel();
    if (stopped) return deliver(make_error_code(error::watcher_closed), {});
    if (ec == asio::error::operation_aborted && !user_cancelled) return reset();
    if (ec) return deliver(ec, {});
    last_activity = clock::now();
    if (m.status() == 100) {
      // Flow control request: answer on its reply subject. Heartbeats may report a stalled consumer.
      if (!m.reply.empty()) js.conn().publish(m.reply, "");
      if (auto stalled = m.headers.get("Nats-Consumer-Stalled")) js.conn().publish(*stalled, "");
      // A heartbeat names the last consumer sequence sent: behind it means we lost messages.
      if (auto lc = m.headers.get("Nats-Last-Consumer")) {
        std::uint64_t n = 0;
        for (char c : *lc) n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n != last_cseq) return reset();
      }
      return wait();
    }
    if (m.status() != 0) return wait();
    auto md = js::parse_metadata(m.reply);
    if (!md) return wait();
    if (md->consumer_seq != last_cseq + 1) return reset();
    last_cseq = md->consumer_seq;
    last_sseq = md->stream_seq;
    auto e = entry_from(st.bucket, m);
    if (!caught_up) {
      ++delivered_initial;
      if (md->num_pending == 0 || delivered_initial >= initial) caught_up = true;
    }
    if (!e || (opts.ignore_deletes && e->op != operation::put)) return wait();
    deliver({}, std::move(*e));
  }

  void deliver(error_code ec, entry e) {
    if (!waiter) return;
    auto h = std::move(*waiter);
    waiter.reset();
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    post_to(js, std::move(h), ec, std::move(e));
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    timer.cancel();
    // The server drops the push consumer once interest is gone.
    if (sub.valid()) sub.unsubscribe();
    // A pending wait ends here, not when the unsubscribe's subscription_closed reaches on_message: if
    // the io_context never runs again (stopped, then destroyed), the waiter (often a coroutine that owns
    // whoever owns this watcher) would never be released, a reference cycle.
    if (waiter) deliver(make_error_code(error::watcher_closed), {});
  }
};

}  // namespace detail

watcher& watcher::operator=(watcher&& o) noexcept {
  if (this != &o) {
    stop();
    state_ = std::move(o.state_);
  }
  return *this;
}
watcher::~watcher() { stop(); }
void watcher::stop() {
  if (state_) state_->stop();
}
std::uint64_t watcher::initial_pending() const noexcept { return state_ ? state_->initial : 0; }
bool watcher::caught_up() const noexcept { return state_ && state_->caught_up; }
std::uint64_t watcher::resets() const noexcept { return state_ ? state_->resets : 0; }
void watcher::next_impl(handler h) {
  if (!state_) return complete(std::move(h), make_error_code(error::watcher_closed), entry{});
  state_->next(std::move(h));
}

void bucket::watch_impl(std::string_view filter, const watch_options& opts, handler<watcher> h) {
  std::string f = filter.empty() ? std::string(">") : std::string(filter);
  if (!valid_key_filter(f)) return post_to(*js_, std::move(h), make_error_code(error::invalid_key), watcher{});
  auto st = std::make_shared<detail::watch_state>(*js_, status_, std::move(f), opts);
  st->create(false, [st, h = std::move(h)](error_code ec) mutable {
    if (ec) {
      st->stop();
      return complete(std::move(h), map_stream_error(ec), watcher{});
    }
    complete(std::move(h), error_code{}, watcher(st));
  });
}

// ---------------------------------------------------------------------------------------------
// keys / history: a watch read until caught up

namespace {

struct collect_op : std::enable_shared_from_this<collect_op> {
  watcher w;
  std::function<void(entry&&)> on_entry;
  std::function<void(error_code)> done;

  void run() {
    if (w.caught_up()) return done({});
    auto self = shared_from_this();
    w.async_next([self](error_code ec, entry e) {
      if (ec) return self->done(ec);
      const auto delta = e.delta;
      self->on_entry(std::move(e));
      if (delta == 0 || self->w.caught_up()) return self->done({});
      self->run();
    });
  }
};

}  // namespace

void bucket::keys_impl(std::string_view filter, handler<std::vector<std::string>> h) {
  watch_options o;
  o.meta_only = true;  // deletes are filtered here, so the last marker still ends the listing
  watch_impl(filter, o, [h = std::move(h)](error_code ec, watcher w) mutable {
    if (ec) return complete(std::move(h), ec, std::vector<std::string>{});
    auto op = std::make_shared<collect_op>();
    op->w = std::move(w);
    auto keys = std::make_shared<std::vector<std::string>>();
    op->on_entry = [keys](entry&& e) {
      if (e.op == operation::put) keys->push_back(std::move(e.key));
    };
    auto hp = std::make_shared<handler<std::vector<std::string>>>(std::move(h));
    op->done = [op_weak = std::weak_ptr<collect_op>(op), keys, hp](error_code ec2) {
      if (auto o2 = op_weak.lock()) o2->w.stop();
      complete(std::move(*hp), ec2, ec2 ? std::vector<std::string>{} : std::move(*keys));
    };
    op->run();
  });
}

void bucket::history_impl(std::string_view key, handler<std::vector<entry>> h) {
  if (!valid_key(key)) return post_to(*js_, std::move(h), make_error_code(error::invalid_key), std::vector<entry>{});
  watch_options o;
  o.include_history = true;
  watch_impl(key, o, [h = std::move(h)](error_code ec, watcher w) mutable {
    if (ec) return complete(std::move(h), ec, std::vector<entry>{});
    auto op = std::make_shared<collect_op>();
    op->w = std::move(w);
    auto entries = std::make_shared<std::vector<entry>>();
    op->on_entry = [entries](entry&& e) { entries->push_back(std::move(e)); };
    auto hp = std::make_shared<handler<std::vector<entry>>>(std::move(h));
    op->done = [op_weak = std::weak_ptr<collect_op>(op), entries, hp](error_code ec2) {
      if (auto o2 = op_weak.lock()) o2->w.stop();
      if (!ec2 && entries->empty()) ec2 = make_error_code(error::key_not_found);
      complete(std::move(*hp), ec2, ec2 ? std::vector<entry>{} : std::move(*entries));
    };
    op->run();
  });
}

}  // namespace nats::kv
