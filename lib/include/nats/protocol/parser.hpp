// Sans-io parser for what a NATS server sends. Bytes in, operations out; no sockets, no Asio.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace nats::protocol {

enum class op_kind { info, msg, hmsg, ping, pong, ok, err };

/// One server operation. All views point into the parser's buffer and stay valid
/// until the next call to prepare(), commit(), feed() or next().
struct server_op {
  op_kind kind{};
  std::string_view subject;  ///< MSG/HMSG
  std::string_view reply;    ///< MSG/HMSG, empty if none
  std::uint64_t sid = 0;     ///< MSG/HMSG
  std::string_view headers;  ///< HMSG: the raw header block, including the trailing blank line
  std::string_view payload;  ///< MSG/HMSG payload (without headers)
  std::string_view text;     ///< INFO: the JSON object; -ERR: the message without quotes
};

struct parser_limits {
  std::size_t max_control_line = 4096;         ///< longest control line accepted (without CRLF)
  std::size_t max_payload = 64 * 1024 * 1024;  ///< largest MSG/HMSG total size accepted
};

/// Incremental parser. Usage: write received bytes into prepare(n), commit(count), then call next()
/// until it returns nullopt. Input may be split at any byte. After an error the parser stays failed
/// until reset().
class parser {
 public:
  explicit parser(parser_limits limits = {});

  /// Changes the payload limit (e.g. to the server's INFO max_payload).
  void set_max_payload(std::size_t n) noexcept { limits_.max_payload = n; }
  const parser_limits& limits() const noexcept { return limits_; }

  /// A writable area of at least `n` bytes at the end of the buffered input.
  std::span<char> prepare(std::size_t n);
  /// Marks `n` bytes of the last prepare() area as received.
  void commit(std::size_t n) noexcept;
  /// prepare + copy + commit, convenient for tests and fuzzing.
  void feed(std::string_view bytes);

  /// The next complete operation, or nullopt when more bytes are needed (ec clear) or the
  /// input is malformed (ec set: protocol_error, control_line_too_long, max_payload_exceeded).
  std::optional<server_op> next(boost::system::error_code& ec);

  /// Drops buffered input and any error (use on a new connection).
  void reset() noexcept;

  /// Bytes received but not yet returned as operations.
  std::size_t buffered() const noexcept { return end_ - begin_; }

 private:
  // A MSG/HMSG whose control line is parsed but whose body has not fully arrived. Offsets are
  // relative to begin_, so they survive compaction of the buffer.
  struct pending_msg {
    op_kind kind = op_kind::msg;
    std::uint64_t sid = 0;
    std::size_t subject_off = 0, subject_len = 0;
    std::size_t reply_off = 0, reply_len = 0;
    std::size_t body_off = 0;  // first byte after the control line's CRLF
    std::size_t header_len = 0;
    std::size_t total_len = 0;  // headers + payload, without the trailing CRLF
  };

  std::optional<server_op> fail(boost::system::error_code& ec, boost::system::error_code what) noexcept;
  boost::system::error_code parse_msg_line(const char* line, std::size_t len, bool with_headers) noexcept;
  server_op take_pending() noexcept;

  parser_limits limits_;
  std::string buf_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // end of committed bytes
  boost::system::error_code failed_;
  std::size_t scanned_ = 0;  // bytes after begin_ already searched for '\n' without finding one
  bool has_pending_ = false;
  pending_msg pending_;
};

}  // namespace nats::protocol
