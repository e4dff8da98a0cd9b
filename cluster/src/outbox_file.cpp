#include "outbox_file.hpp"

#include <nats/cluster/error.hpp>

#include <cerrno>
#include <charconv>
#include <map>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nats::cluster::detail {

using boost::system::error_code;

std::string serialize_outbox_record(const outbox_record& r) {
  std::string s = "A " + std::to_string(r.seq) + (r.ephemeral ? " e " : " d ") + std::to_string(r.expires_ms) + " " +
                  std::to_string(r.msg_id.size()) + " " + std::to_string(r.subject.size()) + " " +
                  std::to_string(r.headers.size()) + " " + std::to_string(r.payload.size()) + "\n";
  s += r.msg_id;
  s += r.subject;
  s += r.headers;
  s += r.payload;
  s += "\n";
  return s;
}

namespace {

// Reads space-separated unsigned/signed numbers from a header line.
template <class T>
bool read_num(std::string_view& line, T& out) {
  while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), out);
  if (ec != std::errc{}) return false;
  line.remove_prefix(static_cast<std::size_t>(p - line.data()));
  return true;
}

}  // namespace

std::vector<outbox_record> parse_outbox_log(const std::string& bytes) {
  std::map<std::uint64_t, outbox_record> live;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    auto nl = bytes.find('\n', pos);
    if (nl == std::string::npos) break;
    std::string_view line(bytes.data() + pos, nl - pos);
    if (line.size() < 3 || line[1] != ' ') break;
    char kind = line[0];
    line.remove_prefix(2);
    if (kind == 'D') {
      std::uint64_t seq = 0;
      if (!read_num(line, seq)) break;
      live.erase(seq);
      pos = nl + 1;
      continue;
    }
    if (kind != 'A') break;
    outbox_record r;
    std::size_t lens[4];
    if (!read_num(line, r.seq)) break;
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty() || (line.front() != 'e' && line.front() != 'd')) break;
    r.ephemeral = line.front() == 'e';
    line.remove_prefix(1);
    bool ok = read_num(line, r.expires_ms);
    for (auto& l : lens) ok = ok && read_num(line, l);
    if (!ok) break;
    std::size_t total = lens[0] + lens[1] + lens[2] + lens[3];
    std::size_t body = nl + 1;
    if (body + total + 1 > bytes.size() || bytes[body + total] != '\n') break;  // torn tail
    r.msg_id = bytes.substr(body, lens[0]);
    r.subject = bytes.substr(body + lens[0], lens[1]);
    r.headers = bytes.substr(body + lens[0] + lens[1], lens[2]);
    r.payload = bytes.substr(body + lens[0] + lens[1] + lens[2], lens[3]);
    live[r.seq] = std::move(r);
    pos = body + total + 1;
  }
  std::vector<outbox_record> out;
  out.reserve(live.size());
  for (auto& [_, r] : live) out.push_back(std::move(r));
  return out;
}

outbox_file::~outbox_file() { close(); }

void outbox_file::close() {
  if (fd_ >= 0) {
    ::close(fd_);  // releases the flock
    fd_ = -1;
  }
}

error_code outbox_file::write_all(const std::string& bytes) {
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    auto n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error_code(error::outbox_io);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return {};
}

error_code outbox_file::open(const std::string& path, std::vector<outbox_record>& live) {
  close();
  path_ = path;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return make_error_code(error::outbox_io);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return make_error_code(errno == EWOULDBLOCK ? error::duplicate_instance : error::outbox_io);
  }
  std::string bytes;
  char buf[65536];
  ::lseek(fd, 0, SEEK_SET);
  while (true) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return make_error_code(error::outbox_io);
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  live = parse_outbox_log(bytes);
  // Compact in place: the lock stays on this descriptor, so rewrite rather than rename.
  std::string compact;
  for (auto& r : live) compact += serialize_outbox_record(r);
  fd_ = fd;
  if (::ftruncate(fd_, 0) != 0) return make_error_code(error::outbox_io);
  if (auto ec = write_all(compact)) return ec;
  ::fdatasync(fd_);
  return {};
}

error_code outbox_file::append(const outbox_record& r) {
  if (fd_ < 0) return {};
  return write_all(serialize_outbox_record(r));
}

error_code outbox_file::mark_done(std::uint64_t seq) {
  if (fd_ < 0) return {};
  return write_all("D " + std::to_string(seq) + "\n");
}

error_code outbox_file::clear() {
  if (fd_ < 0) return {};
  if (::ftruncate(fd_, 0) != 0) return make_error_code(error::outbox_io);
  return {};
}

}  // namespace nats::cluster::detail
