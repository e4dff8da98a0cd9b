#include "node_impl.hpp"

#include <nats/js/ack.hpp>
#include <nats/js/detail/reply_token.hpp>
#include <nats/js/json.hpp>
#include <nats/js/metadata.hpp>
#include <nats/kv/entry.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>

namespace nats::cluster::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ms() {
  return std::chrono::duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string s;
  static const char* digits = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    auto b = rd() & 0xff;
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

// Version "2.10.4" >= major.minor?
bool version_at_least(const std::string& v, int major, int minor) {
  int a = 0, b = 0;
  if (std::sscanf(v.c_str(), "%d.%d", &a, &b) < 2) return false;
  return a > major || (a == major && b >= minor);
}

// Errors after which resending may help (the message may or may not be stored: same Msg-Id).
bool transient(const error_code& ec) {
  return ec == nats::error::timeout || ec == nats::error::no_responders || ec == nats::error::not_connected ||
         ec == nats::error::reconnect_buffer_full || ec == nats::error::write_buffer_full ||
         ec == js::error::no_stream_response ||
         ec == nats::error::connection_closed || ec == asio::error::operation_aborted ||
         ec == js::error::leadership_change;
}

}  // namespace

error_code check_user_headers(const nats::headers& hdrs) {
  for (auto& [name, value] : hdrs.fields()) {
    if (name.size() >= 5 && std::equal(name.begin(), name.begin() + 5, "Nats-", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return make_error_code(error::invalid_config);
    if (nats::headers::validate(name, value)) return make_error_code(nats::error::invalid_header);
  }
  return {};
}

node_impl::node_impl(executor_type ex, config cfg)
    : ex_(std::move(ex)),
      cfg_(std::move(cfg)),
      prefix_(cluster::prefix(cfg_.root_path)),
      stream_(stream_name(prefix_)),
      bucket_(bucket_name(prefix_)),
      session_(random_hex(8)) {}

node_impl::~node_impl() = default;

// ---------------------------------------------------------------------------------------------
// status

void node_impl::emit_status(status_kind k, error_code ec, std::string text) {
  status_event ev;
  ev.kind = k;
  ev.ec = ec;
  ev.text = std::move(text);
  if (ev.text.empty() && ec) ev.text = ec.message();
  if (nc_) ev.server = nc_->connected_url();
  ev.outbox_messages = outbox_.size();
  ev.outbox_bytes = outbox_bytes_;
  if (k != status_kind::outbox) status_ = ev;
  else {
    status_.outbox_messages = ev.outbox_messages;
    status_.outbox_bytes = ev.outbox_bytes;
  }
  // Posted: a handler may call back into the node (even stop it).
  asio::post(ex_, [self = shared_from_this(), ev] {
    if (self->on_status_) self->on_status_(ev);
  });
}

void node_impl::post_handler(void_handler h, error_code ec) {
  if (h) asio::post(ex_, asio::append(std::move(h), ec));
}

void node_impl::note_outbox_change() {
  // Throttled: at most one outbox event per 200 ms.
  if (outbox_status_pending_) return;
  outbox_status_pending_ = true;
  if (!outbox_status_timer_) outbox_status_timer_ = std::make_unique<asio::steady_timer>(ex_);
  outbox_status_timer_->expires_after(200ms);
  outbox_status_timer_->async_wait([self = shared_from_this()](error_code) {
    self->outbox_status_pending_ = false;
    if (self->phase_ == phase::running || self->phase_ == phase::starting || self->phase_ == phase::stopping)
      self->emit_status(status_kind::outbox);
  });
}

// ---------------------------------------------------------------------------------------------
// start / link

void node_impl::start(void_handler h) {
  if (phase_ != phase::idle) return post_handler(std::move(h), make_error_code(error::already_started));
  std::string field;
  if (auto ec = validate(cfg_, field)) {
    emit_status(status_kind::error, ec, ec.message() + " (field: " + field + ")");
    return post_handler(std::move(h), ec);
  }
  started_ms_ = now_ms();

  if (!cfg_.outbox_dir.empty()) {
    std::vector<outbox_record> live;
    auto path = cfg_.outbox_dir + "/" + stream_ + "-" + cfg_.instance_id + ".outbox";
    if (auto ec = file_.open(path, live)) {
      emit_status(status_kind::error, ec, ec.message() + " (" + path + ")");
      return post_handler(std::move(h), ec);
    }
    for (auto& r : live) {
      outbox_entry e;
      error_code hec;
      e.hdrs = r.headers.empty() ? nats::headers{} : nats::headers::parse(r.headers, hec);
      e.bytes = r.subject.size() + r.payload.size() + r.headers.size();
      next_seq_ = std::max(next_seq_, r.seq + 1);
      outbox_bytes_ += e.bytes;
      auto seq = r.seq;
      e.rec = std::move(r);
      outbox_.emplace(seq, std::move(e));
    }
  }

  nats::options opts = cfg_.connection;
  if (opts.name.empty()) opts.name = "nats-cluster " + cfg_.instance_id;
  opts.retry_on_failed_connect = true;
  if (!opts.reconnect.policy) opts.reconnect.max_attempts_per_server = -1;
  opts.reconnect.buffer_bytes = 0;  // the outbox holds what waits for NATS, not the connection
  auto user_cb = opts.on_event;
  std::weak_ptr<node_impl> weak = shared_from_this();
  auto linked = std::make_shared<bool>(false);  // the connection calls both hooks on its executor
  opts.on_event = [weak, user_cb, linked](const nats::event& ev) {
    if (ev.kind == nats::event_kind::connected) *linked = true;
    if (user_cb) user_cb(ev);
    if (auto self = weak.lock()) {
      asio::post(self->ex_, [self, ev] { self->on_connection_event(ev); });
    }
  };
  // The connection reports no event for an attempt that fails (only for a link that is lost), but
  // asks the reconnect policy before every further attempt, with the previous attempt's error: the
  // hook that makes each failed attempt visible (NATS down at start, or still down after a loss).
  // Without a policy of the user's, this one is the built-in schedule (wait + jitter per server).
  auto user_policy = opts.reconnect.policy;
  auto last_try = std::make_shared<std::map<std::string, steady_clock::time_point>>();
  auto rng = std::make_shared<std::minstd_rand>(std::random_device{}());
  opts.reconnect.policy = [weak, user_policy, linked, last_try, rng, r = opts.reconnect,
                           tls = opts.tls.enabled](const nats::reconnect_context& ctx) -> std::optional<milliseconds> {
    std::optional<milliseconds> delay;
    if (user_policy) {
      delay = user_policy(ctx);
    } else {
      auto jmax = (ctx.tls || tls) ? r.jitter_tls : r.jitter;
      auto jitter = jmax.count() > 0 ? milliseconds((*rng)() % static_cast<std::uint64_t>(jmax.count() + 1)) : 0ms;
      auto now = steady_clock::now();
      auto [it, fresh] = last_try->try_emplace(ctx.server, now - r.wait - jitter);
      auto since = std::chrono::duration_cast<milliseconds>(now - it->second);
      delay = since >= r.wait + jitter ? 0ms : r.wait + jitter - since;
      it->second = now + *delay;
    }
    // Attempt 1 after a lost link carries the loss itself, already reported as disconnected.
    if (auto self = weak.lock(); self && (!*linked || ctx.attempt > 1) && ctx.last_error)
      asio::post(self->ex_, [self, ctx, delay] { self->on_failed_attempt(ctx, delay); });
    return delay;
  };
  nc_ = std::make_unique<nats::connection>(ex_, std::move(opts));
  js_ = std::make_unique<js::context>(*nc_, js::context_options{.timeout = cfg_.publish_ack_timeout});
  for (auto& [id, r] : responders_) subscribe_responder(*r);  // served before start
  phase_ = phase::starting;
  emit_status(status_kind::connecting);

  if (cfg_.wait_until_ready) {
    start_handler_.emplace(std::move(h));
    start_timer_ = std::make_unique<asio::steady_timer>(ex_, cfg_.start_timeout);
    start_timer_->async_wait([self = shared_from_this()](error_code ec) {
      if (ec || !self->start_handler_) return;
      auto why = self->nc_ && self->nc_->last_error() ? self->nc_->last_error() : error_code(nats::error::timeout);
      self->fatal(nats::error::timeout, "not ready within start_timeout (last error: " + why.message() + ")");
    });
  } else {
    post_handler(std::move(h), {});
  }
  nc_->async_connect([self = shared_from_this()](error_code ec) {
    if (ec && self->phase_ != phase::stopped && self->phase_ != phase::stopping)
      self->fatal(ec, "connect failed: " + ec.message() + (self->nc_ ? " " + self->nc_->last_error_text() : ""));
  });
}

void node_impl::finish_start(const error_code& ec) {
  if (start_timer_) start_timer_->cancel();
  if (start_handler_) post_handler(std::move(*start_handler_), ec);
  start_handler_.reset();
}

void node_impl::fatal(const error_code& ec, const std::string& text) {
  if (phase_ == phase::stopped) return;
  emit_status(status_kind::error, ec, text);
  finish_start(ec);
  shutdown();
  emit_status(status_kind::closed, ec, text);
}

void node_impl::on_connection_event(const nats::event& ev) {
  if (phase_ == phase::stopped || !nc_) return;
  switch (ev.kind) {
    case nats::event_kind::connected:
    case nats::event_kind::reconnected:
      if (!setup_running_) {
        setup_running_ = true;
        asio::co_spawn(ex_, setup(gen_), asio::detached);
      }
      break;
    case nats::event_kind::disconnected:
      link_down(ev.ec);
      emit_status(status_kind::disconnected, ev.ec, ev.text.empty() ? ev.ec.message() : ev.text);
      if (phase_ != phase::stopping) emit_status(status_kind::reconnecting, ev.ec);
      break;
    case nats::event_kind::closed:
      link_down(ev.ec);
      if (phase_ == phase::running || phase_ == phase::starting) fatal(ev.ec ? ev.ec : make_error_code(nats::error::connection_closed), "connection closed: " + ev.ec.message());
      break;
    case nats::event_kind::error:
      emit_status(status_kind::error, ev.ec, ev.text.empty() ? ev.ec.message() : ev.text);
      break;
    case nats::event_kind::lame_duck:
      emit_status(status_kind::error, ev.ec, "server entering lame-duck mode; moving to another server");
      break;
    default:
      break;
  }
}

void node_impl::on_failed_attempt(const nats::reconnect_context& ctx, std::optional<milliseconds> next) {
  if (phase_ != phase::starting && phase_ != phase::running) return;
  if (nc_ && nc_->is_connected()) return;  // a late report of an attempt before the current link
  emit_status(status_kind::disconnected, ctx.last_error, "connect failed: " + ctx.last_error.message());
  if (next)
    emit_status(status_kind::reconnecting, ctx.last_error,
                "trying " + ctx.server + " in " + std::to_string(next->count()) + " ms (attempt " +
                    std::to_string(ctx.attempt + 1) + ")");
}

void node_impl::link_down(const error_code&) {
  ++gen_;  // late replies of the old link cannot requeue or double-count
  ready_ = false;
  inflight_.clear();
  retrying_.clear();  // everything goes again, in outbox order
  next_unsent_ = 0;
  // Everything in flight goes back to waiting; callers waiting for an ack are answered now: their
  // messages are safely in the outbox and will be (re)sent in order, with the same Msg-Id.
  for (auto& [seq, e] : outbox_) {
    e.inflight_send = 0;
    if (e.handler) complete_entry(e, {});
  }
  note_outbox_change();
}

asio::awaitable<void> node_impl::setup(std::uint64_t gen) {
  auto self = shared_from_this();
  struct reset_flag {
    node_impl* n;
    ~reset_flag() { n->setup_running_ = false; }
  } reset{this};

  for (int attempt = 0;; ++attempt) {
    if (phase_ == phase::stopped || phase_ == phase::stopping || !nc_ || !nc_->is_connected()) co_return;
    gen = gen_;
    error_code ec;
    std::string step;
    if (!(ec = co_await ensure_stream())) {
      if (!(ec = co_await ensure_bucket())) {
        if (!first_setup_done_) {
          if ((ec = co_await check_duplicate())) step = "instance id";
        }
        if (!ec && (ec = co_await register_presence())) step = "presence";
      } else {
        step = "bucket " + bucket_;
      }
    } else {
      step = "stream " + stream_;
    }
    if (phase_ == phase::stopped || phase_ == phase::stopping) co_return;
    if (ec == error::duplicate_instance || ec == js::error::jetstream_not_enabled ||
        ec == js::error::jetstream_not_enabled_for_account || ec == error::jetstream_unavailable) {
      if (ec != error::duplicate_instance) ec = make_error_code(error::jetstream_unavailable);
      fatal(ec, ec.message() + " (" + step + ")");
      co_return;
    }
    if (ec) {
      // Typically a JetStream leader election or a reconnect in progress: try again shortly.
      emit_status(status_kind::error, ec, "setup of " + step + " failed: " + ec.message() + "; retrying");
      asio::steady_timer t(ex_, std::min<milliseconds>(milliseconds(250 * (attempt + 1)), 2000ms));
      co_await t.async_wait(tuple_awaitable);
      continue;
    }
    if (gen != gen_ || !nc_->is_connected()) continue;  // the link changed meanwhile: again
    break;
  }

  // Once: responder for duplicate checks, discovery watcher, heartbeats.
  if (!first_setup_done_) {
    first_setup_done_ = true;
    error_code ec;
    std::weak_ptr<node_impl> weak = self;
    ping_sub_ = nc_->subscribe(
        "_CLUSTER." + stream_ + ".presence." + cfg_.instance_id,
        [weak](nats::message&& m) {
          auto s = weak.lock();
          if (!s || !s->nc_ || m.reply.empty()) return;
          s->nc_->publish(m.reply, "{\"session\":\"" + s->session_ + "\"}");
        },
        ec);
    multi_filter_ = version_at_least(nc_->server_info().version, 2, 10);
    asio::co_spawn(ex_, heartbeat_loop(), asio::detached);
  }
  if (!watching_) asio::co_spawn(ex_, watch_loop(), asio::detached);

  // While we were away nobody's refresh could reach us: restart every peer's clock rather than
  // report live instances as stale before the watcher has caught up with their new revisions.
  for (auto& [id, p] : peers_) p.last_change = std::max(p.last_change, steady_clock::now());
  ready_ = true;
  if (phase_ == phase::starting) phase_ = phase::running;
  emit_status(status_kind::connected);
  finish_start({});
  pump();
  flush_endpoints();
  for (auto& [id, s] : subs_)
    if (s->active && !s->consumer_ready && !s->creating) asio::co_spawn(ex_, ensure_consumer(s), asio::detached);
}

asio::awaitable<error_code> node_impl::ensure_stream() {
  auto [ec, info] = co_await js_->async_stream_info(stream_, tuple_awaitable);
  if (!ec) {
    // Used as it is, whatever its settings (created by us, the original plugin or an operator).
    stream_allows_ttl_ = info.config.allow_msg_ttl;
    co_return error_code{};
  }
  if (ec != js::error::stream_not_found) co_return ec;
  js::stream_config sc;
  sc.name = stream_;
  sc.subjects = {stream_subject(prefix_)};
  sc.replicas = cfg_.stream.replicas;
  sc.max_msgs = cfg_.stream.max_msgs;
  sc.max_bytes = cfg_.stream.max_bytes;
  sc.max_age = cfg_.stream.max_age;
  sc.duplicate_window = cfg_.stream.duplicate_window;
  sc.storage = cfg_.stream.memory_storage ? js::storage_type::memory : js::storage_type::file;
  auto [aec, ainfo] = co_await js_->async_add_stream(sc, tuple_awaitable);
  if (aec == js::error::stream_name_exists) co_return error_code{};  // another instance won the race
  co_return aec;
}

asio::awaitable<error_code> node_impl::ensure_bucket() {
  if (bucket_ready_) co_return error_code{};
  auto [ec, b] = co_await kv::async_bind_bucket(*js_, bucket_, tuple_awaitable);
  if (ec == kv::error::bucket_not_found) {
    kv::bucket_config bc;
    bc.bucket = bucket_;
    bc.history = 1;  // as the original
    bc.replicas = cfg_.bucket_replicas;
    std::tie(ec, b) = co_await kv::async_create_bucket(*js_, bc, tuple_awaitable);
    if (ec) std::tie(ec, b) = co_await kv::async_bind_bucket(*js_, bucket_, tuple_awaitable);  // lost a race
  }
  if (ec) co_return ec;
  kv_ = std::move(b);
  bucket_ready_ = true;
  co_return error_code{};
}

asio::awaitable<error_code> node_impl::check_duplicate() {
  // A live process with our id answers on its presence subject at once; a crashed one cannot.
  auto timeout = std::clamp<milliseconds>(cfg_.heartbeat_interval / 2, 200ms, 2000ms);
  auto [ec, m] = co_await nc_->async_request("_CLUSTER." + stream_ + ".presence." + cfg_.instance_id, "", timeout,
                                             tuple_awaitable);
  if (!ec && m.payload.find(session_) == std::string::npos) co_return make_error_code(error::duplicate_instance);
  co_return error_code{};  // no responders / timeout: nobody else
}

asio::awaitable<error_code> node_impl::register_presence() {
  presence_value v;
  v.nats_address = cfg_.nats_address;
  if (v.nats_address.empty()) {
    for (auto& s : cfg_.connection.servers) v.nats_address += (v.nats_address.empty() ? "" : ",") + s;
    // Never publish credentials embedded in URLs.
    std::string clean;
    for (std::size_t pos = 0; pos < v.nats_address.size();) {
      auto comma = v.nats_address.find(',', pos);
      auto url = v.nats_address.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      auto at = url.find('@');
      auto scheme = url.find("://");
      if (at != std::string::npos) url.erase(scheme == std::string::npos ? 0 : scheme + 3, at + 1 - (scheme == std::string::npos ? 0 : scheme + 3));
      clean += (clean.empty() ? "" : ",") + url;
      pos = comma == std::string::npos ? v.nats_address.size() : comma + 1;
    }
    v.nats_address = clean;
  }
  v.role = cfg_.role;
  v.session = session_;
  v.heartbeat_ms = now_ms();
  v.started_ms = started_ms_;
  v.groups = my_groups();
  auto json = to_json(v);
  auto key = instance_key(cfg_.instance_id);
  for (int i = 0; i < 3; ++i) {
    auto [gec, cur] = co_await kv_.async_get(key, tuple_awaitable);
    if (gec == kv::error::key_not_found) {
      auto [cec, rev] = co_await kv_.async_create(key, json, tuple_awaitable);
      if (!cec) {
        presence_rev_ = rev;
        co_return error_code{};
      }
      if (cec != kv::error::key_exists && cec != kv::error::wrong_revision) co_return cec;
      continue;
    }
    if (gec) co_return gec;
    // An entry of ours from before a restart/crash, or a stale one: take it over (compare-and-set).
    auto [uec, rev] = co_await kv_.async_update(key, json, cur.revision, tuple_awaitable);
    if (!uec) {
      presence_rev_ = rev;
      co_return error_code{};
    }
    if (uec != kv::error::wrong_revision) co_return uec;
  }
  co_return make_error_code(error::duplicate_instance);
}

// ---------------------------------------------------------------------------------------------
// stop

void node_impl::shutdown() {
  if (phase_ == phase::stopped) return;
  phase_ = phase::stopped;
  ready_ = false;
  if (start_timer_) start_timer_->cancel();
  if (pump_timer_) pump_timer_->cancel();
  if (ack_timer_) ack_timer_->cancel();
  ack_sub_.unsubscribe();
  if (heartbeat_timer_) heartbeat_timer_->cancel();
  if (outbox_status_timer_) outbox_status_timer_->cancel();
  for (auto& [id, s] : subs_) {
    s->active = false;
    s->stream.stop();
    if (s->hold_timer) s->hold_timer->cancel();
  }
  watcher_.stop();
  ping_sub_.unsubscribe();
  for (auto& [id, r] : responders_)
    for (auto& sub : r->subs) sub.unsubscribe();
  for (auto& [seq, e] : outbox_)
    if (e.handler) complete_entry(e, file_.is_open() ? error_code{} : make_error_code(error::stopped));
  if (nc_) nc_->close();
  file_.close();
}

void node_impl::stop(milliseconds timeout, void_handler h) {
  if (phase_ == phase::idle || phase_ == phase::stopped || phase_ == phase::stopping)
    return post_handler(std::move(h), make_error_code(error::not_started));
  phase_ = phase::stopping;
  finish_start(make_error_code(error::stopped));
  asio::co_spawn(
      ex_,
      [self = shared_from_this(), timeout]() -> asio::awaitable<error_code> {
        auto deadline = steady_clock::now() + timeout;
        // 1. Let the outbox drain while connected.
        while (!self->outbox_.empty() && self->ready_ && steady_clock::now() < deadline) {
          asio::steady_timer t(self->ex_, 20ms);
          co_await t.async_wait(tuple_awaitable);
        }
        bool left = !self->outbox_.empty() && !self->file_.is_open();
        // 2. Subscriptions stop; their durable consumers stay.
        for (auto& [id, s] : self->subs_) {
          s->active = false;
          s->stream.stop();
          if (s->hold_timer) s->hold_timer->cancel();
        }
        if (self->heartbeat_timer_) self->heartbeat_timer_->cancel();
        self->watcher_.stop();
        // 3. Presence removed (compare-and-set: never delete a newer owner's entry).
        if (self->ready_ && self->bucket_ready_ && self->presence_rev_ != 0) {
          nats::headers h;
          h.set(std::string(kv::operation_header), "DEL");
          js::publish_options po;
          po.expected_last_subject_seq = self->presence_rev_;
          po.retry_attempts = 0;
          po.timeout = std::clamp<milliseconds>(std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()), 200ms, 2000ms);
          co_await self->js_->async_publish(kv::key_subject(self->bucket_, instance_key(self->cfg_.instance_id)), h, "",
                                            po, tuple_awaitable);
        }
        if (self->nc_ && self->nc_->is_connected()) {
          // Pending acks/publishes reach the server before the socket closes.
          co_await self->nc_->async_flush(tuple_awaitable);
        }
        self->shutdown();
        error_code ec = left ? make_error_code(error::outbox_not_drained) : error_code{};
        self->emit_status(status_kind::closed, ec);
        co_return ec;
      },
      [h = std::move(h)](std::exception_ptr e, error_code ec) mutable {
        if (e) ec = make_error_code(error::stopped);
        std::move(h)(ec);
      });
}

// ---------------------------------------------------------------------------------------------
// publish / outbox

void node_impl::publish(std::string_view subject, std::string_view payload, const publish_options& opts,
                        void_handler h) {
  if (phase_ == phase::idle) return post_handler(std::move(h), make_error_code(error::not_started));
  if (phase_ == phase::stopped || phase_ == phase::stopping) return post_handler(std::move(h), make_error_code(error::stopped));
  if (cfg_.role == role::observer) return post_handler(std::move(h), make_error_code(error::observer_cannot_publish));
  if (!valid_relative_subject(subject)) return post_handler(std::move(h), make_error_code(error::invalid_subject));
  if (auto ec = check_user_headers(opts.headers)) return post_handler(std::move(h), ec);
  if (nc_ && nc_->server_info().max_payload > 0 &&
      payload.size() > static_cast<std::size_t>(nc_->server_info().max_payload))
    return post_handler(std::move(h), make_error_code(error::payload_too_large));

  outbox_record rec;
  rec.seq = next_seq_;
  rec.subject = publish_subject(prefix_, cfg_.instance_id, subject);
  rec.payload = std::string(payload);
  nats::headers hdrs = opts.headers;
  auto ttl = opts.ttl.value_or(cfg_.default_ttl);
  if (opts.mode == delivery_mode::ephemeral) {
    rec.ephemeral = true;
    rec.expires_ms = now_ms() + ttl.count();
    hdrs.set(std::string(expires_header), std::to_string(rec.expires_ms));
    hdrs.set(std::string(ttl_header), std::to_string(ttl.count()));
    // Servers with per-message TTL (2.11+, stream allow_msg_ttl) drop it from storage too.
    if (stream_allows_ttl_) hdrs.set("Nats-TTL", std::to_string((ttl.count() + 999) / 1000) + "s");
  } else {
    rec.msg_id = cfg_.instance_id + "-" + session_ + "-" + std::to_string(rec.seq);
  }
  std::uint64_t subject_n = 0;
  std::uint64_t* subject_counter = nullptr;  // stable: unordered_map nodes never move
  if (!rec.ephemeral) {
    subject_counter = &subject_seq_[rec.subject];
    subject_n = *subject_counter + 1;
    hdrs.set(std::string(seq_header), session_ + "." + std::to_string(subject_n));
  }
  // The serialized form is only for the outbox file; in memory the parsed headers are what is sent.
  std::size_t header_bytes = 0;
  if (!hdrs.empty()) {
    if (file_.is_open()) hdrs.serialize(rec.headers);
    else header_bytes = hdrs.serialized_size();
  }

  // Endpoint registry: first use of this subject with this mode/TTL.
  endpoint_value ev{opts.mode, opts.mode == delivery_mode::ephemeral ? ttl : milliseconds(0)};
  auto it = my_endpoints_.find(subject);
  if (it == my_endpoints_.end() || it->second.mode != ev.mode || it->second.ttl != ev.ttl) {
    my_endpoints_[std::string(subject)] = ev;
    endpoints_dirty_.insert(std::string(subject));
    if (ready_) flush_endpoints();
  }

  if (auto ec = enqueue(std::move(rec), header_bytes)) return post_handler(std::move(h), ec);
  if (subject_counter) *subject_counter = subject_n;  // only accepted messages count
  auto& e = std::prev(outbox_.end())->second;
  e.hdrs = std::move(hdrs);
  e.handler.emplace(std::move(h));
  if (!ready_) {
    // Accepted into the outbox: answered now, sent in order once NATS is back.
    complete_entry(e, {});
    note_outbox_change();
    return;
  }
  pump();
}

error_code node_impl::enqueue(outbox_record rec, std::size_t header_bytes) {
  std::size_t bytes = rec.subject.size() + rec.payload.size() + std::max(rec.headers.size(), header_bytes);
  if (outbox_.size() >= cfg_.outbox_max_messages || outbox_bytes_ + bytes > cfg_.outbox_max_bytes) {
    emit_status(status_kind::error, make_error_code(error::outbox_full),
                "outbox full (" + std::to_string(outbox_.size()) + " messages, " + std::to_string(outbox_bytes_) +
                    " bytes): message refused");
    return make_error_code(error::outbox_full);
  }
  if (auto ec = file_.append(rec)) return ec;
  ++next_seq_;
  outbox_entry e;
  e.bytes = bytes;
  auto seq = rec.seq;
  e.rec = std::move(rec);
  outbox_bytes_ += bytes;
  outbox_.emplace(seq, std::move(e));
  return {};
}

void node_impl::complete_entry(outbox_entry& e, const error_code& ec) {
  if (e.handler) post_handler(std::move(*e.handler), ec);
  e.handler.reset();
}

void node_impl::erase_entry(std::uint64_t seq) {
  auto it = outbox_.find(seq);
  if (it == outbox_.end()) return;
  outbox_bytes_ -= it->second.bytes;
  if (it->second.inflight_send != 0) inflight_.erase(it->second.inflight_send);
  retrying_.erase(seq);
  file_.mark_done(seq);
  outbox_.erase(it);
  if (outbox_.empty()) {
    file_.clear();
    note_outbox_change();
  }
}

void node_impl::schedule_pump(milliseconds delay) {
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  if (!pump_timer_) pump_timer_ = std::make_unique<asio::steady_timer>(ex_);
  pump_timer_->expires_after(delay);
  pump_timer_->async_wait([self = shared_from_this()](error_code ec) {
    self->pump_scheduled_ = false;
    if (!ec) self->pump();
  });
}

void node_impl::pump() {
  if (!ready_ || !nc_) return;
  // In order from the oldest; at most max_in_flight_publishes durable acks outstanding. Ephemeral
  // messages go out in the same order (same connection) and are done when written. While a message
  // is being resent after a lost ack, nothing new is sent: it is stored before anything newer.
  // Entries before next_unsent_ are in flight or being resent, so each pump starts there.
  for (auto seq : retrying_) {
    if (inflight_.size() >= cfg_.max_in_flight_publishes) return;
    auto it = outbox_.find(seq);
    if (it != outbox_.end() && it->second.inflight_send == 0 && !send(it->second)) return;
  }
  if (!retrying_.empty()) return;
  auto now = now_ms();
  for (auto it = outbox_.lower_bound(next_unsent_); it != outbox_.end() && ready_;) {
    auto& e = it->second;
    auto seq = it->first;
    ++it;
    if (e.inflight_send != 0) continue;
    if (e.rec.ephemeral) {
      if (now >= e.rec.expires_ms) {
        ++stats_.expired_dropped;  // its TTL passed while NATS was away: nobody may receive it now
        complete_entry(e, {});
        erase_entry(seq);
        continue;
      }
      if (!inflight_.empty()) break;  // keep order behind durable messages still waiting for their ack
      if (auto ec = nc_->publish(e.rec.subject, e.hdrs, e.rec.payload)) {
        schedule_pump(100ms);
        break;
      }
      ++stats_.published;
      next_unsent_ = seq + 1;
      complete_entry(e, {});
      erase_entry(seq);
      continue;
    }
    if (inflight_.size() >= cfg_.max_in_flight_publishes) break;
    next_unsent_ = seq + 1;
    if (!send(e)) break;  // it waits in retrying_; nothing newer goes before it
  }
}

bool node_impl::ensure_ack_inbox() {
  if (ack_sub_.valid()) return true;
  error_code ec;
  auto inbox = nc_->new_inbox();
  ack_sub_ = nc_->subscribe(
      inbox + ".*",
      [w = weak_from_this()](nats::message&& m) {
        if (auto self = w.lock()) self->on_ack_reply(std::move(m));
      },
      ec);
  if (ec) return false;
  ack_prefix_ = std::move(inbox);
  ack_prefix_ += '.';
  return true;
}

bool node_impl::send(outbox_entry& e) {
  auto id = next_send_id_++;
  e.inflight_send = id;
  ++e.attempts;
  if (!e.msg_id_in_hdrs) {
    e.hdrs.set("Nats-Msg-Id", e.rec.msg_id);  // the same id on every resend: the stream stores it once
    e.msg_id_in_hdrs = true;
  }
  inflight_.emplace(id, inflight_send{e.rec.seq, std::chrono::steady_clock::now() + cfg_.publish_ack_timeout});
  error_code ec;
  if (ensure_ack_inbox()) {
    ack_reply_.assign(ack_prefix_);
    js::detail::append_reply_token(ack_reply_, e.rec.seq, id);
    ec = nats::detail::publish_unchecked(*nc_, e.rec.subject, &e.hdrs, e.rec.payload, ack_reply_, false);
  } else {
    ec = make_error_code(nats::error::not_connected);
  }
  if (ec) {
    // Not written (link gone, buffer full): it goes again, first, once pumping resumes.
    resend_later(e, e.rec.seq);
    schedule_pump(250ms);
    return false;
  }
  if (ack_timer_at_ == std::chrono::steady_clock::time_point::max()) arm_ack_timer();
  return true;
}

void node_impl::on_ack_reply(nats::message&& m) {
  std::uint64_t seq = 0, id = 0;
  if (m.subject.size() <= ack_prefix_.size() ||
      !js::detail::parse_reply_token(std::string_view(m.subject).substr(ack_prefix_.size()), seq, id))
    return;
  if (m.status() == 503 && m.payload.empty())  // no stream listens (yet): a leader may be being elected
    return on_publish_result(seq, id, make_error_code(js::error::no_stream_response), false);
  js::pub_ack ack;
  js::api_error api;
  auto ec = js::json::decode(m.payload, ack, api);
  on_publish_result(seq, id, ec, !ec && ack.duplicate);
}

void node_impl::arm_ack_timer() {
  if (inflight_.empty() || phase_ == phase::stopped) return;
  if (!ack_timer_) ack_timer_ = std::make_unique<asio::steady_timer>(ex_);
  ack_timer_at_ = inflight_.begin()->second.deadline;
  ack_timer_->expires_at(ack_timer_at_);
  ack_timer_->async_wait([w = weak_from_this()](error_code ec) {
    auto self = w.lock();
    if (!self) return;
    self->ack_timer_at_ = std::chrono::steady_clock::time_point::max();
    if (!ec) self->on_ack_timer();
  });
}

void node_impl::on_ack_timer() {
  // Oldest first: every send due by now timed out (at most a lost ack; resent with the same Msg-Id).
  const auto now = std::chrono::steady_clock::now();
  while (!inflight_.empty() && inflight_.begin()->second.deadline <= now) {
    auto [id, f] = *inflight_.begin();
    on_publish_result(f.seq, id, make_error_code(nats::error::timeout), false);
    if (!inflight_.empty() && inflight_.begin()->first == id) inflight_.erase(inflight_.begin());  // entry gone
  }
  if (ack_timer_at_ == std::chrono::steady_clock::time_point::max()) arm_ack_timer();
}

void node_impl::resend_later(outbox_entry& e, std::uint64_t seq) {
  if (e.inflight_send != 0) inflight_.erase(e.inflight_send);
  e.inflight_send = 0;
  ++stats_.publish_retries;
  retrying_.insert(seq);
}

void node_impl::on_publish_result(std::uint64_t seq, std::uint64_t send_id, const error_code& ec, bool duplicate) {
  auto it = outbox_.find(seq);
  if (it == outbox_.end()) return;  // already done (another send of it was acked)
  auto& e = it->second;
  if (!ec) {
    // Acks of one link come back in send order: sends older than this one still waiting were lost
    // (e.g. a stream leader change). Resend them now, before anything new, instead of after the ack
    // timeout; at worst a resend is a Msg-Id duplicate.
    if (e.inflight_send != 0) inflight_.erase(e.inflight_send);
    e.inflight_send = 0;
    while (!inflight_.empty() && inflight_.begin()->first < send_id) {
      auto lseq = inflight_.begin()->second.seq;
      inflight_.erase(inflight_.begin());
      if (auto lit = outbox_.find(lseq); lit != outbox_.end()) {
        lit->second.inflight_send = 0;
        resend_later(lit->second, lseq);
      }
    }
    ++stats_.published;
    if (duplicate) ++stats_.duplicates_acked;
    complete_entry(e, {});
    erase_entry(seq);
    if (phase_ != phase::stopped) pump();
    return;
  }
  if (e.inflight_send != send_id) return;  // an older send of a message sent again since (or link gone)
  if (transient(ec) || phase_ == phase::stopping) {
    resend_later(e, seq);
    schedule_pump(ec == nats::error::timeout ? 0ms : 250ms);
    return;
  }
  // A permanent refusal (e.g. permissions, stream sealed, message too large for the stream): the
  // caller learns it; nothing is silently dropped.
  emit_status(status_kind::error, ec, "durable publish to " + e.rec.subject + " refused: " + ec.message());
  if (e.handler) complete_entry(e, ec);
  erase_entry(seq);
  pump();
}

// ---------------------------------------------------------------------------------------------
// endpoints

void node_impl::register_endpoint(std::string_view subject, delivery_mode mode, milliseconds ttl, void_handler h) {
  if (!valid_relative_subject(subject)) return post_handler(std::move(h), make_error_code(error::invalid_subject));
  if (cfg_.role == role::observer) return post_handler(std::move(h), make_error_code(error::observer_cannot_publish));
  my_endpoints_[std::string(subject)] = endpoint_value{mode, mode == delivery_mode::ephemeral ? ttl : milliseconds(0)};
  endpoints_dirty_.insert(std::string(subject));
  if (ready_) flush_endpoints();
  post_handler(std::move(h), {});
}

void node_impl::flush_endpoints() {
  if (endpoints_flushing_ || endpoints_dirty_.empty() || !ready_ || !bucket_ready_) return;
  endpoints_flushing_ = true;
  asio::co_spawn(
      ex_,
      [self = shared_from_this()]() -> asio::awaitable<void> {
        while (!self->endpoints_dirty_.empty() && self->ready_) {
          auto subject = *self->endpoints_dirty_.begin();
          self->endpoints_dirty_.erase(self->endpoints_dirty_.begin());
          auto it = self->my_endpoints_.find(subject);
          if (it == self->my_endpoints_.end()) continue;
          auto [ec, rev] = co_await self->kv_.async_put(endpoint_key(self->cfg_.instance_id, subject),
                                                        to_json(it->second), tuple_awaitable);
          if (ec) {
            self->endpoints_dirty_.insert(subject);  // again on the next link-up
            break;
          }
        }
        self->endpoints_flushing_ = false;
      },
      asio::detached);
}

// ---------------------------------------------------------------------------------------------
// subscriptions

std::uint64_t node_impl::subscribe(const subscribe_options& opts, delivery_handler handler, error_code& ec) {
  ec = {};
  if (phase_ == phase::stopped || phase_ == phase::stopping) {
    ec = error::stopped;
    return 0;
  }
  if (opts.key.empty() || opts.key.size() > 200) {
    ec = error::invalid_key;
    return 0;
  }
  auto patterns = parse_patterns(opts.patterns);
  if (!patterns) {
    ec = error::invalid_pattern;
    return 0;
  }
  if (!handler || opts.max_in_flight == 0) {
    ec = error::invalid_config;
    return 0;
  }
  if (!opts.group.empty() && !valid_group_name(opts.group)) {
    ec = error::invalid_group;
    return 0;
  }
  if (opts.ack_wait < 0ms || (opts.ack_wait > 0ms && opts.ack_wait < 100ms)) {
    ec = error::invalid_config;
    return 0;
  }
  std::vector<std::string> full;
  for (auto& p : *patterns) full.push_back(prefix_ + "." + p);
  auto own = consumer_name(cfg_.instance_id, opts.key);
  for (auto& [id, s] : subs_) {
    if (consumer_name(cfg_.instance_id, s->opts.key) == own) {
      ec = error::duplicate_key;
      return 0;
    }
    // Members of a group pull from one consumer with one filter: they must agree on the patterns.
    if (!opts.group.empty() && s->opts.group == opts.group && s->patterns != full) {
      ec = error::group_conflict;
      return 0;
    }
  }
  auto consumer = opts.group.empty() ? std::move(own) : group_consumer_name(stream_, opts.group);
  auto s = std::make_shared<sub_state>();
  s->id = next_sub_id_++;
  s->opts = opts;
  s->patterns = std::move(full);
  s->handler = std::move(handler);
  s->consumer = std::move(consumer);
  s->subscribed_at = system_clock::now();
  subs_.emplace(s->id, s);
  if (ready_) asio::co_spawn(ex_, ensure_consumer(s), asio::detached);
  if (!opts.group.empty()) refresh_presence();  // discovery shows the new member
  return s->id;
}

// Filter choice. nats-server 2.9 allows one filter subject per consumer. One pattern: that pattern is
// the filter. Several: one consumer on "<prefix>.>" (or, on 2.10+, the patterns as filter_subjects when
// they do not overlap, since 2.10 rejects overlapping filters), and the patterns are matched here.
// One consumer per subscription means a message matching several patterns is delivered once, in
// stream order, with one ack — per-pattern consumers would need cross-consumer de-duplication and
// could not keep order.
asio::awaitable<void> node_impl::ensure_consumer(std::shared_ptr<sub_state> s) {
  auto self = shared_from_this();
  if (s->creating) co_return;
  s->creating = true;
  struct reset_flag {
    sub_state* s;
    ~reset_flag() { s->creating = false; }
  } reset{s.get()};

  const bool grouped = !s->opts.group.empty();
  js::consumer_config cc;
  cc.durable_name = s->consumer;
  cc.description = grouped ? "nats-cluster group " + s->opts.group + ": " + s->opts.patterns
                           : "nats-cluster subscription " + s->opts.key + " of " + cfg_.instance_id + ": " + s->opts.patterns;
  // Nobody left pulling from a group's consumer for this long: the server deletes it.
  if (grouped) cc.inactive_threshold = cfg_.group_inactive_threshold;
  switch (s->opts.start) {
    case start_position::new_only:
      // "New" means from the subscribe() call, not from whenever the consumer gets created (after a
      // connect or a leader election): nothing published in between is missed. Server timestamps
      // are compared with our clock, so hosts need synchronised clocks (NTP).
      cc.deliver = js::deliver_policy::by_start_time;
      cc.opt_start_time = std::chrono::time_point_cast<std::chrono::nanoseconds>(s->subscribed_at);
      break;
    case start_position::all: cc.deliver = js::deliver_policy::all; break;
    case start_position::last_per_subject: cc.deliver = js::deliver_policy::last_per_subject; break;
  }
  if (s->high_seq > 0) {
    // Re-created after it was deleted behind our back: go on after the last message received,
    // neither replaying since the start position nor skipping what came meanwhile.
    cc.deliver = js::deliver_policy::by_start_sequence;
    cc.opt_start_seq = s->high_seq + 1;
    cc.opt_start_time.reset();
  }
  cc.ack = js::ack_policy::explicit_ack;
  cc.ack_wait = ack_wait_of(*s);
  cc.max_ack_pending = static_cast<std::int64_t>(s->opts.max_in_flight);
  bool overlap = false;
  for (std::size_t i = 0; i < s->patterns.size(); ++i)
    for (std::size_t j = i + 1; j < s->patterns.size(); ++j) overlap = overlap || patterns_overlap(s->patterns[i], s->patterns[j]);
  if (s->patterns.size() == 1)
    cc.filter_subject = s->patterns.front();
  else if (multi_filter_ && !overlap)
    cc.filter_subjects = s->patterns;
  else
    cc.filter_subject = stream_subject(prefix_);

  for (int attempt = 0; s->active && ready_; ++attempt) {
    auto [iec, info] = co_await js_->async_consumer_info(stream_, s->consumer, tuple_awaitable);
    error_code ec = iec;
    if (!iec) {
      bool same = info.config.filter_subject == cc.filter_subject && info.config.filter_subjects == cc.filter_subjects;
      if (!same && grouped) {
        // Other members use it with other patterns: never take it away from them.
        ec = make_error_code(error::group_conflict);
      } else if (!same) {
        // The patterns changed (flow edited): the old position means nothing for the new filter.
        auto [dec] = co_await js_->async_delete_consumer(stream_, s->consumer, tuple_awaitable);
        ec = dec ? dec : make_error_code(js::error::consumer_not_found);
      } else if (!grouped && !s->attached && s->high_seq == 0 && info.num_ack_pending > 0) {
        // (Not for a group: the pending deliveries may be other live members' work in progress; those
        // of a member that died come back to the group after ack wait.)
        // Deliveries of an earlier process or subscription that were never acknowledged (it stopped or
        // was killed with them in flight, or they went to its pull request after it exited). The server
        // would resend them only after ack wait, behind everything newer; a consumer created again at
        // the ack floor sends them now, in order. (nats-server 2.9 has no call to reset a consumer, and
        // a nak from here is not possible: the deliveries' ack subjects were the old process's.)
        cc.deliver = js::deliver_policy::by_start_sequence;
        cc.opt_start_seq = info.ack_floor.stream_seq + 1;
        cc.opt_start_time.reset();
        s->repeat_upto = info.delivered.stream_seq;
        ++stats_.rewound;
        auto [dec] = co_await js_->async_delete_consumer(stream_, s->consumer, tuple_awaitable);
        ec = dec ? dec : make_error_code(js::error::consumer_not_found);
      }
    }
    if (ec == js::error::consumer_not_found) {
      auto [aec, ainfo] = co_await js_->async_add_consumer(stream_, cc, tuple_awaitable);
      ec = aec;
    }
    if (!s->active) co_return;
    if (!ec) {
      s->attached = true;
      js::consume_options co;
      // A group member asks for few at a time, so that waiting members get their share.
      co.batch = static_cast<std::int64_t>(std::min<std::size_t>(s->opts.max_in_flight, grouped ? 16 : 256));
      co.expires = 5000ms;  // short pull requests: a lost link is noticed (heartbeats) within seconds
      s->stream = js::consumer_stream(*js_, stream_, s->consumer, co);
      if (!(ec = s->stream.start())) {
        s->consumer_ready = true;
        asio::co_spawn(ex_, consume(s), asio::detached);
        co_return;
      }
    }
    emit_status(status_kind::error, ec, "consumer " + s->consumer + ": " + ec.message() + "; retrying");
    asio::steady_timer t(ex_, ec == error::group_conflict ? 10000ms
                                                          : std::min<milliseconds>(milliseconds(250 * (attempt + 1)), 3000ms));
    co_await t.async_wait(tuple_awaitable);
  }
}

asio::awaitable<void> node_impl::consume(std::shared_ptr<sub_state> s) {
  auto self = shared_from_this();
  while (s->active) {
    auto [ec, m] = co_await s->stream.async_next(tuple_awaitable);
    if (!s->active || phase_ == phase::stopped) break;
    if (ec) {
      if (ec == nats::error::subscription_closed || ec == js::error::consumer_deleted) {
        // Deleted behind our back (or the stream was): create it again when possible.
        s->consumer_ready = false;
        s->stream.stop();
        if (ec == js::error::consumer_deleted) emit_status(status_kind::error, ec, "consumer " + s->consumer + " deleted; re-creating");
        asio::steady_timer t(ex_, 500ms);
        co_await t.async_wait(tuple_awaitable);
        if (s->active && ready_) asio::co_spawn(ex_, ensure_consumer(s), asio::detached);
        co_return;
      }
      asio::steady_timer t(ex_, 100ms);
      co_await t.async_wait(tuple_awaitable);
      continue;
    }
    handle_message(s, m);
  }
}

namespace {

// "<session>.<n>" of seq_header; nullopt when absent or malformed (then the message is not ordered).
std::optional<std::pair<std::string_view, std::uint64_t>> parse_seq(std::string_view v) {
  auto dot = v.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::uint64_t n = 0;
  auto digits = v.substr(dot + 1);
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || p != digits.data() + digits.size() || n == 0) return std::nullopt;
  return std::pair{v.substr(0, dot), n};
}

}  // namespace

