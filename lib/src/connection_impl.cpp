#include "detail/connection_impl.hpp"

#include <nats/auth.hpp>
#include <nats/protocol/serializer.hpp>
#include <nats/protocol/subject.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <charconv>
#include <limits>

namespace nats::detail {

namespace {

constexpr std::size_t read_chunk = 64 * 1024;
// A write starts at once (instead of at the end of the current handler) past this many queued bytes,
// so a tight publish loop does not pile up everything before the first write.
constexpr std::size_t eager_write_threshold = 64 * 1024;

template <class Token>
auto async_read_some(transport& t, asio::mutable_buffer b, Token&& token) {
  return asio::async_initiate<Token, void(error_code, std::size_t)>(
      [&t, b](auto h) { t.async_read_some(b, io_handler(std::move(h))); }, token);
}

template <class Token>
auto async_write_all(transport& t, std::span<const asio::const_buffer> bufs, Token&& token) {
  return asio::async_initiate<Token, void(error_code, std::size_t)>(
      [&t, bufs](auto h) { t.async_write(bufs, io_handler(std::move(h))); }, token);
}

template <class Token, class Fn>
auto async_transport_op(Fn fn, Token&& token) {
  return asio::async_initiate<Token, void(error_code, transport_ptr)>(
      [fn = std::move(fn)](auto h) mutable { fn(connect_handler(std::move(h))); }, token);
}

}  // namespace

template <class Handler, class... Args>
void connection_impl::post_completion(Handler&& h, Args&&... args) {
  auto slot = asio::get_associated_cancellation_slot(h);
  if (slot.is_connected()) slot.clear();
  asio::post(executor_, asio::append(std::forward<Handler>(h), std::forward<Args>(args)...));
}

namespace {
// Servers send long INFO lines in large clusters (many connect_urls); MSG lines are far shorter.
protocol::parser_limits client_parser_limits() {
  protocol::parser_limits l;
  l.max_control_line = 64 * 1024;
  return l;
}
}  // namespace

connection_impl::connection_impl(asio::any_io_executor ex, options opts)
    : executor_(std::move(ex)), opts_(std::move(opts)), parser_(client_parser_limits()), rng_(std::random_device{}()) {
  write_limit_ =
      opts_.max_pending_write_bytes ? opts_.max_pending_write_bytes : std::numeric_limits<std::size_t>::max();
  for (const auto& s : opts_.servers) {
    error_code ec;
    auto url = server_url::parse(s, ec);
    if (ec) {
      last_error_ = ec;
      last_error_text_ = "invalid server URL: " + s;
      continue;
    }
    pool_.push_back(pool_entry{std::move(url)});
  }
  if (opts_.reconnect.randomize && pool_.size() > 1) std::shuffle(pool_.begin(), pool_.end(), rng_);
  if (!opts_.servers.empty() && pool_.empty() && !last_error_) last_error_ = error::invalid_url;
}

connection_impl::~connection_impl() = default;

// ---------------------------------------------------------------------------------------------
// Connect / reconnect loop

void connection_impl::start_connect(void_completion h) {
  if (closed_) return post_completion(std::move(h), error_code(error::connection_closed));
  if (running_) {
    // Already connecting or connected: complete when the current attempt settles.
    if (state_ == connection_state::connected) return post_completion(std::move(h), error_code{});
    if (connect_waiter_) return post_completion(std::move(h), error_code(asio::error::already_started));
  }
  if (pool_.empty()) {
    return post_completion(std::move(h), last_error_ ? last_error_ : error_code(error::no_servers));
  }
  auto slot = asio::get_associated_cancellation_slot(h);
  if (slot.is_connected()) {
    std::weak_ptr<connection_impl> weak = shared_from_this();
    slot.assign([weak](asio::cancellation_type) {
      if (auto self = weak.lock()) {
        if (self->connect_waiter_) {
          auto w = std::move(*self->connect_waiter_);
          self->connect_waiter_.reset();
          self->post_completion(std::move(w), error_code(asio::error::operation_aborted));
          self->close();
        }
      }
    });
  }
  connect_waiter_.emplace(std::move(h));
  if (!running_) {
    running_ = true;
    state_ = connection_state::connecting;
    asio::co_spawn(executor_, [self = shared_from_this()] { return self->run(); }, asio::detached);
  }
}

void connection_impl::finish_connect(error_code ec) {
  if (!connect_waiter_) return;
  auto w = std::move(*connect_waiter_);
  connect_waiter_.reset();
  post_completion(std::move(w), ec);
}

pool_entry* connection_impl::pick_server() {
  const int max = opts_.reconnect.max_attempts_per_server;
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    auto& e = pool_[(pool_index_ + i) % pool_.size()];
    if (max >= 0 && e.failed_attempts > max) continue;
    pool_index_ = (pool_index_ + i + 1) % pool_.size();
    return &e;
  }
  return nullptr;
}

std::chrono::milliseconds connection_impl::reconnect_delay(const pool_entry& server, int attempt, error_code last) {
  const auto& r = opts_.reconnect;
  if (r.policy) {
    reconnect_context ctx;
    ctx.attempt = attempt;
    ctx.server_attempts = server.failed_attempts;
    ctx.server = server.url.to_string();
    ctx.last_error = last;
    ctx.tls = server.url.is_tls() || opts_.tls.enabled;
    auto d = r.policy(ctx);
    return d ? *d : std::chrono::milliseconds(-1);
  }
  // Built-in schedule: no wait for a server not tried lately; otherwise wait + jitter since its last attempt.
  auto jitter_max = (server.url.is_tls() || opts_.tls.enabled) ? r.jitter_tls : r.jitter;
  auto jitter = jitter_max.count() > 0
                    ? std::chrono::milliseconds(static_cast<long>(rng_() % static_cast<std::uint64_t>(jitter_max.count() + 1)))
                    : std::chrono::milliseconds(0);
  auto since = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - server.last_attempt);
  auto need = r.wait + jitter;
  return since >= need ? std::chrono::milliseconds(0) : need - since;
}

