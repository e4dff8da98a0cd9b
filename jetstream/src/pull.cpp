// Pull consumers. Both fetch and the consume loop own one subscription on a private inbox and send pull
// requests (`CONSUMER.MSG.NEXT`) with that inbox as reply. fetch takes the messages in a push handler
// with one timer for the whole request (expiry / idle-heartbeat watchdog); the consume loop waits on
// the subscription with a timer racing the wait through a cancellation signal.
#include <nats/js/json.hpp>
#include <nats/js/pull.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <charconv>

namespace nats::js::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using clock = std::chrono::steady_clock;
using fetch_handler = asio::any_completion_handler<void(error_code, std::vector<message>)>;
using next_handler = asio::any_completion_handler<void(error_code, message)>;

namespace {

std::int64_t header_int(const message& m, std::string_view name) {
  auto v = m.headers.get(name);
  std::int64_t n = 0;
  if (!v || std::from_chars(v->data(), v->data() + v->size(), n).ec != std::errc{}) return -1;
  return n;
}

std::string next_subject(const context& js, std::string_view stream, std::string_view consumer) {
  return js.api_prefix() + ".CONSUMER.MSG.NEXT." + std::string(stream) + "." + std::string(consumer);
}

// ---------------------------------------------------------------------------------------------
// fetch

struct fetch_op;

// One subscription on a private inbox, taken by one fetch at a time.
struct fetch_inbox {
  subscription sub;
  std::weak_ptr<fetch_op> owner;
};

}  // namespace

// Inboxes of finished fetches, kept by the context for the next fetch of the same consumer. An inbox is
// kept only when its last pull request is known to be over on the server side (the batch was filled, or
// the server ended it with 404/408), so no late message of an old request can land in a later fetch.
// Any other ending (client-side deadline, missed heartbeats, cancellation, max_bytes counted by us,
// errors) retires the inbox: late messages then find no interest and are redelivered after ack_wait.
struct fetch_inbox_cache {
  static constexpr std::size_t max_idle = 8;
  std::vector<std::pair<std::string, std::shared_ptr<fetch_inbox>>> idle;  // key: "<stream> <consumer>"

  static std::shared_ptr<fetch_inbox_cache>& of(context& js) { return js.fetch_inboxes_; }

  std::shared_ptr<fetch_inbox> take(const std::string& key) {
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if (it->first != key) continue;
      auto in = std::move(it->second);
      idle.erase(it);
      if (in->sub.valid()) return in;
      break;
    }
    return nullptr;
  }
  void put(std::string key, std::shared_ptr<fetch_inbox> in) {
    if (idle.size() >= max_idle) idle.erase(idle.begin());
    idle.emplace_back(std::move(key), std::move(in));
  }
};

namespace {

struct fetch_op : std::enable_shared_from_this<fetch_op> {
  context& js;
  fetch_options opts;
  std::shared_ptr<fetch_inbox> inbox;
  std::string key;
  fetch_handler h;
  std::vector<message> msgs;
  std::int64_t bytes = 0;
  asio::steady_timer timer;  // the one timer: request deadline, idle-heartbeat watchdog
  clock::time_point deadline;
  clock::time_point last_activity;
  bool done = false;

  fetch_op(context& j, const fetch_options& o, fetch_handler hh)
      : js(j), opts(o), h(std::move(hh)), timer(j.conn().get_executor()) {}

  void start(std::string_view stream, std::string_view consumer) {
    key.assign(stream).append(" ").append(consumer);
    auto& cache = fetch_inbox_cache::of(js);
    if (cache) inbox = cache->take(key);
    if (!inbox) {
      inbox = std::make_shared<fetch_inbox>();
      error_code ec;
      // A push handler: messages are taken by the read loop as they come, without a wait per message.
      inbox->sub = js.conn().subscribe(
          js.conn().new_inbox(),
          [w = std::weak_ptr<fetch_inbox>(inbox)](message&& m) {
            if (auto in = w.lock())
              if (auto self = in->owner.lock()) self->on_message(std::move(m));
          },
          ec);
      if (ec) return finish(ec, true);
    }
    inbox->owner = weak_from_this();
    json::pull_request pr;
    pr.batch = opts.batch;
    pr.max_bytes = opts.max_bytes;
    pr.no_wait = opts.no_wait;
    pr.expires = opts.no_wait ? std::chrono::nanoseconds{0} : std::chrono::nanoseconds(opts.expires);
    pr.idle_heartbeat = opts.no_wait ? std::chrono::milliseconds{0} : opts.idle_heartbeat;  // meaningless with no_wait
    if (auto pec = js.conn().publish(next_subject(js, stream, consumer), json::encode(pr), inbox->sub.subject()))
      return finish(pec, true);
    msgs.reserve(static_cast<std::size_t>(std::min<std::int64_t>(opts.batch, 1024)));
    // The server ends the request itself (408) at `expires`; the client-side deadline is a safety net.
    deadline = clock::now() + (opts.no_wait ? std::chrono::milliseconds(5000) : opts.expires) +
               std::chrono::milliseconds(1000);
    last_activity = clock::now();
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) {
      slot.assign([w = weak_from_this()](asio::cancellation_type) {
        if (auto self = w.lock()) self->finish(asio::error::operation_aborted, true, true);
      });
    }
    arm();
  }

