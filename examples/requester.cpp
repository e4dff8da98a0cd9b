// Sends requests and prints the replies; shows the no-responders and timeout errors.
// Usage: example_requester [url] [subject] [count]
#include <nats/nats.hpp>

#include "run_example.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<void> request(std::string url, std::string subject, int count) {
  nats::options opts;
  opts.servers = {url};
  opts.name = "example-requester";
  nats::connection conn(co_await asio::this_coro::executor, opts);
  co_await conn.async_connect(asio::use_awaitable);
  for (int i = 1; i <= count; ++i) {
    // as_tuple: errors come back as values instead of exceptions.
    auto [ec, reply] = co_await conn.async_request(subject, "request " + std::to_string(i), 2s,
                                                   asio::as_tuple(asio::use_awaitable));
    if (ec == nats::error::no_responders) {
      std::cout << "nobody is listening on " << subject << "\n";
      co_return;
    }
    if (ec) {
      std::cout << "request failed: " << ec.message() << "\n";
      co_return;
    }
    std::cout << "reply: " << reply.payload << "\n";
  }
}

asio::awaitable<void> main_coroutine(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "nats://127.0.0.1:4222";
  std::string subject = argc > 2 ? argv[2] : "demo.upper";
  int count = argc > 3 ? std::stoi(argv[3]) : 10;
  co_await request(url, subject, count);
}

int main(int argc, char** argv) { return run_example(main_coroutine, argc, argv); }
