#include "transaction.hpp"

#include "directory.hpp"
#include "gmm/atomic.hpp"
#include "gmm/crash.hpp"
#include "gmm/lock.hpp"
#include "partition.hpp"

namespace gmm::txn {
using namespace layout;

namespace {

Result<TableLock> lock_dir(const Pool& pool, std::uint64_t me) {
  return TableLock::acquire(pool, pool.locks().directory, me, [&] { dir::repair(pool); });
}
Result<TableLock> lock_part(const Pool& pool, std::uint64_t me, std::uint32_t node) {
  return TableLock::acquire(pool, pool.locks().partition[node], me, [&] { part::repair(pool, node); });
}

bool state_is(const std::uint32_t& field, EntryState s) { return load_state<EntryState>(field) == s; }

}  // namespace

Owner owner_of(const TxnRecord& r, std::uint32_t node) { return Owner{node, r.incarnation, r.txn_id}; }

bool owned_by(const Owner& a, const Owner& b) {
  return a.node == b.node && a.incarnation == b.incarnation && a.txn == b.txn;
}

Status roll_forward(const Pool& pool, std::uint64_t me, std::uint32_t node, const TxnRecord& r) {
  const Owner owner = owner_of(r, node);
  const auto kind = static_cast<TxnKind>(r.kind);
  const bool alloc = kind == TxnKind::kAllocate;
  if (r.home_node != kNoNode) {
    auto lock = lock_part(pool, me, r.home_node);
    if (!lock) return lock.error();
    if (r.section_index != kNoIndex) {
      SectionEntry& s = pool.sections(r.home_node)[r.section_index];
      if (alloc && owned_by(s.owner, owner) && state_is(s.state, EntryState::kReserved))
        publish_state(s.state, EntryState::kCommitted);
      if (kind == TxnKind::kClose && owned_by(s.owner, owner) && state_is(s.state, EntryState::kReleasing)) {
        // Close of the last share: the sharer goes first, then the pages.
        if (r.sharer_index != kNoIndex) part::free_sharer(pool, r.home_node, r.sharer_index);
        part::give_back(pool, r.home_node, s.offset, s.size);
        crash_point(CrashPoint::kCloseExtentReturned);
        s.owner = Owner{kNoNode, 0, 0};
        publish_state(s.state, EntryState::kFree);
      }
    }
    if (r.sharer_index != kNoIndex) {
      SharerEntry& sh = pool.sharers(r.home_node)[r.sharer_index];
      if (owned_by(sh.owner, owner)) {
        if (state_is(sh.state, EntryState::kReserved)) publish_state(sh.state, EntryState::kCommitted);
        if (state_is(sh.state, EntryState::kReleasing)) part::free_sharer(pool, r.home_node, r.sharer_index);
      }
    }
  }
  crash_point(alloc ? CrashPoint::kAllocPartitionCommitted : kind == TxnKind::kClose ? CrashPoint::kClosePartitionDone
                                                                                       : CrashPoint::kOpenDone);
  if (r.dir_slot != kNoIndex && kind != TxnKind::kOpen) {
    auto lock = lock_dir(pool, me);
    if (!lock) return lock.error();
    const DirEntry& e = dir::entry(pool, r.dir_slot);
    if (owned_by(e.owner, owner)) {
      if (alloc && state_is(e.state, EntryState::kReserved)) {
        dir::set_location(pool, r.dir_slot, r.home_node, r.section_index);
        dir::set_state(pool, r.dir_slot, EntryState::kCommitted, owner, CrashPoint::kAllocDirPrimaryCommitted);
      }
      if (kind == TxnKind::kClose && state_is(e.state, EntryState::kReleasing))
        dir::release(pool, r.dir_slot, CrashPoint::kCloseDirPrimaryFreed);
    }
  }
  return ok_status();
}

Status roll_back(const Pool& pool, std::uint64_t me, std::uint32_t node, const TxnRecord& r) {
  const Owner owner = owner_of(r, node);
  const auto kind = static_cast<TxnKind>(r.kind);
  if (r.home_node != kNoNode) {
    auto lock = lock_part(pool, me, r.home_node);
    if (!lock) return lock.error();
    if (r.sharer_index != kNoIndex) {
      SharerEntry& sh = pool.sharers(r.home_node)[r.sharer_index];
      if (owned_by(sh.owner, owner)) {
        if (state_is(sh.state, EntryState::kReserved)) part::free_sharer(pool, r.home_node, r.sharer_index);
        if (state_is(sh.state, EntryState::kReleasing)) publish_state(sh.state, EntryState::kCommitted);
      }
    }
    if (r.section_index != kNoIndex) {
      SectionEntry& s = pool.sections(r.home_node)[r.section_index];
      if (owned_by(s.owner, owner)) {
        if (kind == TxnKind::kAllocate && state_is(s.state, EntryState::kReserved))
          part::free_section(pool, r.home_node, r.section_index);
        if (state_is(s.state, EntryState::kReleasing)) publish_state(s.state, EntryState::kCommitted);
      }
    }
  }
  if (r.dir_slot != kNoIndex && kind != TxnKind::kOpen) {
    auto lock = lock_dir(pool, me);
    if (!lock) return lock.error();
    const DirEntry& e = dir::entry(pool, r.dir_slot);
    if (owned_by(e.owner, owner)) {
      if (kind == TxnKind::kAllocate && state_is(e.state, EntryState::kReserved))
        dir::release(pool, r.dir_slot, std::nullopt);
      if (state_is(e.state, EntryState::kReleasing))
        dir::set_state(pool, r.dir_slot, EntryState::kCommitted, owner, std::nullopt);
    }
  }
  return ok_status();
}

Status resolve_transactions(const Pool& pool, std::uint64_t me, std::uint32_t node) {
  for (std::uint32_t slot = 0; slot < kTxnSlotsPerNode; ++slot) {
    TxnRecord& r = pool.txn(node, slot);
    const auto state = load_state<TxnState>(r.state);
    if (state == TxnState::kIdle) continue;
    Status done = state == TxnState::kCommitting ? roll_forward(pool, me, node, r) : roll_back(pool, me, node, r);
    if (!done) return done;
    publish_state(r.state, TxnState::kIdle);
  }
  return ok_status();
}

}  // namespace gmm::txn
