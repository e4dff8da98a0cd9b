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

// ---------------------------------------------------------------- JetStream and KV
// js_PublishAsync with a window of bench::js_window (PublishAsync.MaxPending: the call stalls while the
// window is full, up to StallWait), js_PullSubscribe + natsSubscription_Fetch, kvStore_Put/Get; all synchronous calls.

std::atomic<std::uint64_t> js_pub_errors{0};

void on_pub_error(jsCtx*, jsPubAckErr*, void*) { js_pub_errors.fetch_add(1, std::memory_order_relaxed); }

jsCtx* jetstream(natsConnection* nc) {
  jsOptions jo;
  check(jsOptions_Init(&jo), "jsOptions_Init");
  jo.PublishAsync.MaxPending = static_cast<int64_t>(bench::js_window);
  // A full window stalls the call for at most StallWait (default 200 ms) before failing with a timeout;
  // on a loaded machine one ack can take longer. Ours waits for room as long as the ack timeout (5 s).
  jo.PublishAsync.StallWait = 5000;
  jo.PublishAsync.ErrHandler = on_pub_error;
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, nc, &jo), "natsConnection_JetStream");
  return js;
}

void add_bench_stream(jsCtx* js) {
  jsStreamConfig cfg;
  check(jsStreamConfig_Init(&cfg), "jsStreamConfig_Init");
  const char* subjects[] = {bench::js_subjects};
  cfg.Name = bench::js_stream;
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_AddStream(&si, js, &cfg, nullptr, &jerr), "js_AddStream");
  jsStreamInfo_Destroy(si);
}

void js_publish_n(jsCtx* js, const std::string& payload, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i)
    check(js_PublishAsync(js, bench::js_subject, payload.data(), static_cast<int>(payload.size()), nullptr),
          "js_PublishAsync");
  jsPubOptions po;
  check(jsPubOptions_Init(&po), "jsPubOptions_Init");
  po.MaxWait = 60000;
  check(js_PublishAsyncComplete(js, &po), "js_PublishAsyncComplete");
  if (js_pub_errors.load() != 0) bench::fail("jspub", std::to_string(js_pub_errors.load()) + " publishes failed");
}

void run_jspub(const bench::args& a) {
  natsConnection* nc = connect(a.url, "bench-jspub");
  jsCtx* js = jetstream(nc);
  add_bench_stream(js);
  std::string payload(a.size, 'x');
  js_publish_n(js, payload, a.warmup);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  js_publish_n(js, payload, a.count);
  auto t1 = bench::clock::now();
  bench::print_rate(client_name, a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

// Fetches (batch bench::js_batch) and acks n messages one by one; the acks are flushed at the end.
void js_fetch_n(natsConnection* nc, natsSubscription* sub, std::uint64_t n) {
  std::uint64_t got = 0;
  while (got < n) {
    natsMsgList list{};
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const int batch = static_cast<int>(std::min<std::uint64_t>(bench::js_batch, n - got));
    check(natsSubscription_Fetch(&list, sub, batch, 5000, &jerr), "natsSubscription_Fetch");
    for (int i = 0; i < list.Count; ++i) check(natsMsg_Ack(list.Msgs[i], nullptr), "natsMsg_Ack");
    got += static_cast<std::uint64_t>(list.Count);
    natsMsgList_Destroy(&list);
  }
  check(natsConnection_FlushTimeout(nc, 60000), "flush");
}

void run_jsfetch(const bench::args& a) {
  natsConnection* nc = connect(a.url, "bench-jsfetch");
  jsCtx* js = jetstream(nc);
  add_bench_stream(js);
  js_publish_n(js, std::string(a.size, 'x'), a.warmup + a.count);  // fill the stream (untimed)

  jsSubOptions so;
  check(jsSubOptions_Init(&so), "jsSubOptions_Init");
  so.Stream = bench::js_stream;
  so.Config.AckPolicy = js_AckExplicit;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_PullSubscribe(&sub, js, bench::js_subjects, bench::js_consumer, nullptr, &so, &jerr), "js_PullSubscribe");

  js_fetch_n(nc, sub, a.warmup);
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  js_fetch_n(nc, sub, a.count);
  auto t1 = bench::clock::now();
  bench::print_rate(client_name, a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  natsSubscription_Destroy(sub);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
}

// kvput: n sequential puts of distinct keys; kvget: n sequential gets of keys put before the clock started.
void run_kv(const bench::args& a) {
  natsConnection* nc = connect(a.url, "bench-kv");
  jsCtx* js = jetstream(nc);
  kvConfig kc;
  check(kvConfig_Init(&kc), "kvConfig_Init");
  kc.Bucket = bench::kv_bucket;
  kc.History = 1;
  kvStore* kv = nullptr;
  check(js_CreateKeyValue(&kv, js, &kc), "js_CreateKeyValue");
  const std::string value(a.size, 'x');
  const bool put = a.workload == "kvput";

  auto put_range = [&](std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i < to; ++i) {
      std::uint64_t rev = 0;
      check(kvStore_Put(&rev, kv, bench::kv_key(i).c_str(), value.data(), static_cast<int>(value.size())),
            "kvStore_Put");
    }
  };
  auto get_range = [&](std::uint64_t from, std::uint64_t to) {
    for (std::uint64_t i = from; i < to; ++i) {
      kvEntry* e = nullptr;
      check(kvStore_Get(&e, kv, bench::kv_key(i % a.count).c_str()), "kvStore_Get");
      if (kvEntry_ValueLen(e) != static_cast<int>(value.size())) bench::fail("kvget", "wrong value size");
      kvEntry_Destroy(e);
    }
  };

  if (put) {
    put_range(a.count, a.count + a.warmup);  // other keys than the timed part's
  } else {
    put_range(0, a.count);
    get_range(0, a.warmup);
  }
  const double c0 = bench::cpu_seconds();
  auto t0 = bench::clock::now();
  if (put)
    put_range(0, a.count);
  else
    get_range(0, a.count);
  auto t1 = bench::clock::now();
  bench::print_rate(client_name, a, bench::seconds_between(t0, t1), bench::cpu_seconds() - c0);
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
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
  else if (a.workload == "rr")
    run_rr(a);
  else if (a.workload == "jspub")
    run_jspub(a);
  else if (a.workload == "jsfetch")
    run_jsfetch(a);
  else
    run_kv(a);
  nats_CloseAndWait(5000);
  return 0;
}
