// Subscribes to a subject (wildcards allowed) and prints N messages.
// Usage: example_subscriber [url] [subject] [count]
#include <nats/nats.hpp>

#include "run_example.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;

asio::awaitable<void> subscribe(std::string url, std::string subject, int count) {
  nats::options opts;
  opts.servers = {url};
  opts.name = "example-subscriber";
  opts.on_event = [](const nats::event& e) { std::cout << "[event] " << nats::to_string(e.kind) << " " << e.server << "\n"; };
  nats::connection conn(co_await asio::this_coro::executor, opts);
  co_await conn.async_connect(asio::use_awaitable);
  boost::system::error_code ec;
  auto sub = conn.subscribe(subject, ec);
  if (ec) {
    std::cerr << "subscribe failed: " << ec.message() << "\n";
    co_return;
  }
  co_await conn.async_flush(asio::use_awaitable);  // the server knows about us now
  std::cout << "listening on " << subject << std::endl;
  for (int i = 0; i < count; ++i) {
    auto msg = co_await sub.async_next(asio::use_awaitable);
    std::cout << msg.subject << ": " << msg.payload << std::endl;
  }
}

asio::awaitable<void> main_coroutine(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "nats://127.0.0.1:4222";
  std::string subject = argc > 2 ? argv[2] : "demo.>";
  int count = argc > 3 ? std::stoi(argv[3]) : 10;
  co_await subscribe(url, subject, count);
}

int main(int argc, char** argv) { return run_example(main_coroutine, argc, argv); }
