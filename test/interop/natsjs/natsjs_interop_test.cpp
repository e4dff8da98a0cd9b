// Interop with the official nats.js client (npm `nats`) through a real nats-server: messages with
// (multi-valued) headers both ways, and request/reply both ways.
#define BOOST_TEST_MODULE interop_natsjs
#include "test_util.hpp"
#include "operator_setup.hpp"

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

/// Reads the peer's stdout line by line.
struct line_reader {
  asio::posix::stream_descriptor out;
  asio::streambuf buf;
  line_reader(asio::io_context& ioc, int fd) : out(ioc, fd) {}
  asio::awaitable<std::string> next() {
    auto [ec, n] = co_await asio::async_read_until(out, buf, '\n', asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::string("EOF ") + ec.message();
    std::istream is(&buf);
    std::string line;
    std::getline(is, line);
    co_return line;
  }
};

/// Our client and nats.js authenticate with the same material and exchange a message.
void exchange_with_authenticated_peer(const nats_server& server, options ours, const std::string& mode,
                                      const std::string& material_file) {
  const std::string modules = INTEROP_NODE_MODULES;
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(modules + "/nats"), "nats.js is not installed: run scripts/setup.sh");
  run_test([&](asio::io_context& ioc) -> asio::awaitable<void> {
    connection c(ioc.get_executor(), ours);
    co_await connect_or_throw(c);
    error_code ec;
    const std::string subject = "auth.interop." + mode;
    auto back = c.subscribe(subject + ".back", ec);
    BOOST_REQUIRE(!ec);
    co_await c.async_flush(asio::use_awaitable);
    child_process peer({"node", NATSJS_AUTH_PEER_SCRIPT, server.url(), mode, material_file, subject}, modules);
    line_reader lines(ioc, peer.out_fd);
    auto first = co_await lines.next();
    BOOST_REQUIRE_MESSAGE(first == "READY", "peer said: " + first);
    BOOST_REQUIRE(!c.publish(subject, "hello"));
    auto m = co_await back.async_next(asio::use_awaitable);
    BOOST_TEST(m.payload == "hello:js-" + mode);
    BOOST_TEST(co_await lines.next() == "DONE");
    BOOST_TEST(peer.wait_exit() == 0);
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(natsjs_and_we_authenticate_with_the_same_nkey) {
  auto user = auth::key_pair::generate(auth::key_kind::user);
  nats_server server({.config = "authorization {\n  users: [\n    {nkey: " + user.public_key() + "}\n  ]\n}\n"});
  const std::string seed_file = server.work_dir() + "/user.nk";
  write_file(seed_file, user.seed());
  auto o = options_for(server);
  o.auth.nkey_seed = user.seed();
  exchange_with_authenticated_peer(server, o, "nkey", seed_file);
}

BOOST_AUTO_TEST_CASE(natsjs_and_we_authenticate_with_the_same_creds_file) {
  operator_setup ops;
  const std::string dir = make_temp_dir("nats-interop-creds");
  nats_server server({.config = ops.server_config(dir)});
  auto user = auth::key_pair::generate(auth::key_kind::user);
  const std::string creds_file = dir + "/user.creds";
  write_file(creds_file, operator_setup::creds(ops.user_jwt(user), user.seed()));
  auto o = options_for(server);
  o.auth.creds_file = creds_file;
  exchange_with_authenticated_peer(server, o, "creds", creds_file);
  remove_tree(dir);
}

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