  // Wakes at the deadline or when heartbeats should have come; not re-armed per message: a wake-up
  // that finds recent activity just sleeps again.
  void arm() {
    auto wake = deadline;
    if (opts.idle_heartbeat.count() > 0) wake = std::min(wake, last_activity + 2 * opts.idle_heartbeat);
    timer.expires_at(wake);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->done) return;
      const auto now = clock::now();
      if (now >= self->deadline) return self->finish({}, false);
      if (self->opts.idle_heartbeat.count() > 0 && now >= self->last_activity + 2 * self->opts.idle_heartbeat)
        return self->finish(make_error_code(error::missed_heartbeats), false);
      self->arm();
    });
  }

  void on_message(message&& m) {
    if (done) return;
    if (opts.idle_heartbeat.count() > 0) last_activity = clock::now();
    if (const int st = m.status(); st != 0) {
      if (st == 100) return;  // idle heartbeat
      if (st == 404 || st == 408) return finish({}, false, false, true);
      const auto sec = json::classify_pull_status(m);
      // The next message would exceed max_bytes: the request is complete with what it delivered.
      if (sec == error::max_bytes_exceeded && !msgs.empty()) return finish({}, false);
      return finish(sec, false);
    }
    bytes += static_cast<std::int64_t>(m.payload.size());
    msgs.push_back(std::move(m));
    if (static_cast<std::int64_t>(msgs.size()) >= opts.batch) return finish({}, false, false, true);
    if (opts.max_bytes > 0 && bytes >= opts.max_bytes) finish({}, false);
  }

  // `post`: when called inside the initiation or a cancellation; otherwise (read loop, timer) the
  // handler may run inline. The slot is not cleared from inside its own handler (`from_slot`).
  // `request_over`: the server has ended our pull request, so the inbox can serve the next fetch.
  void finish(error_code ec, bool post, bool from_slot = false, bool request_over = false) {
    if (done) return;
    done = true;
    auto keep = shared_from_this();
    timer.cancel();
    if (inbox) {
      inbox->owner.reset();
      if (request_over && inbox->sub.valid()) {
        auto& cache = fetch_inbox_cache::of(js);
        if (!cache) cache = std::make_shared<fetch_inbox_cache>();
        cache->put(std::move(key), std::move(inbox));
      } else {
        inbox->sub.unsubscribe();
      }
      inbox.reset();
    }
    auto slot = asio::get_associated_cancellation_slot(h);
    if (!from_slot && slot.is_connected()) slot.clear();
    if (post)
      asio::post(js.conn().get_executor(), asio::append(std::move(h), ec, std::move(msgs)));
    else
      asio::dispatch(asio::append(std::move(h), ec, std::move(msgs)));
  }
};

}  // namespace

void fetch_impl(context& js, std::string_view stream, std::string_view consumer, const fetch_options& opts,
                fetch_handler h) {
  if (!valid_name(stream) || !valid_name(consumer) || opts.batch < 1) {
    asio::post(js.conn().get_executor(),
               asio::append(std::move(h), make_error_code(error::invalid_name), std::vector<message>{}));
    return;
  }
  std::make_shared<fetch_op>(js, opts, std::move(h))->start(stream, consumer);
}

// ---------------------------------------------------------------------------------------------
// consume

