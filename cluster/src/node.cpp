// The public façade: forwards to node_impl (node_impl.cpp) and the connection test.
#include "node_impl.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/asio/ssl/error.hpp>

namespace nats::cluster {

namespace asio = boost::asio;
using boost::system::error_code;

node::node(executor_type ex, config cfg) : impl_(std::make_shared<detail::node_impl>(std::move(ex), std::move(cfg))) {}
node::~node() {
  if (impl_) impl_->shutdown();
}

node::executor_type node::get_executor() const noexcept { return impl_->ex_; }
const config& node::get_config() const noexcept { return impl_->cfg_; }
const std::string& node::prefix() const noexcept { return impl_->prefix_; }
const std::string& node::stream() const noexcept { return impl_->stream_; }
const std::string& node::bucket() const noexcept { return impl_->bucket_; }
bool node::is_connected() const noexcept { return impl_->is_ready(); }
node_stats node::stats() const noexcept {
  auto s = impl_->stats_;
  s.outbox_messages = impl_->outbox_count();
  s.outbox_bytes = impl_->outbox_size_bytes();
  return s;
}

void node::start_impl(void_handler h) { impl_->start(std::move(h)); }
void node::publish_impl(std::string_view subject, std::string_view payload, const publish_options& opts, void_handler h) {
  impl_->publish(subject, payload, opts, std::move(h));
}
void node::register_endpoint_impl(std::string_view subject, delivery_mode mode, std::chrono::milliseconds ttl,
                                  void_handler h) {
  impl_->register_endpoint(subject, mode, ttl, std::move(h));
}
std::uint64_t node::subscribe(const subscribe_options& opts, delivery_handler handler, error_code& ec) {
  return impl_->subscribe(opts, std::move(handler), ec);
}
error_code node::ack(std::uint64_t id) { return impl_->ack(id); }
error_code node::nak(std::uint64_t id, std::chrono::milliseconds delay) { return impl_->nak(id, delay); }
void node::unsubscribe_impl(std::uint64_t id, bool remove_consumer, void_handler h) {
  impl_->unsubscribe(id, remove_consumer, std::move(h));
}
void node::request_impl(std::string_view subject, std::string_view payload, const request_options& opts,
                        reply_handler h) {
  impl_->send_request(subject, payload, opts, std::move(h));
}
std::uint64_t node::serve(const serve_options& opts, request_handler handler, error_code& ec) {
  return impl_->serve(opts, std::move(handler), ec);
}
error_code node::respond(std::uint64_t request_id, std::string_view payload, const nats::headers& headers) {
  return impl_->respond(request_id, payload, headers);
}
error_code node::stop_serving(std::uint64_t responder_id) { return impl_->stop_serving(responder_id); }
void node::discover_impl(discover_handler h) {
  asio::post(impl_->ex_, asio::append(std::move(h), error_code{}, impl_->snapshot()));
}
void node::set_status_handler(status_handler h) { impl_->on_status_ = std::move(h); }
void node::set_discovery_handler(discovery_handler h) { impl_->on_discovery_ = std::move(h); }
status_event node::status() const { return impl_->status_; }
void node::stop_impl(std::chrono::milliseconds timeout, void_handler h) { impl_->stop(timeout, std::move(h)); }

namespace {

// Credentials that could not be used at all: a seed or .creds that does not parse, or nkey login
// against a server that offers none. A login problem, not a TLS one.
bool is_credentials_problem(const error_code& ec) {
  return ec == nats::error::bad_seed || ec == nats::error::bad_credentials || ec == nats::error::nonce_required;
}

// Errors that mean no NATS server answered at all.
bool unreachable(const error_code& ec) {
  return ec == nats::error::connect_timeout || ec == nats::error::no_servers || ec == nats::error::invalid_url ||
         ec.category() == boost::system::system_category() || ec.category() == asio::error::get_netdb_category() ||
         ec.category() == asio::error::get_addrinfo_category() || ec == asio::error::eof;
}

asio::awaitable<test_result> run_test(asio::any_io_executor ex, config cfg, std::chrono::milliseconds timeout) {
  test_result r;
  nats::options o = cfg.connection;
  o.on_event = nullptr;
  o.retry_on_failed_connect = false;
  o.reconnect.enabled = false;
  o.connect_timeout = std::min(o.connect_timeout, timeout);
  o.name = "nats-cluster connection test";
  auto nc = std::make_shared<nats::connection>(ex, std::move(o));
  // A deadline for the whole test: closing the connection ends whatever is in progress.
  auto timer = std::make_shared<asio::steady_timer>(ex, timeout);
  auto timed_out = std::make_shared<bool>(false);
  timer->async_wait([nc, timed_out](error_code ec) {
    if (!ec) {
      *timed_out = true;
      nc->close();
    }
  });
  auto [ec] = co_await nc->async_connect(asio::as_tuple(asio::use_awaitable));
  if (*timed_out && ec) ec = nats::error::timeout;
  r.server = nc->connected_url();
  r.server_version = nc->server_info().version;
  if (ec) {
    r.ec = ec;
    r.error_text = ec.message();
    if (auto t = nc->last_error_text(); !t.empty() && t != r.error_text) r.error_text += ": " + t;
    if (is_auth_error(ec) || ec == nats::error::authorization_violation || is_credentials_problem(ec)) {
      r.reachable = true;
      r.tls_ok = true;
    } else if (nats::is_tls_error(ec)) {
      r.reachable = true;
    } else if (!unreachable(ec) && ec != nats::error::timeout) {
      // The server answered and neither TLS nor the login was refused (a protocol error, a server
      // limit...): the error itself says what.
      r.reachable = r.tls_ok = r.auth_ok = true;
    }
    timer->cancel();
    nc->close();
    co_return r;
  }
  r.reachable = r.tls_ok = r.auth_ok = true;
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(timer->expiry() - asio::steady_timer::clock_type::now());
  if (remaining < std::chrono::milliseconds(100)) remaining = std::chrono::milliseconds(100);
  auto [jec, m] = co_await nc->async_request("$JS.API.INFO", "", remaining, asio::as_tuple(asio::use_awaitable));
  if (!jec && m.payload.find("\"error\"") == std::string::npos && m.status() == 0) {
    r.jetstream_enabled = true;
  } else {
    r.ec = make_error_code(error::jetstream_unavailable);
    r.error_text = jec ? "JetStream: " + jec.message() : "JetStream: " + m.payload;
  }
  timer->cancel();
  nc->close();
  co_return r;
}

}  // namespace

void node::test_connection_impl(executor_type ex, config cfg, std::chrono::milliseconds timeout, test_handler h) {
  asio::co_spawn(ex, run_test(ex, std::move(cfg), timeout),
                 [h = std::move(h)](std::exception_ptr e, test_result r) mutable {
                   if (e) {
                     r = {};
                     r.ec = make_error_code(error::invalid_config);
                     r.error_text = "connection test failed unexpectedly";
                   }
                   std::move(h)(std::move(r));
                 });
}

}  // namespace nats::cluster
