#define BOOST_TEST_MODULE unit_auth
#include <boost/test/unit_test.hpp>

#include "nkey_codec.hpp"

#include <nats/auth.hpp>
#include <nats/error.hpp>

#include "print.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace nats::auth;
namespace d = nats::auth::detail;

namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// Builds an encoded seed from raw parts, the way the format defines it (used to craft bad inputs).
std::string encode_raw(std::string raw) {
  const auto crc = d::crc16(raw);
  raw.push_back(static_cast<char>(crc & 0xff));
  raw.push_back(static_cast<char>(crc >> 8));
  return d::base32_encode(raw);
}

std::string seed_from_raw(std::uint8_t kind_prefix, std::string_view raw32) {
  std::string raw;
  raw.push_back(static_cast<char>(d::prefix_byte_seed | (kind_prefix >> 5)));
  raw.push_back(static_cast<char>((kind_prefix & 31) << 3));
  raw.append(raw32);
  return encode_raw(raw);
}

// Public key bytes (32) behind an encoded public key.
std::string public_bytes(const std::string& pk) {
  std::string raw;
  BOOST_REQUIRE(d::base32_decode(pk, raw));
  BOOST_REQUIRE_EQUAL(raw.size(), d::raw_public_size);
  return raw.substr(1, 32);
}

struct vector_row {
  std::string seed, public_key, nonce, sig;
};

