// Live interop with the official nkeys.js: keys made on either side must give the same public key and
// the same (deterministic) Ed25519 nonce signature on the other. Skipped (exit 77) when node or the
// nkeys.js package is not installed; see README in this directory.
#define BOOST_TEST_MODULE interop_nkeys
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <nats/auth.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

using namespace nats::auth;

namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// Runs a shell command, returns its stdout; exit status in `status`.
std::string run(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    status = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  status = ::pclose(p);
  return out;
}

std::string script() { return shell_quote(NKEYS_VECTORS_SCRIPT); }

struct row {
  std::string seed, public_key, nonce, sig;
};

std::vector<row> parse_rows(const std::string& text) {
  std::vector<row> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::istringstream f(line);
    row r;
    std::getline(f, r.seed, '\t');
    std::getline(f, r.public_key, '\t');
    std::getline(f, r.nonce, '\t');
    std::getline(f, r.sig, '\t');
    rows.push_back(r);
  }
  return rows;
}

// NODE_PATH for nkeys.js: the caller's, else the interop node_modules next to the tests.
void set_node_path() {
  if (const char* p = std::getenv("NODE_PATH"); p && *p) return;
  ::setenv("NODE_PATH", INTEROP_NODE_MODULES, 1);
}

bool nkeys_js_available() {
  int status = 0;
  run("node -e \"require.resolve('nkeys.js')\" >/dev/null 2>&1", status);
  return status == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(keys_made_by_nkeys_js_decode_and_sign_identically) {
  int status = 0;
  const auto out = run("node " + script() + " 4", status);
  BOOST_REQUIRE_EQUAL(status, 0);
  const auto rows = parse_rows(out);
  BOOST_REQUIRE_EQUAL(rows.size(), 20u);  // 4 per kind: user, account, operator, server, cluster
  for (const auto& r : rows) {
    boost::system::error_code ec;
    auto kp = key_pair::from_seed(r.seed, ec);
    BOOST_REQUIRE_MESSAGE(!ec, "seed of " << r.public_key << " rejected");
    BOOST_TEST(kp.public_key() == r.public_key);
    BOOST_TEST(kp.seed() == r.seed);
    BOOST_TEST(sign_nonce(r.seed, r.nonce, ec) == r.sig);
  }
}

BOOST_AUTO_TEST_CASE(keys_made_by_us_decode_and_sign_identically_in_nkeys_js) {
  struct ours {
    std::string seed, public_key, nonce, sig;
  };
  std::vector<ours> mine;
  int i = 0;
  for (key_kind k : {key_kind::user, key_kind::account, key_kind::operator_, key_kind::server, key_kind::cluster}) {
    for (int n = 0; n < 2; ++n, ++i) {
      auto kp = key_pair::generate(k);
      const std::string nonce = "nonce-" + std::to_string(i) + "-" + kp.public_key().substr(1, 10);
      boost::system::error_code ec;
      mine.push_back({kp.seed(), kp.public_key(), nonce, sign_nonce(kp.seed(), nonce, ec)});
      BOOST_REQUIRE(!ec);
    }
  }
  char path[] = "/tmp/nkeys-interop-XXXXXX";
  const int fd = ::mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream f(path);
    for (const auto& m : mine) f << m.seed << '\t' << m.nonce << '\n';
  }
  int status = 0;
  const auto out = run("node " + script() + " --from " + shell_quote(path), status);
  std::remove(path);
  BOOST_REQUIRE_EQUAL(status, 0);
  const auto rows = parse_rows(out);
  BOOST_REQUIRE_EQUAL(rows.size(), mine.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    BOOST_TEST(rows[j].seed == mine[j].seed);
    BOOST_TEST(rows[j].public_key == mine[j].public_key);
    BOOST_TEST(rows[j].sig == mine[j].sig);
  }
}

int main(int argc, char* argv[]) {
  set_node_path();
  if (!nkeys_js_available()) {
    std::cout << "SKIP: node or the nkeys.js package is not installed (set NODE_PATH or run npm install in "
                 "test/interop)\n";
    return 77;  // meson: skipped
  }
  return boost::unit_test::unit_test_main(&init_unit_test, argc, argv);
}
