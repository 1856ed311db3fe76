// One node's partition tables: sections, sharers and the free extent list
// (paper 3.2, Figure 5). All functions require that partition's lock.
//
// The section table is the truth about which pages are allocated; the free
// list and the sections' sharer counts are derived from the section and
// sharer tables, so `repair` can always rebuild them after a lock owner died
// in the middle of an update.
#pragma once

#include <cstdint>
#include <optional>

#include "gmm/crash.hpp"
#include "gmm/layout.hpp"
#include "gmm/pool.hpp"

namespace gmm::part {

// First-fit: removes `size` bytes from the free list; nullopt if no extent fits.
std::optional<std::uint64_t> carve(const Pool& pool, std::uint32_t node, std::uint64_t size);
// Returns an extent to the free list, coalescing with its neighbours.
void give_back(const Pool& pool, std::uint32_t node, std::uint64_t offset, std::uint64_t size);

std::uint32_t find_free_section(const Pool& pool, std::uint32_t node);  // kNoIndex when full
std::uint32_t find_free_sharer(const Pool& pool, std::uint32_t node);

// Who reserves what: entries `section` and `sharer` of this partition for
// transaction `owner`, sharing GID `gid` with `holder` on `sharer_node`.
struct Reservation {
  layout::Owner owner;
  std::uint64_t gid;
  std::uint32_t section;
  std::uint32_t sharer;
  std::uint32_t sharer_node;
  std::uint64_t holder;
};
// Phase 1 of an allocation (the partition's side of dir::reserve): publishes
// the section [offset, +size) Reserved with one sharer, then (after the
// optional crash point) that sharer Reserved. Each entry's fields are
// written before its state; nothing is written once fenced.
void reserve_section(const Pool& pool, std::uint32_t node, const Reservation& r, std::uint64_t offset,
                     std::uint64_t size, std::optional<CrashPoint> between);
// Phase 1 of an open: a Reserved sharer of the existing section, counted.
void reserve_sharer(const Pool& pool, std::uint32_t node, const Reservation& r);

// Frees a section slot and returns its pages (idempotent). `between` fires
// after the pages are on the free list, before the slot is freed.
void free_section(const Pool& pool, std::uint32_t node, std::uint32_t index,
                  std::optional<CrashPoint> between = std::nullopt);
// After a sharer was removed: frees the section if no sharer entry (in any
// state) names it any more. Whoever removes the last sharer frees the
// section, so concurrent closes cannot leak it.
void release_if_unshared(const Pool& pool, std::uint32_t node, std::uint32_t index);
// Frees a sharer slot and decrements its section's count (idempotent).
void free_sharer(const Pool& pool, std::uint32_t node, std::uint32_t index);

// Rebuilds the free list as the complement of all non-free sections and
// recounts every section's sharers.
void repair(const Pool& pool, std::uint32_t node);

}  // namespace gmm::part
