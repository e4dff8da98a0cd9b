// WebSocket transport (ws:// and wss://) on Boost.Beast. NATS runs over binary messages; the
// server may split or join protocol lines across frames, so reads hand out payload bytes as they
// come, and each write is one binary frame.
#include "tls_support.hpp"

#include <nats/error.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <string>

namespace nats::detail {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;

namespace {

// A close frame from the server ends the stream just like a TCP FIN would.
struct ws_close_is_eof {
  error_code operator()(error_code ec) const noexcept {
    if (ec == websocket::error::closed) return asio::error::eof;
    if (ec == asio::ssl::error::stream_truncated) return asio::error::eof;
    return explain_tls_error(ec);
  }
};

template <class NextLayer>
class ws_transport final : public transport {
 public:
  template <class... Args>
  explicit ws_transport(std::shared_ptr<ssl::context> ctx, Args&&... args)
      : state_(std::make_shared<state>(std::move(ctx), std::forward<Args>(args)...)) {
    auto& ws = state_->ws;
    ws.binary(true);
    ws.auto_fragment(false);  // one frame per write
    ws.read_message_max(0);   // we stream payload bytes; NATS enforces its own limits
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::request_type& req) { req.set(boost::beast::http::field::user_agent, "nats-asio"); }));
  }
  ~ws_transport() override { close(); }

  void async_read_some(asio::mutable_buffer buf, io_handler handler) override {
    state_->ws.async_read_some(buf, mapped_io_handler<ws_close_is_eof>{std::move(handler), state_});
  }

  void async_write(std::span<const asio::const_buffer> bufs, io_handler handler) override {
    state_->ws.async_write(buffer_list(bufs.begin(), bufs.end()),
                           mapped_io_handler<same_error>{std::move(handler), state_});
  }

  void close() noexcept override {
    // No close frame: close() must not start I/O. Closing the socket aborts pending operations.
    error_code ignored;
    auto& socket = boost::beast::get_lowest_layer(state_->ws);
    if (!socket.is_open()) return;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  bool is_tls() const noexcept override { return !std::is_same_v<NextLayer, asio::ip::tcp::socket>; }

  websocket::stream<NextLayer>& ws() noexcept { return state_->ws; }

 private:
  // Shared with pending operations (see mapped_io_handler), so it outlives them.
  struct state {
    template <class... Args>
    explicit state(std::shared_ptr<ssl::context> c, Args&&... args)
        : ctx(std::move(c)), ws(std::forward<Args>(args)...) {}
    std::shared_ptr<ssl::context> ctx;  // wss only; outlives ws (declared first)
    websocket::stream<NextLayer> ws;
  };
  std::shared_ptr<state> state_;
};

using plain_ws = ws_transport<asio::ip::tcp::socket>;
using secure_ws = ws_transport<ssl::stream<asio::ip::tcp::socket>>;

// The Host header: host[:port], IPv6 in brackets, port left out when it is the scheme's default.
std::string host_header(const server_url& url) {
  // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict for `"[" + host`.
  const bool ipv6 = url.host.find(':') != std::string::npos;
  std::string host;
  host.reserve(url.host.size() + 8);
  if (ipv6) host.push_back('[');
  host.append(url.host);
  if (ipv6) host.push_back(']');
  const bool default_port = (url.scheme == "ws" && url.port == 80) || (url.scheme == "wss" && url.port == 443);
  if (!default_port) host.append(":").append(std::to_string(url.port));
  return host;
}

template <class Transport>
void start_ws_handshake(std::unique_ptr<Transport> t, const server_url& url, connect_handler handler,
                        const handler_binding& bind) {
  auto& ws = t->ws();
  const std::string path = url.path.empty() ? "/" : url.path;
  ws.async_handshake(host_header(url), path, bind([t = std::move(t), h = std::move(handler)](error_code ec) mutable {
                       if (ec) {
                         ec = explain_tls_error(ec);  // wss: the server may refuse our certificate only now (TLS 1.3)
                         t->close();
                         complete(std::move(h), ec, nullptr);
                         return;
                       }
                       complete(std::move(h), error_code{}, std::move(t));
                     }));
}

}  // namespace

void async_websocket_handshake(asio::ip::tcp::socket socket, const server_url& url, const tls_options& tls,
                               connect_handler handler) {
  async_websocket_handshake(std::move(socket), url, tls, nullptr, std::move(handler));
}

void async_websocket_handshake(asio::ip::tcp::socket socket, const server_url& url, const tls_options& tls,
                               tls_context_ptr ctx, connect_handler handler) {
  const auto executor = socket.get_executor();
  const auto bind = handler_binding::of(handler);
  if (!url.is_tls()) {
    start_ws_handshake(std::make_unique<plain_ws>(nullptr, std::move(socket)), url, std::move(handler), bind);
    return;
  }

  if (!ctx) {
    error_code ec;
    ctx = make_tls_context(tls, ec);
    if (ec) {
      error_code ignored;
      socket.close(ignored);
      asio::post(executor, asio::append(std::move(handler), ec, transport_ptr{}));
      return;
    }
  }
  auto& ctx_ref = *ctx;  // the context lives in the transport's state, which the stream is built in
  auto t = std::make_unique<secure_ws>(std::move(ctx), std::move(socket), ctx_ref);
  auto& tls_stream = t->ws().next_layer();
  if (auto pec = prepare_tls_stream(tls_stream, url, tls)) {
    t->close();
    asio::post(executor, asio::append(std::move(handler), pec, transport_ptr{}));
    return;
  }
  // TLS first, then the HTTP upgrade inside it.
  tls_stream.async_handshake(ssl::stream_base::client,
                             bind([t = std::move(t), h = std::move(handler), url, bind](error_code hec) mutable {
                               if (hec) {
                                 hec = describe_handshake_error(hec, t->ws().next_layer().native_handle());
                                 t->close();
                                 complete(std::move(h), hec, nullptr);
                                 return;
                               }
                               start_ws_handshake(std::move(t), url, std::move(h), bind);
                             }));
}

}  // namespace nats::detail
