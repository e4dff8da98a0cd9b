// Boost.Test printing of the module's enums (found by ADL).
#pragma once

#include <ostream>
#include <type_traits>

namespace nats::js {
template <class E>
  requires std::is_enum_v<E>
std::ostream& operator<<(std::ostream& os, E e) {
  return os << static_cast<long>(e);
}
}  // namespace nats::js
