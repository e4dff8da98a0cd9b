// The process-wide Asio runtime of the addon: one io_context run by one background thread, shared by
// every cluster node of every Node-API environment in the process. Started when the first environment
// loads the addon, shut down (bounded, thread joined) when the last one goes away.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

namespace addon {

class runtime {
 public:
  static runtime& instance();

  /// One Node-API environment starts/stops using the runtime (first attach starts the thread).
  void attach();
  void detach();

  boost::asio::any_io_executor executor();

  /// Work to run on the io thread when the runtime shuts down (e.g. abort a cluster node that was
  /// never stopped). Returns a handle for forget().
  std::uint64_t on_shutdown(std::function<void()> f);
  void forget(std::uint64_t handle);

 private:
  runtime() = default;
  struct impl;
  impl* impl_ = nullptr;
};

}  // namespace addon
