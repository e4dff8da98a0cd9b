// Plain TCP transport: a thin adapter from the transport interface to an Asio TCP socket.
#include "transport.hpp"

#include <boost/asio/write.hpp>
#include <boost/container/small_vector.hpp>

#include <utility>

namespace nats::detail {
namespace {

// Gathered writes rarely have more than a handful of pieces; copying the descriptors (not the bytes)
// into the operation frees the caller from keeping the span itself alive.
using buffer_list = boost::container::small_vector<boost::asio::const_buffer, 16>;

class tcp_transport final : public transport {
 public:
  explicit tcp_transport(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
    boost::system::error_code ignored;
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  }

  void async_read_some(boost::asio::mutable_buffer buf, io_handler handler) override {
    socket_.async_read_some(buf, std::move(handler));
  }

  void async_write(std::span<const boost::asio::const_buffer> bufs, io_handler handler) override {
    boost::asio::async_write(socket_, buffer_list(bufs.begin(), bufs.end()), std::move(handler));
  }

  void close() noexcept override {
    boost::system::error_code ignored;
    if (!socket_.is_open()) return;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  bool is_tls() const noexcept override { return false; }

  boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }

 private:
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace

transport_ptr make_tcp_transport(boost::asio::ip::tcp::socket socket) {
  return std::make_unique<tcp_transport>(std::move(socket));
}

boost::asio::ip::tcp::socket* tcp_socket_of(transport& t) noexcept {
  auto* tcp = dynamic_cast<tcp_transport*>(&t);
  return tcp ? &tcp->socket() : nullptr;
}

}  // namespace nats::detail