asio::awaitable<void> connection_impl::run() {
  auto self = shared_from_this();
  int attempt = 0;            // attempts since the last good link
  error_code last_ec;
  error_code last_auth_error;
  std::size_t first_pass_tries = 0;
  bool first_try = true;

  while (!closed_) {
    pool_entry* server = pick_server();
    if (!server) {
      error_code why = ever_connected_ ? error_code(error::max_reconnects) : (last_ec ? last_ec : error_code(error::no_servers));
      finish_connect(why);
      close(why);
      break;
    }
    if (!first_try) {
      ++attempt;
      auto delay = reconnect_delay(*server, attempt, last_ec);
      if (delay.count() < 0) {  // the policy gave up
        error_code why = ever_connected_ ? error_code(error::max_reconnects) : last_ec;
        finish_connect(why);
        close(why);
        break;
      }
      if (delay.count() > 0) {
        wait_timer_ = std::make_unique<asio::steady_timer>(executor_, delay);
        error_code wec;
        co_await wait_timer_->async_wait(asio::redirect_error(asio::use_awaitable, wec));
        if (closed_) break;
      }
    }
    first_try = false;
    server->last_attempt = std::chrono::steady_clock::now();
    error_code ec = co_await establish_link(*server);
    if (closed_) break;
    if (ec) {
      ++server->failed_attempts;
      last_ec = ec;
      last_error_ = ec;
      // Every failed attempt is reported, so a host can show why it is not connected yet (the
      // first connect with retry_on_failed_connect would otherwise be silent until it succeeds).
      event failed;
      failed.kind = event_kind::connect_failed;
      failed.ec = ec;
      failed.server = server->url.to_string();
      failed.text = ec.message();
      emit(std::move(failed));
      if (is_auth_error(ec)) {
        // The same auth error twice in a row: credentials will not fix themselves.
        if (last_auth_error == ec) {
          finish_connect(ec);
          close(ec);
          break;
        }
        last_auth_error = ec;
      } else {
        last_auth_error = {};
      }
      if (!ever_connected_ && !opts_.retry_on_failed_connect) {
        if (++first_pass_tries >= pool_.size()) {
          finish_connect(ec);
          close(ec);
          break;
        }
      }
      if (ever_connected_ && !opts_.reconnect.enabled) {
        close(ec);
        break;
      }
      continue;
    }
    // Linked.
    server->failed_attempts = 0;
    server->ever_connected = true;
    attempt = 0;
    last_auth_error = {};
    const bool reconnect = ever_connected_;
    on_connected(reconnect);
    error_code why = co_await read_loop();
    if (closed_) break;
    on_disconnected(why);
    last_ec = why;
    if (!opts_.reconnect.enabled) {
      close(why);
      break;
    }
  }
  running_ = false;
}

