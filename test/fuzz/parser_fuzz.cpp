// libFuzzer target: the parser differential (whole vs chunked) plus the other decoders.
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true && ninja -C build-fuzz test/fuzz/parser_fuzz
//   mkdir corpus && cp test/fuzz/corpus/* corpus/
//   build-fuzz/test/fuzz/parser_fuzz -max_total_time=120 -dict=test/fuzz/parser_fuzz.dict corpus
#include "differential.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto problems = nats::fuzz::check_input({reinterpret_cast<const char*>(data), size});
  if (!problems.empty()) {
    std::fprintf(stderr, "property violated:\n%s\n", problems.c_str());
    std::abort();
  }
  return 0;
}
