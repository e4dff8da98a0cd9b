#include <nats/kv/error.hpp>

#include <string>

namespace nats::kv {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "nats.kv"; }
  std::string message(int v) const override {
    switch (static_cast<error>(v)) {
      case error::invalid_bucket_name: return "invalid bucket name";
      case error::invalid_key: return "invalid key";
      case error::bucket_not_found: return "bucket not found";
      case error::not_a_bucket: return "stream is not a key-value bucket";
      case error::key_not_found: return "key not found";
      case error::key_exists: return "key exists";
      case error::wrong_revision: return "wrong last revision";
      case error::history_too_large: return "history limited to 64";
      case error::invalid_config: return "invalid bucket configuration";
      case error::watcher_closed: return "watcher closed";
    }
    return "unknown kv error " + std::to_string(v);
  }
};

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category c;
  return c;
}

}  // namespace nats::kv
