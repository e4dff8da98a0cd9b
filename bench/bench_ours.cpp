// The workloads on our client: one single-threaded io_context, C++20 coroutines, every connection of
// the run on the same thread. publish() only queues; the publishing loops yield to the io_context every
// `batch` messages so that writes (and, in pub/sub, the subscriber's reads) make progress, and they
// keep memory bounded: the publish-only loop waits for a flush when more than `high_water` bytes are
// queued, the pub/sub loop never has more than `window` messages published but not yet received.
#include "bench_common.hpp"

#include <nats/nats.hpp>
#include <nats/js/jetstream.hpp>
#include <nats/kv/kv.hpp>

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

// ---------------------------------------------------------------- JetStream and KV
// Every operation is awaited on the same single-threaded io_context as above.

awaitable<void> add_bench_stream(nats::js::context& js) {
  nats::js::stream_config cfg;
  cfg.name = bench::js_stream;
  cfg.subjects = {bench::js_subjects};
  cfg.storage = nats::js::storage_type::file;
  co_await js.async_add_stream(cfg, use_awaitable);
}

// Publishes n messages through an async_publisher (window bench::js_window) and waits for every ack.
awaitable<void> js_publish_n(nats::js::async_publisher& pub, const std::string& payload, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) co_await pub.async_publish(bench::js_subject, payload, use_awaitable);
  co_await pub.async_wait_all(use_awaitable);
  if (pub.failed() != 0) bench::fail("jspub", std::to_string(pub.failed()) + " publishes failed");
}

awaitable<void> run_jspub(const bench::args& a) {
  auto ex = co_await asio::this_coro::executor;
  nats::connection nc(ex, make_options(a.url, "bench-jspub"));
  co_await nc.async_connect(use_awaitable);
  nats::js::context js(nc);
  co_await add_bench_stream(js);
  nats::js::publisher_options po;
  po.max_pending = bench::js_window;
  nats::js::async_publisher pub(js, po);
  const std::string payload(a.size, 'x');

  co_await js_publish_n(pub, payload, a.warmup);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  co_await js_publish_n(pub, payload, a.count);
  auto t1 = bench::clock::now();
  bench::print_rate("ours", a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  nc.close();
}

// Fetches (batch bench::js_batch) and acks n messages one by one; the acks are flushed at the end.
awaitable<void> js_fetch_n(nats::connection& nc, nats::js::context& js, std::uint64_t n) {
  nats::js::fetch_options fo;
  fo.batch = bench::js_batch;
  fo.expires = std::chrono::seconds(5);
  std::uint64_t got = 0;
  while (got < n) {
    fo.batch = static_cast<std::int64_t>(std::min<std::uint64_t>(bench::js_batch, n - got));
    auto msgs = co_await nats::js::async_fetch(js, bench::js_stream, bench::js_consumer, fo, use_awaitable);
    if (msgs.empty()) bench::fail("jsfetch", "fetch returned nothing after " + std::to_string(got) + " messages");
    for (const auto& m : msgs) check(nats::js::ack(nc, m), "ack");
    got += msgs.size();
  }
  co_await nc.async_flush(use_awaitable);
}

awaitable<void> run_jsfetch(const bench::args& a) {
  auto ex = co_await asio::this_coro::executor;
  nats::connection nc(ex, make_options(a.url, "bench-jsfetch"));
  co_await nc.async_connect(use_awaitable);
  nats::js::context js(nc);
  co_await add_bench_stream(js);
  {  // fill the stream (untimed): warm-up + timed messages
    nats::js::publisher_options po;
    po.max_pending = bench::js_window;
    nats::js::async_publisher pub(js, po);
    co_await js_publish_n(pub, std::string(a.size, 'x'), a.warmup + a.count);
  }
  nats::js::consumer_config cc;
  cc.durable_name = bench::js_consumer;
  cc.ack = nats::js::ack_policy::explicit_ack;
  co_await js.async_add_consumer(bench::js_stream, cc, use_awaitable);

  co_await js_fetch_n(nc, js, a.warmup);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  co_await js_fetch_n(nc, js, a.count);
  auto t1 = bench::clock::now();
  bench::print_rate("ours", a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  nc.close();
}

// kvput: n sequential puts (each waits for its PubAck) of distinct keys; kvget: n sequential gets of
// keys put before the clock started.
awaitable<void> run_kv(const bench::args& a) {
  auto ex = co_await asio::this_coro::executor;
  nats::connection nc(ex, make_options(a.url, "bench-kv"));
  co_await nc.async_connect(use_awaitable);
  nats::js::context js(nc);
  nats::kv::bucket_config bc;
  bc.bucket = bench::kv_bucket;
  nats::kv::bucket kv = co_await nats::kv::async_create_bucket(js, bc, use_awaitable);
  const std::string value(a.size, 'x');
  const bool put = a.workload == "kvput";

  auto put_range = [&](std::uint64_t from, std::uint64_t to) -> awaitable<void> {
    for (std::uint64_t i = from; i < to; ++i) co_await kv.async_put(bench::kv_key(i), value, use_awaitable);
  };
  auto get_range = [&](std::uint64_t from, std::uint64_t to) -> awaitable<void> {
    for (std::uint64_t i = from; i < to; ++i) {
      auto e = co_await kv.async_get(bench::kv_key(i % a.count), use_awaitable);
      if (e.value.size() != value.size()) bench::fail("kvget", "wrong value size");
    }
  };

  if (put) {
    co_await put_range(a.count, a.count + a.warmup);  // other keys than the timed part's
  } else {
    co_await put_range(0, a.count);
    co_await get_range(0, a.warmup);
  }
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  if (put)
    co_await put_range(0, a.count);
  else
    co_await get_range(0, a.count);
  auto t1 = bench::clock::now();
  bench::print_rate("ours", a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  nc.close();
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
    else if (a.workload == "rr")
      co_await run_rr(a);
    else if (a.workload == "jspub")
      co_await run_jspub(a);
    else if (a.workload == "jsfetch")
      co_await run_jsfetch(a);
    else
      co_await run_kv(a);
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
