// Interop with the official nats.js client (npm `nats`) through a real nats-server: messages with
// (multi-valued) headers both ways, and request/reply both ways.
#define BOOST_TEST_MODULE interop_natsjs
#include "test_util.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include <filesystem>
#include <istream>
#include <set>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace nats;
using namespace nats::test;

namespace {

/// A child process (node) whose stdout we read line by line.
struct child_process {
  pid_t pid = -1;
  int out_fd = -1;

  child_process(std::vector<std::string> args, const std::string& node_path) {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::setenv("NODE_PATH", node_path.c_str(), 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_fd = fds[0];
  }
  int wait_exit() {
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ~child_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(headers_and_requests_both_ways_with_natsjs) {
  const std::string modules = INTEROP_NODE_MODULES;
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(modules + "/nats"),
                        "nats.js is not installed: run scripts/setup.sh (npm ci in test/interop)");
  nats_server server;
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), options_for(server));
    co_await connect_or_throw(c);
    error_code ec;
    // What nats.js sends us.
    auto inbox = c.subscribe("interop.cpp.inbox", ec);
    BOOST_REQUIRE(!ec);
    // Our responder for nats.js's request.
    auto svc = c.subscribe(
        "interop.cpp.svc",
        [&](message&& m) {
          headers h;
          h.add("X-From", "cpp");
          auto req = m.headers.get("X-Req").value_or("");
          c.publish(m.reply, h, "cpp:" + m.payload + ":" + std::string(req));
        },
        ec);
    BOOST_REQUIRE(!ec);
    co_await c.async_flush(asio::use_awaitable);

    child_process peer({"node", NATSJS_PEER_SCRIPT, server.url()}, modules);
    asio::posix::stream_descriptor out(ioc, peer.out_fd);
    asio::streambuf buf;
    std::set<std::string> lines;
    auto read_line = [&]() -> asio::awaitable<std::string> {
      auto [rec, n] = co_await asio::async_read_until(out, buf, '\n', asio::as_tuple(asio::use_awaitable));
      if (rec) co_return std::string("EOF ") + rec.message();
      std::istream is(&buf);
      std::string line;
      std::getline(is, line);
      co_return line;
    };
    auto first = co_await read_line();
    BOOST_REQUIRE_MESSAGE(first == "READY", "peer said: " + first);

    // Our side: publish with headers, request with headers.
    for (int i = 0; i < 3; ++i) {
      headers h;
      h.add("X-Seq", std::to_string(i));
      h.add("X-Multi", "a");
      h.add("X-Multi", "b");
      BOOST_REQUIRE(!c.publish("interop.js.inbox", h, "from-cpp-" + std::to_string(i)));
    }
    headers rh;
    rh.add("X-Req", "from-cpp");
    auto reply = co_await c.async_request("interop.js.svc", rh, "hello", 5s, asio::use_awaitable);
    BOOST_TEST(reply.payload == "js:hello:from-cpp");
    BOOST_TEST(std::string(reply.headers.get("X-From").value_or("")) == "js");

    for (int i = 0; i < 3; ++i) {
      auto m = co_await inbox.async_next(asio::use_awaitable);
      BOOST_TEST(m.payload == "from-js-" + std::to_string(i));
      BOOST_TEST(std::string(m.headers.get("X-Seq").value_or("")) == std::to_string(i));
      auto multi = m.headers.get_all("X-Multi");
      BOOST_REQUIRE(multi.size() == 2u);
      BOOST_TEST(std::string(multi[0]) == "x");
      BOOST_TEST(std::string(multi[1]) == "y");
    }
    for (;;) {
      auto line = co_await read_line();
      if (line.rfind("EOF", 0) == 0) break;
      lines.insert(line);
      BOOST_TEST_MESSAGE("peer: " << line);
      if (line == "DONE" || line.rfind("FAIL", 0) == 0) break;
    }
    BOOST_TEST(lines.count("INBOX_OK") == 1u);
    BOOST_TEST(lines.count("REQUEST_OK") == 1u);
    BOOST_TEST(lines.count("DONE") == 1u);
    BOOST_TEST(peer.wait_exit() == 0);
  });
}
