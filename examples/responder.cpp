// Answers requests on a subject (queue group "responders", so several can share the load).
// Usage: example_responder [url] [subject] [count]
#include <nats/nats.hpp>

#include "run_example.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <iostream>

namespace asio = boost::asio;

asio::awaitable<void> respond(std::string url, std::string subject, int count) {
  nats::options opts;
  opts.servers = {url};
  opts.name = "example-responder";
  nats::connection conn(co_await asio::this_coro::executor, opts);
  co_await conn.async_connect(asio::use_awaitable);
  boost::system::error_code ec;
  auto sub = conn.subscribe(subject, ec, {.queue_group = "responders"});
  if (ec) {
    std::cerr << "subscribe failed: " << ec.message() << "\n";
    co_return;
  }
  co_await conn.async_flush(asio::use_awaitable);
  std::cout << "responding on " << subject << std::endl;
  for (int i = 0; i < count; ++i) {
    auto req = co_await sub.async_next(asio::use_awaitable);
    std::string upper = req.payload;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    if (!req.reply.empty()) conn.publish(req.reply, upper);
  }
  co_await conn.async_flush(asio::use_awaitable);
}

asio::awaitable<void> main_coroutine(int argc, char** argv) {
  std::string url = argc > 1 ? argv[1] : "nats://127.0.0.1:4222";
  std::string subject = argc > 2 ? argv[2] : "demo.upper";
  int count = argc > 3 ? std::stoi(argv[3]) : 10;
  co_await respond(url, subject, count);
}

int main(int argc, char** argv) { return run_example(main_coroutine, argc, argv); }
