// Lets Boost.Test print our enums in failure messages.
#pragma once

#include <nats/auth.hpp>
#include <nats/error.hpp>

#include <ostream>

namespace nats {
inline std::ostream& boost_test_print_type(std::ostream& os, error e) { return os << make_error_code(e).message(); }
namespace auth {
inline std::ostream& boost_test_print_type(std::ostream& os, key_kind k) { return os << static_cast<int>(k); }
}  // namespace auth
}  // namespace nats
