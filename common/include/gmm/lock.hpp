// Recoverable global locks in the pool (paper 3.5), with POSIX robust-mutex
// semantics:
//  - a lock held by a live owner is never taken from it;
//  - a lock whose owner died (its NodeSlot is no longer a Member of the same
//    incarnation) is taken over and the new owner gets kOwnerDied: it repairs
//    the protected data, then calls make_consistent();
//  - released while still inconsistent, the lock becomes kNotRecoverable for good.
// Waiters spin briefly, then yield, then sleep with exponential back-off
// (four VMs may share two cores). A waiter never waits for ever on an owner
// that stopped: while sleeping it watches the owner's heartbeat and
// progress (gmm/liveness.hpp), and an owner that stands still for the
// detection threshold is declared failed through the membership path; its
// lock is then a dead owner's and is taken over (lock_wait.cpp).
#pragma once

#include <cstdint>

#include "gmm/layout.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm {

// The 64-bit owner word: (incarnation << 32) | (node + 1).
std::uint64_t lock_owner_word(std::uint32_t node, std::uint32_t incarnation);
std::uint32_t lock_owner_node(std::uint64_t word);         // layout::kNoNode when free
std::uint32_t lock_owner_incarnation(std::uint64_t word);

// True if the owner word names a live member (or a checker within its lease).
bool lock_owner_alive(const Pool& pool, std::uint64_t owner_word);

enum class LockAcquired { kClean, kOwnerDied };

// Acquire `lock` for `me` (a node; not for the membership lock, see
// records::lock_membership), waiting while a live owner holds it and
// declaring an owner that stalls failed. Returns kClean or kOwnerDied (the
// caller now holds the lock and must repair, then make_consistent). Errors:
// kNotRecoverable (the caller does not hold the lock), kExpelled (`me` is
// no longer a live member: the lock was not taken).
Result<LockAcquired> lock_acquire(const Pool& pool, layout::GlobalLock& lock, std::uint64_t me);
// One attempt: kBusy (an error) if a live owner holds it.
Result<LockAcquired> lock_try_acquire(const Pool& pool, layout::GlobalLock& lock, std::uint64_t me);
// For the checker, which declares nobody: waits at most `max_wait_ns`.
// Errors: kBusy saying why (the owner stalled: its evidence; or the wait
// ran out), kNotRecoverable.
Result<LockAcquired> lock_acquire_bounded(const Pool& pool, layout::GlobalLock& lock, std::uint64_t me,
                                          std::uint64_t max_wait_ns);
void lock_make_consistent(layout::GlobalLock& lock);
// Takes the lock from `dead_owner` if it still holds it (the caller has its
// own evidence that the owner died): kOwnerDied, or kBusy if the owner changed.
Result<LockAcquired> lock_take_over(layout::GlobalLock& lock, std::uint64_t dead_owner, std::uint64_t me);
// Release; if still inconsistent the lock becomes not recoverable.
void lock_release(layout::GlobalLock& lock, std::uint64_t me);
// The owner word if the lock is held by an owner that is not live, and was
// still held by it after that was established (a live owner that released
// and then left is not reported); 0 otherwise. The checker reports these.
std::uint64_t lock_dead_owner(const Pool& pool, const layout::GlobalLock& lock);

// Scope guard for GMM's own table locks: on kOwnerDied it runs `repair`
// (which must bring the protected tables to a consistent state) and marks
// the lock consistent before the critical section starts.
class TableLock {
 public:
  template <class Repair>
  static Result<TableLock> acquire(const Pool& pool, layout::GlobalLock& lock, std::uint64_t me, Repair&& repair) {
    return adopt(pool, lock, me, lock_acquire(pool, lock, me), repair);
  }
  // Wraps the outcome of an acquisition made another way (try, take-over).
  // Errors: the acquisition's, or kExpelled if this node was declared
  // failed meanwhile (then the lock is released at once).
  template <class Repair>
  static Result<TableLock> adopt(const Pool& pool, layout::GlobalLock& lock, std::uint64_t me,
                                 const Result<LockAcquired>& got, Repair&& repair) {
    if (!got) return got.error();
    if (got.value() == LockAcquired::kOwnerDied) {
      repair();
      lock_make_consistent(lock);
    }
    TableLock held(pool, lock, me);
    if (!held.held()) return expelled();  // fenced already: write nothing
    return held;
  }
  TableLock(TableLock&& other) noexcept : pool_(other.pool_), lock_(other.lock_), me_(other.me_), outer_(other.outer_) {
    other.lock_ = nullptr;
    if (current_ == &other) current_ = this;
  }
  TableLock(const TableLock&) = delete;
  TableLock& operator=(const TableLock&) = delete;
  TableLock& operator=(TableLock&&) = delete;
  ~TableLock() {
    if (current_ == this) current_ = outer_;
    if (lock_ != nullptr) lock_release(*lock_, me_);
  }

  // For the table code's low-level writers: false when the innermost table
  // lock this thread holds was taken over (we were expelled while paused).
  // Checked right before each store group, it keeps the fencing window to
  // a few instructions.
  static bool writes_allowed() { return current_ == nullptr || current_->held(); }

  // Fencing before each group of writes: false once this node was declared
  // failed (a paused node that resumes) and the lock was taken over. The
  // caller must then write nothing and return kExpelled.
  bool held() const;
  static Error expelled();

 private:
  TableLock(const Pool& pool, layout::GlobalLock& lock, std::uint64_t me)
      : pool_(&pool), lock_(&lock), me_(me), outer_(current_) {
    current_ = this;
  }
  const Pool* pool_;
  layout::GlobalLock* lock_;
  std::uint64_t me_;
  TableLock* outer_;                     // enclosing table lock of this thread
  static thread_local TableLock* current_;
};

}  // namespace gmm
