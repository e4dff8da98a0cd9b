// The asynchronous publisher. Each publish in flight owns one slot of a table that grows up to
// max_pending; its reply subject `<inbox>.<slot>-<id>` finds the slot again when the PubAck arrives on
// the publisher's one inbox subscription (a push handler run by the read loop: no post, no per-message
// request object or timer). One timer, armed for the earliest deadline and re-armed only when it fires,
// times out the acks that never came.
#include <nats/js/detail/reply_token.hpp>
#include <nats/js/json.hpp>
#include <nats/js/publisher.hpp>

#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <charconv>
#include <limits>
#include <vector>

namespace nats::js::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using void_handler = asio::any_completion_handler<void(error_code)>;
using clock = std::chrono::steady_clock;

namespace {
constexpr auto never = clock::time_point::max();
}

struct publisher_state : std::enable_shared_from_this<publisher_state> {
  // What is sent: kept until the ack, for retries on no-responders.
  struct job {
    std::string subject;
    headers hdrs;
    bool has_hdrs = false;
    std::string payload;
    std::string msg_id;
    std::chrono::milliseconds timeout{0};
    int attempts_left = 0;
  };
  struct slot {
    job j;
    std::uint64_t id = 0;  // 0: free
    clock::time_point deadline = never;
    std::chrono::milliseconds retry_wait{0};
    std::unique_ptr<asio::steady_timer> retry_timer;  // only around a retry
  };
  struct waiter {
    job j;
    void_handler h;
  };

  context& js;
  publisher_options opts;
  std::vector<slot> slots;
  std::vector<std::size_t> free_slots;
  std::uint64_t next_id = 0;
  std::size_t outstanding = 0;
  // Callers blocked by the full window, oldest first: a ring whose elements keep their string capacity.
  std::vector<waiter> waiting;
  std::size_t waiting_head = 0, waiting_count = 0;
  std::vector<void_handler> all_waiters;
  error_code first_error;
  std::uint64_t acked = 0, failed = 0;
  bool closed = false;
  std::shared_ptr<publisher_state> keep_alive;  // set by ~async_publisher while acks are outstanding

  subscription sub;
  std::string inbox;  // "<inbox>." once subscribed
  std::string reply;  // scratch for the reply subject being written
  asio::steady_timer timer;
  clock::time_point timer_at = never;

  publisher_state(context& j, publisher_options o) : js(j), opts(std::move(o)), timer(j.conn().get_executor()) {
    if (opts.max_pending == 0) opts.max_pending = 1;
  }

  void post(void_handler h, error_code ec) { asio::post(js.conn().get_executor(), asio::append(std::move(h), ec)); }

  // ---- filling a job from the caller's arguments

  void fill(job& j, std::string_view subject, const headers* hdrs, std::string_view payload,
            const publish_options* po) {
    j.subject.assign(subject);
    j.payload.assign(payload);
    const bool any_opt = po && (!po->msg_id.empty() || !po->expected_stream.empty() || po->expected_last_seq ||
                                po->expected_last_subject_seq || !po->expected_last_msg_id.empty());
    if ((hdrs && !hdrs->empty()) || any_opt) {
      j.hdrs = hdrs ? *hdrs : headers{};
      if (po) po->apply(j.hdrs);
      j.has_hdrs = true;
    } else {
      j.has_hdrs = false;
    }
    if (po) j.msg_id.assign(po->msg_id);
    else j.msg_id.clear();
    const auto& co = js.options();
    j.timeout = po && po->timeout ? *po->timeout : co.timeout;
    j.attempts_left = po && po->retry_attempts ? *po->retry_attempts : co.publish_retry_attempts;
  }

  // ---- sending

  bool ensure_subscribed(error_code& ec) {
    if (sub.valid()) return true;
    inbox = js.conn().new_inbox();
    inbox += '.';
    sub = js.conn().subscribe(
        inbox + "*", [w = weak_from_this()](message&& m) {
          if (auto self = w.lock()) self->on_reply(std::move(m));
        },
        ec);
    return !ec;
  }

  std::size_t take_slot() {
    if (!free_slots.empty()) {
      const auto i = free_slots.back();
      free_slots.pop_back();
      return i;
    }
    slots.emplace_back();
    return slots.size() - 1;
  }

