// Shared by the C++ benchmark programs (ours and the C client's): command line, clock, percentiles and
// the one JSON line each run prints. The workloads themselves are described in bench/README.md.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace bench {

using clock = std::chrono::steady_clock;

inline constexpr const char* pub_subject = "bench.pub";
inline constexpr const char* pubsub_subject = "bench.ps";
inline constexpr const char* rr_subject = "bench.rr";
// JetStream/KV workloads: one file-storage stream on `bench.js.>`, one durable pull consumer, one bucket.
inline constexpr const char* js_stream = "BENCH";
inline constexpr const char* js_subjects = "bench.js.>";
inline constexpr const char* js_subject = "bench.js.data";
inline constexpr const char* js_consumer = "BENCH_PULL";
inline constexpr const char* kv_bucket = "BENCH";
inline constexpr std::size_t js_window = 256;  // jspub: acks outstanding at most
inline constexpr int js_batch = 500;           // jsfetch: messages per pull request

/// Key of the i-th KV entry (kvput, kvget).
inline std::string kv_key(std::uint64_t i) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "k%llu", static_cast<unsigned long long>(i));
  return std::string(buf, static_cast<std::size_t>(n));
}

/// `<program> <workload> <url> <count> <size> [warmup]`. warmup: messages/requests run before
/// the timed part (default count/10 capped at 100000; 0 for the callgrind runs).
/// Workloads: pub, pubsub, rr (core NATS), jspub, jsfetch, kvput, kvget (JetStream; the server needs -js).
struct args {
  std::string workload;
  std::string url;
  std::uint64_t count = 0;
  std::size_t size = 0;
  std::uint64_t warmup = 0;
};

inline args parse_args(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s pub|pubsub|rr|jspub|jsfetch|kvput|kvget <url> <count> <size> [warmup]\n",
                 argv[0]);
    std::exit(2);
  }
  args a;
  a.workload = argv[1];
  a.url = argv[2];
  a.count = std::strtoull(argv[3], nullptr, 10);
  a.size = static_cast<std::size_t>(std::strtoull(argv[4], nullptr, 10));
  a.warmup = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : std::min<std::uint64_t>(a.count / 10, 100000);
  static const char* const known[] = {"pub", "pubsub", "rr", "jspub", "jsfetch", "kvput", "kvget"};
  if (a.count == 0 || std::find(std::begin(known), std::end(known), a.workload) == std::end(known)) {
    std::fprintf(stderr, "bad arguments\n");
    std::exit(2);
  }
  return a;
}

inline double seconds_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// CPU time (user + system, all threads) this process has used so far, in seconds. The difference over
/// the timed part is reported too: on a loaded machine it moves much less than wall-clock time.
inline double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

/// Throughput result line (every workload but rr).
inline void print_rate(const char* client, const args& a, double seconds, double cpu) {
  std::printf("{\"client\":\"%s\",\"workload\":\"%s\",\"count\":%llu,\"size\":%zu,\"seconds\":%.6f,"
              "\"msgs_per_sec\":%.1f,\"cpu_seconds\":%.6f}\n",
              client, a.workload.c_str(), static_cast<unsigned long long>(a.count), a.size, seconds,
              static_cast<double>(a.count) / seconds, cpu);
  std::fflush(stdout);
}

/// Latency result line (rr); `lat_ns` holds one sample per request, in nanoseconds.
inline void print_latency(const char* client, const args& a, double seconds, double cpu,
                          std::vector<std::int64_t>& lat_ns) {
  // For looking at the tail: BENCH_LAT_FILE gets every sample (ns) in request order.
  if (const char* f = std::getenv("BENCH_LAT_FILE"); f && *f) {
    if (FILE* out = std::fopen(f, "w")) {
      for (auto v : lat_ns) std::fprintf(out, "%lld\n", static_cast<long long>(v));
      std::fclose(out);
    }
  }
  std::sort(lat_ns.begin(), lat_ns.end());
  auto pct = [&](double p) {
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(lat_ns.size() - 1) + 0.5);
    return static_cast<double>(lat_ns[i]) / 1000.0;
  };
  std::printf("{\"client\":\"%s\",\"workload\":\"rr\",\"count\":%llu,\"size\":%zu,\"seconds\":%.6f,"
              "\"msgs_per_sec\":%.1f,\"cpu_seconds\":%.6f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
              "\"max_us\":%.1f}\n",
              client, static_cast<unsigned long long>(a.count), a.size, seconds,
              static_cast<double>(a.count) / seconds, cpu, pct(0.50), pct(0.90), pct(0.99),
              static_cast<double>(lat_ns.back()) / 1000.0);
  std::fflush(stdout);
}

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "error: %s: %s\n", what, detail.c_str());
  std::exit(1);
}

}  // namespace bench
