// Leader election on a KV key (see leader.hpp for the contract and the timing rule, docs/cluster.md).
// Everything runs on the election's executor; only is_leader()/token()/leader() are read from other
// threads (atomics and a mutex).
#include <nats/cluster/leader.hpp>

#include "node_impl.hpp"
#include "values.hpp"

#include <nats/js/context.hpp>
#include <nats/kv/entry.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <random>

namespace nats::cluster {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

const char* to_string(leader_event_kind k) noexcept {
  switch (k) {
    case leader_event_kind::became_leader: return "became_leader";
    case leader_event_kind::lost_leadership: return "lost_leadership";
    case leader_event_kind::leader_changed: return "leader_changed";
  }
  return "unknown";
}

const char* to_string(leadership_loss r) noexcept {
  switch (r) {
    case leadership_loss::none: return "none";
    case leadership_loss::stopped: return "stopped";
    case leadership_loss::lease_expired: return "lease_expired";
    case leadership_loss::taken_over: return "taken_over";
    case leadership_loss::closed: return "closed";
  }
  return "unknown";
}

namespace detail {

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::string random_id() {
  std::random_device rd;
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 12; ++i) s.push_back(digits[rd() & 15]);
  return s;
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::chrono::system_clock::time_point wall_of(clock_type::time_point t) {
  return std::chrono::system_clock::now() -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(clock_type::now() - t);
}

}  // namespace

class leader_impl : public std::enable_shared_from_this<leader_impl> {
 public:
  using void_handler = asio::any_completion_handler<void(error_code)>;

  leader_impl(asio::any_io_executor ex, leader_options o, std::shared_ptr<node_impl> node, std::optional<kv::bucket> b)
      : ex_(std::move(ex)),
        opts_(std::move(o)),
        node_(std::move(node)),
        session_(random_id()),
        tick_(ex_),
        expiry_(ex_) {
    if (b) {
      bucket_ = std::move(*b);
      have_bucket_ = true;
    }
    if (opts_.candidate.empty()) opts_.candidate = node_ ? node_->cfg_.instance_id : random_id();
    key_ = opts_.key_prefix + opts_.group;
  }

  error_code start(leader_handler h) {
    if (started_) return make_error_code(error::already_started);
    if (opts_.group.empty() || !kv::valid_key(key_)) return make_error_code(kv::error::invalid_key);
    if (opts_.lease <= 0ms || opts_.renew_interval <= 0ms || opts_.margin <= 0ms || opts_.confirm_delay < 0ms ||
        opts_.margin + opts_.renew_interval >= opts_.lease)
      return make_error_code(error::invalid_config);
    on_event_ = std::move(h);
    started_ = running_ = true;
    asio::co_spawn(ex_, run(), asio::detached);
    return {};
  }

  bool is_leader() const noexcept { return view_->is_leader(); }
  std::uint64_t token() const noexcept { return view_->token(); }
  std::shared_ptr<const leadership> view() const noexcept { return view_; }
  std::string holder() const {
    std::lock_guard lk(holder_mutex_);
    return holder_;
  }
  const std::string& key() const noexcept { return key_; }
  const std::string& candidate() const noexcept { return opts_.candidate; }

  void stop(void_handler h) {
    if (!started_ || stopping_) return post(std::move(h), make_error_code(error::not_started));
    stopping_ = true;
    running_ = false;
    tick_.cancel();
    asio::co_spawn(
        ex_,
        [self = shared_from_this()]() -> asio::awaitable<error_code> {
          // A write in flight may still make us the holder: wait for it (bounded), then release.
          auto until = clock_type::now() + std::max<milliseconds>(self->opts_.renew_interval, 2000ms);
          while (self->busy_ && clock_type::now() < until) {
            asio::steady_timer t(self->ex_, 10ms);
            co_await t.async_wait(tuple_awaitable);
          }
          if (self->leading_) self->step_down(leadership_loss::stopped, clock_type::now());
          self->expiry_.cancel();
          error_code ec;
          if (auto* b = self->current(); b && self->my_rev_ != 0) {
            // Delete only our own revision: a newer holder's lease is never touched.
            nats::headers h;
            h.set(std::string(kv::operation_header), "DEL");
            js::publish_options po;
            po.expected_last_subject_seq = self->my_rev_;
            po.retry_attempts = 0;
            po.timeout = 2000ms;
            auto [pec, ack] = co_await b->jetstream().async_publish(kv::key_subject(b->name(), self->key_), h, "", po,
                                                                    tuple_awaitable);
            if (pec != js::error::wrong_last_sequence) ec = pec;
          }
          self->watcher_.stop();
          co_return ec;
        },
        [h = std::move(h)](std::exception_ptr e, error_code ec) mutable {
          if (e) ec = make_error_code(error::stopped);
          std::move(h)(ec);
        });
  }

