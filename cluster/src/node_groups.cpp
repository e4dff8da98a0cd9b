// Groups (subscribe_options::group): membership published with the presence entry, and the rule
// that decides when a group's shared consumer may be removed. The consumer itself is created in
// node_impl::ensure_consumer like any other; see docs/cluster.md "Groups".
#include "node_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace nats::cluster::detail {

namespace asio = boost::asio;
using boost::system::error_code;

std::vector<group_membership> node_impl::my_groups() const {
  std::vector<group_membership> out;
  for (auto& [id, s] : subs_) {
    if (s->opts.group.empty()) continue;
    if (std::none_of(out.begin(), out.end(), [&](const group_membership& g) { return g.group == s->opts.group; }))
      out.push_back(group_membership{s->opts.group, s->opts.patterns});
  }
  return out;
}

bool node_impl::group_has_other_members(const std::string& group) const {
  auto in = [&](const std::vector<group_membership>& gs) {
    return std::any_of(gs.begin(), gs.end(), [&](const group_membership& g) { return g.group == group; });
  };
  if (in(my_groups())) return true;  // another subscription of this node
  for (auto& [id, p] : peers_)
    if (id != cfg_.instance_id && in(p.value.groups)) return true;
  return false;
}

void node_impl::refresh_presence() {
  // Before the first registration, setup() writes the groups with the entry.
  if (!ready_ || !bucket_ready_ || presence_rev_ == 0 || phase_ != phase::running) return;
  asio::co_spawn(
      ex_, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->write_presence(); }, asio::detached);
}

asio::awaitable<error_code> node_impl::write_presence() {
  // One write at a time (the compare-and-set of two concurrent writes would make one fail); a change
  // while writing is written once more afterwards.
  if (presence_busy_) {
    presence_again_ = true;
    co_return error_code{};
  }
  auto self = shared_from_this();
  presence_busy_ = true;
  error_code ec;
  do {
    presence_again_ = false;
    ec = co_await register_presence();
  } while (!ec && presence_again_ && ready_);
  presence_busy_ = false;
  co_return ec;
}

}  // namespace nats::cluster::detail
