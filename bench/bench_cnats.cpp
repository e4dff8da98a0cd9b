// The workloads on the official C client (Debian's libnats-dev), the reference of the comparison.
// Used by the benchmark only. The client runs with its defaults (its own reader, flusher and
// per-subscription delivery threads), except that the benchmark subscriber's pending limits are lifted
// so that a burst can never be dropped as a slow consumer. `--send-asap` selects the client's low-latency
// mode (natsOptions_SetSendAsap: every publish is written at once instead of by the flusher thread,
// which waits up to 1 ms to gather more); the driver reports it as the client "c-asap".
#include "bench_common.hpp"

#include <nats/nats.h>  // the C client's header (/usr/include/nats/nats.h), not ours

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

namespace {

void check(natsStatus s, const char* what) {
  if (s != NATS_OK) bench::fail(what, natsStatus_GetText(s));
}

bool send_asap = false;
const char* client_name = "c";

natsConnection* connect(const std::string& url, const char* name) {
  natsOptions* opts = nullptr;
  check(natsOptions_Create(&opts), "natsOptions_Create");
  check(natsOptions_SetURL(opts, url.c_str()), "natsOptions_SetURL");
  check(natsOptions_SetName(opts, name), "natsOptions_SetName");
  if (send_asap) check(natsOptions_SetSendAsap(opts, true), "natsOptions_SetSendAsap");
  natsConnection* nc = nullptr;
  check(natsConnection_Connect(&nc, opts), "natsConnection_Connect");
  natsOptions_Destroy(opts);
  return nc;
}

void publish_n(natsConnection* nc, const char* subject, const std::string& payload, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i)
    check(natsConnection_Publish(nc, subject, payload.data(), static_cast<int>(payload.size())),
          "natsConnection_Publish");
}

void run_pub(const bench::args& a) {
  natsConnection* nc = connect(a.url, "bench-pub");
  std::string payload(a.size, 'x');
  publish_n(nc, bench::pub_subject, payload, a.warmup);
  check(natsConnection_FlushTimeout(nc, 60000), "flush");

  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  publish_n(nc, bench::pub_subject, payload, a.count);
  check(natsConnection_FlushTimeout(nc, 60000), "flush");
  auto t1 = bench::clock::now();
  bench::print_rate(client_name, a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  natsConnection_Destroy(nc);
}

struct sub_state {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> target{0};
  std::mutex m;
  std::condition_variable cv;
  bench::clock::time_point done_at;
  bool done = false;
};

void on_pubsub_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* st = static_cast<sub_state*>(closure);
  natsMsg_Destroy(msg);
  if (st->received.fetch_add(1, std::memory_order_relaxed) + 1 == st->target.load(std::memory_order_relaxed)) {
    auto now = bench::clock::now();
    std::lock_guard lk(st->m);
    st->done_at = now;
    st->done = true;
    st->cv.notify_all();
  }
}

bench::clock::time_point wait_done(sub_state& st) {
  std::unique_lock lk(st.m);
  if (!st.cv.wait_for(lk, std::chrono::seconds(120), [&] { return st.done; }))
    bench::fail("pubsub", "timed out waiting for the subscriber (" + std::to_string(st.received.load()) + " received)");
  st.done = false;
  return st.done_at;
}

void run_pubsub(const bench::args& a) {
  natsConnection* sub_nc = connect(a.url, "bench-sub");
  natsConnection* pub_nc = connect(a.url, "bench-pub");
  sub_state st;
  natsSubscription* sub = nullptr;
  check(natsConnection_Subscribe(&sub, sub_nc, bench::pubsub_subject, on_pubsub_msg, &st), "subscribe");
  check(natsSubscription_SetPendingLimits(sub, -1, -1), "natsSubscription_SetPendingLimits");
  check(natsConnection_FlushTimeout(sub_nc, 10000), "flush");
  std::string payload(a.size, 'x');

  if (a.warmup > 0) {
    st.target = a.warmup;
    publish_n(pub_nc, bench::pubsub_subject, payload, a.warmup);
    check(natsConnection_FlushTimeout(pub_nc, 60000), "flush");
    wait_done(st);
  }
  st.target = a.warmup + a.count;
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  publish_n(pub_nc, bench::pubsub_subject, payload, a.count);
  check(natsConnection_FlushTimeout(pub_nc, 60000), "flush");
  auto t1 = wait_done(st);
  bench::print_rate(client_name, a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub_nc);
  natsConnection_Destroy(sub_nc);
}

void on_request(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

void run_rr(const bench::args& a) {
  natsConnection* resp_nc = connect(a.url, "bench-responder");
  natsConnection* req_nc = connect(a.url, "bench-requester");
  natsSubscription* sub = nullptr;
  check(natsConnection_Subscribe(&sub, resp_nc, bench::rr_subject, on_request, nullptr), "subscribe");
  check(natsConnection_FlushTimeout(resp_nc, 10000), "flush");
  std::string payload(a.size, 'x');

  auto one = [&] {
    natsMsg* reply = nullptr;
    check(natsConnection_Request(&reply, req_nc, bench::rr_subject, payload.data(), static_cast<int>(payload.size()),
                                 5000),
          "natsConnection_Request");
    if (natsMsg_GetDataLength(reply) != static_cast<int>(payload.size())) bench::fail("rr", "wrong reply size");
    natsMsg_Destroy(reply);
  };
  for (std::uint64_t i = 0; i < a.warmup; ++i) one();

  std::vector<std::int64_t> lat(a.count);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  for (std::uint64_t i = 0; i < a.count; ++i) {
    auto s = bench::clock::now();
    one();
    lat[i] = std::chrono::duration_cast<std::chrono::nanoseconds>(bench::clock::now() - s).count();
  }
  auto t1 = bench::clock::now();
  bench::print_latency(client_name, a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0, lat);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(req_nc);
  natsConnection_Destroy(resp_nc);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--send-asap") {
    send_asap = true;
    client_name = "c-asap";
    --argc;
    ++argv;
  }
  auto a = bench::parse_args(argc, argv);
  if (a.workload == "pub")
    run_pub(a);
  else if (a.workload == "pubsub")
    run_pubsub(a);
  else
    run_rr(a);
  nats_CloseAndWait(5000);
  return 0;
}