// One connect attempt: TCP (+WebSocket) → INFO → TLS if needed → CONNECT + PING → PONG.
asio::awaitable<error_code> connection_impl::establish_link(pool_entry& server) {
  auto self = shared_from_this();
  const server_url& url = server.url;
  state_ = ever_connected_ ? connection_state::reconnecting : connection_state::connecting;
  parser_.reset();
  link_error_ = {};

  // A watchdog closes whatever is in progress when the connect timeout passes.
  struct watchdog_state {
    bool timed_out = false;
    bool done = false;
  };
  auto wd = std::make_shared<watchdog_state>();
  auto watchdog = std::make_shared<asio::steady_timer>(executor_, opts_.connect_timeout);
  std::weak_ptr<connection_impl> weak = self;
  watchdog->async_wait([weak, wd](error_code ec) {
    if (ec || wd->done) return;
    auto s = weak.lock();
    if (!s) return;
    wd->timed_out = true;
    if (s->transport_) s->transport_->close();
    if (s->connecting_socket_) {
      error_code ignore;
      s->connecting_socket_->close(ignore);
    }
    // TLS and WebSocket handshakes own their socket: stop them through their cancellation slot.
    s->handshake_cancel_.emit(asio::cancellation_type::terminal);
  });
  struct cancel_watchdog {
    connection_impl* c;
    std::shared_ptr<watchdog_state> wd;
    std::shared_ptr<asio::steady_timer> t;
    ~cancel_watchdog() {
      wd->done = true;
      c->connecting_socket_ = nullptr;
      t->cancel();
    }
  } guard{this, wd, watchdog};

  auto fail = [&](error_code ec) -> error_code {
    if (wd->timed_out) ec = error::connect_timeout;
    if (transport_) transport_->close();
    transport_.reset();
    return ec;
  };

  error_code ec;
  asio::ip::tcp::resolver resolver(executor_);
  auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec || closed_) co_return fail(ec ? ec : error_code(error::connection_closed));
  asio::ip::tcp::socket socket(executor_);
  connecting_socket_ = &socket;
  co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec || closed_ || wd->timed_out) co_return fail(ec ? ec : error_code(error::connection_closed));
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  ec = {};

  if (url.is_websocket()) {
    connecting_socket_ = nullptr;
    if (url.is_tls()) {
      if (auto cec = ensure_tls_context()) co_return fail(cec);
    }
    auto [wec, t] = co_await async_transport_op(
        [&](connect_handler h) {
          async_websocket_handshake(std::move(socket), url, opts_.tls, tls_context_, std::move(h));
        },
        asio::bind_cancellation_slot(handshake_cancel_.slot(), asio::as_tuple(asio::use_awaitable)));
    if (wec || closed_) co_return fail(wec ? wec : error_code(error::connection_closed));
    transport_ = std::move(t);
  } else {
    connecting_socket_ = nullptr;
    transport_ = make_tcp_transport(std::move(socket));
    if (opts_.tls.handshake_first && (url.is_tls() || opts_.tls.enabled)) {
      if (auto cec = ensure_tls_context()) co_return fail(cec);
      auto [tec, t] = co_await async_transport_op(
          [&](connect_handler h) {
            async_upgrade_tls(std::move(transport_), url, opts_.tls, tls_context_, std::move(h));
          },
          asio::bind_cancellation_slot(handshake_cancel_.slot(), asio::as_tuple(asio::use_awaitable)));
      if (tec || closed_) co_return fail(tec ? tec : error_code(error::connection_closed));
      transport_ = std::move(t);
    }
  }

  // Read the server's INFO.
  bool got_info = false;
  while (!got_info) {
    auto buf = parser_.prepare(read_chunk);
    auto [rec, n] = co_await async_read_some(*transport_, asio::buffer(buf.data(), buf.size()),
                                             asio::as_tuple(asio::use_awaitable));
    if (rec || closed_) co_return fail(rec ? rec : error_code(error::connection_closed));
    parser_.commit(n);
    error_code pec;
    if (auto op = parser_.next(pec)) {
      if (op->kind != protocol::op_kind::info) co_return fail(error::protocol_error);
      error_code iec;
      auto info = protocol::parse_server_info(op->text, iec);
      if (iec) co_return fail(iec);
      learn_servers(info);
      info_ = std::move(info);
      got_info = true;
    } else if (pec) {
      co_return fail(pec);
    }
  }
  parser_.set_max_payload(static_cast<std::size_t>(std::max<std::int64_t>(info_.max_payload, 1)) + 64 * 1024);

  // TLS upgrade after INFO.
  const bool want_tls = url.is_tls() || opts_.tls.enabled || info_.tls_required;
  if (want_tls && !transport_->is_tls()) {
    if (url.is_websocket()) co_return fail(error::tls_required);  // ws:// to a wss-only server
    if (auto cec = ensure_tls_context()) co_return fail(cec);
    auto [tec, t] = co_await async_transport_op(
        [&](connect_handler h) {
          async_upgrade_tls(std::move(transport_), url, opts_.tls, tls_context_, std::move(h));
        },
        asio::bind_cancellation_slot(handshake_cancel_.slot(), asio::as_tuple(asio::use_awaitable)));
    if (tec || closed_) co_return fail(tec ? tec : error_code(error::connection_closed));
    transport_ = std::move(t);
  }

  // CONNECT + PING, then wait for PONG (or -ERR).
  protocol::connect_info ci;
  ci.verbose = false;
  ci.pedantic = opts_.pedantic;
  ci.echo = opts_.echo;
  ci.headers = true;
  ci.no_responders = opts_.no_responders;
  ci.name = opts_.name;
  ci.version = "0.1.0";
  ci.tls_required = transport_->is_tls();
  if (auto aec = fill_auth(ci, server)) co_return fail(aec);
  std::string hello;
  protocol::write_connect(hello, protocol::to_json(ci));
  protocol::write_ping(hello);
  {
    asio::const_buffer b = asio::buffer(hello);
    auto [wec, n] = co_await async_write_all(*transport_, std::span<const asio::const_buffer>(&b, 1),
                                             asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (wec || closed_) co_return fail(wec ? wec : error_code(error::connection_closed));
  }
  for (;;) {
    error_code pec;
    while (auto op = parser_.next(pec)) {
      if (op->kind == protocol::op_kind::pong) {
        current_url_ = url.to_string();
        co_return error_code{};
      }
      if (op->kind == protocol::op_kind::err) {
        last_error_text_ = std::string(op->text);
        co_return fail(classify_server_error(op->text));
      }
      if (op->kind == protocol::op_kind::info) on_info(op->text, true);
      if (op->kind == protocol::op_kind::ping) {
        // Answered once the link is up; the server does not ping during the handshake in practice.
      }
    }
    if (pec) co_return fail(pec);
    auto buf = parser_.prepare(read_chunk);
    auto [rec, n] = co_await async_read_some(*transport_, asio::buffer(buf.data(), buf.size()),
                                             asio::as_tuple(asio::use_awaitable));
    if (rec || closed_) co_return fail(rec ? rec : error_code(error::connection_closed));
    parser_.commit(n);
  }
}

// Builds the SSL context on the first TLS attempt; later attempts (reconnects) reuse it. A failure is
// not remembered: the next attempt tries again (the CA file may have been fixed meanwhile).
error_code connection_impl::ensure_tls_context() {
  if (tls_context_) return {};
  error_code ec;
  auto ctx = make_tls_context(opts_.tls, ec);
  if (ec) return ec;
  tls_context_ = std::move(ctx);
  ++stats_.tls_contexts_built;
  return {};
}

