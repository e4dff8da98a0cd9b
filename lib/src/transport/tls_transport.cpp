// TLS transport (asio::ssl over OpenSSL 3) and the context/verification setup shared with wss://.
#include "tls_support.hpp"

#include <nats/error.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <stdexcept>
#include <string>

namespace nats::detail {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

namespace {

class verify_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats.tls.verify"; }
  std::string message(int ev) const override {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(ev);
  }
};

class failure_category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats.tls"; }
  std::string message(int ev) const override {
    switch (static_cast<tls_failure>(ev)) {
      case tls_failure::not_tls:
        return "TLS handshake failed: the server did not answer with TLS (wrong version number); is TLS enabled on "
               "that port?";
      case tls_failure::client_certificate_rejected:
        return "TLS: the server rejected the client certificate, or requires one and none was configured";
    }
    return "TLS handshake failed";
  }
};

// A peer that closes the TCP connection without a TLS close_notify is, for NATS, the end of the
// stream like any other: report it as eof.
// With TLS 1.3 the server's verdict on our certificate arrives as an alert on the first read, so
// reads get the same explanations as the handshake.
struct truncation_is_eof {
  error_code operator()(error_code ec) const noexcept {
    return ec == ssl::error::stream_truncated ? error_code(asio::error::eof) : explain_tls_error(ec);
  }
};

class tls_transport final : public transport {
 public:
  tls_transport(std::shared_ptr<ssl::context> ctx, asio::ip::tcp::socket socket)
      : state_(std::make_shared<state>(std::move(ctx), std::move(socket))) {}
  ~tls_transport() override { close(); }

  void async_read_some(asio::mutable_buffer buf, io_handler handler) override {
    state_->stream.async_read_some(buf, mapped_io_handler<truncation_is_eof>{std::move(handler), state_});
  }

  void async_write(std::span<const asio::const_buffer> bufs, io_handler handler) override {
    asio::async_write(state_->stream, buffer_list(bufs.begin(), bufs.end()),
                      mapped_io_handler<same_error>{std::move(handler), state_});
  }

  void close() noexcept override {
    // No close_notify: close() must not block or start I/O; the server copes with a plain close.
    error_code ignored;
    auto& socket = state_->stream.lowest_layer();
    if (!socket.is_open()) return;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  bool is_tls() const noexcept override { return true; }

  ssl::stream<asio::ip::tcp::socket>& stream() noexcept { return state_->stream; }

 private:
  // Shared with pending operations (see mapped_io_handler), so it outlives them.
  struct state {
    state(std::shared_ptr<ssl::context> c, asio::ip::tcp::socket socket)
        : ctx(std::move(c)), stream(std::move(socket), *ctx) {}
    std::shared_ptr<ssl::context> ctx;  // outlives stream (declared first)
    ssl::stream<asio::ip::tcp::socket> stream;
  };
  std::shared_ptr<state> state_;
};

}  // namespace

error_code explain_tls_error(error_code ec) noexcept {
  if (ec.category() != asio::error::get_ssl_category()) return ec;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_WRONG_VERSION_NUMBER:
      return make_error_code(tls_failure::not_tls);
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      return make_error_code(tls_failure::client_certificate_rejected);
    default:
      return ec;
  }
}

const boost::system::error_category& tls_failure_category() noexcept {
  static const failure_category cat;
  return cat;
}

const boost::system::error_category& tls_verify_category() noexcept {
  static const verify_category cat;
  return cat;
}

tls_context_ptr make_tls_context(const tls_options& tls, error_code& ec) {
  ec.clear();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression, ec);
  if (ec) return nullptr;

  if (!tls.insecure_skip_verify_dangerous) {
    if (!tls.ca_pem.empty()) {
      ctx->add_certificate_authority(asio::buffer(tls.ca_pem), ec);
      if (ec) return nullptr;
    }
    if (!tls.ca_file.empty()) {
      ctx->load_verify_file(tls.ca_file, ec);
      if (ec) return nullptr;
    }
    if (tls.ca_pem.empty() && tls.ca_file.empty()) {
      ctx->set_default_verify_paths(ec);
      if (ec) return nullptr;
    }
  }

  const bool has_cert = !tls.cert_pem.empty() || !tls.cert_file.empty();
  const bool has_key = !tls.key_pem.empty() || !tls.key_file.empty();
  if (has_cert != has_key) {  // a client certificate needs its key and vice versa
    ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    return nullptr;
  }
  if (has_cert) {
    if (!tls.cert_pem.empty())
      ctx->use_certificate_chain(asio::buffer(tls.cert_pem), ec);
    else
      ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) return nullptr;
    if (!tls.key_pem.empty())
      ctx->use_private_key(asio::buffer(tls.key_pem), ssl::context::pem, ec);
    else
      ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) return nullptr;
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      ec = error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category());
      ERR_clear_error();
      if (!ec) ec = error::tls_error;
      return nullptr;
    }
  }
  return ctx;
}