  // Writes the slot's job with its reply subject; the error is the connection's (nothing was sent).
  error_code write(std::size_t i) {
    auto& s = slots[i];
    reply.assign(inbox);
    append_reply_token(reply, i, s.id);
    s.deadline = clock::now() + s.j.timeout;
    if (s.deadline < timer_at) arm(s.deadline);
    return nats::detail::publish_unchecked(js.conn(), s.j.subject, s.j.has_hdrs ? &s.j.hdrs : nullptr, s.j.payload,
                                           reply, true);
  }

  // Puts a job in flight. Failures are reported like a failed ack, after the caller's initiation returned.
  void send(job&& j) {
    ++outstanding;
    error_code ec;
    const auto i = take_slot();
    auto& s = slots[i];
    std::swap(s.j, j);  // keeps both sides' string capacity for reuse
    s.id = ++next_id;
    s.retry_wait = js.options().publish_retry_wait;
    if (ensure_subscribed(ec)) ec = write(i);
    if (ec) {
      s.deadline = never;
      asio::post(js.conn().get_executor(), [w = weak_from_this(), i, id = s.id, ec] {
        if (auto self = w.lock()) self->finish(i, id, ec, pub_ack{});
      });
    }
  }

  // ---- acks

  void on_reply(message&& m) {
    auto self = shared_from_this();  // finish() may drop keep_alive
    std::uint64_t i = 0, id = 0;
    if (m.subject.size() <= inbox.size() ||
        !parse_reply_token(std::string_view(m.subject).substr(inbox.size()), i, id) || i >= slots.size() ||
        slots[i].id != id)
      return;  // late or foreign
    auto& s = slots[i];
    if (m.status() == 503 && m.payload.empty()) {
      // No stream listens (yet): a leader may be being elected. Retry with the same Msg-Id.
      if (s.j.attempts_left-- > 0) return retry(i);
      return finish(i, id, make_error_code(error::no_stream_response), pub_ack{});
    }
    pub_ack ack;
    api_error api;
    auto ec = json::decode(m.payload, ack, api);
    if (api) js.set_last_api_error(std::move(api));
    if (ec) ack = {};
    finish(i, id, ec, std::move(ack));
  }

  void retry(std::size_t i) {
    auto& s = slots[i];
    s.deadline = never;
    if (!s.retry_timer) s.retry_timer = std::make_unique<asio::steady_timer>(js.conn().get_executor());
    s.retry_timer->expires_after(s.retry_wait);
    s.retry_wait = std::min(s.retry_wait * 2, js.options().publish_retry_max_wait);
    s.retry_timer->async_wait([w = weak_from_this(), i, id = s.id](error_code ec) {
      auto self = w.lock();
      if (!self || ec || i >= self->slots.size() || self->slots[i].id != id) return;
      if (auto wec = self->write(i)) self->finish(i, id, wec, pub_ack{});
    });
  }

  // The publish in slot i ended: free the slot, report, let a waiting caller in, wake wait_all.
  void finish(std::size_t i, std::uint64_t id, error_code ec, pub_ack ack) {
    auto self = shared_from_this();
    if (i >= slots.size() || slots[i].id != id) return;
    auto& s = slots[i];
    s.id = 0;
    s.deadline = never;
    s.retry_timer.reset();
    publish_result r;
    if (opts.on_ack) {
      r.subject = s.j.subject;
      r.msg_id = s.j.msg_id;
    }
    free_slots.push_back(i);
    --outstanding;
    if (ec) {
      ++failed;
      if (!first_error) first_error = ec;
    } else {
      ++acked;
    }
    if (opts.on_ack) {
      r.ec = ec;
      r.ack = std::move(ack);
      opts.on_ack(r);
    }
    refill();
    if (outstanding == 0 && waiting_count == 0) {
      if (!all_waiters.empty()) {
        auto ws = std::move(all_waiters);
        all_waiters.clear();
        const auto fe = first_error;
        first_error = {};
        for (auto& w : ws) asio::dispatch(asio::append(std::move(w), fe));
      }
      if (closed) {
        sub.unsubscribe();
        keep_alive.reset();
      }
    }
  }

  // Sends what waits while the window has room; each caller learns it was sent. Runs from the read loop
  // or a timer, never inside the caller's initiation, so the handler may run inline (dispatch).
  void refill() {
    while (waiting_count > 0 && outstanding < opts.max_pending && !closed) {
      auto& w = waiting[waiting_head];
      auto h = std::move(w.h);
      send(std::move(w.j));
      waiting_head = (waiting_head + 1) % waiting.size();
      --waiting_count;
      asio::dispatch(asio::append(std::move(h), error_code{}));
    }
  }