milliseconds node_impl::ack_wait_of(const sub_state& s) const {
  return s.opts.ack_wait > 0ms ? s.opts.ack_wait : cfg_.ack_wait;
}

milliseconds node_impl::hold_time(const sub_state& s) const {
  // Never so long that the server redelivers a held message meanwhile. Off in a group: the other
  // members take the gaps, so a member would wait for messages that never come to it.
  if (!s.opts.group.empty()) return 0ms;
  return std::min(cfg_.order_hold, ack_wait_of(s) / 2);
}

void node_impl::handle_message(const std::shared_ptr<sub_state>& sp, nats::message& m) {
  auto& s = *sp;
  auto meta = js::parse_metadata(m.reply);
  if (!meta) return;
  bool match = std::any_of(s.patterns.begin(), s.patterns.end(),
                           [&](const std::string& p) { return subject_matches(p, m.subject); });
  if (!match) {
    ++stats_.filtered;
    js::ack(*nc_, m);
    return;
  }
  delivery d;
  d.mode = delivery_mode::durable;  // the original plugin's messages carry no headers: durable
  std::optional<std::pair<std::string_view, std::uint64_t>> order_seq;
  if (m.has_headers) {
    if (auto exp = m.headers.get(expires_header)) {
      std::int64_t expires = 0;
      std::from_chars(exp->data(), exp->data() + exp->size(), expires);
      d.mode = delivery_mode::ephemeral;
      if (now_ms() >= expires) {
        ++stats_.expired_skipped;
        js::ack(*nc_, m);  // expired: never handed out, never redelivered
        return;
      }
    } else if (auto sq = m.headers.get(seq_header)) {
      order_seq = parse_seq(*sq);
    }
  }
  d.subscription = s.id;
  if (m.subject.size() > prefix_.size() + 1) {
    std::string_view rel(m.subject);
    rel.remove_prefix(prefix_.size() + 1);
    d.relative_subject = rel;
    if (auto dot = rel.find('.'); dot != std::string_view::npos && dot > 0 && dot + 1 < rel.size())
      d.source_instance = rel.substr(0, dot);
  }
  d.subject = std::move(m.subject);
  d.payload = std::move(m.payload);
  d.stream_sequence = meta->stream_seq;
  d.delivery_count = meta->num_delivered;
  // Judged on arrival (a held message is handed out after later stream sequences).
  d.redelivered = meta->num_delivered > 1 || meta->stream_seq <= s.high_seq || meta->stream_seq <= s.repeat_upto;
  s.high_seq = std::max(s.high_seq, meta->stream_seq);
  if (auto mid = m.headers.get("Nats-Msg-Id"); mid && !mid->empty()) {
    // By 64-bit hash: no copy of the id per message; a collision within the window is negligible.
    auto id = std::hash<std::string_view>{}(*mid);
    if (!s.recent_ids.insert(id).second) {
      d.redelivered = true;
    } else {
      s.recent_order.push_back(id);
      if (s.recent_order.size() > 16384) {
        s.recent_ids.erase(s.recent_order.front());
        s.recent_order.pop_front();
      }
    }
  }
  d.published = std::chrono::time_point_cast<system_clock::duration>(meta->timestamp);
  d.headers = std::move(m.headers);
  nats::message ackm;  // acks need only the reply subject
  ackm.reply = std::move(m.reply);

  if (!order_seq || hold_time(s) <= 0ms) return deliver(s, std::move(d), std::move(ackm));

  // Publish order per (publisher session, subject): the first message seen sets where we are; one
  // ahead of the next expected waits for its predecessors (a lost ack made them be stored later).
  auto [session, n] = *order_seq;
  auto& key = order_key_;  // reused: no allocation unless the (session, subject) is new
  key.assign(session).append(1, ' ').append(d.subject);
  auto tit = s.order.find(key);
  if (tit == s.order.end()) tit = s.order.emplace(key, order_track{}).first;
  auto& t = tit->second;
  t.last_use = ++s.order_uses;
  if (t.next == 0) t.next = n;
  if (n < t.next) {
    // Behind what was handed out: a redelivery, or one given up on that arrived after all.
    if (!d.redelivered) {
      d.out_of_order = true;
      ++stats_.out_of_order;
    }
    return deliver(s, std::move(d), std::move(ackm));
  }
  if (n == t.next) {
    ++t.next;
    deliver(s, std::move(d), std::move(ackm));
    if (!t.held.empty() && s.active) release(s, t, false);
  } else if (auto h = t.held.find(n); h != t.held.end()) {
    // The same one again while it waits (redelivered, or stored twice): keep one, deliver the other
    // now flagged as a repeat.
    if (h->second.d.stream_sequence == d.stream_sequence) {
      h->second.ack = std::move(ackm);
      h->second.d.delivery_count = d.delivery_count;
    } else {
      d.redelivered = true;
      ++stats_.redelivered;
      deliver(s, std::move(d), std::move(ackm));
    }
  } else {
    ++stats_.order_held;
    ++s.held;
    t.held.emplace(n, held_delivery{std::move(d), std::move(ackm), steady_clock::now()});
    arm_hold_timer(sp);
  }
  // The server hands out at most max_in_flight unacked messages: when held ones fill that up, the
  // missing one can never come, so give up waiting for the oldest gaps.
  while (s.active && s.held > 0 && s.held + s.unacked >= s.opts.max_in_flight) {
    order_track* oldest = nullptr;
    for (auto& [k, tr] : s.order)
      if (!tr.held.empty() && (!oldest || tr.held.begin()->second.since < oldest->held.begin()->second.since))
        oldest = &tr;
    if (!oldest) break;
    release(s, *oldest, true);
  }
  if (s.order.size() > 4096) {
    // Forget idle publishers (nothing held): a returning one just sets a new starting point.
    auto keep_after = s.order_uses - 2048;
    std::erase_if(s.order, [&](auto& kv) { return kv.second.held.empty() && kv.second.last_use < keep_after; });
  }
}