error_code connection_impl::fill_auth(protocol::connect_info& ci, const pool_entry& server) {
  const auto& a = opts_.auth;
  if (a.callback) return a.callback(info_.nonce, ci);
  auto sign_with_seed = [&](std::string_view seed) -> error_code {
    error_code ec;
    auto kp = auth::key_pair::from_seed(seed, ec);
    if (ec) return ec;
    if (info_.nonce.empty()) return error::nonce_required;
    ci.sig = auth::base64url_encode(kp.sign(info_.nonce));
    return {};
  };
  if (!a.creds.empty() || !a.creds_file.empty()) {
    error_code ec;
    auto creds = a.creds.empty() ? auth::load_credentials_file(a.creds_file, ec) : auth::parse_credentials(a.creds, ec);
    if (ec) return ec;
    ci.jwt = creds.jwt;
    return sign_with_seed(creds.seed);
  }
  if (!a.nkey_seed.empty()) {
    error_code ec;
    auto kp = auth::key_pair::from_seed(a.nkey_seed, ec);
    if (ec) return ec;
    ci.nkey = kp.public_key();
    return sign_with_seed(a.nkey_seed);
  }
  if (!a.token.empty()) {
    ci.auth_token = a.token;
    return {};
  }
  if (!a.user.empty()) {
    ci.user = a.user;
    ci.pass = a.password;
    return {};
  }
  if (!server.url.user.empty()) {
    if (server.url.password.empty()) {
      ci.auth_token = server.url.user;
    } else {
      ci.user = server.url.user;
      ci.pass = server.url.password;
    }
  }
  return {};
}

void connection_impl::on_connected(bool reconnect) {
  ++generation_;
  state_ = connection_state::connected;
  pings_out_ = 0;
  // Restore interest first, then what was published while we were away, then pending flushes.
  std::string preamble = resubscribe_commands();
  if (!preamble.empty()) pending_.insert(0, preamble);
  for (auto& h : deferred_flushes_) queue_ping(std::move(h));
  deferred_flushes_.clear();
  if (reconnect) ++stats_.reconnects;
  ever_connected_ = true;
  kick_write();
  start_keepalive();
  finish_connect({});
  emit(reconnect ? event_kind::reconnected : event_kind::connected);
  if (info_.lame_duck_mode) emit(event_kind::lame_duck, error::lame_duck);
}

void connection_impl::on_disconnected(error_code why) {
  state_ = connection_state::reconnecting;
  if (transport_) transport_->close();
  transport_.reset();
  ++generation_;
  write_in_flight_ = false;
  write_buf_.reset();
  writing_bytes_ = 0;
  if (ping_timer_) ping_timer_->cancel();
  // PINGs already written to the dead link will never be answered: their flushes get a new PING after
  // reconnect. The last `pings_in_pending_` waiters belong to PINGs still queued in pending_, which go
  // out on the new link as they are, so they stay.
  const std::size_t keep = std::min(pings_in_pending_, pongs_.size());
  const std::size_t lost = pongs_.size() - keep;
  for (std::size_t i = 0; i < lost; ++i) {
    if (pongs_.front().handler) deferred_flushes_.push_back(std::move(*pongs_.front().handler));
    pongs_.pop_front();
  }
  // pending_ is kept whole: it holds what was accepted but not written. SUB lines in it duplicate the
  // restored ones with the same sid, which the server ignores.
  last_error_ = why;
  emit(event_kind::disconnected, why);
}

