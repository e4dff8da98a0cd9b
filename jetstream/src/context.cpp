// JetStream context: each operation is one (or a few paged) request(s) on the API subject, decoded by
// the sans-io codecs in codec.cpp.
#include <nats/js/context.hpp>
#include <nats/js/json.hpp>

#include <algorithm>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <memory>

namespace nats::js {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// Completes a type-erased handler on its own executor (inline when it has none).
template <class H, class... Args>
void complete(H&& h, Args&&... args) {
  asio::dispatch(asio::append(std::forward<H>(h), std::forward<Args>(args)...));
}

/// One API request → T, decoded by `decode(payload, T&, api_error&)`.
template <class T, class Decode>
void api_call(context& js, std::string subject, std::string_view body, context::handler<T> h, Decode decode) {
  auto slot = asio::get_associated_cancellation_slot(h);
  js.conn().async_request(
      subject, body, js.options().timeout,
      asio::bind_cancellation_slot(slot, [&js, h = std::move(h), decode](error_code ec, message m) mutable {
        T out{};
        if (!ec) {
          api_error api;
          ec = decode(std::string_view(m.payload), out, api);
          if (api) js.set_last_api_error(std::move(api));
        } else if (ec == nats::error::no_responders) {
          // Nobody serves the JetStream API here: JetStream is not enabled (or no leader yet).
          ec = make_error_code(error::jetstream_not_enabled);
        }
        if (ec) out = T{};
        complete(std::move(h), ec, std::move(out));
      }));
}

template <class T>
auto decoder() {
  return [](std::string_view payload, T& out, api_error& api) { return json::decode(payload, out, api); };
}

auto success_decoder() {
  return [](std::string_view payload, bool& out, api_error& api) {
    auto ec = json::decode_success(payload, api);
    out = !ec;
    return ec;
  };
}

// Collects every page of a names/list API.
template <class Page, class Item>
struct pager : std::enable_shared_from_this<pager<Page, Item>> {
  context& js;
  std::string subject;
  std::string filter;
  std::vector<Item> items;
  context::handler<std::vector<Item>> h;
  std::vector<Item>& (*pick)(Page&);

  pager(context& j, std::string s, std::string f, context::handler<std::vector<Item>> hh, std::vector<Item>& (*p)(Page&))
      : js(j), subject(std::move(s)), filter(std::move(f)), h(std::move(hh)), pick(p) {}

  void next() {
    auto self = this->shared_from_this();
    js.conn().async_request(subject, json::encode_list_request(items.size(), filter), js.options().timeout,
                            [self](error_code ec, message m) { self->on_page(ec, std::move(m)); });
  }
  void on_page(error_code ec, message m) {
    Page page;
    if (!ec) {
      api_error api;
      ec = json::decode(m.payload, page, api);
      if (api) js.set_last_api_error(std::move(api));
    } else if (ec == nats::error::no_responders) {
      ec = make_error_code(error::jetstream_not_enabled);
    }
    if (ec) return complete(std::move(h), ec, std::vector<Item>{});
    auto& got = pick(page);
    const bool empty = got.empty();
    for (auto& i : got) items.push_back(std::move(i));
    if (empty || items.size() >= page.total) return complete(std::move(h), error_code{}, std::move(items));
    next();
  }
};

std::vector<std::string>& pick_names(json::names_page& p) { return p.names; }
std::vector<stream_info>& pick_streams(json::stream_list_page& p) { return p.streams; }
std::vector<consumer_info>& pick_consumers(json::consumer_list_page& p) { return p.consumers; }

template <class H>
bool reject_name(std::string_view name, H& h) {
  if (valid_name(name)) return false;
  complete(std::move(h), make_error_code(error::invalid_name));
  return true;
}
template <class T>
bool reject_name(std::string_view name, context::handler<T>& h) {
  if (valid_name(name)) return false;
  complete(std::move(h), make_error_code(error::invalid_name), T{});
  return true;
}

std::string u64s(std::uint64_t v) { return std::to_string(v); }

// Adapts a void(error_code) handler to the void(error_code, bool) shape api_call produces, keeping its
// cancellation slot.
context::handler<bool> as_bool_handler(context::void_handler h) {
  auto slot = asio::get_associated_cancellation_slot(h);
  return asio::bind_cancellation_slot(slot, [h = std::move(h)](error_code ec, bool) mutable {
    complete(std::move(h), ec);
  });
}

}  // namespace