// Hands out held deliveries that are next in order; with skip_gap, first gives up on the missing
// predecessor(s) of the oldest held one.
void node_impl::release(sub_state& s, order_track& t, bool skip_gap) {
  while (!t.held.empty() && s.active) {
    auto it = t.held.begin();
    if (it->first != t.next) {
      if (!skip_gap) break;
      skip_gap = false;
      ++stats_.order_gaps;
      t.next = it->first;
    }
    auto hd = std::move(it->second);
    t.held.erase(it);
    --s.held;
    ++t.next;
    deliver(s, std::move(hd.d), std::move(hd.ack));
  }
}

void node_impl::arm_hold_timer(const std::shared_ptr<sub_state>& sp) {
  // One timer per subscription, due when the oldest held delivery has waited hold_time().
  auto due = steady_clock::time_point::max();
  for (auto& [k, t] : sp->order)
    if (!t.held.empty()) {
      auto oldest = t.held.begin()->second.since;
      for (auto& [n, h] : t.held) oldest = std::min(oldest, h.since);
      due = std::min(due, oldest + hold_time(*sp));
    }
  if (due == steady_clock::time_point::max()) return;
  if (sp->hold_timer && sp->hold_timer_at != steady_clock::time_point{} && sp->hold_timer_at <= due) return;
  if (!sp->hold_timer) sp->hold_timer = std::make_unique<asio::steady_timer>(ex_);
  sp->hold_timer_at = due;
  sp->hold_timer->expires_at(due);
  sp->hold_timer->async_wait([self = shared_from_this(), sp](error_code ec) {
    if (ec) return;
    sp->hold_timer_at = {};
    self->check_holds(sp);
  });
}

