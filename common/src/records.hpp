// Writing membership events into the pool (membership lock held by caller).
#pragma once

#include <cstdint>

#include "gmm/layout.hpp"
#include <functional>

#include "gmm/lock.hpp"
#include "gmm/pool.hpp"

namespace gmm::records {

// Bumps the view epoch and appends a RecoveryRecord; the record becomes
// visible (ClusterHeader::events) only once complete.
layout::RecoveryRecord& append(const Pool& pool, layout::EventKind kind, std::uint32_t node,
                               std::uint32_t incarnation, std::uint32_t declared_by, std::uint64_t last_beat_ns);

// Repair after the membership lock's owner died mid-update: the members
// mask is derived from the node slots.
void repair_membership(const Pool& pool);

// The membership lock cannot use membership to tell whether its owner is
// alive (declaring the owner failed needs this very lock), so a waiter uses
// the failure detector's own evidence: an owner whose heartbeat has not
// moved for the detection threshold is dead for this lock. `keep_alive`
// runs while waiting (a waiting node must keep beating).
Result<TableLock> lock_membership(const Pool& pool, std::uint64_t me, const std::function<void()>& keep_alive);

}  // namespace gmm::records