bool valid_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.' || c == '*' || c == '>' || c == '/' || c == '\\' || u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

void publish_options::apply(headers& h) const {
  if (!msg_id.empty()) h.set("Nats-Msg-Id", msg_id);
  if (!expected_stream.empty()) h.set("Nats-Expected-Stream", expected_stream);
  if (expected_last_seq) h.set("Nats-Expected-Last-Sequence", u64s(*expected_last_seq));
  if (expected_last_subject_seq) h.set("Nats-Expected-Last-Subject-Sequence", u64s(*expected_last_subject_seq));
  if (!expected_last_msg_id.empty()) h.set("Nats-Expected-Last-Msg-Id", expected_last_msg_id);
}

context::context(connection& nc, context_options opts) : nc_(&nc), opts_(std::move(opts)) {
  if (!opts_.api_prefix.empty()) {
    prefix_ = opts_.api_prefix;
    while (!prefix_.empty() && prefix_.back() == '.') prefix_.pop_back();
  } else if (!opts_.domain.empty()) {
    prefix_ = "$JS." + opts_.domain + ".API";
  } else {
    prefix_ = "$JS.API";
  }
}

void context::api_request_impl(std::string_view api_subject, std::string_view body, handler<message> h) {
  auto slot = asio::get_associated_cancellation_slot(h);
  nc_->async_request(prefix_ + "." + std::string(api_subject), body, opts_.timeout,
                     asio::bind_cancellation_slot(slot, [h = std::move(h)](error_code ec, message m) mutable {
                       complete(std::move(h), ec, std::move(m));
                     }));
}

void context::add_stream_impl(const stream_config& cfg, bool update, handler<stream_info> h) {
  if (reject_name(cfg.name, h)) return;
  api_call(*this, prefix_ + (update ? ".STREAM.UPDATE." : ".STREAM.CREATE.") + cfg.name, json::encode(cfg),
           std::move(h), decoder<stream_info>());
}

void context::stream_info_impl(std::string_view stream, handler<stream_info> h) {
  if (reject_name(stream, h)) return;
  api_call(*this, prefix_ + ".STREAM.INFO." + std::string(stream), "", std::move(h), decoder<stream_info>());
}

void context::delete_stream_impl(std::string_view stream, void_handler h) {
  if (reject_name(stream, h)) return;
  handler<bool> hb = as_bool_handler(std::move(h));
  api_call(*this, prefix_ + ".STREAM.DELETE." + std::string(stream), "", std::move(hb), success_decoder());
}

void context::purge_stream_impl(std::string_view stream, const purge_options& opts, handler<std::uint64_t> h) {
  if (reject_name(stream, h)) return;
  api_call(*this, prefix_ + ".STREAM.PURGE." + std::string(stream), json::encode(opts), std::move(h),
           [](std::string_view p, std::uint64_t& out, api_error& api) { return json::decode_success(p, api, &out); });
}

void context::stream_names_impl(std::string_view filter, handler<std::vector<std::string>> h) {
  std::make_shared<pager<json::names_page, std::string>>(*this, prefix_ + ".STREAM.NAMES", std::string(filter),
                                                         std::move(h), &pick_names)
      ->next();
}

void context::list_streams_impl(handler<std::vector<stream_info>> h) {
  std::make_shared<pager<json::stream_list_page, stream_info>>(*this, prefix_ + ".STREAM.LIST", std::string(),
                                                               std::move(h), &pick_streams)
      ->next();
}

