// A subscriber in a forked child process, for tests that SIGKILL it: its own io_context and node, every
// delivery appended to a file (payload and redelivered flag, one write per message, so it survives
// SIGKILL) before the handler returns and the delivery is acknowledged.
#pragma once

#include "cluster_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace nats::cluster::test {

/// An empty temporary file named "<prefix>-XXXXXX".
inline std::string make_temp_file(const std::string& prefix) {
  std::string p = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  int fd = ::mkstemp(p.data());
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  return p;
}

/// Runs the child's subscriber; never returns. Fork before the parent has an io_context or a
/// connection of its own. `per_message`: the time the "flow" takes, so pulled messages queue up
/// unacknowledged behind it. Exit codes 3–5: start, write or subscribe failed.
[[noreturn]] inline void run_forked_subscriber(const std::string& url, const std::string& instance_id,
                                               const subscribe_options& opts, const std::string& file,
                                               std::chrono::microseconds per_message) {
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  asio::io_context ioc;
  node n(ioc.get_executor(), make_config(std::vector<std::string>{url}, instance_id));
  n.async_start([](error_code ec) {
    if (ec) ::_exit(3);
  });
  error_code ec;
  n.subscribe(opts, [fd, per_message](delivery&& d) {
    ::usleep(static_cast<useconds_t>(per_message.count()));
    std::string line = d.payload + (d.redelivered ? " r\n" : " -\n");
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(4);
  }, ec);
  if (ec) ::_exit(5);
  ioc.run();
  ::_exit(0);
}

/// What the child recorded so far, in delivery order.
struct recorded {
  std::string payload;
  bool redelivered = false;
};
inline std::vector<recorded> read_recorded(const std::string& file) {
  std::vector<recorded> out;
  std::ifstream in(file);
  std::string p, flag;
  while (in >> p >> flag) out.push_back({p, flag == "r"});
  return out;
}

}  // namespace nats::cluster::test