  void enqueue(std::string_view subject, const headers* hdrs, std::string_view payload, const publish_options* po,
               void_handler h) {
    if (waiting_count == waiting.size()) {
      // Grow the ring, keeping its order.
      // (any_completion_handler is swapped, never move-assigned: Asio 1.81's move assignment re-wraps it.)
      std::vector<waiter> bigger(std::max<std::size_t>(4, waiting.size() * 2));
      for (std::size_t k = 0; k < waiting_count; ++k) {
        auto& from = waiting[(waiting_head + k) % waiting.size()];
        std::swap(bigger[k].j, from.j);
        bigger[k].h.swap(from.h);
      }
      waiting = std::move(bigger);
      waiting_head = 0;
    }
    auto& w = waiting[(waiting_head + waiting_count) % waiting.size()];
    fill(w.j, subject, hdrs, payload, po);
    w.h.swap(h);
    ++waiting_count;
  }

  // ---- the one timer

  void arm(clock::time_point at) {
    timer_at = at;
    timer.expires_at(at);
    timer.async_wait([w = weak_from_this()](error_code ec) {
      auto self = w.lock();
      if (!self || ec) return;
      self->timer_at = never;
      self->expire();
    });
  }

  void expire() {
    auto self = shared_from_this();
    const auto now = clock::now();
    const bool conn_closed = js.conn().state() == connection_state::closed;
    std::vector<std::pair<std::size_t, std::uint64_t>> due;
    auto next = never;
    for (std::size_t i = 0; i < slots.size(); ++i) {
      const auto& s = slots[i];
      if (s.id == 0) continue;
      if (conn_closed || s.deadline <= now) due.emplace_back(i, s.id);
      else next = std::min(next, s.deadline);
    }
    if (next != never) arm(next);
    const error_code ec = conn_closed ? error_code(nats::error::connection_closed) : error_code(nats::error::timeout);
    for (auto [i, id] : due) finish(i, id, ec, pub_ack{});
  }
};

}  // namespace nats::js::detail

namespace nats::js {

async_publisher::async_publisher(context& js, publisher_options opts)
    : state_(std::make_shared<detail::publisher_state>(js, std::move(opts))) {}

async_publisher::~async_publisher() {
  auto& s = *state_;
  s.closed = true;
  for (; s.waiting_count > 0; --s.waiting_count) {
    s.post(std::move(s.waiting[s.waiting_head].h), make_error_code(error::publisher_closed));
    s.waiting_head = (s.waiting_head + 1) % s.waiting.size();
  }
  auto ws = std::move(s.all_waiters);
  s.all_waiters.clear();
  for (auto& w : ws) s.post(std::move(w), make_error_code(error::publisher_closed));
  // Outstanding acks still arrive (to on_ack) or time out; the state lives until then.
  if (s.outstanding > 0) s.keep_alive = state_;
}

void async_publisher::publish_impl(std::string_view subject, const headers* hdrs, std::string_view payload,
                                   const publish_options* opts, void_handler h) {
  auto& s = *state_;
  if (s.outstanding < s.opts.max_pending && s.waiting_count == 0) {
    detail::publisher_state::job j;
    if (!s.free_slots.empty()) std::swap(j, s.slots[s.free_slots.back()].j);  // reuse its string capacity
    s.fill(j, subject, hdrs, payload, opts);
    s.send(std::move(j));
    s.post(std::move(h), {});  // never complete inside the initiating call
  } else {
    s.enqueue(subject, hdrs, payload, opts, std::move(h));
  }
}

void async_publisher::wait_all_impl(void_handler h) {
  auto& s = *state_;
  if (s.outstanding == 0 && s.waiting_count == 0) {
    const auto ec = s.first_error;
    s.first_error = {};
    s.post(std::move(h), ec);
    return;
  }
  s.all_waiters.push_back(std::move(h));
}

std::size_t async_publisher::outstanding() const noexcept { return state_->outstanding; }
std::size_t async_publisher::max_pending() const noexcept { return state_->opts.max_pending; }
std::uint64_t async_publisher::acked() const noexcept { return state_->acked; }
std::uint64_t async_publisher::failed() const noexcept { return state_->failed; }

}  // namespace nats::js