void node_impl::check_holds(const std::shared_ptr<sub_state>& sp) {
  auto& s = *sp;
  if (!s.active || phase_ == phase::stopped) return;
  auto limit = steady_clock::now() - hold_time(s);
  for (auto& [k, t] : s.order) {
    // Give up on a gap once a delivery behind it has waited hold_time() (publisher gone, message lost).
    while (s.active && !t.held.empty()) {
      auto oldest = t.held.begin()->second.since;
      for (auto& [n, h] : t.held) oldest = std::min(oldest, h.since);
      if (oldest > limit) break;
      release(s, t, true);
    }
  }
  if (s.active && s.held > 0) arm_hold_timer(sp);
}

void node_impl::deliver(sub_state& s, delivery&& d, nats::message&& ackm) {
  d.id = next_delivery_id_++;
  ++stats_.delivered;
  if (d.redelivered) ++stats_.redelivered;
  bool manual = s.opts.ack == ack_mode::manual;
  if (manual) {
    pending_delivery p;
    p.sub = s.id;
    p.stream_seq = d.stream_sequence;
    p.msg.reply = ackm.reply;
    auto [slot, fresh] = s.pending_by_seq.try_emplace(d.stream_sequence, d.id);
    if (!fresh) {
      // Redelivered while the host still holds the older delivery: that one is void now (its
      // ack subject is stale), and it no longer counts as unacked.
      pending_.erase(slot->second);
      slot->second = d.id;
    } else {
      ++s.unacked;
    }
    pending_.emplace(d.id, std::move(p));
  }
  try {
    s.handler(std::move(d));
  } catch (const std::exception& e) {
    emit_status(status_kind::error, make_error_code(error::invalid_config), std::string("delivery handler threw: ") + e.what());
  } catch (...) {
    emit_status(status_kind::error, make_error_code(error::invalid_config), "delivery handler threw");
  }
  if (!manual && nc_) js::ack(*nc_, ackm);
}

