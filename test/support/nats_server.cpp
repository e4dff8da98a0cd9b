#include "nats_server.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NATS_SERVER_BIN
#define NATS_SERVER_BIN "nats-server"
#endif

namespace nats::test {

std::string nats_server_binary() {
  if (const char* env = std::getenv("NATS_SERVER_BIN"); env && *env) return env;
  return NATS_SERVER_BIN;
}

std::string make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  return tmpl;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << content;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

nats_server::nats_server(server_options opts) : opts_(std::move(opts)) {
  port_ = opts_.port ? opts_.port : free_port();
  work_dir_ = make_temp_dir("nats-test");
  store_dir_ = opts_.store_dir.empty() ? work_dir_ + "/store" : opts_.store_dir;
  config_path_ = work_dir_ + "/server.conf";
  log_path_ = work_dir_ + "/server.log";
  write_config();
  start();
}

nats_server::~nats_server() {
  try {
    stop();
  } catch (...) {
  }
  remove_tree(work_dir_);
}

void nats_server::write_config() {
  std::ostringstream c;
  c << "listen: 127.0.0.1:" << port_ << "\n";
  c << "http: 0\n";
  if (opts_.jetstream) {
    c << "jetstream {\n  store_dir: \"" << store_dir_ << "\"\n  max_memory_store: 256MB\n  max_file_store: 2GB\n}\n";
  }
  c << opts_.config << "\n";
  write_file(config_path_, c.str());
}

void nats_server::start() {
  if (pid_ > 0) return;
  std::vector<std::string> argv_s{nats_server_binary(), "-c", config_path_, "-l", log_path_};
  if (opts_.debug_log) argv_s.push_back("-DV");
  for (auto& a : opts_.args) argv_s.push_back(a);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  if (!wait_for_port(port_, std::chrono::seconds(15))) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    std::string why = r == pid_ ? "it exited" : "it did not open its port";
    kill();
    throw std::runtime_error("nats-server failed to start (" + why + "); log:\n" + log());
  }
}

void nats_server::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill();
}

void nats_server::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void nats_server::pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void nats_server::resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void nats_server::lame_duck() {
  // nats-server enters lame-duck mode on SIGUSR2.
  if (pid_ > 0) ::kill(pid_, SIGUSR2);
}

std::string nats_server::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::string nats_server::log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace nats::test
