// Bounded random mutation of good inputs (seeds, public keys, signatures, .creds text): decoders
// must reject or accept cleanly, never crash, and never accept a changed seed as the same key.
#include <boost/test/unit_test.hpp>

#include <nats/auth.hpp>
#include <nats/error.hpp>

#include "print.hpp"

#include <random>
#include <string>

using namespace nats::auth;

namespace {

std::string mutate(std::string s, std::mt19937& rng) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abc-_=\r\n \x00\xff";
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < edits; ++i) {
    const auto pos = s.empty() ? 0 : rng() % (s.size() + 1);
    const char c = alphabet[rng() % (sizeof alphabet - 1)];
    switch (rng() % 3) {
      case 0:
        if (pos < s.size()) s[pos] = c;
        break;
      case 1:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), c);
        break;
      default:
        if (pos < s.size()) s.erase(pos, 1);
        break;
    }
  }
  return s;
}

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(robustness)

BOOST_AUTO_TEST_CASE(mutated_seeds_never_decode_to_the_original_key_by_accident) {
  std::mt19937 rng(12345);
  auto kp = key_pair::generate(key_kind::user);
  const auto seed = kp.seed();
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto m = mutate(seed, rng);
    boost::system::error_code ec;
    auto other = key_pair::from_seed(m, ec);
    if (!ec) {
      ++accepted;
      BOOST_TEST(other.valid());
      // Only whitespace edits at the ends (or edits that undo each other) may keep the key: the
      // decoder accepts canonical text only. Anything else that passes CRC16 is another key.
      if (other.public_key() == kp.public_key()) {
        BOOST_TEST(trim(m) == seed);
      } else {
        BOOST_TEST(other.seed() != seed);
      }
    } else {
      BOOST_TEST(ec == nats::error::bad_seed);
      BOOST_TEST(!other.valid());
    }
  }
  BOOST_TEST_MESSAGE(accepted << " of 20000 mutated seeds decoded");
}

BOOST_AUTO_TEST_CASE(mutated_signatures_and_keys_do_not_verify) {
  std::mt19937 rng(777);
  auto kp = key_pair::generate(key_kind::user);
  const auto sig = kp.sign("nonce");
  const auto pk = kp.public_key();
  for (int i = 0; i < 5000; ++i) {
    auto bad_sig = sig;
    bad_sig[rng() % bad_sig.size()] ^= static_cast<char>(1u << (rng() % 8));
    BOOST_TEST(!key_pair::verify(pk, "nonce", bad_sig));
    const auto bad_pk = mutate(pk, rng);
    if (bad_pk != pk) BOOST_TEST(!key_pair::verify(bad_pk, "nonce", sig));
  }
}

BOOST_AUTO_TEST_CASE(mutated_creds_parse_or_fail_cleanly) {
  std::mt19937 rng(4242);
  const auto seed = key_pair::generate(key_kind::user).seed();
  const std::string good =
      "-----BEGIN NATS USER JWT-----\neyJhIjoiYiJ9.eyJjIjoiZCJ9.c2ln\n------END NATS USER JWT------\n\n"
      "-----BEGIN USER NKEY SEED-----\n" +
      seed + "\n------END USER NKEY SEED------\n";
  std::string text = good;
  for (int i = 0; i < 20000; ++i) {
    text = (i % 50 == 0) ? good : mutate(text, rng);
    boost::system::error_code ec;
    auto c = parse_credentials(text, ec);
    if (ec) {
      BOOST_TEST(ec == nats::error::bad_credentials);
      BOOST_TEST(c.jwt.empty());
      BOOST_TEST(c.seed.empty());
    } else {
      BOOST_TEST(!c.jwt.empty());
      BOOST_TEST(c.seed.size() > 1u);
      BOOST_TEST(c.seed[0] == 'S');
    }
  }
}

BOOST_AUTO_TEST_CASE(base64url_decode_of_random_text) {
  std::mt19937 rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 40, '\0');
    for (auto& ch : text) ch = static_cast<char>(rng() % 256);
    std::string out;
    if (base64url_decode(text, out)) BOOST_TEST(base64url_decode(base64url_encode(out), out));
  }
}

BOOST_AUTO_TEST_SUITE_END()