std::vector<vector_row> read_vectors(const std::string& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::vector<vector_row> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    vector_row r;
    std::getline(fields, r.seed, '\t');
    std::getline(fields, r.public_key, '\t');
    std::getline(fields, r.nonce, '\t');
    std::getline(fields, r.sig, '\t');
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(crc16_xmodem_check_value) {
  // The standard check value of CRC-16/XMODEM.
  BOOST_TEST(d::crc16("123456789") == 0x31C3);
  BOOST_TEST(d::crc16("") == 0);
}

BOOST_AUTO_TEST_CASE(base32_rfc4648_vectors) {
  const std::pair<std::string, std::string> cases[] = {{"", ""},
                                                       {"f", "MY"},
                                                       {"fo", "MZXQ"},
                                                       {"foo", "MZXW6"},
                                                       {"foob", "MZXW6YQ"},
                                                       {"fooba", "MZXW6YTB"},
                                                       {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, encoded] : cases) {
    BOOST_TEST(d::base32_encode(plain) == encoded);
    std::string back;
    BOOST_TEST(d::base32_decode(encoded, back));
    BOOST_TEST(back == plain);
  }
}

BOOST_AUTO_TEST_CASE(base32_round_trip_all_lengths) {
  std::string data;
  for (int len = 0; len < 70; ++len) {
    std::string back;
    BOOST_TEST(d::base32_decode(d::base32_encode(data), back));
    BOOST_TEST(back == data);
    data.push_back(static_cast<char>(len * 37 + 11));
  }
}

BOOST_AUTO_TEST_CASE(base32_rejects_foreign_characters) {
  std::string out;
  BOOST_TEST(!d::base32_decode("MZXW6=", out));
  BOOST_TEST(!d::base32_decode("mzxw6", out));
  BOOST_TEST(!d::base32_decode("MZ XW6", out));
  BOOST_TEST(!d::base32_decode("MZ1W6", out));        // '1' is not in the alphabet
  BOOST_TEST(!d::base32_decode("MZXW6YTBOIA", out));  // 11 symbols: no byte count encodes to that
  BOOST_TEST(!d::base32_decode("M", out));
  BOOST_TEST(!d::base32_decode("MZXW6Y", out));
  BOOST_TEST(d::base32_decode("MY", out));   // "f"
  BOOST_TEST(!d::base32_decode("M3", out));  // the same byte with non-zero leftover bits
}

BOOST_AUTO_TEST_CASE(base64url_vectors) {
  BOOST_TEST(base64url_encode("") == "");
  BOOST_TEST(base64url_encode("f") == "Zg");
  BOOST_TEST(base64url_encode("fo") == "Zm8");
  BOOST_TEST(base64url_encode("foo") == "Zm9v");
  BOOST_TEST(base64url_encode("foobar") == "Zm9vYmFy");
  BOOST_TEST(base64url_encode(std::string("\xfb\xff\xbf", 3)) == "-_-_");
  BOOST_TEST(base64url_encode(std::string("\xfb\xff", 2)) == "-_8");

  std::string out;
  BOOST_TEST(base64url_decode("-_8", out));
  BOOST_TEST(out == std::string("\xfb\xff", 2));
  BOOST_TEST(base64url_decode("Zm8=", out));  // padding tolerated
  BOOST_TEST(out == "fo");
  BOOST_TEST(!base64url_decode("Zm+v", out));  // standard alphabet is not URL-safe base64
  BOOST_TEST(!base64url_decode("Z", out));     // impossible length
  for (int len = 0; len < 70; ++len) {
    std::string data(static_cast<std::size_t>(len), '\0');
    for (int i = 0; i < len; ++i) data[static_cast<std::size_t>(i)] = static_cast<char>(i * 53 + len);
    BOOST_TEST(base64url_decode(base64url_encode(data), out));
    BOOST_TEST(out == data);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(keys)

BOOST_AUTO_TEST_CASE(rfc8032_test_vector_1) {
  // RFC 8032 section 7.1, TEST 1: the empty message.
  const auto secret = from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const auto expected_public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  const auto expected_sig =
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
      "655141438e7a100b";
  boost::system::error_code ec;
  auto kp = key_pair::from_seed(seed_from_raw(d::prefix_byte(key_kind::user), secret), ec);
  BOOST_REQUIRE(!ec);
  BOOST_TEST(kp.valid());
  BOOST_TEST(kp.kind() == key_kind::user);
  BOOST_TEST(to_hex(public_bytes(kp.public_key())) == expected_public);
  BOOST_TEST(to_hex(kp.sign("")) == expected_sig);
  BOOST_TEST(key_pair::verify(kp.public_key(), "", kp.sign("")));
}

BOOST_AUTO_TEST_CASE(text_forms_start_with_the_kind_letter) {
  const std::pair<key_kind, char> kinds[] = {{key_kind::user, 'U'},
                                             {key_kind::account, 'A'},
                                             {key_kind::server, 'N'},
                                             {key_kind::cluster, 'C'},
                                             {key_kind::operator_, 'O'}};
  for (const auto& [kind, letter] : kinds) {
    auto kp = key_pair::generate(kind);
    const auto pk = kp.public_key();
    const auto seed = kp.seed();
    BOOST_TEST(pk.size() == 56u);
    BOOST_TEST(seed.size() == 58u);
    BOOST_TEST(pk[0] == letter);
    BOOST_TEST(seed[0] == 'S');
    BOOST_TEST(seed[1] == letter);
  }
}

BOOST_AUTO_TEST_CASE(generate_seed_from_seed_round_trip) {
  for (key_kind kind : {key_kind::user, key_kind::account, key_kind::server, key_kind::cluster, key_kind::operator_}) {
    auto kp = key_pair::generate(kind);
    boost::system::error_code ec;
    auto again = key_pair::from_seed(kp.seed(), ec);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(again.kind() == kind);
    BOOST_TEST(again.public_key() == kp.public_key());
    BOOST_TEST(again.seed() == kp.seed());
    BOOST_TEST(again.sign("hello") == kp.sign("hello"));  // Ed25519 is deterministic
  }
  BOOST_CHECK_THROW(key_pair::generate(key_kind::curve), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(two_generated_keys_differ) {
  BOOST_TEST(key_pair::generate(key_kind::user).public_key() != key_pair::generate(key_kind::user).public_key());
}

BOOST_AUTO_TEST_CASE(sign_and_verify) {
  auto kp = key_pair::generate(key_kind::user);
  const auto sig = kp.sign("nonce-123");
  BOOST_TEST(sig.size() == 64u);
  BOOST_TEST(key_pair::verify(kp.public_key(), "nonce-123", sig));
  BOOST_TEST(!key_pair::verify(kp.public_key(), "nonce-124", sig));
  auto tampered = sig;
  tampered[10] = static_cast<char>(tampered[10] ^ 1);
  BOOST_TEST(!key_pair::verify(kp.public_key(), "nonce-123", tampered));
  BOOST_TEST(!key_pair::verify(key_pair::generate(key_kind::user).public_key(), "nonce-123", sig));
  BOOST_TEST(!key_pair::verify("UNOTAKEY", "nonce-123", sig));
  BOOST_TEST(!key_pair::verify(kp.public_key(), "nonce-123", sig.substr(0, 63)));
}

BOOST_AUTO_TEST_CASE(sign_nonce_is_base64url_of_the_signature) {
  auto kp = key_pair::generate(key_kind::user);
  boost::system::error_code ec;
  const auto sig64 = sign_nonce(kp.seed(), "q-3Fz0XoZ1U_wKvP2qvL9A", ec);
  BOOST_REQUIRE(!ec);
  BOOST_TEST(sig64.find('=') == std::string::npos);
  BOOST_TEST(sig64.size() == 86u);  // 64 bytes, no padding
  std::string raw;
  BOOST_REQUIRE(base64url_decode(sig64, raw));
  BOOST_TEST(key_pair::verify(kp.public_key(), "q-3Fz0XoZ1U_wKvP2qvL9A", raw));

  sign_nonce("SUBOGUS", "x", ec);
  BOOST_TEST(ec == nats::error::bad_seed);
}

BOOST_AUTO_TEST_CASE(move_leaves_source_empty) {
  auto kp = key_pair::generate(key_kind::account);
  const auto pk = kp.public_key();
  key_pair moved(std::move(kp));
  BOOST_TEST(moved.public_key() == pk);
  BOOST_TEST(!kp.valid());  // NOLINT(bugprone-use-after-move): checking the documented moved-from state
  BOOST_TEST(kp.seed().empty());
  key_pair assigned;
  assigned = std::move(moved);
  BOOST_TEST(assigned.public_key() == pk);
}

BOOST_AUTO_TEST_CASE(surrounding_whitespace_is_tolerated) {
  auto kp = key_pair::generate(key_kind::user);
  boost::system::error_code ec;
  auto again = key_pair::from_seed("  " + kp.seed() + "\r\n", ec);
  BOOST_TEST(!ec);
  BOOST_TEST(again.public_key() == kp.public_key());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_seeds)

void expect_bad(const std::string& seed, const char* why) {
  boost::system::error_code ec;
  auto kp = key_pair::from_seed(seed, ec);
  BOOST_TEST(ec == nats::error::bad_seed, why);
  BOOST_TEST(!kp.valid(), why);
  // The error text never echoes the input.
  if (seed.size() > 4) BOOST_TEST(ec.message().find(seed.substr(0, 8)) == std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(bad_crc) {
  auto seed = key_pair::generate(key_kind::user).seed();
  for (std::size_t i : {std::size_t{5}, std::size_t{30}, seed.size() - 2}) {
    auto bad = seed;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    expect_bad(bad, "one character changed");
  }
}

BOOST_AUTO_TEST_CASE(bad_length) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  expect_bad(seed.substr(0, seed.size() - 1), "truncated");
  expect_bad(seed.substr(0, 10), "much too short");
  expect_bad(seed + "AA", "too long");
  expect_bad("", "empty");
  // Well-formed (valid CRC) but 31 key bytes.
  expect_bad(seed_from_raw(d::prefix_byte(key_kind::user), std::string(31, 'k')), "31 key bytes");
}

BOOST_AUTO_TEST_CASE(bad_prefix) {
  const std::string key(32, '\x42');
  // A public key is not a seed.
  expect_bad(key_pair::generate(key_kind::user).public_key(), "public key given as seed");
  // First byte without the 'S' seed marker, CRC correct.
  std::string raw;
  raw.push_back(static_cast<char>(d::prefix_byte(key_kind::user)));
  raw.push_back(0);
  raw.append(key);
  expect_bad(encode_raw(raw), "no seed marker");
  // Seed marker, but an unknown role letter ('Z' = 25 << 3).
  expect_bad(seed_from_raw(25 << 3, key), "unknown role");
  // Curve (X25519) seeds are not signing keys.
  expect_bad(seed_from_raw(d::prefix_byte_curve, key), "curve seed");
  // Lower case and non-alphabet characters.
  auto seed = key_pair::generate(key_kind::user).seed();
  std::string lower = seed;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  expect_bad(lower, "lower case");
  seed[20] = '1';
  expect_bad(seed, "character outside the alphabet");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interop)

// Vectors generated once with the official nkeys.js (see test/interop/nkeys for the live version).
BOOST_AUTO_TEST_CASE(nkeys_js_vectors) {
  const auto rows = read_vectors(NKEYS_JS_VECTORS);
  BOOST_REQUIRE_GE(rows.size(), 10u);
  for (const auto& r : rows) {
    boost::system::error_code ec;
    auto kp = key_pair::from_seed(r.seed, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "seed of " << r.public_key << " did not decode");
    BOOST_TEST(kp.public_key() == r.public_key);
    BOOST_TEST(kp.seed() == r.seed);
    BOOST_TEST(sign_nonce(r.seed, r.nonce, ec) == r.sig);
    std::string raw_sig;
    BOOST_REQUIRE(base64url_decode(r.sig, raw_sig));
    BOOST_TEST(key_pair::verify(r.public_key, r.nonce, raw_sig));
  }
}

BOOST_AUTO_TEST_SUITE_END()