error_code prepare_tls_stream(ssl::stream<asio::ip::tcp::socket>& stream, const server_url& url,
                              const tls_options& tls) {
  SSL* ssl_handle = stream.native_handle();
  const std::string& name = tls.server_name.empty() ? url.host : tls.server_name;
  error_code aec;
  asio::ip::make_address(name, aec);
  const bool is_ip = !aec;

  // SNI carries host names only (RFC 6066).
  if (!is_ip && !name.empty() && SSL_set_tlsext_host_name(ssl_handle, name.c_str()) != 1) return error::tls_error;

  if (tls.insecure_skip_verify_dangerous) {
    stream.set_verify_mode(ssl::verify_none);
    return {};
  }
  stream.set_verify_mode(ssl::verify_peer);
  // OpenSSL checks the name itself, so a mismatch shows up as a verify result ("hostname mismatch").
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) return error::tls_error;
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl_handle, name.c_str()) != 1) return error::tls_error;
  }
  return {};
}

error_code describe_handshake_error(error_code ec, SSL* ssl_handle) {
  if (!ec || ec == asio::error::operation_aborted) return ec;
  const long verify = SSL_get_verify_result(ssl_handle);
  if (verify != X509_V_OK) return error_code(static_cast<int>(verify), tls_verify_category());
  if (ec == ssl::error::stream_truncated) return asio::error::eof;  // peer hung up mid-handshake
  return explain_tls_error(ec);
}

void async_upgrade_tls(transport_ptr tcp, const server_url& url, const tls_options& tls, connect_handler handler) {
  async_upgrade_tls(std::move(tcp), url, tls, nullptr, std::move(handler));
}

void async_upgrade_tls(transport_ptr tcp, const server_url& url, const tls_options& tls, tls_context_ptr ctx,
                       connect_handler handler) {
  asio::ip::tcp::socket* socket = tcp ? tcp_socket_of(*tcp) : nullptr;
  // Only a transport made by make_tcp_transport can be upgraded: anything else is a caller bug.
  if (!socket) throw std::invalid_argument("async_upgrade_tls: not a TCP transport");
  const auto executor = socket->get_executor();
  if (!ctx) {
    error_code ec;
    ctx = make_tls_context(tls, ec);
    if (ec) {
      tcp->close();
      asio::post(executor, asio::append(std::move(handler), ec, transport_ptr{}));
      return;
    }
  }
  auto t = std::make_unique<tls_transport>(std::move(ctx), std::move(*socket));
  tcp.reset();
  if (auto pec = prepare_tls_stream(t->stream(), url, tls)) {
    t->close();
    asio::post(executor, asio::append(std::move(handler), pec, transport_ptr{}));
    return;
  }
  auto& stream = t->stream();
  const auto bind = handler_binding::of(handler);
  stream.async_handshake(ssl::stream_base::client,
                         bind([t = std::move(t), h = std::move(handler)](error_code hec) mutable {
                           if (hec) {
                             hec = describe_handshake_error(hec, t->stream().native_handle());
                             t->close();
                             complete(std::move(h), hec, nullptr);
                             return;
                           }
                           complete(std::move(h), error_code{}, std::move(t));
                         }));
}

}  // namespace nats::detail

namespace nats {

bool is_tls_error(const boost::system::error_code& ec) noexcept {
  const auto& cat = ec.category();
  return ec == error::tls_error || ec == error::tls_required || cat == boost::asio::error::get_ssl_category() ||
         cat == detail::tls_verify_category() || cat == detail::tls_failure_category();
}

}  // namespace nats
