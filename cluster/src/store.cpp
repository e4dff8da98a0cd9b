// Host key-values on a cluster node's connection (see store.hpp). The bucket is bound (or created) on
// first use after each node start; operations that arrive meanwhile wait for that one bind.
#include <nats/cluster/store.hpp>

#include "node_impl.hpp"

#include <nats/kv/kv.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

namespace nats::cluster {

namespace asio = boost::asio;
using boost::system::error_code;

namespace detail {

class store_impl : public std::enable_shared_from_this<store_impl> {
 public:
  using ready_handler = asio::any_completion_handler<void(error_code)>;

  store_impl(std::shared_ptr<node_impl> n, store_options o)
      : node_(std::move(n)), opts_(std::move(o)), name_(node_->bucket_ + "_" + opts_.suffix) {}

  const std::string& name() const noexcept { return name_; }
  node_impl& node() const noexcept { return *node_; }

  /// The bucket handle, bound on the node's current connection; errors: not_connected, bind/create errors.
  void with_bucket(ready_handler h) {
    auto* nb = node_->ready_bucket();
    if (!nb) return asio::post(node_->ex_, asio::append(std::move(h), make_error_code(nats::error::not_connected)));
    if (bound_) return asio::post(node_->ex_, asio::append(std::move(h), error_code{}));
    waiting_.emplace_back(std::move(h));
    if (binding_) return;
    binding_ = true;
    js::context& js = nb->jetstream();
    kv::async_bind_bucket(js, name_, [self = shared_from_this(), &js](error_code ec, kv::bucket b) {
      if (ec != kv::error::bucket_not_found) return self->bound(ec, std::move(b));
      kv::bucket_config bc;
      bc.bucket = self->name_;
      bc.history = 1;
      bc.replicas = self->opts_.replicas > 0 ? self->opts_.replicas : self->node_->cfg_.bucket_replicas;
      kv::async_create_bucket(js, bc, [self, &js](error_code cec, kv::bucket cb) {
        if (!cec) return self->bound(cec, std::move(cb));
        // Another instance may have created it first.
        kv::async_bind_bucket(js, self->name_, [self](error_code bec, kv::bucket bb) { self->bound(bec, std::move(bb)); });
      });
    });
  }

  kv::bucket& bucket() noexcept { return bucket_; }

  /// The server's max_payload (0: unknown).
  std::size_t max_payload() const {
    auto* nb = node_->ready_bucket();
    if (!nb) return 0;
    auto mp = nb->jetstream().conn().server_info().max_payload;
    return mp > 0 ? static_cast<std::size_t>(mp) : 0;
  }

 private:
  void bound(error_code ec, kv::bucket b) {
    binding_ = false;
    if (!ec) {
      bucket_ = std::move(b);
      bound_ = true;
    }
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& h : waiting) std::move(h)(ec);
  }

  std::shared_ptr<node_impl> node_;
  store_options opts_;
  std::string name_;
  kv::bucket bucket_;  // our own handle: bucket operations refer to it until they complete
  bool bound_ = false, binding_ = false;
  std::vector<ready_handler> waiting_;
};

}  // namespace detail

kv_store::kv_store(node& n, store_options opts) : impl_(std::make_shared<detail::store_impl>(n.impl_, std::move(opts))) {}
kv_store::~kv_store() = default;

const std::string& kv_store::bucket() const noexcept { return impl_->name(); }

void kv_store::get_impl(const std::string& key, entry_handler h) {
  impl_->with_bucket([s = impl_, key, h = std::move(h)](error_code ec) mutable {
    if (ec) return std::move(h)(ec, kv::entry{});
    s->bucket().async_get(key, [s, h = std::move(h)](error_code gec, kv::entry e) mutable { std::move(h)(gec, std::move(e)); });
  });
}

void kv_store::write_impl(const std::string& key, const std::string& value, std::int64_t expect, rev_handler h) {
  if (!kv::valid_key(key))
    return asio::post(impl_->node().ex_, asio::append(std::move(h), make_error_code(kv::error::invalid_key), std::uint64_t{0}));
  impl_->with_bucket([s = impl_, key, value, expect, h = std::move(h)](error_code ec) mutable {
    if (ec) return std::move(h)(ec, std::uint64_t{0});
    // Checked here, before anything is sent: the server would refuse it, and no part is written.
    if (auto mp = s->max_payload(); mp && value.size() + key.size() + 128 > mp)
      return std::move(h)(make_error_code(error::payload_too_large), std::uint64_t{0});
    auto done = [s, h = std::move(h)](error_code wec, std::uint64_t rev) mutable { std::move(h)(wec, rev); };
    if (expect < 0) s->bucket().async_put(key, value, std::move(done));
    else if (expect == 0) s->bucket().async_create(key, value, std::move(done));
    else s->bucket().async_update(key, value, static_cast<std::uint64_t>(expect), std::move(done));
  });
}

void kv_store::delete_impl(const std::string& key, void_handler h) {
  if (!kv::valid_key(key))
    return asio::post(impl_->node().ex_, asio::append(std::move(h), make_error_code(kv::error::invalid_key)));
  impl_->with_bucket([s = impl_, key, h = std::move(h)](error_code ec) mutable {
    if (ec) return std::move(h)(ec);
    s->bucket().async_delete(key, [s, h = std::move(h)](error_code dec) mutable { std::move(h)(dec); });
  });
}

void kv_store::keys_impl(const std::string& filter, keys_handler h) {
  impl_->with_bucket([s = impl_, filter, h = std::move(h)](error_code ec) mutable {
    if (ec) return std::move(h)(ec, std::vector<std::string>{});
    s->bucket().async_keys(filter, [s, h = std::move(h)](error_code kec, std::vector<std::string> keys) mutable {
      std::move(h)(kec, std::move(keys));
    });
  });
}

}  // namespace nats::cluster
