// Leader election on a KV key: among the candidates of a group, at most one is leader at any time,
// with a fencing token that only grows (see docs/cluster.md, "Leader election").
//
// A lease on the key `leaders.<group>` (in the cluster node's bucket, or any bucket you give):
// acquired with a write that only succeeds on the revision the candidate saw (create if absent,
// compare-and-set otherwise), renewed every `renew_interval` with compare-and-set on the leader's own
// last revision. The fencing token is the revision of the write that made the candidate leader.
//
// Acquiring is two writes: the winning compare-and-set, then after `confirm_delay` a compare-and-set on
// its own revision (see leader_options::confirm_delay); only then is the candidate leader.
//
// Timing rule ("never two leaders"): a leader counts its lease from the moment it SENT its last
// successful write, on its own monotonic clock, and stops being leader `lease - margin` after it. A
// candidate may take over only after it has seen the same revision of the key unchanged for a full
// `lease`, counted from the moment it FIRST SAW that revision (also its own monotonic clock). A
// revision is seen after it is stored, and stored after it is sent, so the takeover comes at least
// `margin` after the old leader stopped (clock rates differ by far less than the margin); and a
// takeover is a compare-and-set on that very revision, so it fails if the leader renewed meanwhile.
// is_leader() checks the deadline against the clock on every call (thread-safe), so a process that
// was paused (SIGSTOP, blocked executor) answers false as soon as it runs again, before its timers do.
//
// Like cluster::node: a non-template façade, runs on the executor it is given, starts no thread;
// call start/stop from that executor; events are delivered on it.
#pragma once

#include <nats/cluster/cluster.hpp>
#include <nats/kv/kv.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace nats::cluster {

struct leader_options {
  /// The group: candidates with the same group (in the same bucket) elect one leader. Key-safe text:
  /// letters, digits, `-`, `_`, `=`, `/`, and `.` between tokens.
  std::string group;
  /// Who this candidate is (shown to the others, e.g. the instance id). Empty: the node's instance
  /// id, or a random id with the bucket constructor.
  std::string candidate;
  /// Lease length: a dead leader is replaced at most lease + renew_interval (+ a KV round trip) after
  /// its last renewal. Default: takeover within ~6 s after a SIGKILL.
  std::chrono::milliseconds lease{5000};
  /// Renewal period of the leader, and how often a candidate re-checks the key.
  std::chrono::milliseconds renew_interval{1000};
  /// The leader stops `margin` before its lease could be taken over (covers clock-rate differences and
  /// the time between a leadership check and the action it guards). 0 < margin < lease - renew_interval.
  std::chrono::milliseconds margin{1000};
  /// After its winning write a candidate waits this long, then confirms with a compare-and-set on that
  /// write's revision before it leads: on a replicated bucket nats-server (2.9 and older, issue 4320)
  /// may acknowledge two compare-and-sets on the same revision that arrive at the same moment, and
  /// only the later one survives the confirmation. A few replication round trips.
  std::chrono::milliseconds confirm_delay{200};
  /// Key prefix inside the bucket.
  std::string key_prefix = "leaders.";
};

enum class leader_event_kind {
  became_leader,    ///< this candidate is leader; `token` is its fencing token
  lost_leadership,  ///< no longer leader (`reason`); `ended_at` is when is_leader() turned false
  leader_changed,   ///< another candidate (`leader`, empty: none) holds the key now
};

enum class leadership_loss {
  none,
  stopped,        ///< clean stop (the key was released for an immediate handover)
  lease_expired,  ///< no successful renewal within lease - margin (link down, server slow, paused process)
  taken_over,     ///< a renewal found another revision (someone deleted or wrote the key)
  closed,         ///< the leader object or its node was shut down
};

const char* to_string(leader_event_kind k) noexcept;
const char* to_string(leadership_loss r) noexcept;

struct leader_event {
  leader_event_kind kind = leader_event_kind::leader_changed;
  std::uint64_t token = 0;         ///< became/lost: this candidate's token; changed: the holder's (0: unknown)
  leadership_loss reason = leadership_loss::none;
  std::string leader;              ///< the candidate holding the key (as last seen), empty when none
  /// became_leader: when the winning write was sent; lost_leadership: when the lease ended (the
  /// deadline, or the stop); leader_changed: when it was seen. Monotonic clock of this process.
  std::chrono::steady_clock::time_point at{};
  std::chrono::system_clock::time_point wall_at{};  ///< `at` on the wall clock (for logs/other processes)
  boost::system::error_code ec;    ///< lost_leadership: the last renewal error, if any
};

using leader_handler = std::function<void(const leader_event&)>;

namespace detail {
class leader_impl;
}

/// Thread-safe view of one election's leadership (what is_leader()/token() read), which may outlive
/// the election (then it answers "not leader"). For hosts whose other threads gate work on it.
class leadership {
 public:
  /// Leader now (the lease deadline compared with the monotonic clock)?
  bool is_leader() const noexcept {
    auto d = deadline_.load(std::memory_order_acquire);
    return d != 0 && std::chrono::steady_clock::now().time_since_epoch().count() < d;
  }
  /// The fencing token while leader, else 0.
  std::uint64_t token() const noexcept { return is_leader() ? token_.load(std::memory_order_acquire) : 0; }

 private:
  friend class detail::leader_impl;
  std::atomic<std::chrono::steady_clock::rep> deadline_{0};  ///< 0: not leader
  std::atomic<std::uint64_t> token_{0};
};

class leader_election {
 public:
  using executor_type = boost::asio::any_io_executor;

  /// Elects on the cluster node's bucket (`CLUSTER_<stream>`, keys `leaders.<group>`), with the
  /// node's connection; campaigns whenever the node is connected. The node must outlive nothing:
  /// the election keeps what it needs alive, but stops working when the node is stopped.
  leader_election(node& n, leader_options opts);
  /// Elects on any bound KV bucket (its js::context and connection must outlive this object).
  leader_election(executor_type ex, kv::bucket b, leader_options opts);
  ~leader_election();  ///< abrupt: stops campaigning; a lease held simply runs out (no handover)
  leader_election(const leader_election&) = delete;
  leader_election& operator=(const leader_election&) = delete;

  /// Checks the options (kv::error::invalid_key for a bad group, error::invalid_config for bad
  /// timings) and starts campaigning. Events go to `h` (may be empty).
  boost::system::error_code start(leader_handler h);

  /// Leader now? Compares the lease deadline with the monotonic clock: thread-safe and exact even
  /// when the executor has not run for a while.
  bool is_leader() const noexcept;
  /// The fencing token while leader (else 0). Thread-safe.
  std::uint64_t token() const noexcept;
  /// The candidate holding the key as last seen (may be this one); empty when none.
  std::string leader() const;
  /// The same answers as is_leader()/token(), from an object other threads may keep.
  std::shared_ptr<const leadership> leadership_view() const noexcept;
  const std::string& key() const noexcept;
  const std::string& candidate() const noexcept;

  /// Clean stop (`void(error_code)`): stops being leader at once (lost_leadership, reason stopped),
  /// then deletes the key with compare-and-set on its own revision so another candidate takes over
  /// immediately; never deletes someone else's lease. Errors of that delete are reported (the lease
  /// then runs out instead).
  template <class Token>
  auto async_stop(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto h) { stop_impl(void_handler(std::move(h))); }, token);
  }

 private:
  using void_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;
  void stop_impl(void_handler h);
  std::shared_ptr<detail::leader_impl> impl_;
};

}  // namespace nats::cluster