struct consume_state : std::enable_shared_from_this<consume_state> {
  context& js;
  std::string stream, consumer, subject;
  consume_options opts;
  std::chrono::milliseconds hb{0};
  subscription sub;
  asio::steady_timer timer;
  asio::steady_timer repull_timer;  // a re-pull put off after "409 Exceeded MaxWaiting"
  asio::cancellation_signal wait_cancel;
  std::optional<next_handler> waiter;
  int refusals = 0;  // "409 Message Size Exceeds MaxBytes" in a row, without a message in between
  std::int64_t pending_msgs = 0;   // requested and not yet delivered/released
  std::int64_t pending_bytes = 0;
  clock::time_point last_activity{};
  bool user_cancelled = false;
  bool stopped = false;
  bool waiting = false;
  bool watchdog_armed = false;
  std::uint64_t requests = 0, missed = 0, delivered = 0;

  consume_state(context& j, std::string s, std::string c, consume_options o)
      : js(j), stream(std::move(s)), consumer(std::move(c)), opts(o), timer(j.conn().get_executor()),
        repull_timer(j.conn().get_executor()) {
    if (opts.batch < 1) opts.batch = 1;
    if (opts.threshold <= 0 || opts.threshold > opts.batch) opts.threshold = opts.batch / 2;
    if (opts.expires < std::chrono::milliseconds(1000)) opts.expires = std::chrono::milliseconds(1000);
    hb = opts.idle_heartbeat;
    if (hb.count() <= 0) hb = std::clamp(opts.expires / 2, std::chrono::milliseconds(500), std::chrono::milliseconds(30000));
    if (hb > opts.expires / 2) hb = opts.expires / 2;
    subject = next_subject(js, stream, consumer);
  }

  error_code start() {
    if (!valid_name(stream) || !valid_name(consumer)) return make_error_code(error::invalid_name);
    error_code ec;
    sub = js.conn().subscribe(js.conn().new_inbox(), ec);
    if (ec) return ec;
    last_activity = clock::now();
    return top_up();
  }

  // Keeps `batch` messages requested: asks for the difference once fewer than threshold are outstanding.
  error_code top_up() {
    if (pending_msgs > opts.threshold && (opts.max_bytes == 0 || pending_bytes > opts.max_bytes / 2)) return {};
    json::pull_request pr;
    pr.batch = opts.batch - pending_msgs;
    if (pr.batch <= 0) return {};
    pr.max_bytes = opts.max_bytes > 0 ? opts.max_bytes - pending_bytes : 0;
    if (opts.max_bytes > 0 && pr.max_bytes <= 0) return {};
    pr.expires = opts.expires;
    pr.idle_heartbeat = hb;
    auto ec = js.conn().publish(subject, json::encode(pr), sub.subject());
    if (ec) return ec;
    ++requests;
    pending_msgs += pr.batch;
    pending_bytes += pr.max_bytes;
    return {};
  }

  void next(next_handler h) {
    if (stopped || !sub.valid()) {
      asio::post(js.conn().get_executor(), asio::append(std::move(h), error_code(nats::error::subscription_closed), message{}));
      return;
    }
    if (waiter) {
      asio::post(js.conn().get_executor(), asio::append(std::move(h), error_code(asio::error::already_started), message{}));
      return;
    }
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
    wait();
  }

  void wait() {
    // A cancellation that came while a completion was already queued found nothing to cancel.
    if (user_cancelled) return deliver(asio::error::operation_aborted, {});
    waiting = true;
    arm_watchdog();
    sub.async_next(asio::bind_cancellation_slot(wait_cancel.slot(), [self = shared_from_this()](error_code ec, message m) {
      self->on_message(ec, std::move(m));
    }));
  }

  // The watchdog: no heartbeat and no message for two heartbeat intervals cancels the wait. It is not
  // re-armed per message: when it fires after activity, it just waits until two intervals after the
  // latest activity (one timer operation per interval, not one per message).
  void arm_watchdog() {
    if (watchdog_armed) return;
    watchdog_armed = true;
    timer.expires_at(last_activity + 2 * hb);
    timer.async_wait([w = weak_from_this()](error_code ec) {
      auto self = w.lock();
      if (!self) return;
      self->watchdog_armed = false;
      if (ec || self->stopped || !self->waiting) return;
      if (clock::now() < self->last_activity + 2 * self->hb) return self->arm_watchdog();
      self->wait_cancel.emit(asio::cancellation_type::all);
    });
  }

