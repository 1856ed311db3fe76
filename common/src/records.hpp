// The membership side of the pool: RecoveryRecords, the membership lock and
// declaring a node failed. Used by membership (the ring watch, the
// coordinator), by lock waits (lock_wait.cpp) and by the host's
// declarations; it takes the membership lock and no other.
#pragma once

#include <cstdint>
#include <functional>

#include "gmm/layout.hpp"
#include "gmm/liveness.hpp"
#include "gmm/lock.hpp"
#include "gmm/pool.hpp"

namespace gmm::records {

// Bumps the view epoch and appends a RecoveryRecord; the record becomes
// visible (ClusterHeader::events) only once complete. Membership lock held.
layout::RecoveryRecord& append(const Pool& pool, layout::EventKind kind, std::uint32_t node,
                               std::uint32_t incarnation, std::uint32_t declared_by, std::uint64_t last_beat_ns,
                               layout::DetectedBy detected_by = layout::DetectedBy::kHeartbeat);

// Repair after the membership lock's owner died mid-update: the members
// mask is derived from the node slots.
void repair_membership(const Pool& pool);

// The membership lock cannot use membership to tell whether its owner is
// alive (declaring the owner failed needs this very lock), so a waiter
// watches the owner's liveness itself: an owner that stalls for the
// detection threshold loses the lock and is declared failed by the waiter,
// under the lock it just took. `keep_alive` runs while waiting (the
// liveness thread passes its beat: it must not stop beating here).
// Errors: kExpelled (`me` is no longer a live member).
Result<TableLock> lock_membership(const Pool& pool, std::uint64_t me, const std::function<void()>& keep_alive);

// Declares `stall.node` failed the normal way: takes the membership lock,
// re-checks that the evidence still holds (same incarnation, still alive
// by state, the stopped counter unchanged), marks the slot Failed, removes
// it from `members` and appends a kNodeFailed record. The coordinator's
// recovery and every fencing check follow from the slot's state. True if
// this call declared it; false if the evidence no longer holds (it moved,
// or somebody else declared it first). Errors: as lock_membership.
Result<bool> declare_failed(const Pool& pool, std::uint64_t me, const Stall& stall,
                            const std::function<void()>& keep_alive);

// Declares (node, incarnation) failed on the host watcher's notice
// (gmm/fencing.hpp), the same way: under the membership lock, only if the
// notice still names the node's current incarnation and it is alive by
// state (a notice for an older incarnation expels nobody). The record says
// detected_by host. True if this call declared it. Errors: as lock_membership.
Result<bool> declare_noticed(const Pool& pool, std::uint64_t me, std::uint32_t node, std::uint32_t incarnation,
                             const std::function<void()>& keep_alive);

}  // namespace gmm::records
