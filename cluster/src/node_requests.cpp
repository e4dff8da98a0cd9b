// Cluster request/reply: core NATS requests on "_CLUSTER.<stream>.req.…" (outside the stream, so
// never stored), answered by responders (node::serve) that share each subject as a queue group.
// See docs/cluster.md "Request and reply".
#include "node_impl.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>

namespace nats::cluster::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// Queue group of the "any responder" and "this instance" subjects (a group uses its own name).
constexpr std::string_view any_queue = "any";
constexpr std::string_view instance_queue = "inst";
// A requester that sends no timeout header (a plain NATS client) is assumed to wait this long.
constexpr milliseconds default_request_wait = 30s;
// Requests handed out but never answered are forgotten after their deadline; this bounds them too.
constexpr std::size_t max_waiting_requests = 100000;

bool too_large(const nats::connection& nc, std::size_t bytes) {
  auto max = nc.server_info().max_payload;
  return max > 0 && bytes > static_cast<std::size_t>(max);
}

}  // namespace

void node_impl::send_request(std::string_view subject, std::string_view payload, const request_options& opts,
                             asio::any_completion_handler<void(error_code, reply)> h) {
  auto fail = [&](error_code ec) { asio::post(ex_, asio::append(std::move(h), ec, reply{})); };
  if (phase_ == phase::idle) return fail(make_error_code(error::not_started));
  if (phase_ == phase::stopped || phase_ == phase::stopping) return fail(make_error_code(error::stopped));
  if (!valid_relative_subject(subject)) return fail(make_error_code(error::invalid_subject));
  if (!opts.instance.empty() && !valid_instance_id(opts.instance))
    return fail(make_error_code(error::invalid_instance_id));
  if (!opts.group.empty() && !valid_group_name(opts.group)) return fail(make_error_code(error::invalid_group));
  if ((!opts.instance.empty() && !opts.group.empty()) || opts.timeout <= 0ms)
    return fail(make_error_code(error::invalid_config));
  if (auto ec = check_user_headers(opts.headers)) return fail(ec);
  // Requests are not queued: a caller waiting for an answer is better told at once.
  if (!nc_ || !nc_->is_connected()) return fail(make_error_code(error::not_connected));
  if (too_large(*nc_, payload.size())) return fail(make_error_code(error::payload_too_large));

  std::string target = !opts.instance.empty() ? request_subject_instance(stream_, opts.instance, subject)
                       : !opts.group.empty()  ? request_subject_group(stream_, opts.group, subject)
                                              : request_subject_any(stream_, subject);
  nats::headers hdrs = opts.headers;
  hdrs.set(std::string(from_header), cfg_.instance_id);
  hdrs.set(std::string(timeout_header), std::to_string(opts.timeout.count()));
  nc_->async_request(
      target, hdrs, payload, opts.timeout,
      [self = shared_from_this(), h = std::move(h)](error_code ec, nats::message m) mutable {
        reply r;
        if (ec == nats::error::no_responders) ec = make_error_code(error::no_responders);
        else if (ec == nats::error::timeout) ec = make_error_code(error::timeout);
        else if (ec == nats::error::max_payload_exceeded) ec = make_error_code(error::payload_too_large);
        else if (ec && self->phase_ == phase::stopped) ec = make_error_code(error::stopped);
        else if (ec == nats::error::not_connected || ec == nats::error::connection_closed ||
                 ec == nats::error::reconnect_buffer_full || ec == nats::error::write_buffer_full)
          ec = make_error_code(error::not_connected);
        if (!ec) {
          if (auto from = m.headers.get(from_header)) r.instance = *from;
          r.payload = std::move(m.payload);
          r.headers = std::move(m.headers);
        }
        asio::post(self->ex_, asio::append(std::move(h), ec, std::move(r)));
      });
}

std::uint64_t node_impl::serve(const serve_options& opts, request_handler handler, error_code& ec) {
  ec = {};
  if (phase_ == phase::stopped || phase_ == phase::stopping) {
    ec = error::stopped;
    return 0;
  }
  auto subjects = parse_patterns(opts.subject);
  if (!subjects || subjects->size() != 1) {
    ec = error::invalid_pattern;
    return 0;
  }
  if (!opts.group.empty() && !valid_group_name(opts.group)) {
    ec = error::invalid_group;
    return 0;
  }
  if (!handler) {
    ec = error::invalid_config;
    return 0;
  }
  auto r = std::make_shared<responder_state>();
  r->id = next_responder_id_++;
  r->opts = opts;
  r->opts.subject = subjects->front();  // trimmed
  r->handler = std::move(handler);
  if (nc_) subscribe_responder(*r);  // else when start() creates the connection
  responders_.emplace(r->id, r);
  return r->id;
}

