// Test fixture: a real nats-server process on a free 127.0.0.1 port, with a temporary store dir.
// Started by fork/exec, stopped by PID (SIGTERM, then SIGKILL). Not thread-safe; no Asio.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace nats::test {

struct server_options {
  bool jetstream = false;
  int port = 0;                     ///< 0: pick a free port
  std::string config;               ///< extra configuration text appended to the generated config file
  std::vector<std::string> args;    ///< extra command-line arguments
  std::string store_dir;            ///< empty: a fresh temp dir (removed by the destructor)
  bool debug_log = false;           ///< -DV to the log file
};

class nats_server {
 public:
  explicit nats_server(server_options opts = {});  ///< starts it and waits until it accepts connections
  ~nats_server();                                  ///< stops it and removes the temp dir it made
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  void start();                  ///< (re)starts on the same port and store dir
  void stop();                   ///< SIGTERM, waits; SIGKILL after 5 s
  void kill();                   ///< SIGKILL, waits
  void pause();                  ///< SIGSTOP (for stale-connection tests)
  void resume();                 ///< SIGCONT
  void lame_duck();              ///< SIGUSR2: the server enters lame-duck mode
  bool running() const noexcept { return pid_ > 0; }

  int port() const noexcept { return port_; }
  std::string url() const;       ///< nats://127.0.0.1:<port>
  const std::string& store_dir() const noexcept { return store_dir_; }
  const std::string& work_dir() const noexcept { return work_dir_; }
  std::string log() const;       ///< content of the server log so far
  pid_t pid() const noexcept { return pid_; }

 private:
  void write_config();
  server_options opts_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string work_dir_;
  std::string store_dir_;
  std::string config_path_;
  std::string log_path_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();
/// Blocks until 127.0.0.1:port accepts a connection or the timeout passes.
bool wait_for_port(int port, std::chrono::milliseconds timeout);
/// Directory with the nats-server binary path used by tests (NATS_SERVER_BIN env overrides).
std::string nats_server_binary();
/// A fresh temp directory (mkdtemp under $TMPDIR or /tmp).
std::string make_temp_dir(const std::string& prefix);
void remove_tree(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace nats::test