  void shutdown() {
    running_ = false;
    stopping_ = true;
    leading_ = false;
    view_->deadline_.store(0, std::memory_order_release);
    tick_.cancel();
    expiry_.cancel();
    watcher_.stop();
    on_event_ = nullptr;
  }

 private:
  struct seen_state {
    bool known = false;
    bool present = false;
    std::uint64_t rev = 0;  ///< revision of the value or of the delete marker (0: unknown)
    std::string session, candidate;
    std::uint64_t token = 0;
    clock_type::time_point since{};  ///< when this process first saw (present, rev)
  };

  void post(void_handler h, error_code ec) {
    asio::post(ex_, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
  }

  /// The bucket, while usable: with a node, only while its link is up and set up.
  kv::bucket* current() {
    if (!node_) return &bucket_;
    auto* b = node_->ready_bucket();
    if (!b) return nullptr;
    if (!have_bucket_) {
      bucket_ = *b;  // a handle (context pointer + name): our own copy stays put while operations run
      have_bucket_ = true;
    }
    return &bucket_;
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    while (running_) {
      wake_pending_ = false;
      if (auto* b = current()) {
        if (!watching_) asio::co_spawn(ex_, watch_loop(), asio::detached);
        busy_ = true;
        if (leading_) co_await renew(*b);
        else co_await campaign(*b);
        busy_ = false;
      }
      if (!running_) break;
      tick_.expires_at(next_wake());
      co_await tick_.async_wait(tuple_awaitable);
    }
  }

  clock_type::time_point next_wake() const {
    auto now = clock_type::now();
    if (wake_pending_) return now;
    if (leading_) return std::max(now, last_sent_ + opts_.renew_interval);
    auto t = now + opts_.renew_interval;
    if (seen_.known && seen_.present && seen_.session != session_) t = std::min(t, seen_.since + opts_.lease);
    return t;
  }

  void wake() {
    wake_pending_ = true;
    tick_.cancel();
  }

  // A CAS write of our value on `expected` (the revision we saw; a delete marker's too).
  asio::awaitable<std::pair<error_code, std::uint64_t>> write_on(kv::bucket& b, std::uint64_t expected,
                                                                std::uint64_t token) {
    leader_value v{opts_.candidate, session_, token, opts_.lease.count(), wall_ms()};
    js::publish_options po;
    po.expected_last_subject_seq = expected;
    po.retry_attempts = 0;  // this loop retries, with fresh knowledge
    po.timeout = std::clamp<milliseconds>(opts_.renew_interval, 250ms, opts_.lease - opts_.margin);
    auto [ec, ack] = co_await b.jetstream().async_publish(kv::key_subject(b.name(), key_), nats::headers{}, to_json(v),
                                                          po, tuple_awaitable);
    if (ec == js::error::wrong_last_sequence) ec = make_error_code(kv::error::wrong_revision);
    co_return std::pair{ec, ec ? 0 : ack.seq};
  }

  asio::awaitable<void> refresh(kv::bucket& b) {
    auto [ec, e] = co_await b.async_get(key_, tuple_awaitable);
    if (!ec) on_entry(e);
    else if (ec == kv::error::key_not_found) observe(false, seen_.present ? 0 : seen_.rev, nullptr);
  }

  asio::awaitable<void> campaign(kv::bucket& b) {
    if (!watching_ || !seen_.known) co_await refresh(b);
    if (!running_ || leading_) co_return;
    auto now = clock_type::now();
    bool own = seen_.present && seen_.session == session_;  // our own lease that lapsed: nobody else's
    if (seen_.present && !own && now - seen_.since < opts_.lease) co_return;
    auto sent = clock_type::now();
    error_code ec;
    std::uint64_t rev = 0;
    if (seen_.present || seen_.rev != 0) {
      std::tie(ec, rev) = co_await write_on(b, seen_.rev, 0);
    } else {
      leader_value v{opts_.candidate, session_, 0, opts_.lease.count(), wall_ms()};
      std::tie(ec, rev) = co_await b.async_create(key_, to_json(v), tuple_awaitable);
    }
    if (ec) {
      if (ec == kv::error::wrong_revision || ec == kv::error::key_exists) seen_.known = false;  // refresh next time
      co_return;
    }
    my_rev_ = rev;
    leader_value mine{opts_.candidate, session_, 0, opts_.lease.count(), 0};
    observe(true, rev, &mine);
    if (!running_) co_return;  // stopping: stop() releases it
    // Confirm before leading. On a replicated bucket, nats-server checks the expected revision before
    // the write is replicated, not as part of it (nats-server#4320, 2.9 and older): two candidates
    // that write on the same revision at the same moment may both be acknowledged. The later of the
    // two writes is stored last; a compare-and-set on our own revision, after those in-flight writes
    // had time to land, succeeds only for the candidate whose write is the latest.
    asio::steady_timer settle(ex_, opts_.confirm_delay);
    co_await settle.async_wait(tuple_awaitable);
    if (!running_ || leading_) co_return;
    auto [cec, crev] = co_await write_on(b, rev, rev);
    if (cec) {
      seen_.known = false;  // another candidate's write came after ours (or the link failed): not leader
      co_return;
    }
    my_rev_ = crev;
    mine.token = rev;
    observe(true, crev, &mine);
    if (!running_) co_return;
    if (sent + opts_.lease - opts_.margin > clock_type::now()) become_leader(rev, sent);
    // else: the writes took longer than the lease allows; the next round re-acquires our own key.
  }

  asio::awaitable<void> renew(kv::bucket& b) {
    auto sent = clock_type::now();
    if (sent >= deadline_) {
      step_down(leadership_loss::lease_expired, deadline_, last_ec_);  // the timer has not run yet
      co_return;
    }
    last_sent_ = sent;
    auto [ec, rev] = co_await write_on(b, my_rev_, token_);
    if (!ec) {
      my_rev_ = rev;
      leader_value mine{opts_.candidate, session_, token_, opts_.lease.count(), 0};
      observe(true, rev, &mine);
      if (!leading_) co_return;  // lapsed meanwhile: campaign() takes our own key back with a new token
      if (clock_type::now() >= deadline_) {
        // Renewed, but only after is_leader() had turned false: no silent resume. campaign() takes
        // the key back (acquire + confirm: this late write may have raced with a takeover).
        step_down(leadership_loss::lease_expired, deadline_, last_ec_);
        co_return;
      }
      set_deadline(sent + opts_.lease - opts_.margin);
      last_ec_ = {};
      co_return;
    }
    last_ec_ = ec;
    if (ec == kv::error::wrong_revision) {
      // Either our own earlier write landed although its reply was lost, or someone else wrote.
      auto [gec, e] = co_await b.async_get(key_, tuple_awaitable);
      if (!gec) {
        auto v = parse_leader(e.value);
        if (v && v->session == session_) {
          my_rev_ = e.revision;  // ours: keep the deadline of the last confirmed renewal
          observe(true, e.revision, &*v);
          co_return;
        }
        on_entry(e);
      }
      if ((!gec || gec == kv::error::key_not_found) && leading_)
        step_down(leadership_loss::taken_over, clock_type::now(), ec);
    }
  }

  asio::awaitable<void> watch_loop() {
    auto self = shared_from_this();
    watching_ = true;
    kv::watch_options wo;
    wo.heartbeat = std::clamp<milliseconds>(opts_.renew_interval * 2, 1000ms, 5000ms);
    auto [ec, w] = co_await bucket_.async_watch(key_, wo, tuple_awaitable);
    if (ec || !running_) {
      watching_ = false;
      co_return;  // started again by the next round
    }
    watcher_ = std::move(w);
    while (running_) {
      auto [nec, e] = co_await watcher_.async_next(tuple_awaitable);
      if (nec) break;
      on_entry(e);
      // A candidate acts at once on a released key (clean handover) or its own lapsed lease; a
      // foreign lease is judged by its age (next_wake), and a leader's own renewals need nothing.
      if (!leading_ && (!seen_.present || seen_.session == session_)) wake();
    }
    watching_ = false;
  }

  void on_entry(const kv::entry& e) {
    std::optional<leader_value> v;
    if (e.op == kv::operation::put) v = parse_leader(e.value);
    // Revisions only grow: an entry older than what we know (a late reply) changes nothing.
    if (seen_.known && e.revision < seen_.rev) return;
    observe(e.op == kv::operation::put, e.revision, v ? &*v : nullptr);
    if (leading_ && e.revision > my_rev_ && (!v || v->session != session_))
      step_down(leadership_loss::taken_over, clock_type::now());  // someone wrote or deleted our key
  }

  void observe(bool present, std::uint64_t rev, const leader_value* v) {
    if (!seen_.known || seen_.present != present || seen_.rev != rev) seen_.since = clock_type::now();
    seen_.known = true;
    seen_.present = present;
    seen_.rev = rev;
    seen_.session = present && v ? v->session : std::string();
    seen_.candidate = present && v ? v->candidate : std::string();
    seen_.token = present && v ? (v->token ? v->token : rev) : 0;
    if (seen_.session == reported_session_) return;
    reported_session_ = seen_.session;
    {
      std::lock_guard lk(holder_mutex_);
      holder_ = seen_.candidate;
    }
    if (seen_.session == session_) return;  // our own write: became_leader tells it
    leader_event ev;
    ev.kind = leader_event_kind::leader_changed;
    ev.leader = seen_.candidate;
    ev.token = seen_.token;
    ev.at = clock_type::now();
    ev.wall_at = std::chrono::system_clock::now();
    emit(std::move(ev));
  }

  void become_leader(std::uint64_t rev, clock_type::time_point sent) {
    leading_ = true;
    token_ = rev;
    view_->token_.store(rev, std::memory_order_release);
    last_sent_ = sent;
    last_ec_ = {};
    set_deadline(sent + opts_.lease - opts_.margin);
    leader_event ev;
    ev.kind = leader_event_kind::became_leader;
    ev.token = rev;
    ev.leader = opts_.candidate;
    ev.at = sent;
    ev.wall_at = wall_of(sent);
    emit(std::move(ev));
  }

  void set_deadline(clock_type::time_point d) {
    deadline_ = d;
    view_->deadline_.store(d.time_since_epoch().count(), std::memory_order_release);
    expiry_.expires_at(d);
    expiry_.async_wait([weak = weak_from_this(), d](error_code ec) {
      auto self = weak.lock();
      if (ec || !self || !self->leading_ || self->deadline_ != d) return;
      self->step_down(leadership_loss::lease_expired, d, self->last_ec_);
    });
  }

  void step_down(leadership_loss why, clock_type::time_point at, error_code ec = {}) {
    if (!leading_) return;
    // is_leader() turned false at the deadline, whatever noticed it later (a paused process runs its
    // handlers in any order): report that moment and reason.
    if (at >= deadline_) {
      at = deadline_;
      if (why != leadership_loss::closed) why = leadership_loss::lease_expired;
    }
    leading_ = false;
    view_->deadline_.store(0, std::memory_order_release);
    expiry_.cancel();
    auto tok = token_;
    token_ = 0;
    view_->token_.store(0, std::memory_order_release);
    leader_event ev;
    ev.kind = leader_event_kind::lost_leadership;
    ev.token = tok;
    ev.reason = why;
    ev.leader = seen_.candidate;
    ev.at = std::min(at, clock_type::now());
    ev.wall_at = wall_of(ev.at);
    ev.ec = ec;
    emit(std::move(ev));
    if (running_) wake();
  }

  void emit(leader_event ev) {
    asio::post(ex_, [self = shared_from_this(), ev = std::move(ev)] {
      if (self->on_event_) self->on_event_(ev);
    });
  }

  asio::any_io_executor ex_;
  leader_options opts_;
  std::shared_ptr<node_impl> node_;
  std::string session_, key_;
  kv::bucket bucket_;
  bool have_bucket_ = false;
  leader_handler on_event_;
  bool started_ = false, running_ = false, stopping_ = false, busy_ = false, wake_pending_ = false;
  asio::steady_timer tick_, expiry_;
  kv::watcher watcher_;
  bool watching_ = false;

  bool leading_ = false;
  std::uint64_t my_rev_ = 0;  ///< the last revision of the key we wrote
  clock_type::time_point deadline_{}, last_sent_{};
  error_code last_ec_;
  std::uint64_t token_ = 0;
  std::shared_ptr<leadership> view_ = std::make_shared<leadership>();  ///< what other threads read

  seen_state seen_;
  std::string reported_session_;
  mutable std::mutex holder_mutex_;
  std::string holder_;
};

}  // namespace detail

leader_election::leader_election(node& n, leader_options opts)
    : impl_(std::make_shared<detail::leader_impl>(n.get_executor(), std::move(opts), n.impl_, std::nullopt)) {}

leader_election::leader_election(executor_type ex, kv::bucket b, leader_options opts)
    : impl_(std::make_shared<detail::leader_impl>(std::move(ex), std::move(opts), nullptr, std::move(b))) {}

leader_election::~leader_election() {
  if (impl_) impl_->shutdown();
}

error_code leader_election::start(leader_handler h) { return impl_->start(std::move(h)); }
bool leader_election::is_leader() const noexcept { return impl_->is_leader(); }
std::uint64_t leader_election::token() const noexcept { return impl_->token(); }
std::string leader_election::leader() const { return impl_->holder(); }
std::shared_ptr<const leadership> leader_election::leadership_view() const noexcept { return impl_->view(); }
const std::string& leader_election::key() const noexcept { return impl_->key(); }
const std::string& leader_election::candidate() const noexcept { return impl_->candidate(); }
void leader_election::stop_impl(void_handler h) { impl_->stop(std::move(h)); }

}  // namespace nats::cluster
