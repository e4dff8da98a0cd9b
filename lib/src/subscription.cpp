#include <nats/subscription.hpp>

#include "detail/connection_impl.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

namespace nats {

namespace {
const std::string empty_string;
}

subscription& subscription::operator=(subscription&& other) noexcept {
  if (this != &other) {
    if (state_) (void)unsubscribe();
    state_ = std::move(other.state_);
  }
  return *this;
}

subscription::~subscription() {
  if (state_ && !state_->closed) (void)unsubscribe();
}

std::uint64_t subscription::sid() const noexcept { return state_ ? state_->sid : 0; }
const std::string& subscription::subject() const noexcept { return state_ ? state_->subject : empty_string; }
const std::string& subscription::queue_group() const noexcept { return state_ ? state_->queue : empty_string; }
std::size_t subscription::pending_messages() const noexcept { return state_ ? state_->queue_msgs.size() : 0; }
std::size_t subscription::pending_bytes() const noexcept { return state_ ? state_->queued_bytes : 0; }
std::uint64_t subscription::dropped() const noexcept { return state_ ? state_->dropped : 0; }
std::uint64_t subscription::delivered() const noexcept { return state_ ? state_->delivered : 0; }

void subscription::set_pending_limits(std::size_t msgs, std::size_t bytes) noexcept {
  if (!state_) return;
  state_->max_msgs = msgs;
  state_->max_bytes = bytes;
}

boost::system::error_code subscription::unsubscribe() {
  if (!state_) return error::subscription_closed;
  auto conn = state_->conn.lock();
  if (!conn) {
    state_->closed = true;
    return error::connection_closed;
  }
  return conn->unsubscribe(state_);
}

boost::system::error_code subscription::auto_unsubscribe(std::uint64_t max) {
  if (!state_) return error::subscription_closed;
  auto conn = state_->conn.lock();
  if (!conn) return error::connection_closed;
  return conn->auto_unsubscribe(state_, max);
}

void subscription::next_impl(boost::asio::any_completion_handler<void(boost::system::error_code, message)> h) {
  if (!state_) {
    // An empty handle has no executor to post to; this is a usage error, reported at once.
    std::move(h)(make_error_code(error::subscription_closed), message{});
    return;
  }
  auto conn = state_->conn.lock();
  if (!conn) {
    boost::asio::post(state_->executor,
                      boost::asio::append(std::move(h), make_error_code(error::connection_closed), message{}));
    return;
  }
  conn->next(state_, std::move(h));
}

}  // namespace nats