std::string connection_impl::resubscribe_commands() {
  std::string out;
  std::vector<std::pair<std::uint64_t, subscription_state*>> ordered;
  ordered.reserve(subs_.size());
  for (auto& [sid, s] : subs_) ordered.emplace_back(sid, s.get());
  std::sort(ordered.begin(), ordered.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [sid, s] : ordered) {
    protocol::write_sub(out, s->subject, s->queue, sid);
    if (s->max_deliver > 0) protocol::write_unsub(out, sid, s->max_deliver - std::min(s->max_deliver, s->delivered));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading

asio::awaitable<error_code> connection_impl::read_loop() {
  auto self = shared_from_this();
  const auto gen = generation_;
  for (;;) {
    error_code pec;
    while (auto op = parser_.next(pec)) {
      if (auto ec = handle_op(*op, false)) co_return ec;
      if (closed_ || gen != generation_) co_return error_code(error::connection_closed);
    }
    if (pec) {
      last_error_ = pec;
      co_return pec;
    }
    if (link_error_) co_return link_error_;
    auto buf = parser_.prepare(read_chunk);
    auto [ec, n] = co_await async_read_some(*transport_, asio::buffer(buf.data(), buf.size()),
                                            asio::as_tuple(asio::use_awaitable));
    if (closed_) co_return error_code(error::connection_closed);
    if (link_error_) co_return link_error_;
    if (ec) co_return ec;
    parser_.commit(n);
  }
}

error_code connection_impl::handle_op(const protocol::server_op& op, bool handshake) {
  switch (op.kind) {
    case protocol::op_kind::msg:
    case protocol::op_kind::hmsg: {
      ++stats_.in_msgs;
      stats_.in_bytes += op.payload.size();
      message m;
      m.subject.assign(op.subject);
      m.reply.assign(op.reply);
      m.payload.assign(op.payload);
      m.sid = op.sid;
      if (op.kind == protocol::op_kind::hmsg) {
        error_code hec;
        m.headers = headers::parse(op.headers, hec);
        if (hec) return hec;
        m.has_headers = true;
      }
      if (op.sid == reply_sid_ && reply_sid_ != 0) {
        deliver_request_reply(std::move(m));
      } else {
        deliver(op.sid, std::move(m));
      }
      return {};
    }
    case protocol::op_kind::ping:
      protocol::write_pong(pending_);
      schedule_write();
      return {};
    case protocol::op_kind::pong: {
      pings_out_ = 0;
      if (!pongs_.empty()) {
        auto w = std::move(pongs_.front());
        pongs_.pop_front();
        if (w.handler) post_completion(std::move(*w.handler), error_code{});
        if (drain_waiter_ && pongs_.empty() && state_ == connection_state::draining) finish_drain({});
      }
      return {};
    }
    case protocol::op_kind::info:
      on_info(op.text, handshake);
      return {};
    case protocol::op_kind::ok:
      return {};
    case protocol::op_kind::err: {
      auto e = classify_server_error(op.text);
      last_error_ = e;
      last_error_text_ = std::string(op.text);
      emit(event_kind::error, e, std::string(op.text));
      // Permission violations leave the link up; every other -ERR is followed by the server closing it.
      if (e == error::permissions_violation) return {};
      return e;
    }
  }
  return {};
}

// Adds the servers a cluster announces (INFO connect_urls) to the pool.
void connection_impl::learn_servers(const protocol::server_info& info) {
  if (!opts_.ignore_discovered_servers) {
    std::vector<std::string> added;
    const auto& urls = info.connect_urls;
    for (const auto& u : urls) {
      error_code uec;
      auto parsed = server_url::parse(u, uec);
      if (uec) continue;
      if (!pool_.empty()) {
        const auto& scheme = pool_.front().url.scheme;
        if (scheme == "tls" || scheme == "nats") parsed.scheme = pool_.front().url.scheme;
        if (pool_.front().url.is_websocket()) continue;  // connect_urls are client ports, not websocket ones
      }
      bool known = std::any_of(pool_.begin(), pool_.end(), [&](const pool_entry& e) {
        return e.url.host == parsed.host && e.url.port == parsed.port;
      });
      if (!known) {
        added.push_back(parsed.to_string());
        pool_.push_back(pool_entry{std::move(parsed), true});
      }
    }
    if (!added.empty()) {
      event ev;
      ev.kind = event_kind::servers_discovered;
      ev.servers = std::move(added);
      emit(std::move(ev));
    }
  }
}

void connection_impl::on_info(std::string_view json, bool /*handshake*/) {
  error_code ec;
  auto info = protocol::parse_server_info(json, ec);
  if (ec) return;
  const bool was_lame = info_.lame_duck_mode;
  learn_servers(info);
  info_ = std::move(info);
  if (info_.max_payload > 0) parser_.set_max_payload(static_cast<std::size_t>(info_.max_payload) + 64 * 1024);
  if (info_.lame_duck_mode && !was_lame && state_ == connection_state::connected) {
    emit(event_kind::lame_duck, error::lame_duck);
  }
}

void connection_impl::deliver(std::uint64_t sid, message&& msg) {
  auto it = subs_.find(sid);
  if (it == subs_.end()) return;  // late message for a subscription we dropped
  auto s = it->second;            // keep alive across the user's callback
  if (s->closed) return;
  ++s->delivered;
  const bool last = s->max_deliver > 0 && s->delivered >= s->max_deliver;
  if (s->handler) {
    if (last) remove_subscription(sid);
    s->handler(std::move(msg));
    return;
  }
  if (s->waiter && s->queue_msgs.empty()) {
    auto w = std::move(*s->waiter);
    s->waiter.reset();
    post_completion(std::move(w), error_code{}, std::move(msg));
  } else if ((s->max_msgs && s->queue_msgs.size() >= s->max_msgs) ||
             (s->max_bytes && s->queued_bytes + msg.payload.size() > s->max_bytes)) {
    ++s->dropped;
    --s->delivered;
    if (!s->slow) {
      s->slow = true;
      event ev;
      ev.kind = event_kind::slow_consumer;
      ev.ec = error::slow_consumer;
      ev.sid = sid;
      ev.subject = s->subject;
      emit(std::move(ev));
    }
  } else {
    s->queued_bytes += msg.payload.size();
    s->queue_msgs.push_back(std::move(msg));
  }
  if (last) remove_subscription(sid);
}

// ---------------------------------------------------------------------------------------------
// Writing

void connection_impl::schedule_write() {
  if (write_in_flight_ || write_scheduled_) return;
  if (pending_.size() >= eager_write_threshold) return kick_write();
  write_scheduled_ = true;
  asio::post(executor_, [self = shared_from_this()] {
    self->write_scheduled_ = false;
    self->kick_write();
  });
}

void connection_impl::kick_write() {
  if (write_in_flight_ || pending_.empty() || !transport_ || state_ == connection_state::closed ||
      (state_ != connection_state::connected && state_ != connection_state::draining))
    return;
  auto buf = std::make_shared<std::string>();
  buf->swap(pending_);
  pings_in_pending_ = 0;
  pending_.swap(spare_);
  pending_.clear();
  write_buf_ = buf;
  writing_bytes_ = buf->size();
  write_in_flight_ = true;
  const auto gen = generation_;
  auto bufs = std::make_shared<asio::const_buffer>(asio::buffer(*buf));
  transport_->async_write(std::span<const asio::const_buffer>(bufs.get(), 1),
                          [self = shared_from_this(), buf, bufs, gen](error_code ec, std::size_t) {
                            if (gen != self->generation_) return;
                            self->write_in_flight_ = false;
                            self->write_buf_.reset();
                            self->writing_bytes_ = 0;
                            if (ec) {
                              self->fail_link(ec);
                              return;
                            }
                            if (self->spare_.capacity() < buf->capacity() && buf->capacity() <= 4 * 1024 * 1024) {
                              buf->clear();
                              self->spare_.swap(*buf);
                            }
                            self->kick_write();
                          });
}

std::uint64_t connection_impl::queue_ping(std::optional<void_completion> h) {
  protocol::write_ping(pending_);
  ++pings_in_pending_;
  const auto id = ++next_pong_id_;
  pongs_.push_back(pong_waiter{std::move(h), id});
  return id;
}

void connection_impl::fail_link(error_code why) {
  if (!transport_) return;
  if (!link_error_) link_error_ = why;
  transport_->close();
}

void connection_impl::start_keepalive() {
  if (opts_.ping_interval.count() <= 0) return;
  ping_timer_ = std::make_unique<asio::steady_timer>(executor_, opts_.ping_interval);
  const auto gen = generation_;
  ping_timer_->async_wait([weak = weak_from_this(), gen](error_code ec) {
    auto self = weak.lock();
    if (!self || ec || gen != self->generation_ || self->closed_) return;
    if (self->pings_out_ >= self->opts_.max_pings_out) {
      self->fail_link(error::stale_connection);
      return;
    }
    ++self->pings_out_;
    self->queue_ping(std::nullopt);
    self->schedule_write();
    self->start_keepalive();
  });
}

// ---------------------------------------------------------------------------------------------
// Publishing

error_code connection_impl::publish(std::string_view subject, const headers* hdrs, std::string_view payload,
                                    std::string_view reply) {
  return publish_line(subject, hdrs, payload, reply, true, true);
}

error_code connection_impl::publish_line(std::string_view subject, const headers* hdrs, std::string_view payload,
                                         std::string_view reply, bool check_subject, bool check_reply) {
  if (closed_) return error::connection_closed;
  if (state_ == connection_state::draining) return error::connection_draining;
  if (check_subject) {
    if (auto ec = protocol::validate_publish_subject(subject)) return ec;
  }
  if (check_reply && !reply.empty()) {
    if (auto ec = protocol::validate_publish_subject(reply)) return ec;
  }
  std::size_t header_size = hdrs ? hdrs->serialized_size() : 0;
  const std::size_t total = header_size + payload.size();
  if (ever_connected_ && info_.max_payload > 0 && total > static_cast<std::size_t>(info_.max_payload))
    return error::max_payload_exceeded;
  const bool linked = state_ == connection_state::connected;
  // Both bounds count the same bytes: accepted, not yet written (the PUB/HPUB line is estimated).
  const std::size_t estimate = subject.size() + reply.size() + total + 48;
  if (linked) {
    if (pending_.size() + writing_bytes_ + estimate > write_limit_) [[unlikely]] {
      // The server is not reading. A message larger than the whole bound still goes when nothing
      // else is queued, or it could never be sent.
      if (!pending_.empty() || writing_bytes_ != 0) {
        ++stats_.write_buffer_rejects;
        return error::write_buffer_full;
      }
    }
  } else if (pending_.size() + estimate > opts_.reconnect.buffer_bytes) {
    ++stats_.reconnect_buffer_rejects;
    return opts_.reconnect.buffer_bytes == 0 ? error_code(error::not_connected)
                                             : error_code(error::reconnect_buffer_full);
  }
  if (hdrs) {
    std::string block;
    block.reserve(header_size);
    hdrs->serialize(block);
    protocol::write_hpub(pending_, subject, reply, block, payload);
  } else {
    protocol::write_pub(pending_, subject, reply, payload);
  }
  ++stats_.out_msgs;
  stats_.out_bytes += payload.size();
  if (linked) schedule_write();
  return {};
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

std::shared_ptr<subscription_state> connection_impl::subscribe(std::string_view subject, message_handler handler,
                                                               error_code& ec, const subscribe_options& o) {
  ec = {};
  if (closed_) {
    ec = error::connection_closed;
    return nullptr;
  }
  if (state_ == connection_state::draining) {
    ec = error::connection_draining;
    return nullptr;
  }
  if ((ec = protocol::validate_subscribe_subject(subject))) return nullptr;
  if (!o.queue_group.empty() && (ec = protocol::validate_queue_group(o.queue_group))) return nullptr;
  auto s = std::make_shared<subscription_state>();
  s->conn = weak_from_this();
  s->executor = executor_;
  s->sid = next_sid_++;
  s->subject = std::string(subject);
  s->queue = o.queue_group;
  s->handler = std::move(handler);
  s->max_msgs = o.pending_msgs_limit ? o.pending_msgs_limit : opts_.pending_msgs_limit;
  s->max_bytes = o.pending_bytes_limit ? o.pending_bytes_limit : opts_.pending_bytes_limit;
  s->max_deliver = o.max_messages;
  subs_.emplace(s->sid, s);
  if (state_ == connection_state::connected) {
    protocol::write_sub(pending_, s->subject, s->queue, s->sid);
    if (s->max_deliver) protocol::write_unsub(pending_, s->sid, s->max_deliver);
    schedule_write();
  }
  return s;
}

void connection_impl::remove_subscription(std::uint64_t sid) {
  auto it = subs_.find(sid);
  if (it == subs_.end()) return;
  auto s = it->second;
  subs_.erase(it);
  s->closed = true;
  if (s->waiter && s->queue_msgs.empty()) complete_waiter(*s, error::subscription_closed);
}

void connection_impl::complete_waiter(subscription_state& s, error_code ec) {
  if (!s.waiter) return;
  auto w = std::move(*s.waiter);
  s.waiter.reset();
  post_completion(std::move(w), ec, message{});
}

error_code connection_impl::unsubscribe(const std::shared_ptr<subscription_state>& s) {
  if (s->closed) return error::subscription_closed;
  if (state_ == connection_state::connected || state_ == connection_state::draining) {
    protocol::write_unsub(pending_, s->sid);
    schedule_write();
  }
  remove_subscription(s->sid);
  return {};
}

error_code connection_impl::auto_unsubscribe(const std::shared_ptr<subscription_state>& s, std::uint64_t max) {
  if (s->closed) return error::subscription_closed;
  if (max == 0 || s->delivered >= max) return unsubscribe(s);
  s->max_deliver = max;
  if (state_ == connection_state::connected) {
    // The server counts what it delivered on this sid, which equals what we received.
    protocol::write_unsub(pending_, s->sid, max);
    schedule_write();
  }
  return {};
}

void connection_impl::next(const std::shared_ptr<subscription_state>& s, message_completion h) {
  if (!s->queue_msgs.empty()) {
    message m = std::move(s->queue_msgs.front());
    s->queue_msgs.pop_front();
    s->queued_bytes -= m.payload.size();
    if (s->queue_msgs.empty()) s->slow = false;  // the episode ends when the backlog is gone
    return post_completion(std::move(h), error_code{}, std::move(m));
  }
  if (s->closed) return post_completion(std::move(h), error_code(error::subscription_closed), message{});
  if (s->waiter) return post_completion(std::move(h), error_code(asio::error::already_started), message{});
  s->slow = false;
  auto slot = asio::get_associated_cancellation_slot(h);
  if (slot.is_connected()) {
    std::weak_ptr<subscription_state> weak = s;
    slot.assign([weak, self = weak_from_this()](asio::cancellation_type) {
      auto st = weak.lock();
      auto c = self.lock();
      if (st && c && st->waiter) {
        auto w = std::move(*st->waiter);
        st->waiter.reset();
        c->post_completion(std::move(w), error_code(asio::error::operation_aborted), message{});
      }
    });
  }
  s->waiter.emplace(std::move(h));
}

// ---------------------------------------------------------------------------------------------
// Flush, requests

void connection_impl::flush(void_completion h) {
  if (closed_) return post_completion(std::move(h), error_code(error::connection_closed));
  if (state_ != connection_state::connected && state_ != connection_state::draining) {
    deferred_flushes_.push_back(std::move(h));
    return;
  }
  auto slot = asio::get_associated_cancellation_slot(h);
  const auto id = queue_ping(std::move(h));
  if (slot.is_connected()) {
    // Cancelling completes the handler now; the PONG, when it comes, finds an empty slot.
    slot.assign([self = weak_from_this(), id](asio::cancellation_type) {
      auto c = self.lock();
      if (!c) return;
      for (auto& p : c->pongs_) {
        if (p.id == id && p.handler) {
          auto w = std::move(*p.handler);
          p.handler.reset();
          c->post_completion(std::move(w), error_code(asio::error::operation_aborted));
        }
      }
    });
  }
  schedule_write();
}

void connection_impl::ensure_reply_subscription() {
  if (reply_sid_) return;
  reply_prefix_ = opts_.inbox_prefix + "." + nuid_.next() + ".";
  error_code ec;
  auto s = subscribe(reply_prefix_ + "*", nullptr, ec, {});
  if (!s) return;
  s->max_msgs = 0;  // never drop replies
  s->max_bytes = 0;
  reply_sid_ = s->sid;
}

void connection_impl::request(std::string_view subject, const headers* hdrs, std::string_view payload,
                              std::chrono::milliseconds timeout, message_completion h) {
  if (closed_) return post_completion(std::move(h), error_code(error::connection_closed), message{});
  ensure_reply_subscription();
  const std::uint64_t token = ++next_request_;
  reply_scratch_.assign(reply_prefix_);
  {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, token, 36);
    reply_scratch_.append(buf, r.ptr);
  }
  auto ec = publish_line(subject, hdrs && !hdrs->empty() ? hdrs : nullptr, payload, reply_scratch_, true, false);
  if (ec) return post_completion(std::move(h), ec, message{});
  auto slot = asio::get_associated_cancellation_slot(h);
  if (slot.is_connected()) {
    slot.assign([self = weak_from_this(), token](asio::cancellation_type) {
      auto c = self.lock();
      if (!c) return;
      auto it = c->requests_.find(token);
      if (it == c->requests_.end()) return;
      auto w = std::move(it->second.handler);
      c->requests_.erase(it);
      c->post_completion(std::move(w), error_code(asio::error::operation_aborted), message{});
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  requests_.emplace(token, request_op{std::move(h), deadline});
  if (deadline < request_timer_at_) arm_request_timer(deadline);
}

// (Re-)arms the one request timer. A wait it replaces completes with operation_aborted and is ignored.
void connection_impl::arm_request_timer(std::chrono::steady_clock::time_point at) {
  if (!request_timer_) request_timer_ = std::make_unique<asio::steady_timer>(executor_);
  request_timer_at_ = at;
  request_timer_->expires_at(at);
  request_timer_->async_wait([self = weak_from_this()](error_code ec) {
    auto c = self.lock();
    if (!c || ec || c->closed_) return;
    c->request_timer_at_ = std::chrono::steady_clock::time_point::max();
    c->expire_requests();
  });
}

// Fails the requests whose deadline passed and re-arms the timer for the earliest remaining one.
void connection_impl::expire_requests() {
  const auto now = std::chrono::steady_clock::now();
  auto next = std::chrono::steady_clock::time_point::max();
  std::vector<message_completion> expired;
  for (auto it = requests_.begin(); it != requests_.end();) {
    if (it->second.deadline <= now) {
      expired.push_back(std::move(it->second.handler));
      it = requests_.erase(it);
    } else {
      next = std::min(next, it->second.deadline);
      ++it;
    }
  }
  if (next != std::chrono::steady_clock::time_point::max()) arm_request_timer(next);
  for (auto& w : expired) post_completion(std::move(w), error_code(error::timeout), message{});
}

// Runs in the read loop, never inside the initiating call, so the handler is invoked through dispatch
// (inline when it runs on this executor) instead of being posted once more.
void connection_impl::deliver_request_reply(message&& msg) {
  if (msg.subject.size() <= reply_prefix_.size()) return;
  std::uint64_t token = 0;
  const char* first = msg.subject.data() + reply_prefix_.size();
  const char* last = msg.subject.data() + msg.subject.size();
  if (auto r = std::from_chars(first, last, token, 36); r.ec != std::errc{} || r.ptr != last) return;
  auto it = requests_.find(token);
  if (it == requests_.end()) return;  // late reply after a timeout
  auto w = std::move(it->second.handler);
  requests_.erase(it);
  auto slot = asio::get_associated_cancellation_slot(w);
  if (slot.is_connected()) slot.clear();
  const error_code ec = msg.status() == 503 && msg.payload.empty() ? error_code(error::no_responders) : error_code{};
  asio::dispatch(asio::append(std::move(w), ec, std::move(msg)));
}

std::string connection_impl::new_inbox() { return opts_.inbox_prefix + "." + nuid_.next(); }

// ---------------------------------------------------------------------------------------------
// Drain, close, events

void connection_impl::drain(void_completion h) {
  if (closed_) return post_completion(std::move(h), error_code(error::connection_closed));
  if (drain_waiter_) return post_completion(std::move(h), error_code(asio::error::already_started));
  if (state_ != connection_state::connected) {
    close();
    return post_completion(std::move(h), error_code{});
  }
  drain_waiter_.emplace(std::move(h));
  state_ = connection_state::draining;
  // UNSUB everything except the reply inbox (requests in flight still get answers), then one PING:
  // its PONG means the server delivered everything it had for us and processed all our publishes.
  std::vector<std::uint64_t> sids;
  for (auto& [sid, s] : subs_)
    if (sid != reply_sid_) sids.push_back(sid);
  for (auto sid : sids) {
    protocol::write_unsub(pending_, sid);
  }
  queue_ping(std::nullopt);
  kick_write();
  drain_timer_ = std::make_unique<asio::steady_timer>(executor_, opts_.drain_timeout);
  drain_timer_->async_wait([self = weak_from_this()](error_code ec) {
    auto c = self.lock();
    if (!c || ec) return;
    c->finish_drain(error::timeout);
  });
}

void connection_impl::finish_drain(error_code ec) {
  if (!drain_waiter_) return;
  auto w = std::move(*drain_waiter_);
  drain_waiter_.reset();
  if (drain_timer_) drain_timer_->cancel();
  std::vector<std::uint64_t> sids;
  for (auto& [sid, s] : subs_) sids.push_back(sid);
  for (auto sid : sids) remove_subscription(sid);
  close();
  post_completion(std::move(w), ec);
}

void connection_impl::close(error_code why) {
  if (closed_) return;
  closed_ = true;
  state_ = connection_state::closed;
  ++generation_;
  if (transport_) transport_->close();
  transport_.reset();
  if (connecting_socket_) {
    error_code ignore;
    connecting_socket_->close(ignore);
  }
  handshake_cancel_.emit(asio::cancellation_type::terminal);
  if (ping_timer_) ping_timer_->cancel();
  if (wait_timer_) wait_timer_->cancel();
  if (drain_timer_) drain_timer_->cancel();
  const error_code closed_ec = error::connection_closed;
  finish_connect(why ? why : closed_ec);
  for (auto& p : pongs_)
    if (p.handler) post_completion(std::move(*p.handler), closed_ec);
  pongs_.clear();
  for (auto& h : deferred_flushes_) post_completion(std::move(h), closed_ec);
  deferred_flushes_.clear();
  auto reqs = std::move(requests_);
  requests_.clear();
  if (request_timer_) request_timer_->cancel();
  request_timer_at_ = std::chrono::steady_clock::time_point::max();
  for (auto& [token, op] : reqs) post_completion(std::move(op.handler), closed_ec, message{});
  auto subs = std::move(subs_);
  subs_.clear();
  for (auto& [sid, s] : subs) {
    s->closed = true;
    if (s->queue_msgs.empty()) complete_waiter(*s, error::subscription_closed);
  }
  if (drain_waiter_) {
    auto w = std::move(*drain_waiter_);
    drain_waiter_.reset();
    post_completion(std::move(w), why ? why : closed_ec);
  }
  pending_.clear();
  write_buf_.reset();
  writing_bytes_ = 0;
  emit(event_kind::closed, why);
}

void connection_impl::emit(event ev) {
  if (opts_.on_event) opts_.on_event(ev);
}

void connection_impl::emit(event_kind kind, error_code ec, std::string text) {
  event ev;
  ev.kind = kind;
  ev.ec = ec;
  ev.text = std::move(text);
  ev.server = current_url_;
  emit(std::move(ev));
}

}  // namespace nats::detail