namespace {

// "2.9.10" → {2, 9, 10}; missing parts are 0.
std::array<int, 3> parse_version(std::string_view v) {
  std::array<int, 3> out{0, 0, 0};
  for (std::size_t i = 0; i < 3 && !v.empty(); ++i) {
    int n = 0;
    std::size_t k = 0;
    while (k < v.size() && v[k] >= '0' && v[k] <= '9') n = n * 10 + (v[k++] - '0');
    out[i] = n;
    const auto dot = v.find('.');
    if (dot == std::string_view::npos) break;
    v.remove_prefix(dot + 1);
  }
  return out;
}

}  // namespace

bool context::server_at_least(int major, int minor, int patch) const {
  return parse_version(nc_->server_info().version) >= std::array<int, 3>{major, minor, patch};
}

void context::add_consumer_impl(std::string_view stream, const consumer_config& cfg_in, consumer_create_action action,
                                handler<consumer_info> h) {
  if (reject_name(stream, h)) return;
  consumer_config cfg = cfg_in;
  // Multi-filter consumers need 2.10; before that one filter still works as filter_subject.
  if (!cfg.filter_subjects.empty() && !server_at_least(2, 10, 0)) {
    if (cfg.filter_subjects.size() > 1 || !cfg.filter_subject.empty()) {
      complete(std::move(h), make_error_code(error::not_supported), consumer_info{});
      return;
    }
    cfg.filter_subject = cfg.filter_subjects.front();
    cfg.filter_subjects.clear();
  }
  std::string subject;
  if (!cfg.durable_name.empty()) {
    if (reject_name(cfg.durable_name, h)) return;
    subject = prefix_ + ".CONSUMER.DURABLE.CREATE." + std::string(stream) + "." + cfg.durable_name;
  } else if (!cfg.name.empty()) {
    if (reject_name(cfg.name, h)) return;
    subject = prefix_ + ".CONSUMER.CREATE." + std::string(stream) + "." + cfg.name;
  } else {
    subject = prefix_ + ".CONSUMER.CREATE." + std::string(stream);
  }
  const auto act = action == consumer_create_action::create   ? json::consumer_action::create
                   : action == consumer_create_action::update ? json::consumer_action::update
                                                              : json::consumer_action::create_or_update;
  api_call(*this, std::move(subject), json::encode_consumer_create(stream, cfg, act), std::move(h),
           decoder<consumer_info>());
}

void context::consumer_info_impl(std::string_view stream, std::string_view consumer, handler<consumer_info> h) {
  if (reject_name(stream, h) || reject_name(consumer, h)) return;
  api_call(*this, prefix_ + ".CONSUMER.INFO." + std::string(stream) + "." + std::string(consumer), "", std::move(h),
           decoder<consumer_info>());
}

void context::delete_consumer_impl(std::string_view stream, std::string_view consumer, void_handler h) {
  if (reject_name(stream, h) || reject_name(consumer, h)) return;
  handler<bool> hb = as_bool_handler(std::move(h));
  api_call(*this, prefix_ + ".CONSUMER.DELETE." + std::string(stream) + "." + std::string(consumer), "",
           std::move(hb), success_decoder());
}

void context::consumer_names_impl(std::string_view stream, handler<std::vector<std::string>> h) {
  if (reject_name(stream, h)) return;
  std::make_shared<pager<json::names_page, std::string>>(*this, prefix_ + ".CONSUMER.NAMES." + std::string(stream),
                                                         std::string(), std::move(h), &pick_names)
      ->next();
}

void context::list_consumers_impl(std::string_view stream, handler<std::vector<consumer_info>> h) {
  if (reject_name(stream, h)) return;
  std::make_shared<pager<json::consumer_list_page, consumer_info>>(
      *this, prefix_ + ".CONSUMER.LIST." + std::string(stream), std::string(), std::move(h), &pick_consumers)
      ->next();
}

