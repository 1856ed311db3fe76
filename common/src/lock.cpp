#include "gmm/lock.hpp"

#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/fencing.hpp"

namespace gmm {
using namespace layout;

namespace {

// The host checker holds locks only for a snapshot copy; after this lease a
// checker-owned lock counts as abandoned (the checker process died).
constexpr std::uint64_t kCheckerLeaseNs = 2'000'000'000;

}  // namespace

std::uint64_t lock_owner_word(std::uint32_t node, std::uint32_t incarnation) {
  return (static_cast<std::uint64_t>(incarnation) << 32) | (node + 1);
}
std::uint32_t lock_owner_node(std::uint64_t word) {
  return word == 0 ? kNoNode : static_cast<std::uint32_t>(word & 0xFFFFFFFFu) - 1;
}
std::uint32_t lock_owner_incarnation(std::uint64_t word) { return static_cast<std::uint32_t>(word >> 32); }

bool lock_owner_alive(const Pool& pool, std::uint64_t word) {
  const std::uint32_t node = lock_owner_node(word);
  if (node == kNoNode) return false;
  if (node == kCheckerNode) return true;  // lease handled by the caller (needs since_ns)
  if (node >= kMaxNodes) return false;
  const NodeSlot& slot = pool.node_slot(node);
  const auto state = load_state<NodeState>(slot.state);
  return (state == NodeState::kMember || state == NodeState::kJoining) &&
         load_acquire(slot.incarnation) == lock_owner_incarnation(word);
}

namespace {
// Whether the lock must stay with `word`: a live owner, the checker within
// its lease, or an owner declared failed that the host watcher has not
// fenced yet (it may still be running: its lock is taken over only once
// it cannot write any more, gmm/fencing.hpp).
bool owner_alive_for(const Pool& pool, const GlobalLock& lock, std::uint64_t word) {
  if (lock_owner_node(word) == kCheckerNode) return realtime_ns() - load_acquire(lock.since_ns) < kCheckerLeaseNs;
  if (lock_owner_alive(pool, word)) return true;
  const std::uint32_t node = lock_owner_node(word);
  return node < kMaxNodes && fence_pending(pool, node, lock_owner_incarnation(word), realtime_ns());
}
}  // namespace

std::uint64_t lock_dead_owner(const Pool& pool, const GlobalLock& lock) {
  const std::uint64_t word = load_acquire(lock.owner);
  if (word == 0 || owner_alive_for(pool, lock, word)) return 0;
  // A dead owner never releases; a word that changed belonged to a live
  // owner that released before its slot changed (e.g. then left).
  return load_acquire(lock.owner) == word ? word : 0;
}

Result<LockAcquired> lock_try_acquire(const Pool& pool, GlobalLock& lock, std::uint64_t me) {
  const bool me_is_node = lock_owner_node(me) != kCheckerNode;
  for (;;) {
    // Fencing: a node declared failed must not touch any table.
    if (me_is_node && !lock_owner_alive(pool, me))
      return make_error(Errc::kExpelled, "this node was declared failed and must rejoin before touching the pool");
    std::uint64_t current = load_acquire(lock.owner);
    bool took_from_dead = false;
    if (current == 0) {
      if (!cas_acq_rel(lock.owner, current, me)) continue;
    } else if (current == me) {
      return make_error(Errc::kInvalidArgument, "global lock is already held by this owner (not recursive)");
    } else if (!owner_alive_for(pool, lock, current)) {
      if (!cas_acq_rel(lock.owner, current, me)) continue;
      took_from_dead = true;
    } else {
      return make_error(Errc::kBusy, "global lock is held by a live owner");
    }
    // The time is read only for the checker's lease: nodes skip the clock call.
    if (!me_is_node) store_release(lock.since_ns, realtime_ns());
    fetch_add_acq_rel(lock.acquisitions, std::uint64_t{1});
    const auto state = load_state<LockState>(lock.state);
    if (state == LockState::kNotRecoverable) {
      store_release(lock.owner, std::uint64_t{0});
      return make_error(Errc::kNotRecoverable, "global lock is not recoverable: it was released while inconsistent");
    }
    if (took_from_dead) {
      publish_state(lock.state, LockState::kInconsistent);
      return LockAcquired::kOwnerDied;
    }
    // A previous repairer may itself have died before making it consistent.
    return state == LockState::kInconsistent ? LockAcquired::kOwnerDied : LockAcquired::kClean;
  }
}

thread_local TableLock* TableLock::current_ = nullptr;

bool TableLock::held() const {
  if (lock_ == nullptr || load_acquire(lock_->owner) != me_) return false;
  return lock_owner_node(me_) == kCheckerNode || lock_owner_alive(*pool_, me_);
}

Error TableLock::expelled() {
  return make_error(Errc::kExpelled, "this node was declared failed while it worked; it must rejoin");
}

Result<LockAcquired> lock_take_over(GlobalLock& lock, std::uint64_t dead_owner, std::uint64_t me) {
  std::uint64_t expected = dead_owner;
  if (dead_owner == 0 || !cas_acq_rel(lock.owner, expected, me))
    return make_error(Errc::kBusy, "global lock changed hands");
  publish_state(lock.state, LockState::kInconsistent);
  return LockAcquired::kOwnerDied;
}

void lock_make_consistent(GlobalLock& lock) { publish_state(lock.state, LockState::kConsistent); }

void lock_release(GlobalLock& lock, std::uint64_t me) {
  if (load_acquire(lock.owner) != me) return;  // taken over after we were expelled: not ours any more
  if (load_state<LockState>(lock.state) == LockState::kInconsistent)
    publish_state(lock.state, LockState::kNotRecoverable);
  std::uint64_t expected = me;
  cas_acq_rel(lock.owner, expected, std::uint64_t{0});
}

}  // namespace gmm
