#include "runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include <pthread.h>

namespace addon {

namespace asio = boost::asio;

struct runtime::impl {
  std::mutex m;
  int users = 0;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::thread thread;
  std::uint64_t next_hook = 1;
  std::map<std::uint64_t, std::function<void()>> hooks;
};

runtime& runtime::instance() {
  // Never destroyed: handlers still queued when the process exits must not outlive their io_context.
  static runtime* r = [] {
    auto* p = new runtime();
    p->impl_ = new impl();
    return p;
  }();
  return *r;
}

void runtime::attach() {
  std::lock_guard lk(impl_->m);
  if (impl_->users++ > 0) return;
  impl_->io.restart();
  impl_->guard.emplace(impl_->io.get_executor());
  impl_->thread = std::thread([this] {
    // Named, so per-thread CPU figures (top -H, /proc/<pid>/task) tell it from Node's own threads.
    pthread_setname_np(pthread_self(), "nats-cluster-io");
    for (;;) {
      try {
        impl_->io.run();
        return;
      } catch (...) {
        // A handler threw: nothing in the cluster layer should, but the loop must survive it.
      }
    }
  });
}

void runtime::detach() {
  std::unique_lock lk(impl_->m);
  if (--impl_->users > 0) return;
  auto hooks = std::move(impl_->hooks);
  impl_->hooks.clear();
  lk.unlock();

  // Let every hook (abrupt stop of the nodes still alive) run on the io thread, then let the loop end
  // by itself; if something still holds it after a grace period, stop it.
  struct pending {
    std::map<std::uint64_t, std::function<void()>> hooks;
    std::promise<void> done;
  };
  auto p = std::make_shared<pending>();
  p->hooks = std::move(hooks);
  auto done = p->done.get_future();
  asio::post(impl_->io, [p] {
    for (auto& [id, f] : p->hooks) {
      try {
        f();
      } catch (...) {
      }
    }
    p->done.set_value();
  });
  done.wait_for(std::chrono::seconds(3));
  impl_->guard.reset();
  std::promise<void> ended;
  auto ended_f = ended.get_future();
  std::thread waiter([&] {
    if (impl_->thread.joinable()) impl_->thread.join();
    ended.set_value();
  });
  if (ended_f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) impl_->io.stop();
  waiter.join();
}

asio::any_io_executor runtime::executor() { return impl_->io.get_executor(); }

std::uint64_t runtime::on_shutdown(std::function<void()> f) {
  std::lock_guard lk(impl_->m);
  auto id = impl_->next_hook++;
  impl_->hooks.emplace(id, std::move(f));
  return id;
}

void runtime::forget(std::uint64_t handle) {
  std::lock_guard lk(impl_->m);
  impl_->hooks.erase(handle);
}

}  // namespace addon
