// Waiting for a global lock: back off while a live owner holds it, and
// never wait for ever on one that stopped. The owner's liveness is watched
// (StallWatch) once the waiter has gone to sleep; a stalled owner is
// declared failed through the membership path, after which its lock is a
// dead owner's and the next attempt takes it over (kOwnerDied).
#include <sched.h>
#include <time.h>

#include <fmt/format.h>

#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/fencing.hpp"
#include "gmm/liveness.hpp"
#include "gmm/lock.hpp"
#include "records.hpp"

namespace gmm {
using namespace layout;

namespace {

class Backoff {
 public:
  void wait() {
    if (round_ < 64) {
      __builtin_ia32_pause();
    } else if (round_ < 80) {
      sched_yield();
    } else {
      timespec ts{0, static_cast<long>(sleep_ns_)};
      nanosleep(&ts, nullptr);
      sleep_ns_ = sleep_ns_ * 2 > kMaxSleepNs ? kMaxSleepNs : sleep_ns_ * 2;
    }
    ++round_;
  }
  // Past spinning and yielding: worth looking at the owner's liveness (a
  // short contended wait never pays for it).
  bool sleeping() const { return round_ >= 80; }

 private:
  static constexpr std::uint64_t kMaxSleepNs = 1'000'000;
  std::uint32_t round_ = 0;
  std::uint64_t sleep_ns_ = 10'000;
};

// Evidence that the node owning `lock` stalled, once it has stood still for
// the detection threshold (checker-owned locks are leases, not watched).
std::optional<Stall> owner_stalled(const Pool& pool, const GlobalLock& lock, StallWatch& watch) {
  const std::uint64_t owner = load_acquire(lock.owner);
  const std::uint32_t node = lock_owner_node(owner);
  if (node >= pool.node_count()) return std::nullopt;
  // Declared already, its fence pending: nothing to declare, just wait.
  if (fence_pending(pool, node, lock_owner_incarnation(owner), realtime_ns())) return std::nullopt;
  return watch.observe(pool, node, lock_owner_incarnation(owner), monotonic_ns());
}

}  // namespace

Result<LockAcquired> lock_acquire(const Pool& pool, GlobalLock& lock, std::uint64_t me) {
  Backoff backoff;
  StallWatch owner_watch;
  for (;;) {
    auto got = lock_try_acquire(pool, lock, me);
    if (got || got.error().code != Errc::kBusy) return got;
    if (backoff.sleeping()) {
      if (auto stall = owner_stalled(pool, lock, owner_watch)) {
        auto declared = records::declare_failed(pool, me, *stall, nullptr);
        if (!declared) return declared.error();
        owner_watch.reset();
        continue;  // declared (by us or another): the next attempt takes it over
      }
    }
    backoff.wait();
  }
}

Result<LockAcquired> lock_acquire_bounded(const Pool& pool, GlobalLock& lock, std::uint64_t me,
                                          std::uint64_t max_wait_ns) {
  Backoff backoff;
  StallWatch owner_watch;
  const std::uint64_t start = monotonic_ns();
  for (;;) {
    auto got = lock_try_acquire(pool, lock, me);
    if (got || got.error().code != Errc::kBusy) return got;
    if (backoff.sleeping()) {
      if (auto stall = owner_stalled(pool, lock, owner_watch))
        return make_error(Errc::kBusy, fmt::format("held by {}", stall->describe()));
      const std::uint64_t waited = monotonic_ns() - start;
      if (waited > max_wait_ns) {
        const std::uint64_t owner = load_acquire(lock.owner);
        return make_error(Errc::kBusy, fmt::format("held by node {} (incarnation {}) for more than {} ms",
                                                   lock_owner_node(owner), lock_owner_incarnation(owner),
                                                   waited / 1'000'000));
      }
    }
    backoff.wait();
  }
}

}  // namespace gmm
