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

// Table writes stop the moment our lock was taken over (fencing).
void publish_if_allowed(std::uint32_t& field, EntryState s) {
  if (TableLock::writes_allowed()) publish_state(field, s);
}

}  // namespace

Owner owner_of(const TxnRecord& r, std::uint32_t node) { return Owner{node, r.incarnation, r.txn_id}; }

bool owned_by(const Owner& a, const Owner& b) {
  return a.node == b.node && a.incarnation == b.incarnation && a.txn == b.txn;
}

// The partition's tables are touched only if it still exists: memory that
// was declared lost is never read again.
bool home_usable(const Pool& pool, const TxnRecord& r) {
  return r.home_node != kNoNode && !pool.partition_lost(r.home_node);
}

namespace {

// Runs `apply` under the home partition's lock, if the transaction got as
// far as choosing a home and that memory still exists.
template <class Apply>
Status in_home_partition(const Pool& pool, std::uint64_t me, const TxnRecord& r, Apply&& apply) {
  if (!home_usable(pool, r)) return ok_status();
  auto lock = lock_part(pool, me, r.home_node);
  if (!lock) return lock.error();
  apply();
  return ok_status();
}

template <class Apply>
Status in_directory(const Pool& pool, std::uint64_t me, Apply&& apply) {
  auto lock = lock_dir(pool, me);
  if (!lock) return lock.error();
  apply();
  return ok_status();
}

}  // namespace

Status roll_forward(const Pool& pool, std::uint64_t me, std::uint32_t node, const TxnRecord& r) {
  const Owner owner = owner_of(r, node);
  const auto kind = static_cast<TxnKind>(r.kind);
  Status partition = in_home_partition(pool, me, r, [&] {
    if (kind == TxnKind::kAllocate && r.section_index != kNoIndex) {
      SectionEntry& s = pool.sections(r.home_node)[r.section_index];
      if (owned_by(s.owner, owner) && state_is(s.state, EntryState::kReserved))
        publish_if_allowed(s.state, EntryState::kCommitted);
    }
    if (r.sharer_index != kNoIndex) {
      SharerEntry& sh = pool.sharers(r.home_node)[r.sharer_index];
      if (owned_by(sh.owner, owner)) {
        if (state_is(sh.state, EntryState::kReserved)) publish_if_allowed(sh.state, EntryState::kCommitted);
        if (state_is(sh.state, EntryState::kReleasing)) part::free_sharer(pool, r.home_node, r.sharer_index);
      }
    }
    if (kind == TxnKind::kClose && r.section_index != kNoIndex)
      part::release_if_unshared(pool, r.home_node, r.section_index);
  });
  if (!partition) return partition;
  crash_point(kind == TxnKind::kAllocate ? CrashPoint::kAllocPartitionCommitted
              : kind == TxnKind::kClose  ? CrashPoint::kClosePartitionDone
                                         : CrashPoint::kOpenDone);
  if (kind == TxnKind::kAllocate && r.dir_slot != kNoIndex) {
    return in_directory(pool, me, [&] {
      const DirEntry& e = dir::entry(pool, r.dir_slot);
      if (!owned_by(e.owner, owner) || !state_is(e.state, EntryState::kReserved)) return;
      if (!home_usable(pool, r)) {
        dir::release(pool, r.dir_slot, std::nullopt);  // its memory was lost meanwhile
        return;
      }
      dir::set_location(pool, r.dir_slot, r.home_node, r.section_index);
      dir::set_state(pool, r.dir_slot, EntryState::kCommitted, owner, CrashPoint::kAllocDirPrimaryCommitted);
    });
  }
  if (kind == TxnKind::kClose && r.gid != 0)
    return in_directory(pool, me, [&] { dir::release_if_orphaned(pool, r.gid, CrashPoint::kCloseDirPrimaryFreed); });
  return ok_status();
}

Status roll_back(const Pool& pool, std::uint64_t me, std::uint32_t node, const TxnRecord& r) {
  const Owner owner = owner_of(r, node);
  const auto kind = static_cast<TxnKind>(r.kind);
  Status partition = in_home_partition(pool, me, r, [&] {
    if (r.sharer_index != kNoIndex) {
      SharerEntry& sh = pool.sharers(r.home_node)[r.sharer_index];
      if (owned_by(sh.owner, owner)) {
        if (state_is(sh.state, EntryState::kReserved)) part::free_sharer(pool, r.home_node, r.sharer_index);
        if (state_is(sh.state, EntryState::kReleasing)) publish_if_allowed(sh.state, EntryState::kCommitted);
      }
    }
    if (r.section_index != kNoIndex) {
      SectionEntry& s = pool.sections(r.home_node)[r.section_index];
      if (kind == TxnKind::kAllocate && owned_by(s.owner, owner) && state_is(s.state, EntryState::kReserved))
        part::free_section(pool, r.home_node, r.section_index);
      // An undone open may have been the last sharer of a section whose other
      // sharers closed meanwhile.
      if (kind == TxnKind::kOpen) part::release_if_unshared(pool, r.home_node, r.section_index);
    }
  });
  if (!partition) return partition;
  if (r.dir_slot == kNoIndex && r.gid == 0) return ok_status();
  return in_directory(pool, me, [&] {
    if (kind == TxnKind::kAllocate && r.dir_slot != kNoIndex) {
      const DirEntry& e = dir::entry(pool, r.dir_slot);
      if (owned_by(e.owner, owner) && state_is(e.state, EntryState::kReserved)) dir::release(pool, r.dir_slot, std::nullopt);
    }
    if (kind == TxnKind::kOpen && r.gid != 0) dir::release_if_orphaned(pool, r.gid, std::nullopt);
  });
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