error_code node_impl::ack(std::uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end() || !nc_) return make_error_code(error::unknown_subscription);
  auto ec = js::ack(*nc_, it->second.msg);
  forget_pending(it);
  return ec;
}

error_code node_impl::nak(std::uint64_t id, milliseconds delay) {
  auto it = pending_.find(id);
  if (it == pending_.end() || !nc_) return make_error_code(error::unknown_subscription);
  auto ec = js::nak(*nc_, it->second.msg, delay);
  forget_pending(it);
  return ec;
}

void node_impl::forget_pending(std::unordered_map<std::uint64_t, pending_delivery>::iterator it) {
  if (auto sit = subs_.find(it->second.sub); sit != subs_.end()) {
    auto& s = *sit->second;
    if (s.unacked > 0) --s.unacked;
    if (auto p = s.pending_by_seq.find(it->second.stream_seq); p != s.pending_by_seq.end() && p->second == it->first)
      s.pending_by_seq.erase(p);
  }
  pending_.erase(it);
}

void node_impl::unsubscribe(std::uint64_t id, bool remove_consumer, void_handler h) {
  auto it = subs_.find(id);
  if (it == subs_.end()) return post_handler(std::move(h), make_error_code(error::unknown_subscription));
  auto s = it->second;
  subs_.erase(it);
  if (!s->opts.group.empty()) {
    refresh_presence();  // no longer listed as a member (unless another subscription here is)
    // A group's consumer is removed only by its last member known to discovery (stale ones count:
    // they may come back); otherwise the consumer's inactive threshold removes it.
    if (remove_consumer && group_has_other_members(s->opts.group)) remove_consumer = false;
  }
  s->active = false;
  s->stream.stop();
  if (s->hold_timer) s->hold_timer->cancel();  // held ones were never acked: the consumer keeps them
  // Deliveries the host never acked stay pending on the consumer: the next subscription of this key
  // (redeploy, restart) re-creates the consumer at its ack floor and gets them at once (ensure_consumer).
  // No nak here: nats-server 2.9.10 pops a nak'd message for redelivery and, when no pull request is
  // waiting, steps its stream cursor back as if it had been a new one (loopAndGatherMsgs): the newest
  // message delivered is then sent again with delivery count 1, a repeat the flag cannot show.
  std::erase_if(pending_, [id](auto& p) { return p.second.sub == id; });
  s->pending_by_seq.clear();
  if (!remove_consumer) return post_handler(std::move(h), {});
  if (!ready_) return post_handler(std::move(h), make_error_code(nats::error::not_connected));
  js_->async_delete_consumer(stream_, s->consumer, [h = std::move(h)](error_code ec) mutable {
    if (ec == js::error::consumer_not_found) ec = {};
    std::move(h)(ec);
  });
}

