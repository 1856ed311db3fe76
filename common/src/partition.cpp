#include "partition.hpp"

#include <algorithm>
#include <vector>

#include "gmm/atomic.hpp"
#include "gmm/lock.hpp"

namespace gmm::part {
using namespace layout;

namespace {

bool in_use(std::uint32_t state) { return static_cast<EntryState>(state) != EntryState::kFree; }

void remove_extent(std::span<FreeExtent> table, std::uint32_t& count, std::uint32_t i) {
  std::copy(table.begin() + i + 1, table.begin() + count, table.begin() + i);
  --count;
}

}  // namespace

std::optional<std::uint64_t> carve(const Pool& pool, std::uint32_t node, std::uint64_t size) {
  if (!TableLock::writes_allowed()) return std::nullopt;  // fenced: we were expelled
  PartitionHeader& ph = pool.partition(node);
  auto table = pool.free_table(node);
  for (std::uint32_t i = 0; i < ph.free_count; ++i) {
    FreeExtent& ext = table[i];
    if (ext.length < size) continue;
    const std::uint64_t offset = ext.offset;
    if (ext.length == size) {
      remove_extent(table, ph.free_count, i);
    } else {
      ext.offset += size;
      ext.length -= size;
    }
    return offset;
  }
  return std::nullopt;
}

void give_back(const Pool& pool, std::uint32_t node, std::uint64_t offset, std::uint64_t size) {
  if (!TableLock::writes_allowed()) return;  // fenced: we were expelled
  PartitionHeader& ph = pool.partition(node);
  auto table = pool.free_table(node);
  // First extent after the returned range.
  auto* end = table.data() + ph.free_count;
  auto* next = std::lower_bound(table.data(), end, offset,
                                [](const FreeExtent& e, std::uint64_t off) { return e.offset < off; });
  auto i = static_cast<std::uint32_t>(next - table.data());
  const bool merge_prev = i > 0 && table[i - 1].offset + table[i - 1].length == offset;
  const bool merge_next = i < ph.free_count && offset + size == table[i].offset;
  if (merge_prev && merge_next) {
    table[i - 1].length += size + table[i].length;
    remove_extent(table, ph.free_count, i);
  } else if (merge_prev) {
    table[i - 1].length += size;
  } else if (merge_next) {
    table[i].offset = offset;
    table[i].length += size;
  } else {
    // Cannot overflow: free_extents == section_entries + 1 (see Geometry).
    std::copy_backward(table.begin() + i, table.begin() + ph.free_count, table.begin() + ph.free_count + 1);
    table[i] = FreeExtent{offset, size};
    ++ph.free_count;
  }
}

namespace {

// Next free slot at or after `cursor` (wrapping); advances the cursor.
template <class Entry>
std::uint32_t find_free_slot(std::span<Entry> table, std::uint32_t& cursor) {
  const auto n = static_cast<std::uint32_t>(table.size());
  for (std::uint32_t k = 0, i = cursor % n; k < n; ++k, i = (i + 1) % n) {
    if (!in_use(load_acquire(table[i].state))) {
      cursor = (i + 1) % n;
      return i;
    }
  }
  return kNoIndex;
}

}  // namespace

std::uint32_t find_free_section(const Pool& pool, std::uint32_t node) {
  return find_free_slot(pool.sections(node), pool.partition(node).section_cursor);
}

std::uint32_t find_free_sharer(const Pool& pool, std::uint32_t node) {
  return find_free_slot(pool.sharers(node), pool.partition(node).sharer_cursor);
}

namespace {

void write_sharer(const Pool& pool, std::uint32_t node, const Reservation& r) {
  if (!TableLock::writes_allowed()) return;  // fenced: we were expelled
  SharerEntry& sh = pool.sharers(node)[r.sharer];
  sh.section_index = r.section;
  sh.owner = r.owner;
  sh.gid = r.gid;
  sh.node = r.sharer_node;
  sh.holder = r.holder;
  publish_state(sh.state, EntryState::kReserved);
}

}  // namespace

void reserve_section(const Pool& pool, std::uint32_t node, const Reservation& r, std::uint64_t offset,
                     std::uint64_t size, std::optional<CrashPoint> between) {
  if (!TableLock::writes_allowed()) return;  // fenced: we were expelled
  SectionEntry& s = pool.sections(node)[r.section];
  s.generation += 1;
  s.owner = r.owner;
  store_relaxed(s.gid, r.gid);  // read without the partition lock by dir::release_if_orphaned
  s.offset = offset;
  s.size = size;
  s.sharer_count = 1;
  publish_state(s.state, EntryState::kReserved);
  if (between) crash_point(*between);
  write_sharer(pool, node, r);
}

void reserve_sharer(const Pool& pool, std::uint32_t node, const Reservation& r) {
  write_sharer(pool, node, r);
  if (TableLock::writes_allowed()) pool.sections(node)[r.section].sharer_count += 1;
}

void free_section(const Pool& pool, std::uint32_t node, std::uint32_t index, std::optional<CrashPoint> between) {
  if (!TableLock::writes_allowed()) return;  // fenced: we were expelled
  SectionEntry& s = pool.sections(node)[index];
  if (!in_use(load_acquire(s.state))) return;
  give_back(pool, node, s.offset, s.size);
  if (between) crash_point(*between);
  if (!TableLock::writes_allowed()) return;
  s.owner = Owner{kNoNode, 0, 0};
  publish_state(s.state, EntryState::kFree);
}

void release_if_unshared(const Pool& pool, std::uint32_t node, std::uint32_t index) {
  const SectionEntry& s = pool.sections(node)[index];
  if (load_state<EntryState>(s.state) == EntryState::kCommitted && s.sharer_count == 0)
    free_section(pool, node, index, CrashPoint::kCloseExtentReturned);
}

void free_sharer(const Pool& pool, std::uint32_t node, std::uint32_t index) {
  if (!TableLock::writes_allowed()) return;  // fenced: we were expelled
  SharerEntry& sh = pool.sharers(node)[index];
  if (!in_use(load_acquire(sh.state))) return;
  SectionEntry& s = pool.sections(node)[sh.section_index];
  if (s.sharer_count > 0) --s.sharer_count;
  sh.owner = Owner{kNoNode, 0, 0};
  publish_state(sh.state, EntryState::kFree);
}

void repair(const Pool& pool, std::uint32_t node) {
  const Superblock& sb = pool.superblock();
  auto sections = pool.sections(node);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> used;
  for (auto& s : sections) {
    s.sharer_count = 0;
    if (in_use(load_acquire(s.state))) used.emplace_back(s.offset, s.size);
  }
  for (const auto& sh : pool.sharers(node))
    if (in_use(load_acquire(sh.state)) && sh.section_index < sections.size()) ++sections[sh.section_index].sharer_count;
  std::sort(used.begin(), used.end());
  PartitionHeader& ph = pool.partition(node);
  auto table = pool.free_table(node);
  std::uint32_t count = 0;
  std::uint64_t cursor = 0;
  auto add_gap = [&](std::uint64_t until) {
    if (until > cursor) table[count++] = FreeExtent{cursor, until - cursor};
  };
  for (const auto& [offset, size] : used) {
    add_gap(offset);
    cursor = std::max(cursor, offset + size);
  }
  add_gap(sb.data_size);
  ph.free_count = count;
}

}  // namespace gmm::part

