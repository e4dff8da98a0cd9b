// nats::connection: the non-template façade. Member templates only wrap handlers into
// any_completion_handler; all the work is in detail::connection_impl, compiled once.
#include <nats/connection.hpp>

#include "detail/connection_impl.hpp"

namespace nats {

const char* to_string(connection_state s) noexcept {
  switch (s) {
    case connection_state::disconnected: return "disconnected";
    case connection_state::connecting: return "connecting";
    case connection_state::connected: return "connected";
    case connection_state::reconnecting: return "reconnecting";
    case connection_state::draining: return "draining";
    case connection_state::closed: return "closed";
  }
  return "unknown";
}

const char* to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::connected: return "connected";
    case event_kind::disconnected: return "disconnected";
    case event_kind::reconnected: return "reconnected";
    case event_kind::closed: return "closed";
    case event_kind::servers_discovered: return "servers_discovered";
    case event_kind::lame_duck: return "lame_duck";
    case event_kind::error: return "error";
    case event_kind::slow_consumer: return "slow_consumer";
    case event_kind::connect_failed: return "connect_failed";
  }
  return "unknown";
}

connection::connection(executor_type ex, options opts)
    : impl_(std::make_shared<detail::connection_impl>(std::move(ex), std::move(opts))) {}

connection::~connection() {
  if (impl_) impl_->close();
}

connection::executor_type connection::get_executor() const noexcept { return impl_->executor_; }
const options& connection::get_options() const noexcept { return impl_->opts_; }
connection_state connection::state() const noexcept { return impl_->state_; }
const protocol::server_info& connection::server_info() const noexcept { return impl_->info_; }
std::string connection::connected_url() const { return impl_->current_url_; }
statistics connection::stats() const noexcept {
  statistics s = impl_->stats_;
  s.pending_bytes = impl_->buffered_bytes();
  return s;
}
boost::system::error_code connection::last_error() const noexcept { return impl_->last_error_; }
std::string connection::last_error_text() const { return impl_->last_error_text_; }
std::size_t connection::buffered_bytes() const noexcept { return impl_->buffered_bytes(); }

void connection::connect_impl(void_handler h) { impl_->start_connect(std::move(h)); }

boost::system::error_code detail::publish_unchecked(connection& nc, std::string_view subject, const headers* hdrs,
                                                    std::string_view payload, std::string_view reply,
                                                    bool check_subject) {
  return nc.impl_->publish_line(subject, hdrs, payload, reply, check_subject, false);
}

boost::system::error_code connection::publish(std::string_view subject, std::string_view payload,
                                              std::string_view reply) {
  return impl_->publish(subject, nullptr, payload, reply);
}

boost::system::error_code connection::publish(std::string_view subject, const headers& hdrs,
                                              std::string_view payload, std::string_view reply) {
  return impl_->publish(subject, &hdrs, payload, reply);
}

subscription connection::subscribe(std::string_view subject, boost::system::error_code& ec, subscribe_options opts) {
  return subscription(impl_->subscribe(subject, nullptr, ec, opts));
}

subscription connection::subscribe(std::string_view subject, message_handler handler, boost::system::error_code& ec,
                                   subscribe_options opts) {
  if (!handler) {
    ec = make_error_code(boost::system::errc::invalid_argument);
    return {};
  }
  return subscription(impl_->subscribe(subject, std::move(handler), ec, opts));
}

void connection::flush_impl(void_handler h) { impl_->flush(std::move(h)); }
void connection::drain_impl(void_handler h) { impl_->drain(std::move(h)); }

void connection::request_impl(std::string_view subject, const headers* hdrs, std::string_view payload,
                              std::chrono::milliseconds timeout, message_completion h) {
  impl_->request(subject, hdrs, payload, timeout, std::move(h));
}

void connection::close() { impl_->close(); }
std::string connection::new_inbox() { return impl_->new_inbox(); }

}  // namespace nats
