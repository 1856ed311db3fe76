// Phase two of GMM's two-phase transactions, in one place for the live node
// and for recovery: `roll_forward` completes a transaction whose record says
// Committing, `roll_back` undoes one that is still Active. Both act only on
// entries whose Owner names the transaction, so they are idempotent and can
// be re-run after a crash in the middle of either (paper 3.4).
#pragma once

#include <cstdint>

#include "gmm/layout.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm::txn {

layout::Owner owner_of(const layout::TxnRecord& record, std::uint32_t node);
bool owned_by(const layout::Owner& entry_owner, const layout::Owner& txn_owner);

// `me` is the lock owner word of the node doing the work.
Status roll_forward(const Pool& pool, std::uint64_t me, std::uint32_t node, const layout::TxnRecord& record);
Status roll_back(const Pool& pool, std::uint64_t me, std::uint32_t node, const layout::TxnRecord& record);

// Resolves every non-idle transaction record of `node` (rolls forward the
// committing ones, back the active ones) and marks them idle. Run by a node
// at (re)join for its previous incarnation, and by recovery for a dead node.
Status resolve_transactions(const Pool& pool, std::uint64_t me, std::uint32_t node);

}  // namespace gmm::txn
