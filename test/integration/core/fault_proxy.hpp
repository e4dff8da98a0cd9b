// Test helper: a TCP proxy between the client under test and a real nats-server that can cut a
// connection after exactly N bytes in one direction (network error injection, reliability U1).
//
// The proxy runs its own io_context on its own thread, so the client's io_context stays the only
// thing the test steps. Byte counts are recorded per accepted connection, so a clean run tells the
// test where every protocol line starts and ends.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nats::test {

enum class direction { client_to_server, server_to_client };

/// Cut the `connection`-th accepted connection (0-based) after exactly `after_bytes` bytes have been
/// forwarded in `dir`: those bytes are delivered, then both sides are closed.
struct cut_rule {
  std::size_t connection = 0;
  direction dir = direction::client_to_server;
  std::size_t after_bytes = 0;
};

class fault_proxy {
 public:
  /// Listens on a free 127.0.0.1 port and forwards to 127.0.0.1:`upstream_port`.
  explicit fault_proxy(int upstream_port, std::optional<cut_rule> rule = std::nullopt);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  int port() const noexcept;
  std::string url() const;  ///< nats://127.0.0.1:<port>

  /// Bytes forwarded so far on the given connection in the given direction (thread-safe snapshot).
  std::string transcript(std::size_t connection, direction dir) const;
  std::size_t connections() const;  ///< accepted so far
  bool cut_happened() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nats::test
