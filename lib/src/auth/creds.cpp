// .creds files: a user JWT and its nkey seed, each between decoration lines such as
//   -----BEGIN NATS USER JWT-----      ...      ------END NATS USER JWT------
//   -----BEGIN USER NKEY SEED-----     ...      ------END USER NKEY SEED------
// Tools differ in the number of dashes, line endings and blank lines, so we accept any line made of
// 3+ dashes, text, 3+ dashes as a marker, and take the block whose marker names "JWT" / "SEED".
#include <nats/auth.hpp>
#include <nats/error.hpp>

#include <openssl/crypto.h>

#include <cerrno>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace nats::auth {
namespace {

std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

bool is_marker(std::string_view line) {
  if (line.size() < 6) return false;
  std::size_t lead = 0;
  while (lead < line.size() && line[lead] == '-') ++lead;
  std::size_t tail = 0;
  while (tail < line.size() - lead && line[line.size() - 1 - tail] == '-') ++tail;
  return lead >= 3 && tail >= 3 && lead + tail < line.size();
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

bool jwt_chars(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == '=';
    if (!ok) return false;
  }
  return !s.empty();
}

bool seed_chars(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7'))) return false;
  }
  return s.size() > 1 && s[0] == 'S';
}

struct block {
  std::string_view marker;
  std::string body;  // content lines joined without whitespace
};

}  // namespace

credentials parse_credentials(std::string_view content, boost::system::error_code& ec) {
  ec.clear();
  std::vector<block> blocks;
  bool inside = false;
  std::size_t pos = 0;
  while (pos <= content.size()) {
    std::size_t end = content.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = content.size();
    const std::string_view line = trim(content.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty()) continue;
    if (is_marker(line)) {
      if (!inside) {
        blocks.push_back(block{line, {}});
        inside = true;
      } else {
        inside = false;  // END marker (whatever it says)
      }
    } else if (inside) {
      blocks.back().body.append(line);
    }
    // Text outside blocks (comments, instructions from tools) is ignored.
  }

  credentials creds;
  const block* jwt = nullptr;
  const block* seed = nullptr;
  for (const block& b : blocks) {
    if (!jwt && contains(b.marker, "JWT"))
      jwt = &b;
    else if (!seed && contains(b.marker, "SEED"))
      seed = &b;
  }
  // Markers that do not say what they hold: the JWT comes first, the seed second.
  if (!jwt && !blocks.empty() && &blocks[0] != seed) jwt = &blocks[0];
  if (!seed && blocks.size() >= 2 && &blocks[1] != jwt) seed = &blocks[1];

  if (!jwt || !seed || !jwt_chars(jwt->body) || !seed_chars(seed->body)) {
    for (block& b : blocks) OPENSSL_cleanse(b.body.data(), b.body.size());
    ec = error::bad_credentials;
    return creds;
  }
  creds.jwt = jwt->body;
  creds.seed = seed->body;
  for (block& b : blocks) OPENSSL_cleanse(b.body.data(), b.body.size());
  return creds;
}

credentials load_credentials_file(const std::string& path, boost::system::error_code& ec) {
  ec.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    ec.assign(errno, boost::system::system_category());
    return {};
  }
  std::string content;
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      ec.assign(errno, boost::system::system_category());
      break;
    }
    if (n == 0) break;
    content.append(chunk, static_cast<std::size_t>(n));
    if (content.size() > 1024 * 1024) {  // a .creds file is a few kB; refuse to slurp anything huge
      ec = error::bad_credentials;
      break;
    }
  }
  ::close(fd);
  OPENSSL_cleanse(chunk, sizeof chunk);
  credentials creds;
  if (!ec) creds = parse_credentials(content, ec);
  OPENSSL_cleanse(content.data(), content.size());
  return creds;
}

}  // namespace nats::auth
