#include "fault_proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <mutex>
#include <thread>

namespace nats::test {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct fault_proxy::impl {
  struct session {
    tcp::socket client;
    tcp::socket upstream;
    std::string sent[2];  // indexed by direction
    explicit session(asio::io_context& ioc) : client(ioc), upstream(ioc) {}
    void close_both() {
      error_code ignored;
      client.close(ignored);
      upstream.close(ignored);
    }
  };

  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  int upstream_port;
  std::optional<cut_rule> rule;
  mutable std::mutex mu;  // guards sessions' transcripts and the vector
  std::vector<std::shared_ptr<session>> sessions;
  std::atomic<bool> cut{false};
  std::thread thread;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket s(ioc);
      error_code ec;
      co_await acceptor.async_accept(s, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      auto ss = std::make_shared<session>(ioc);
      ss->client = std::move(s);
      ss->upstream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(upstream_port)), ec);
      std::size_t index;
      {
        std::lock_guard lk(mu);
        index = sessions.size();
        sessions.push_back(ss);
      }
      if (ec) {
        ss->close_both();
        continue;
      }
      std::optional<std::size_t> limit[2];
      if (rule && rule->connection == index) limit[static_cast<int>(rule->dir)] = rule->after_bytes;
      if ((limit[0] && *limit[0] == 0) || (limit[1] && *limit[1] == 0)) {
        cut = true;
        ss->close_both();
        continue;
      }
      asio::co_spawn(ioc, pump(ss, direction::client_to_server, limit[0]), asio::detached);
      asio::co_spawn(ioc, pump(ss, direction::server_to_client, limit[1]), asio::detached);
    }
  }

  asio::awaitable<void> pump(std::shared_ptr<session> ss, direction dir, std::optional<std::size_t> limit) {
    auto& from = dir == direction::client_to_server ? ss->client : ss->upstream;
    auto& to = dir == direction::client_to_server ? ss->upstream : ss->client;
    const int d = static_cast<int>(dir);
    std::array<char, 4096> buf;
    std::size_t forwarded = 0;
    for (;;) {
      error_code ec;
      std::size_t n = co_await from.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      bool cut_now = false;
      if (limit && forwarded + n >= *limit) {
        n = *limit - forwarded;
        cut_now = true;
      }
      {
        std::lock_guard lk(mu);
        ss->sent[d].append(buf.data(), n);
      }
      if (n > 0) co_await asio::async_write(to, asio::buffer(buf.data(), n), asio::redirect_error(asio::use_awaitable, ec));
      forwarded += n;
      if (ec) break;
      if (cut_now) {
        cut = true;
        break;
      }
    }
    ss->close_both();
  }
};

fault_proxy::fault_proxy(int upstream_port, std::optional<cut_rule> rule) : impl_(std::make_unique<impl>()) {
  impl_->upstream_port = upstream_port;
  impl_->rule = rule;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

fault_proxy::~fault_proxy() {
  asio::post(impl_->ioc, [this] {
    error_code ignored;
    impl_->acceptor.close(ignored);
    std::lock_guard lk(impl_->mu);
    for (auto& s : impl_->sessions) s->close_both();
  });
  impl_->thread.join();
}

int fault_proxy::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }

std::string fault_proxy::url() const { return "nats://127.0.0.1:" + std::to_string(port()); }

std::string fault_proxy::transcript(std::size_t connection, direction dir) const {
  std::lock_guard lk(impl_->mu);
  if (connection >= impl_->sessions.size()) return {};
  return impl_->sessions[connection]->sent[static_cast<int>(dir)];
}

std::size_t fault_proxy::connections() const {
  std::lock_guard lk(impl_->mu);
  return impl_->sessions.size();
}

bool fault_proxy::cut_happened() const noexcept { return impl_->cut; }

}  // namespace nats::test
