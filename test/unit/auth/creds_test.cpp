#include <boost/test/unit_test.hpp>

#include <nats/auth.hpp>
#include <nats/error.hpp>

#include "print.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace nats::auth;

namespace {

// A JWT-shaped string (header.payload.signature in base64url); the parser does not interpret it.
const std::string jwt =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJUVDNQIiwic3ViIjoiVUFCQyJ9.c2lnbmF0dXJl";

std::string creds_text(const std::string& seed, const std::string& nl = "\n") {
  return "-----BEGIN NATS USER JWT-----" + nl + jwt + nl + "------END NATS USER JWT------" + nl + nl +
         "************************* IMPORTANT *************************" + nl +
         "NKEY Seed printed below can be used to sign and prove identity." + nl +
         "NKEYs are sensitive and should be treated as secrets." + nl + nl + "-----BEGIN USER NKEY SEED-----" + nl +
         seed + nl + "------END USER NKEY SEED------" + nl + nl +
         "*************************************************************" + nl;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(creds)

BOOST_AUTO_TEST_CASE(parses_the_decorated_format) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  boost::system::error_code ec;
  auto c = parse_credentials(creds_text(seed), ec);
  BOOST_REQUIRE(!ec);
  BOOST_TEST(c.jwt == jwt);
  BOOST_TEST(c.seed == seed);
}

BOOST_AUTO_TEST_CASE(crlf_and_cr_line_ends) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  for (const std::string nl : {"\r\n", "\r"}) {
    boost::system::error_code ec;
    auto c = parse_credentials(creds_text(seed, nl), ec);
    BOOST_REQUIRE(!ec);
    BOOST_TEST(c.jwt == jwt);
    BOOST_TEST(c.seed == seed);
  }
}

BOOST_AUTO_TEST_CASE(odd_dashes_and_whitespace) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  const std::string text = "\n\n   ---BEGIN NATS USER JWT---------\n\t" + jwt + "   \n--------END NATS USER JWT---\n" +
                           "-------BEGIN USER NKEY SEED---\n  " + seed +
                           "\n---END USER NKEY SEED-----";  // no final newline
  boost::system::error_code ec;
  auto c = parse_credentials(text, ec);
  BOOST_REQUIRE(!ec);
  BOOST_TEST(c.jwt == jwt);
  BOOST_TEST(c.seed == seed);
}

BOOST_AUTO_TEST_CASE(seed_block_first_is_found_by_its_name) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  const std::string text = "-----BEGIN USER NKEY SEED-----\n" + seed + "\n------END USER NKEY SEED------\n" +
                           "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n";
  boost::system::error_code ec;
  auto c = parse_credentials(text, ec);
  BOOST_REQUIRE(!ec);
  BOOST_TEST(c.jwt == jwt);
  BOOST_TEST(c.seed == seed);
}

BOOST_AUTO_TEST_CASE(missing_parts_are_bad_credentials) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  const std::string only_jwt = "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n";
  const std::string only_seed = "-----BEGIN USER NKEY SEED-----\n" + seed + "\n------END USER NKEY SEED------\n";
  const std::string empty_seed_block = only_jwt + "-----BEGIN USER NKEY SEED-----\n------END USER NKEY SEED------\n";
  const std::string not_a_seed =
      only_jwt + "-----BEGIN USER NKEY SEED-----\nnot a seed!\n------END USER NKEY SEED------\n";
  const std::string bad_jwt_chars =
      "-----BEGIN NATS USER JWT-----\nabc def{}\n------END NATS USER JWT------\n" + only_seed;
  for (const std::string& text : {std::string{}, std::string("garbage\nmore garbage\n"), only_jwt, only_seed,
                                  empty_seed_block, not_a_seed, bad_jwt_chars}) {
    boost::system::error_code ec;
    auto c = parse_credentials(text, ec);
    BOOST_TEST(ec == nats::error::bad_credentials);
    BOOST_TEST(c.seed.empty());
    BOOST_TEST(ec.message().find(seed.substr(0, 10)) == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(the_seed_from_a_creds_file_signs) {
  auto kp = key_pair::generate(key_kind::user);
  boost::system::error_code ec;
  auto c = parse_credentials(creds_text(kp.seed()), ec);
  BOOST_REQUIRE(!ec);
  std::string raw;
  BOOST_REQUIRE(base64url_decode(sign_nonce(c.seed, "abc", ec), raw));
  BOOST_REQUIRE(!ec);
  BOOST_TEST(key_pair::verify(kp.public_key(), "abc", raw));
}

BOOST_AUTO_TEST_CASE(load_from_file) {
  const auto seed = key_pair::generate(key_kind::user).seed();
  char path[] = "/tmp/nats-creds-test-XXXXXX";
  const int fd = ::mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream out(path, std::ios::binary);
    out << creds_text(seed, "\r\n");
  }
  boost::system::error_code ec;
  auto c = load_credentials_file(path, ec);
  std::remove(path);
  BOOST_REQUIRE(!ec);
  BOOST_TEST(c.jwt == jwt);
  BOOST_TEST(c.seed == seed);

  c = load_credentials_file("/nonexistent/dir/user.creds", ec);
  BOOST_TEST(ec == boost::system::errc::no_such_file_or_directory);
  BOOST_TEST(c.jwt.empty());
}

BOOST_AUTO_TEST_SUITE_END()
