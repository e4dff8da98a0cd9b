#include <nats/js/publisher.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <deque>

namespace nats::js::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using void_handler = asio::any_completion_handler<void(error_code)>;

struct publisher_state : std::enable_shared_from_this<publisher_state> {
  struct queued {
    std::string subject;
    headers hdrs;
    std::string payload;
    publish_options opts;
    void_handler h;
  };

  context& js;
  publisher_options opts;
  std::size_t outstanding = 0;
  std::deque<queued> waiting;  // callers blocked by the window (one per caller awaiting)
  std::vector<void_handler> all_waiters;
  error_code first_error;
  std::uint64_t acked = 0, failed = 0;
  bool closed = false;

  publisher_state(context& j, publisher_options o) : js(j), opts(std::move(o)) {
    if (opts.max_pending == 0) opts.max_pending = 1;
  }

  void post(void_handler h, error_code ec) {
    asio::post(js.conn().get_executor(), asio::append(std::move(h), ec));
  }

  void send(queued q) {
    ++outstanding;
    auto self = shared_from_this();
    std::string subject = q.subject, msg_id = q.opts.msg_id;
    js.async_publish(q.subject, q.hdrs, q.payload, q.opts,
                     [self, subject = std::move(subject), msg_id = std::move(msg_id)](error_code ec, pub_ack ack) mutable {
                       self->on_ack(publish_result{ec, std::move(ack), std::move(subject), std::move(msg_id)});
                     });
    post(std::move(q.h), {});
  }

  void on_ack(publish_result r) {
    --outstanding;
    if (r.ec) {
      ++failed;
      if (!first_error) first_error = r.ec;
    } else {
      ++acked;
    }
    if (opts.on_ack) opts.on_ack(r);
    while (!waiting.empty() && outstanding < opts.max_pending) {
      auto q = std::move(waiting.front());
      waiting.pop_front();
      send(std::move(q));
    }
    if (outstanding == 0 && waiting.empty()) {
      auto ws = std::move(all_waiters);
      all_waiters.clear();
      const auto ec = first_error;
      first_error = {};
      for (auto& w : ws) post(std::move(w), ec);
    }
  }
};

}  // namespace nats::js::detail

namespace nats::js {

async_publisher::async_publisher(context& js, publisher_options opts)
    : state_(std::make_shared<detail::publisher_state>(js, std::move(opts))) {}

async_publisher::~async_publisher() {
  state_->closed = true;
  auto waiting = std::move(state_->waiting);
  state_->waiting.clear();
  for (auto& q : waiting) state_->post(std::move(q.h), make_error_code(error::publisher_closed));
  auto ws = std::move(state_->all_waiters);
  state_->all_waiters.clear();
  for (auto& w : ws) state_->post(std::move(w), make_error_code(error::publisher_closed));
}

void async_publisher::publish_impl(std::string_view subject, const headers& hdrs, std::string_view payload,
                                   const publish_options& opts, void_handler h) {
  detail::publisher_state::queued q{std::string(subject), hdrs, std::string(payload), opts, std::move(h)};
  if (state_->outstanding < state_->opts.max_pending && state_->waiting.empty()) {
    state_->send(std::move(q));
  } else {
    state_->waiting.push_back(std::move(q));
  }
}

void async_publisher::wait_all_impl(void_handler h) {
  if (state_->outstanding == 0 && state_->waiting.empty()) {
    const auto ec = state_->first_error;
    state_->first_error = {};
    state_->post(std::move(h), ec);
    return;
  }
  state_->all_waiters.push_back(std::move(h));
}

std::size_t async_publisher::outstanding() const noexcept { return state_->outstanding; }
std::size_t async_publisher::max_pending() const noexcept { return state_->opts.max_pending; }
std::uint64_t async_publisher::acked() const noexcept { return state_->acked; }
std::uint64_t async_publisher::failed() const noexcept { return state_->failed; }

}  // namespace nats::js
