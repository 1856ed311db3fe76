// The directory: master table + name index, kept as two copies (primary and
// replica, paper 3.2). All functions require the directory lock; mutations
// write the primary, then the replica, so a crash between them leaves the
// primary authoritative and `directory_repair` re-copies it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "gmm/crash.hpp"
#include "gmm/layout.hpp"
#include "gmm/pool.hpp"

namespace gmm::dir {

std::uint64_t name_hash(std::string_view name);  // never 0 (0 = anonymous)

// The live directory copies' nodes.
std::uint32_t primary_node(const Pool& pool);
std::uint32_t replica_node(const Pool& pool);  // layout::kNoNode if none
const layout::DirEntry& entry(const Pool& pool, std::uint32_t slot);  // in the primary
// The GID of the entry in `slot`: (generation << 32) | slot.
std::uint64_t gid_of(const layout::DirEntry& entry, std::uint32_t slot);

// Slot holding `name` (any non-free state, not unlinked), or kNoIndex.
std::uint32_t find_name(const Pool& pool, std::string_view name);
// A free slot for a new entry: along `name`'s probe path, or anywhere when
// anonymous. kNoIndex when the table is full.
std::uint32_t pick_slot(const Pool& pool, std::string_view name);

// Reserves `slot` for a new object: bumps its generation, writes the entry
// (state Reserved) and the probe references, in both copies. Returns the GID.
std::uint64_t reserve(const Pool& pool, std::uint32_t slot, std::string_view name, const layout::Owner& owner,
                      std::uint64_t size, const layout::Security& security,
                      std::optional<CrashPoint> between_copies);

// Sets state (and, for commit, the section's location) in both copies.
void set_state(const Pool& pool, std::uint32_t slot, layout::EntryState state, const layout::Owner& owner,
               std::optional<CrashPoint> between_copies);
void set_location(const Pool& pool, std::uint32_t slot, std::uint32_t home_node, std::uint32_t section_index);
void set_unlinked(const Pool& pool, std::uint32_t slot, std::optional<CrashPoint> between_copies);
// Frees the slot in both copies (probe references undone; generation kept).
void release(const Pool& pool, std::uint32_t slot, std::optional<CrashPoint> between_copies);

// Releases the entry of `gid` if it is committed and its section no longer
// holds it (the section was freed by the last close). Idempotent; a freed
// section never holds that GID again, so no partition lock is needed.
void release_if_orphaned(const Pool& pool, std::uint64_t gid, std::optional<CrashPoint> between_copies);

// True if `gid` names the current occupant of its slot.
bool gid_matches(const Pool& pool, std::uint64_t gid);

// Recomputes derived fields of the primary (probe references, live count)
// and makes the replica an exact copy. Used after a directory lock's owner
// died mid-update.
void repair(const Pool& pool);

}  // namespace gmm::dir
