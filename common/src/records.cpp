#include "records.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/fencing.hpp"

namespace gmm::records {
using namespace layout;

namespace {

std::uint64_t bit(std::uint32_t node) { return std::uint64_t{1} << node; }

enum class Recheck { kEvidence, kIncarnationOnly };

// Membership lock held, (node, incarnation) checked alive: slot Failed,
// out of `members`, a kNodeFailed record.
void mark_failed(const Pool& pool, std::uint32_t node, std::uint32_t incarnation, std::uint32_t declared_by,
                 DetectedBy detected_by) {
  NodeSlot& slot = pool.node_slot(node);
  publish_state(slot.state, NodeState::kFailed);
  ClusterHeader& c = pool.cluster();
  store_release(c.members, load_acquire(c.members) & ~bit(node));
  append(pool, EventKind::kNodeFailed, node, incarnation, declared_by, load_acquire(slot.heartbeat_ns), detected_by);
}

// Membership lock held. Marks the stalled node failed if it is still that
// incarnation, alive by state, and (kEvidence) its stopped counter has not moved.
bool declare_locked(const Pool& pool, const Stall& stall, std::uint32_t declared_by, Recheck recheck) {
  if (stall.node >= pool.node_count()) return false;
  const LivenessSample now = sample_liveness(pool, stall.node);
  const bool alive_by_state = now.state == NodeState::kMember || now.state == NodeState::kJoining;
  if (!alive_by_state || now.incarnation != stall.incarnation) return false;
  if (recheck == Recheck::kEvidence && !stall.still_holds(now)) return false;
  mark_failed(pool, stall.node, stall.incarnation, declared_by, DetectedBy::kHeartbeat);
  return true;
}

}  // namespace

RecoveryRecord& append(const Pool& pool, EventKind kind, std::uint32_t node, std::uint32_t incarnation,
                       std::uint32_t declared_by, std::uint64_t last_beat_ns, DetectedBy detected_by) {
  ClusterHeader& c = pool.cluster();
  const std::uint64_t epoch = load_acquire(c.view_epoch) + 1;
  store_release(c.view_epoch, epoch);
  const std::uint64_t sequence = load_acquire(c.events) + 1;
  RecoveryRecord& r = pool.recovery(sequence);
  std::memset(static_cast<void*>(&r), 0, sizeof(r));
  r.kind = static_cast<std::uint32_t>(kind);
  r.node = node;
  r.incarnation = incarnation;
  r.declared_by = declared_by;
  r.sequence = sequence;
  r.view_epoch = epoch;
  r.last_beat_ns = last_beat_ns;
  r.declared_ns = realtime_ns();
  r.survivors = load_acquire(c.members);
  r.detected_by = static_cast<std::uint32_t>(detected_by);
  store_release(c.events, sequence);  // publish last
  return r;
}

void repair_membership(const Pool& pool) {
  std::uint64_t members = 0;
  for (std::uint32_t n = 0; n < pool.node_count(); ++n)
    if (load_state<NodeState>(pool.node_slot(n).state) == NodeState::kMember) members |= bit(n);
  store_release(pool.cluster().members, members);
}

Result<TableLock> lock_membership(const Pool& pool, std::uint64_t me, const std::function<void()>& keep_alive) {
  GlobalLock& lock = pool.locks().membership;
  auto repair = [&] { repair_membership(pool); };
  StallWatch owner_watch;
  for (;;) {
    auto got = lock_try_acquire(pool, lock, me);
    if (got || got.error().code != Errc::kBusy) return TableLock::adopt(pool, lock, me, got, repair);
    if (keep_alive) keep_alive();
    const std::uint64_t owner = load_acquire(lock.owner);
    const std::uint32_t node = lock_owner_node(owner);
    if (node < pool.node_count()) {
      if (auto stall = owner_watch.observe(pool, node, lock_owner_incarnation(owner), monotonic_ns())) {
        auto taken = lock_take_over(lock, owner, me);
        if (taken) {
          // It lost the lock for stalling: it is failed even if it moved
          // again just now (its half-done update is repaired below).
          auto held = TableLock::adopt(pool, lock, me, taken, repair);
          declare_locked(pool, *stall, lock_owner_node(me), Recheck::kIncarnationOnly);
          return held;
        }
      }
    }
    const std::uint64_t period_ns = std::uint64_t{load_acquire(pool.cluster().heartbeat_period_us)} * 1000;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::max<std::uint64_t>(period_ns / 4, 100'000)));
  }
}

Result<bool> declare_failed(const Pool& pool, std::uint64_t me, const Stall& stall,
                            const std::function<void()>& keep_alive) {
  auto lock = lock_membership(pool, me, keep_alive);
  if (!lock) return lock.error();
  return declare_locked(pool, stall, lock_owner_node(me), Recheck::kEvidence);
}

Result<bool> declare_noticed(const Pool& pool, std::uint64_t me, std::uint32_t node, std::uint32_t incarnation,
                             const std::function<void()>& keep_alive) {
  if (node >= pool.node_count() || incarnation == 0) return false;
  auto lock = lock_membership(pool, me, keep_alive);
  if (!lock) return lock.error();
  if (live_notice(pool, node) != incarnation) return false;  // rejoined, left, or declared already
  mark_failed(pool, node, incarnation, lock_owner_node(me), DetectedBy::kHost);
  return true;
}

}  // namespace gmm::records
