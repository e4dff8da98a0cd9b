// The optional on-disk outbox: an append-only log of accepted publishes ("A" records) and of their
// completion ("D" records), so a process crash during an outage loses nothing accepted. Replayed and
// compacted on open; truncated whenever the outbox becomes empty. Internal header.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace nats::cluster::detail {

struct outbox_record {
  std::uint64_t seq = 0;
  bool ephemeral = false;
  std::int64_t expires_ms = 0;  ///< ephemeral: absolute expiry (ms since the epoch)
  std::string msg_id;
  std::string subject;
  std::string headers;          ///< serialized header block (may be empty)
  std::string payload;
};

class outbox_file {
 public:
  outbox_file() = default;
  ~outbox_file();
  outbox_file(const outbox_file&) = delete;
  outbox_file& operator=(const outbox_file&) = delete;

  /// Opens (creating) `path`, locks it (another process holding it: duplicate_instance), returns the
  /// records not marked done, in order, and rewrites the file with only those.
  boost::system::error_code open(const std::string& path, std::vector<outbox_record>& live);
  bool is_open() const noexcept { return fd_ >= 0; }
  const std::string& path() const noexcept { return path_; }

  boost::system::error_code append(const outbox_record& r);
  boost::system::error_code mark_done(std::uint64_t seq);
  /// Called when the outbox is empty: the file shrinks to nothing.
  boost::system::error_code clear();
  void close();

 private:
  boost::system::error_code write_all(const std::string& bytes);
  int fd_ = -1;
  std::string path_;
};

/// Parses a log (exposed for unit tests); stops at the first torn/invalid record.
std::vector<outbox_record> parse_outbox_log(const std::string& bytes);
std::string serialize_outbox_record(const outbox_record& r);

}  // namespace nats::cluster::detail
