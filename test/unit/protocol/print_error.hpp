// Lets Boost.Test print nats::error and nats::headers values in failed comparisons (found by ADL).
#pragma once

#include <nats/error.hpp>
#include <nats/headers.hpp>

#include <ostream>
#include <string>

namespace nats {
inline std::ostream& boost_test_print_type(std::ostream& os, error e) {
  return os << make_error_code(e).message() << " (" << static_cast<int>(e) << ")";
}
inline std::ostream& boost_test_print_type(std::ostream& os, const headers& h) {
  std::string wire;
  h.serialize(wire);
  return os << wire;
}
}  // namespace nats