// ---------------------------------------------------------------------------------------------
// presence and discovery

asio::awaitable<void> node_impl::heartbeat_loop() {
  auto self = shared_from_this();
  heartbeat_timer_ = std::make_unique<asio::steady_timer>(ex_);
  while (phase_ == phase::running || phase_ == phase::starting) {
    heartbeat_timer_->expires_after(cfg_.heartbeat_interval);
    co_await heartbeat_timer_->async_wait(tuple_awaitable);
    if (phase_ != phase::running) break;
    if (ready_) co_await heartbeat_once();
    if (ready_ && caught_up_) check_stale();
  }
}

asio::awaitable<void> node_impl::heartbeat_once() {
  presence_value v;
  auto key = instance_key(cfg_.instance_id);
  // Refresh with compare-and-set on our last revision: a failure means someone else wrote our key.
  auto [gec, cur] = co_await kv_.async_get(key, tuple_awaitable);
  if (gec && gec != kv::error::key_not_found) co_return;  // transient; next beat
  if (!gec) {
    auto pv = parse_presence(cur.value);
    if (pv && !pv->session.empty() && pv->session != session_ && cur.revision != presence_rev_) {
      if (!duplicate_reported_) {
        duplicate_reported_ = true;
        emit_status(status_kind::error, make_error_code(error::duplicate_instance),
                    "another process registered instance id '" + cfg_.instance_id + "' (session " + pv->session + ")");
      }
    }
  }
  auto ec = co_await write_presence();
  if (ec && ec != error::duplicate_instance)
    emit_status(status_kind::error, ec, "presence refresh failed: " + ec.message());
}

