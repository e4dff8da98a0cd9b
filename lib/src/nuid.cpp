#include "detail/nuid.hpp"

namespace nats::detail {
namespace {
constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::uint64_t base = 62;
constexpr std::uint64_t max_seq = 839299365868340224ULL;  // 62^10
}  // namespace

nuid::nuid() : rng_(std::random_device{}()) {
  randomize_prefix();
  seq_ = rng_() % max_seq;
  inc_ = 33 + rng_() % 300;
}

void nuid::randomize_prefix() {
  for (char& c : prefix_) c = digits[rng_() % base];
}

std::string nuid::next() {
  seq_ += inc_;
  if (seq_ >= max_seq) {
    randomize_prefix();
    seq_ = rng_() % max_seq;
    inc_ = 33 + rng_() % 300;
  }
  std::string out(22, '0');
  for (int i = 0; i < 12; ++i) out[static_cast<std::size_t>(i)] = prefix_[i];
  std::uint64_t s = seq_;
  for (int i = 21; i >= 12; --i) {
    out[static_cast<std::size_t>(i)] = digits[s % base];
    s /= base;
  }
  return out;
}

}  // namespace nats::detail
