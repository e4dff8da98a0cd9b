// Message headers: the `NATS/1.0 [status [description]]` line plus MIME-style fields.
#pragma once

#include <boost/system/error_code.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nats {

/// Header block of a message. Field names keep their case; lookups ignore case.
/// A name may appear several times (multi-valued), in order.
class headers {
 public:
  using field = std::pair<std::string, std::string>;

  headers() = default;

  /// Status code from the first line (e.g. 503 no responders, 404/408/409 from JetStream), 0 if none.
  int status() const noexcept { return status_; }
  const std::string& description() const noexcept { return description_; }
  void set_status(int code, std::string description = {});

  /// Appends a value (keeps any existing values of the same name).
  void add(std::string name, std::string value);
  /// Replaces every value of `name` with one value.
  void set(std::string name, std::string value);
  /// Removes every value of `name`; returns how many were removed.
  std::size_t erase(std::string_view name);

  /// First value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  /// Every value of `name`, in order.
  std::vector<std::string_view> get_all(std::string_view name) const;

  const std::vector<field>& fields() const noexcept { return fields_; }
  bool empty() const noexcept { return fields_.empty() && status_ == 0; }

  /// Appends the wire form (`NATS/1.0...\r\n` fields `\r\n\r\n`) to `out`.
  void serialize(std::string& out) const;
  /// Size in bytes of serialize()'s output.
  std::size_t serialized_size() const;

  /// Parses a header block as it appears in HMSG. Sets `ec` to error::invalid_header on failure.
  static headers parse(std::string_view block, boost::system::error_code& ec);

  /// Checks a field name (printable ASCII, no ':' or whitespace) and value (no CR/LF).
  static boost::system::error_code validate(std::string_view name, std::string_view value);

  friend bool operator==(const headers&, const headers&) = default;

 private:
  int status_ = 0;
  std::string description_;
  std::vector<field> fields_;
};

}  // namespace nats
