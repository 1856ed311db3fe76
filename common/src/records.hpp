// Writing membership events into the pool (membership lock held by caller).
#pragma once

#include <cstdint>

#include "gmm/layout.hpp"
#include "gmm/pool.hpp"

namespace gmm::records {

// Bumps the view epoch and appends a RecoveryRecord; the record becomes
// visible (ClusterHeader::events) only once complete.
layout::RecoveryRecord& append(const Pool& pool, layout::EventKind kind, std::uint32_t node,
                               std::uint32_t incarnation, std::uint32_t declared_by, std::uint64_t last_beat_ns);

// Repair after the membership lock's owner died mid-update: the members
// mask is derived from the node slots.
void repair_membership(const Pool& pool);

}  // namespace gmm::records