asio::awaitable<void> node_impl::watch_loop() {
  auto self = shared_from_this();
  if (watching_) co_return;
  watching_ = true;
  kv::watch_options wo;
  wo.heartbeat = std::clamp<milliseconds>(cfg_.heartbeat_interval, 1000ms, 5000ms);
  auto [ec, w] = co_await kv_.async_watch(">", wo, tuple_awaitable);
  if (ec) {
    watching_ = false;
    co_return;  // tried again on the next link-up
  }
  watcher_ = std::move(w);
  if (watcher_.initial_pending() == 0) caught_up_ = true;
  while (phase_ == phase::running || phase_ == phase::starting) {
    auto [nec, e] = co_await watcher_.async_next(tuple_awaitable);
    if (nec) break;
    apply_entry(e);
    if (e.delta == 0) caught_up_ = true;
  }
  watching_ = false;
}

instance_info node_impl::info_of(const std::string& id, const peer* p) const {
  instance_info ii;
  ii.id = id;
  ii.self = id == cfg_.instance_id;
  if (p) {
    ii.role = p->value.role;
    ii.nats_address = p->value.nats_address;
    ii.state = p->state;
    ii.last_seen = p->last_seen;
    ii.legacy = p->legacy;
    ii.groups = p->value.groups;
    if (p->state == presence::online) ii.leads = leads_of(id);
  } else {
    ii.state = presence::offline;
  }
  if (auto it = endpoints_.find(id); it != endpoints_.end())
    for (auto& [subject, v] : it->second) ii.endpoints.push_back(endpoint_info{id, subject, v.mode, v.ttl});
  return ii;
}