namespace {

struct publish_op : std::enable_shared_from_this<publish_op> {
  context& js;
  std::string subject;
  headers hdrs;
  std::string payload;
  std::chrono::milliseconds timeout;
  int attempts_left;
  std::chrono::milliseconds wait;
  context::handler<pub_ack> h;
  asio::cancellation_slot slot;
  asio::steady_timer timer;

  publish_op(context& j, std::string_view s, headers hh, std::string_view p, std::chrono::milliseconds t, int a,
             std::chrono::milliseconds w, context::handler<pub_ack> handler)
      : js(j), subject(s), hdrs(std::move(hh)), payload(p), timeout(t), attempts_left(a), wait(w),
        h(std::move(handler)), slot(asio::get_associated_cancellation_slot(h)), timer(j.conn().get_executor()) {}

  void send() {
    auto self = shared_from_this();
    js.conn().async_request(subject, hdrs, payload, timeout,
                            asio::bind_cancellation_slot(slot, [self](error_code ec, message m) {
                              self->on_reply(ec, std::move(m));
                            }));
  }
  void on_reply(error_code ec, message m) {
    if (ec == nats::error::no_responders) {
      // No stream listens (yet): a leader may be being elected. Retry with the same Msg-Id.
      if (attempts_left-- > 0) {
        timer.expires_after(wait);
        wait = std::min(wait * 2, js.options().publish_retry_max_wait);
        auto self = shared_from_this();
        timer.async_wait(asio::bind_cancellation_slot(slot, [self](error_code tec) {
          if (tec) return complete(std::move(self->h), tec, pub_ack{});
          self->send();
        }));
        return;
      }
      return complete(std::move(h), make_error_code(error::no_stream_response), pub_ack{});
    }
    pub_ack ack;
    if (!ec) {
      api_error api;
      ec = json::decode(m.payload, ack, api);
      if (api) js.set_last_api_error(std::move(api));
    }
    if (ec) ack = {};
    complete(std::move(h), ec, std::move(ack));
  }
};

}  // namespace

void context::publish_impl(std::string_view subject, const headers& hdrs, std::string_view payload,
                           const publish_options& opts, handler<pub_ack> h) {
  headers all = hdrs;
  opts.apply(all);
  std::make_shared<publish_op>(*this, subject, std::move(all), payload, opts.timeout.value_or(opts_.timeout),
                               opts.retry_attempts.value_or(opts_.publish_retry_attempts), opts_.publish_retry_wait,
                               std::move(h))
      ->send();
}

void context::get_msg_impl(std::string_view stream, const get_msg_request& req, bool direct, handler<stored_msg> h) {
  if (reject_name(stream, h)) return;
  if (!direct) {
    api_call(*this, prefix_ + ".STREAM.MSG.GET." + std::string(stream), json::encode(req), std::move(h),
             decoder<stored_msg>());
    return;
  }
  auto slot = asio::get_associated_cancellation_slot(h);
  nc_->async_request(prefix_ + ".DIRECT.GET." + std::string(stream), json::encode(req), opts_.timeout,
                     asio::bind_cancellation_slot(slot, [this, h = std::move(h)](error_code ec, message m) mutable {
                       stored_msg out;
                       if (!ec) {
                         api_error api;
                         ec = json::from_direct_get(m, out, api);
                         if (api) set_last_api_error(std::move(api));
                       } else if (ec == nats::error::no_responders) {
                         // Nobody serves direct gets for this name: no such stream (or no allow_direct).
                         ec = make_error_code(error::stream_not_found);
                       }
                       if (ec) out = {};
                       complete(std::move(h), ec, std::move(out));
                     }));
}

void context::delete_msg_impl(std::string_view stream, std::uint64_t seq, bool erase, void_handler h) {
  if (reject_name(stream, h)) return;
  std::string body = "{\"seq\":" + u64s(seq) + (erase ? "}" : ",\"no_erase\":true}");
  handler<bool> hb = as_bool_handler(std::move(h));
  api_call(*this, prefix_ + ".STREAM.MSG.DELETE." + std::string(stream), body, std::move(hb), success_decoder());
}

}  // namespace nats::js