  void on_message(error_code ec, message m) {
    waiting = false;
    if (ec == asio::error::operation_aborted && !user_cancelled && !stopped) {
      // Watchdog: no heartbeat, no message for two heartbeat intervals. Our requests are gone (reconnect,
      // restart, leader change): forget them and ask again.
      ++missed;
      pending_msgs = 0;
      pending_bytes = 0;
      last_activity = clock::now();
      if (auto pec = top_up()) return deliver(pec, {});
      return wait();
    }
    if (ec) return deliver(ec, {});
    last_activity = clock::now();
    if (const int st = m.status(); st != 0) {
      switch (st) {
        case 100: return wait();  // idle heartbeat
        case 404:
        case 408: {
          // The request ended; the headers say how much of it was still outstanding.
          const auto pm = header_int(m, "Nats-Pending-Messages");
          const auto pb = header_int(m, "Nats-Pending-Bytes");
          pending_msgs = pm >= 0 ? std::max<std::int64_t>(0, pending_msgs - pm) : 0;
          pending_bytes = pb >= 0 ? std::max<std::int64_t>(0, pending_bytes - pb) : 0;
          if (auto pec = top_up()) return deliver(pec, {});
          return wait();
        }
        default: break;
      }
      const auto sec = json::classify_pull_status(m);
      if (sec == error::leadership_change || sec == error::max_waiting_exceeded ||
          sec == error::max_bytes_exceeded || sec == error::request_timeout) {
        pending_msgs = 0;
        pending_bytes = 0;
        // The next message did not fit what was left of a request; refused by a full request too, it never will.
        if (sec == error::max_bytes_exceeded && ++refusals >= 2) {
          refusals = 0;
          return deliver(sec, {});
        }
        // Other requests fill the consumer's waiting list: ask again a heartbeat later, not in a loop.
        if (sec == error::max_waiting_exceeded) {
          repull_later();
          return wait();
        }
        if (auto pec = top_up()) return deliver(pec, {});
        return wait();
      }
      return deliver(sec, {});
    }
    refusals = 0;
    if (pending_msgs > 0) --pending_msgs;
    pending_bytes = std::max<std::int64_t>(0, pending_bytes - static_cast<std::int64_t>(m.payload.size()));
    ++delivered;
    if (auto pec = top_up()) return deliver(pec, std::move(m));
    deliver({}, std::move(m));
  }

  void repull_later() {
    repull_timer.expires_after(hb);
    repull_timer.async_wait([w = weak_from_this()](error_code ec) {
      auto self = w.lock();
      if (!self || ec || self->stopped) return;
      if (auto pec = self->top_up()) self->deliver(pec, {});
    });
  }

  void deliver(error_code ec, message m) {
    if (!waiter) return;
    auto h = std::move(*waiter);
    waiter.reset();
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.clear();
    asio::post(js.conn().get_executor(), asio::append(std::move(h), ec, std::move(m)));
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    timer.cancel();
    repull_timer.cancel();
    sub.unsubscribe();  // a pending wait completes with subscription_closed
  }
};

}  // namespace nats::js::detail

namespace nats::js {

consumer_stream::consumer_stream(context& js, std::string stream, std::string consumer, consume_options opts)
    : state_(std::make_shared<detail::consume_state>(js, std::move(stream), std::move(consumer), opts)) {}
consumer_stream::consumer_stream(consumer_stream&&) noexcept = default;
consumer_stream& consumer_stream::operator=(consumer_stream&& o) noexcept {
  if (this != &o) {
    stop();
    state_ = std::move(o.state_);
  }
  return *this;
}
consumer_stream::~consumer_stream() { stop(); }

boost::system::error_code consumer_stream::start() {
  if (!state_) return make_error_code(error::invalid_name);
  return state_->start();
}
void consumer_stream::stop() {
  if (state_) state_->stop();
}
void consumer_stream::next_impl(detail::next_handler h) {
  if (!state_) {
    boost::asio::dispatch(boost::asio::append(std::move(h), boost::system::error_code(nats::error::subscription_closed), message{}));
    return;
  }
  state_->next(std::move(h));
}
std::uint64_t consumer_stream::pull_requests() const noexcept { return state_ ? state_->requests : 0; }
std::uint64_t consumer_stream::missed_heartbeats() const noexcept { return state_ ? state_->missed : 0; }
std::uint64_t consumer_stream::delivered() const noexcept { return state_ ? state_->delivered : 0; }

}  // namespace nats::js