void node_impl::subscribe_responder(responder_state& r) {
  // Subscriptions of the connection: restored by it on every reconnect.
  auto on_msg = [w = weak_from_this(), id = r.id](nats::message&& m) {
    if (auto self = w.lock()) self->on_request(id, std::move(m));
  };
  auto add = [&](const std::string& subject, std::string_view queue) {
    error_code ec;
    nats::subscribe_options so;
    so.queue_group = std::string(queue);
    auto sub = nc_->subscribe(subject, on_msg, ec, so);
    if (ec) emit_status(status_kind::error, ec, "responder on " + subject + ": " + ec.message());
    else r.subs.push_back(std::move(sub));
  };
  add(request_subject_any(stream_, r.opts.subject), any_queue);
  add(request_subject_instance(stream_, cfg_.instance_id, r.opts.subject), instance_queue);
  if (!r.opts.group.empty()) add(request_subject_group(stream_, r.opts.group, r.opts.subject), r.opts.group);
}

void node_impl::on_request(std::uint64_t responder, nats::message&& m) {
  auto rit = responders_.find(responder);
  if (rit == responders_.end() || phase_ == phase::stopped || m.reply.empty()) return;
  auto& r = *rit->second;
  // The relative subject asked: what follows the any / instance / group part.
  std::string_view rel(m.subject);
  for (auto& base : {request_subject_any(stream_, ""), request_subject_instance(stream_, cfg_.instance_id, ""),
                     request_subject_group(stream_, r.opts.group, "")})
    if (rel.starts_with(base)) {
      rel.remove_prefix(base.size());
      break;
    }
  auto now = steady_clock::now();
  auto wait = default_request_wait;
  if (auto t = m.headers.get(timeout_header)) {
    std::int64_t ms = 0;
    auto [p, ec] = std::from_chars(t->data(), t->data() + t->size(), ms);
    if (ec == std::errc{} && ms > 0) wait = milliseconds(ms);
  }
  // Forget requests whose requester stopped waiting (never answered by the host).
  if (waiting_requests_.size() >= 1024) std::erase_if(waiting_requests_, [&](auto& w) { return w.second.deadline <= now; });
  while (waiting_requests_.size() >= max_waiting_requests) waiting_requests_.erase(waiting_requests_.begin());

  request q;
  q.id = next_request_id_++;
  q.responder = responder;
  q.subject = rel;
  if (auto from = m.headers.get(from_header)) q.source_instance = *from;
  q.payload = std::move(m.payload);
  q.headers = std::move(m.headers);
  q.deadline = now + wait;
  waiting_requests_.emplace(q.id, waiting_request{std::move(m.reply), q.deadline});
  try {
    r.handler(std::move(q));
  } catch (const std::exception& e) {
    emit_status(status_kind::error, make_error_code(error::invalid_config), std::string("request handler threw: ") + e.what());
  } catch (...) {
    emit_status(status_kind::error, make_error_code(error::invalid_config), "request handler threw");
  }
}

error_code node_impl::respond(std::uint64_t id, std::string_view payload, const nats::headers& headers) {
  auto it = waiting_requests_.find(id);
  if (it == waiting_requests_.end()) return make_error_code(error::unknown_request);
  if (it->second.deadline <= steady_clock::now()) {
    waiting_requests_.erase(it);
    return make_error_code(error::unknown_request);
  }
  if (auto ec = check_user_headers(headers)) return ec;  // the request stays answerable
  if (!nc_ || !nc_->is_connected()) return make_error_code(error::not_connected);
  if (too_large(*nc_, payload.size())) return make_error_code(error::payload_too_large);
  nats::headers hdrs = headers;
  hdrs.set(std::string(from_header), cfg_.instance_id);
  auto ec = nc_->publish(it->second.reply, hdrs, payload);
  if (ec == nats::error::max_payload_exceeded) return make_error_code(error::payload_too_large);
  if (ec) return make_error_code(error::not_connected);
  waiting_requests_.erase(it);
  return {};
}

error_code node_impl::stop_serving(std::uint64_t id) {
  auto it = responders_.find(id);
  if (it == responders_.end()) return make_error_code(error::unknown_subscription);
  for (auto& sub : it->second->subs) sub.unsubscribe();
  responders_.erase(it);
  return {};
}

}  // namespace nats::cluster::detail
