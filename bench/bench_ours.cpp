// The workloads on our client: one single-threaded io_context, C++20 coroutines, every connection of
// the run on the same thread. publish() only queues; the publishing loops yield to the io_context every
// `batch` messages so that writes (and, in pub/sub, the subscriber's reads) make progress, and they
// keep memory bounded: the publish-only loop waits for a flush when more than `high_water` bytes are
// queued, the pub/sub loop never has more than `window` messages published but not yet received.
#include "bench_common.hpp"

#include <nats/nats.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <string>
#include <vector>

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

// Tunables; the environment variables exist for experiments, the defaults are what RESULTS.md uses.
std::uint64_t env_or(const char* name, std::uint64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : dflt;
}
const std::uint64_t batch = env_or("BENCH_BATCH", 1024);                  // messages between two yields
const std::size_t high_water = env_or("BENCH_HIGH_WATER", 4 * 1024 * 1024);  // pub: queued bytes before a flush
const std::uint64_t window = env_or("BENCH_WINDOW", 32 * 1024);           // pubsub: messages in flight at most

void check(boost::system::error_code ec, const char* what) {
  if (ec) bench::fail(what, ec.message());
}

nats::options make_options(const std::string& url, const char* name) {
  nats::options o;
  o.servers = {url};
  o.name = name;
  return o;
}

awaitable<void> run_pub(const bench::args& a) {
  auto ex = co_await asio::this_coro::executor;
  nats::connection nc(ex, make_options(a.url, "bench-pub"));
  co_await nc.async_connect(use_awaitable);
  const std::string payload(a.size, 'x');

  auto publish_n = [&](std::uint64_t n) -> awaitable<void> {
    for (std::uint64_t i = 0; i < n; ++i) {
      check(nc.publish(bench::pub_subject, payload), "publish");
      if (i % batch == batch - 1) {
        if (nc.buffered_bytes() > high_water)
          co_await nc.async_flush(use_awaitable);
        else
          co_await asio::post(ex, use_awaitable);
      }
    }
  };

  co_await publish_n(a.warmup);
  co_await nc.async_flush(use_awaitable);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  co_await publish_n(a.count);
  co_await nc.async_flush(use_awaitable);
  auto t1 = bench::clock::now();
  bench::print_rate("ours", a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  nc.close();
}

awaitable<void> run_pubsub(const bench::args& a) {
  auto ex = co_await asio::this_coro::executor;
  nats::connection sub_nc(ex, make_options(a.url, "bench-sub"));
  nats::connection pub_nc(ex, make_options(a.url, "bench-pub"));
  co_await sub_nc.async_connect(use_awaitable);
  co_await pub_nc.async_connect(use_awaitable);

  std::uint64_t published = 0, received = 0, target = 0;
  bool waiting = false;  // the publisher sleeps on `wakeup` until the subscriber catches up
  bench::clock::time_point done_at;
  asio::steady_timer wakeup(ex);

  boost::system::error_code ec;
  auto sub = sub_nc.subscribe(
      bench::pubsub_subject,
      [&](nats::message&&) {
        ++received;
        if (received == target) {
          done_at = bench::clock::now();
          wakeup.cancel();
        } else if (waiting && published - received <= window / 2) {
          wakeup.cancel();
        }
      },
      ec);
  check(ec, "subscribe");
  co_await sub_nc.async_flush(use_awaitable);
  const std::string payload(a.size, 'x');

  auto sleep = [&]() -> awaitable<void> {
    waiting = true;
    wakeup.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code wec;
    co_await wakeup.async_wait(asio::redirect_error(use_awaitable, wec));
    waiting = false;
  };
  auto publish_n = [&](std::uint64_t n) -> awaitable<void> {
    target = published + n;  // everything published is received
    for (std::uint64_t i = 0; i < n; ++i) {
      check(pub_nc.publish(bench::pubsub_subject, payload), "publish");
      ++published;
      if (i % batch == batch - 1) {
        if (published - received > window)
          co_await sleep();
        else
          co_await asio::post(ex, use_awaitable);
      }
    }
    co_await pub_nc.async_flush(use_awaitable);
    while (received < target) co_await sleep();
  };

  if (a.warmup > 0) co_await publish_n(a.warmup);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  co_await publish_n(a.count);
  bench::print_rate("ours", a, bench::seconds_between(t0, done_at), bench::cpu_seconds() - c0);
  sub.unsubscribe();
  pub_nc.close();
  sub_nc.close();
}

awaitable<void> run_rr(const bench::args& a) {
  auto ex = co_await asio::this_coro::executor;
  nats::connection resp_nc(ex, make_options(a.url, "bench-responder"));
  nats::connection req_nc(ex, make_options(a.url, "bench-requester"));
  co_await resp_nc.async_connect(use_awaitable);
  co_await req_nc.async_connect(use_awaitable);

  boost::system::error_code ec;
  auto sub = resp_nc.subscribe(
      bench::rr_subject, [&](nats::message&& m) { check(resp_nc.publish(m.reply, m.payload), "respond"); }, ec);
  check(ec, "subscribe");
  co_await resp_nc.async_flush(use_awaitable);
  const std::string payload(a.size, 'x');

  auto one = [&]() -> awaitable<void> {
    nats::message reply =
        co_await req_nc.async_request(bench::rr_subject, payload, std::chrono::seconds(5), use_awaitable);
    if (reply.payload.size() != payload.size()) bench::fail("rr", "wrong reply size");
  };
  for (std::uint64_t i = 0; i < a.warmup; ++i) co_await one();

  std::vector<std::int64_t> lat(a.count);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  for (std::uint64_t i = 0; i < a.count; ++i) {
    auto s = bench::clock::now();
    co_await one();
    lat[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(bench::clock::now() - s).count();
  }
  auto t1 = bench::clock::now();
  bench::print_latency("ours", a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0, lat);
  sub.unsubscribe();
  req_nc.close();
  resp_nc.close();
}

}  // namespace

int main(int argc, char** argv) {
  const auto a = bench::parse_args(argc, argv);
  asio::io_context ioc(1);  // one thread: lets Asio skip its locks
  auto run = [&]() -> awaitable<void> {
    if (a.workload == "pub")
      co_await run_pub(a);
    else if (a.workload == "pubsub")
      co_await run_pubsub(a);
    else
      co_await run_rr(a);
  };
  asio::co_spawn(ioc, run(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
      bench::fail("nats", se.code().message() + " (" + se.what() + ")");
    } catch (const std::exception& ex) {
      bench::fail("nats", ex.what());
    }
  });
  ioc.run();
  return 0;
}
