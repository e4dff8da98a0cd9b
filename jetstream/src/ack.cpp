#include <nats/js/ack.hpp>
#include <nats/js/error.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include <string>

namespace nats::js {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// The reply subject of a delivered JetStream message. It came from the server in a MSG line, so the full
// subject check is skipped; only bytes that could break the PUB line are refused (a message built by hand).
bool is_ack_subject(std::string_view reply) {
  if (!reply.starts_with("$JS.ACK.")) return false;
  unsigned bad = 0;
  for (char c : reply) bad |= static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
  return bad == 0;
}

error_code send(connection& nc, const message& m, std::string_view body) {
  if (!is_ack_subject(m.reply)) return make_error_code(error::not_a_jetstream_message);
  return nats::detail::publish_unchecked(nc, m.reply, nullptr, body, {}, false);
}

}  // namespace

error_code ack(connection& nc, const message& m) { return send(nc, m, "+ACK"); }

error_code nak(connection& nc, const message& m, std::chrono::nanoseconds delay) {
  if (delay.count() <= 0) return send(nc, m, "-NAK");
  return send(nc, m, "-NAK {\"delay\":" + std::to_string(delay.count()) + "}");
}

error_code term(connection& nc, const message& m) { return send(nc, m, "+TERM"); }

error_code in_progress(connection& nc, const message& m) { return send(nc, m, "+WPI"); }

namespace detail {

void ack_sync_impl(connection& nc, const message& m, std::chrono::milliseconds timeout,
                   asio::any_completion_handler<void(error_code)> h) {
  if (!is_ack_subject(m.reply)) {
    asio::post(nc.get_executor(), asio::append(std::move(h), make_error_code(error::not_a_jetstream_message)));
    return;
  }
  auto slot = asio::get_associated_cancellation_slot(h);
  // The server answers an ack that carries a reply subject once the ack is processed.
  nc.async_request(m.reply, "+ACK", timeout, asio::bind_cancellation_slot(slot, [h = std::move(h)](error_code ec, message) mutable {
                     asio::dispatch(asio::append(std::move(h), ec));
                   }));
}

}  // namespace detail
}  // namespace nats::js
