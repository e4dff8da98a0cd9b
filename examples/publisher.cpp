// Publishes N messages to a subject, then flushes.
// Usage: example_publisher [url] [subject] [count]
#include <nats/nats.hpp>

#include "run_example.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;

asio::awaitable<void> publish(std::string url, std::string subject, int count) {
  nats::options opts;
  opts.servers = {url};
  opts.name = "example-publisher";
  nats::connection conn(co_await asio::this_coro::executor, opts);
  co_await conn.async_connect(asio::use_awaitable);
  for (int i = 1; i <= count; ++i) {
    if (auto ec = conn.publish(subject, "hello #" + std::to_string(i))) {
      std::cerr << "publish failed: " << ec.message() << "\n";
      co_return;
    }
  }
  co_await conn.async_flush(asio::use_awaitable);  // everything above reached the server
  std::cout << "published " << count << " messages to " << subject << "\n";
}

asio::awaitable<void> main_coroutine(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "nats://127.0.0.1:4222";
  std::string subject = argc > 2 ? argv[2] : "demo.greetings";
  int count = argc > 3 ? std::stoi(argv[3]) : 10;
  co_await publish(url, subject, count);
}

int main(int argc, char** argv) { return run_example(main_coroutine, argc, argv); }