std::vector<lease_info> node_impl::leads_of(const std::string& id) const {
  std::vector<lease_info> out;
  auto now = steady_clock::now();
  for (auto& [group, l] : leases_)
    if (l.candidate == id && now - l.at <= l.lease) out.push_back(lease_info{group, l.token, l.revision, l.wall});
  return out;
}

void node_impl::emit_discovery(discovery_kind k, const std::string& id, std::optional<endpoint_info> ep) {
  discovery_event ev;
  ev.kind = k;
  auto it = peers_.find(id);
  ev.instance = info_of(id, it == peers_.end() ? nullptr : &it->second);
  ev.endpoint = std::move(ep);
  asio::post(ex_, [self = shared_from_this(), ev = std::move(ev)] {
    if (self->on_discovery_) self->on_discovery_(ev);
  });
}

void node_impl::apply_entry(const kv::entry& e) {
  constexpr std::string_view inst = "instances.", endp = "endpoints.", lead = "leaders.";
  if (e.key.starts_with(lead)) {
    auto group = e.key.substr(lead.size());
    auto v = e.op == kv::operation::put ? parse_leader(e.value) : std::nullopt;
    if (!v || v->candidate.empty()) {
      leases_.erase(group);  // released (clean stop) or not a lease
      return;
    }
    auto& l = leases_[group];
    l.candidate = v->candidate;
    l.token = v->token ? v->token : e.revision;  // the acquiring write carries 0: its own revision
    l.revision = e.revision;
    l.lease = milliseconds(v->lease_ms > 0 ? v->lease_ms : 5000);
    l.wall = std::chrono::time_point_cast<system_clock::duration>(e.created);
    // As for presence: initial values are aged by the server's timestamp, later ones seen now.
    auto age = std::chrono::duration_cast<milliseconds>(system_clock::now() - l.wall);
    if (caught_up_ || age < 0ms) age = 0ms;
    l.at = steady_clock::now() - age;
    if (caught_up_) l.wall = system_clock::now();
    return;
  }
  if (e.key.starts_with(inst)) {
    auto id = e.key.substr(inst.size());
    if (e.op != kv::operation::put) {
      if (peers_.erase(id)) emit_discovery(discovery_kind::left, id);
      return;
    }
    auto v = parse_presence(e.value);
    if (!v) return;
    auto [it, added] = peers_.try_emplace(id);
    auto& p = it->second;
    bool was_stale = p.state != presence::online;
    p.value = *v;
    p.revision = e.revision;
    p.legacy = v->session.empty();
    p.last_seen = std::chrono::time_point_cast<system_clock::duration>(e.created);
    // Age from the server's timestamp only for entries older than this watch (initial values);
    // afterwards every new revision counts as "seen now" by our own monotonic clock.
    auto age = std::chrono::duration_cast<milliseconds>(system_clock::now() - p.last_seen);
    if (caught_up_ || age < 0ms) age = 0ms;
    p.last_change = steady_clock::now() - age;
    p.state = presence::online;
    p.cleaning = false;
    if (added || was_stale) emit_discovery(discovery_kind::joined, id);
    return;
  }
  if (e.key.starts_with(endp)) {
    auto rest = e.key.substr(endp.size());
    auto dot = rest.find('.');
    if (dot == std::string::npos) return;
    auto id = rest.substr(0, dot), subject = rest.substr(dot + 1);
    if (e.op != kv::operation::put) {
      auto it = endpoints_.find(id);
      if (it == endpoints_.end()) return;
      auto sit = it->second.find(subject);
      if (sit == it->second.end()) return;
      endpoint_info info{id, subject, sit->second.mode, sit->second.ttl};
      it->second.erase(sit);
      if (it->second.empty()) endpoints_.erase(it);
      emit_discovery(discovery_kind::endpoint_removed, id, info);
      return;
    }
    auto v = parse_endpoint(e.value);
    if (!v) return;
    auto& eps = endpoints_[id];
    auto sit = eps.find(subject);
    bool changed = sit == eps.end() || sit->second.mode != v->mode || sit->second.ttl != v->ttl;
    eps[subject] = *v;
    if (changed) emit_discovery(discovery_kind::endpoint_added, id, endpoint_info{id, subject, v->mode, v->ttl});
  }
}

void node_impl::check_stale() {
  auto now = steady_clock::now();
  for (auto& [id, p] : peers_) {
    if (id == cfg_.instance_id || p.legacy) continue;
    auto age = now - p.last_change;
    if (age > cfg_.stale_after && p.state == presence::online) {
      p.state = presence::stale;
      emit_discovery(discovery_kind::stale, id);
    }
    if (age > cfg_.cleanup_after && !p.cleaning && bucket_ready_) {
      // Delete only the revision we judged stale: if it refreshed meanwhile, or another instance
      // cleaned it first, the server refuses (wrong last sequence) and nothing is lost.
      p.cleaning = true;
      nats::headers h;
      h.set(std::string(kv::operation_header), "DEL");
      js::publish_options po;
      po.expected_last_subject_seq = p.revision;
      po.retry_attempts = 0;
      js_->async_publish(kv::key_subject(bucket_, instance_key(id)), h, "", po,
                         [self = shared_from_this(), id](error_code ec, js::pub_ack) {
                           if (!ec) return;
                           if (auto it = self->peers_.find(id); it != self->peers_.end()) it->second.cleaning = ec == js::error::wrong_last_sequence;
                         });
    }
  }
}

std::vector<instance_info> node_impl::snapshot() const {
  std::vector<instance_info> out;
  for (auto& [id, p] : peers_) out.push_back(info_of(id, &p));
  for (auto& [id, eps] : endpoints_)
    if (!peers_.count(id)) out.push_back(info_of(id, nullptr));  // endpoints of an instance that left
  if (!peers_.count(cfg_.instance_id) && phase_ != phase::idle) {
    // Ourselves, even before the watcher saw our entry.
    instance_info me;
    me.id = cfg_.instance_id;
    me.role = cfg_.role;
    me.self = true;
    me.state = ready_ ? presence::online : presence::offline;
    for (auto& [subject, v] : my_endpoints_) me.endpoints.push_back(endpoint_info{cfg_.instance_id, subject, v.mode, v.ttl});
    me.groups = my_groups();
    if (ready_) me.leads = leads_of(cfg_.instance_id);
    out.push_back(std::move(me));
  }
  return out;
}

}  // namespace nats::cluster::detail
