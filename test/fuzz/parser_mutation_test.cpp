// The fuzz property for CI, without libFuzzer: mutate seed streams at random (byte flips,
// insertions of protocol fragments, deletions, truncations, duplicated ranges, altered size
// fields) for a bounded time and check each mutant with the same differential as parser_fuzz.
// NATS_FUZZ_SECONDS sets the time (default 20), NATS_FUZZ_SEED the PRNG seed (default: time).
#define BOOST_TEST_MODULE parser_mutation
#include "differential.hpp"
#include "op_recorder.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<std::string> load_seeds() {
  std::vector<std::string> seeds;
#ifdef NATS_FUZZ_CORPUS
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(NATS_FUZZ_CORPUS, ec)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
#endif
  // A few built in, so the test is meaningful even without the corpus directory.
  seeds.push_back("MSG a.b 1 5\r\nhello\r\nPING\r\n");
  seeds.push_back("HMSG a 2 r 16 20\r\nNATS/1.0 503\r\n\r\nbody\r\n+OK\r\n");
  seeds.push_back(
      "INFO {\"server_id\":\"x\",\"max_payload\":1048576,\"connect_urls\":[\"a:1\"]}\r\n-ERR 'x'\r\nPONG\r\n");
  return seeds;
}

const char* const fragments[] = {
    "\r\n",  "\r",    "\n",  " ",     "\t",       "MSG ", "HMSG ",   "INFO ",
    "PING",  "PONG",  "+OK", "-ERR ", "NATS/1.0", ": ",   "0",       "99999999999999999999",
    "*",     ">",     ".",   "{",     "}",        "\"",   "nats://", "@",
    "[::1]", ":4222", "%4",  "\x00",  "\xff"};

std::string mutate(std::string s, nats::test::rng& rnd) {
  const int rounds = 1 + static_cast<int>(rnd.below(4));
  for (int r = 0; r < rounds; ++r) {
    switch (rnd.below(8)) {
      case 0:  // flip bits of one byte
        if (!s.empty()) s[rnd.below(s.size())] ^= static_cast<char>(1u << rnd.below(8));
        break;
      case 1:  // random byte inserted
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(rnd.below(s.size() + 1)), static_cast<char>(rnd()));
        break;
      case 2: {  // protocol fragment inserted
        const std::string f = fragments[rnd.below(std::size(fragments))];
        s.insert(rnd.below(s.size() + 1), f.empty() ? std::string(1, '\0') : f);
        break;
      }
      case 3:  // range deleted
        if (!s.empty()) {
          const auto at = rnd.below(s.size());
          s.erase(at, 1 + rnd.below(std::min<std::size_t>(16, s.size() - at)));
        }
        break;
      case 4:  // truncated
        s.resize(rnd.below(s.size() + 1));
        break;
      case 5:  // range duplicated
        if (!s.empty() && s.size() < 8192) {
          const auto at = rnd.below(s.size());
          const auto len = 1 + rnd.below(std::min<std::size_t>(64, s.size() - at));
          s.insert(rnd.below(s.size() + 1), s.substr(at, len));
        }
        break;
      default: {  // a number (size field, sid, status) replaced
        std::vector<std::size_t> starts;
        for (std::size_t i = 0; i < s.size(); ++i) {
          if (s[i] >= '0' && s[i] <= '9' && (i == 0 || s[i - 1] < '0' || s[i - 1] > '9')) starts.push_back(i);
        }
        if (starts.empty()) break;
        const auto at = starts[rnd.below(starts.size())];
        auto end = at;
        while (end < s.size() && s[end] >= '0' && s[end] <= '9') ++end;
        const auto old = s.substr(at, end - at);
        std::string repl;
        switch (rnd.below(5)) {
          case 0:
            repl = std::to_string(std::stoull(old.substr(0, 18)) + 1);
            break;
          case 1:
            repl = old.size() > 1 ? old.substr(0, old.size() - 1) : "0";
            break;
          case 2:
            repl = "0";
            break;
          case 3:
            repl = "18446744073709551616";
            break;
          default:
            repl = std::to_string(rnd.below(100000));
            break;
        }
        s.replace(at, end - at, repl);
      }
    }
  }
  return s;
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

}  // namespace

BOOST_AUTO_TEST_CASE(seeds_hold_the_property) {
  for (const auto& seed : load_seeds()) {
    const auto problems = nats::fuzz::check_input(seed);
    BOOST_TEST(problems.empty(), problems);
  }
}

BOOST_AUTO_TEST_CASE(mutants_hold_the_property) {
  const auto seconds = env_number("NATS_FUZZ_SECONDS", 20);
  const auto seed = env_number("NATS_FUZZ_SEED",
                               static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  BOOST_TEST_MESSAGE("NATS_FUZZ_SEED=" << seed << " NATS_FUZZ_SECONDS=" << seconds);
  const auto seeds = load_seeds();
  BOOST_TEST_REQUIRE(!seeds.empty());
  nats::test::rng rnd(seed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  std::size_t runs = 0;
  std::size_t failures = 0;
  // Grow some mutants further, so several mutations pile up on the same stream.
  std::string current = seeds[0];
  while (std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 50; ++i) {
      if (rnd.below(4) == 0 || current.size() > 16384) current = seeds[rnd.below(seeds.size())];
      current = mutate(current, rnd);
      const auto problems = nats::fuzz::check_input(current);
      ++runs;
      if (!problems.empty() && ++failures <= 3) {
        std::string hex;
        for (unsigned char c : current) {
          static constexpr char digits[] = "0123456789abcdef";
          hex.push_back(digits[c >> 4]);
          hex.push_back(digits[c & 15]);
        }
        BOOST_ERROR("property violated (seed " << seed << ", run " << runs << "):\n"
                                               << problems << "input hex: " << hex);
      }
    }
  }
  BOOST_TEST_MESSAGE(runs << " mutants checked");
  BOOST_TEST(failures == 0u);
  BOOST_TEST(runs > 0u);
}
