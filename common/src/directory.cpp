#include "directory.hpp"

#include <cstring>

#include "gmm/atomic.hpp"
#include "gmm/lock.hpp"

namespace gmm::dir {
using namespace layout;

namespace {

std::uint32_t home_slot(std::uint64_t hash, std::uint32_t n) { return static_cast<std::uint32_t>(hash % n); }

// Applies `update` to the primary, then (after the optional crash point) to
// the replica, bumping each copy's update sequence.
template <class Update>
void in_both_copies(const Pool& pool, std::optional<CrashPoint> between, Update&& update) {
  const std::uint32_t copies[2] = {primary_node(pool), replica_node(pool)};
  for (int c = 0; c < 2; ++c) {
    if (copies[c] == kNoNode) continue;
    if (!TableLock::writes_allowed()) return;  // fenced: we were expelled
    update(pool.dir_entries(copies[c]));
    DirHeader& h = pool.dir_header(copies[c]);
    store_release(h.update_seq, h.update_seq + 1);
    if (c == 0 && between) crash_point(*between);
  }
}

void adjust_probe_refs(std::span<DirEntry> table, std::uint64_t hash, std::uint32_t slot, int delta) {
  const auto n = static_cast<std::uint32_t>(table.size());
  for (std::uint32_t i = home_slot(hash, n); i != slot; i = (i + 1) % n)
    table[i].probe_refs = static_cast<std::uint32_t>(static_cast<int>(table[i].probe_refs) + delta);
}

bool counts_as_live(const DirEntry& e) { return load_state<EntryState>(e.state) != EntryState::kFree; }

}  // namespace

std::uint64_t name_hash(std::string_view name) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  return h == 0 ? 1 : h;
}

// A copy on a lost partition is never read or written again: until the
// coordinator relocates the directory, the other copy stands in.
std::uint32_t primary_node(const Pool& pool) {
  const std::uint32_t primary = load_acquire(pool.cluster().dir_primary);
  return pool.partition_lost(primary) ? load_acquire(pool.cluster().dir_replica) : primary;
}
std::uint32_t replica_node(const Pool& pool) {
  const std::uint32_t primary = load_acquire(pool.cluster().dir_primary);
  const std::uint32_t replica = load_acquire(pool.cluster().dir_replica);
  return pool.partition_lost(primary) || pool.partition_lost(replica) ? kNoNode : replica;
}

const DirEntry& entry(const Pool& pool, std::uint32_t slot) { return pool.dir_entries(primary_node(pool))[slot]; }

std::uint64_t gid_of(const DirEntry& entry, std::uint32_t slot) {
  return (static_cast<std::uint64_t>(entry.generation) << 32) | slot;
}

std::uint32_t find_name(const Pool& pool, std::string_view name) {
  if (name.empty()) return kNoIndex;
  auto table = pool.dir_entries(primary_node(pool));
  const auto n = static_cast<std::uint32_t>(table.size());
  const std::uint64_t hash = name_hash(name);
  std::uint32_t i = home_slot(hash, n);
  for (std::uint32_t probes = 0; probes < n; ++probes, i = (i + 1) % n) {
    const DirEntry& e = table[i];
    if (counts_as_live(e) && e.name_hash == hash && (e.flags & kDirUnlinked) == 0 &&
        std::string_view(e.name, e.name_len) == name)
      return i;
    if (e.probe_refs == 0) return kNoIndex;  // no key passes beyond this slot
  }
  return kNoIndex;
}

std::uint32_t pick_slot(const Pool& pool, std::string_view name) {
  auto table = pool.dir_entries(primary_node(pool));
  const auto n = static_cast<std::uint32_t>(table.size());
  std::uint32_t start;
  if (name.empty()) {
    start = static_cast<std::uint32_t>(fetch_add_acq_rel(pool.cluster().gid_cursor, std::uint64_t{1}) % n);
  } else {
    start = home_slot(name_hash(name), n);
  }
  for (std::uint32_t k = 0, i = start; k < n; ++k, i = (i + 1) % n)
    if (!counts_as_live(table[i])) return i;
  return kNoIndex;
}

std::uint64_t reserve(const Pool& pool, std::uint32_t slot, std::string_view name, const Owner& owner,
                      std::uint64_t size, const Security& security, std::optional<CrashPoint> between_copies) {
  std::uint32_t generation = entry(pool, slot).generation + 1;
  if (generation == 0) generation = 1;  // GID 0 is never valid
  const std::uint64_t hash = name.empty() ? 0 : name_hash(name);
  in_both_copies(pool, between_copies, [&](std::span<DirEntry> table) {
    DirEntry& e = table[slot];
    if (hash != 0) adjust_probe_refs(table, hash, slot, +1);
    e.generation = generation;
    e.owner = owner;
    e.kind = static_cast<std::uint32_t>(ObjectKind::kSection);
    e.flags = 0;
    e.home_node = kNoNode;
    e.section_index = kNoIndex;
    e.size = size;
    e.name_hash = hash;
    e.name_len = static_cast<std::uint32_t>(name.size());
    std::memset(e.name, 0, sizeof(e.name));
    std::memcpy(e.name, name.data(), name.size());
    e.security = security;
    publish_state(e.state, EntryState::kReserved);
  });
  return (static_cast<std::uint64_t>(generation) << 32) | slot;
}

void set_state(const Pool& pool, std::uint32_t slot, EntryState state, const Owner& owner,
               std::optional<CrashPoint> between_copies) {
  in_both_copies(pool, between_copies, [&](std::span<DirEntry> table) {
    table[slot].owner = owner;
    publish_state(table[slot].state, state);
  });
}

void set_location(const Pool& pool, std::uint32_t slot, std::uint32_t home_node, std::uint32_t section_index) {
  in_both_copies(pool, std::nullopt, [&](std::span<DirEntry> table) {
    table[slot].home_node = home_node;
    table[slot].section_index = section_index;
  });
}

void set_unlinked(const Pool& pool, std::uint32_t slot, std::optional<CrashPoint> between_copies) {
  in_both_copies(pool, between_copies, [&](std::span<DirEntry> table) { table[slot].flags |= kDirUnlinked; });
}

void release(const Pool& pool, std::uint32_t slot, std::optional<CrashPoint> between_copies) {
  in_both_copies(pool, between_copies, [&](std::span<DirEntry> table) {
    DirEntry& e = table[slot];
    if (load_state<EntryState>(e.state) == EntryState::kFree) return;  // idempotent
    publish_state(e.state, EntryState::kFree);
    if (e.name_hash != 0) adjust_probe_refs(table, e.name_hash, slot, -1);
    e.owner = Owner{kNoNode, 0, 0};
    e.home_node = kNoNode;
    e.section_index = kNoIndex;
  });
}

void release_if_orphaned(const Pool& pool, std::uint64_t gid, std::optional<CrashPoint> between_copies) {
  if (!gid_matches(pool, gid)) return;
  const auto slot = static_cast<std::uint32_t>(gid);
  const DirEntry& e = entry(pool, slot);
  if (load_state<EntryState>(e.state) != EntryState::kCommitted || e.home_node >= pool.node_count()) return;
  const SectionEntry& s = pool.sections(e.home_node)[e.section_index];
  const bool holds = load_state<EntryState>(s.state) != EntryState::kFree && load_acquire(s.gid) == gid;
  if (!holds) release(pool, slot, between_copies);
}

bool gid_matches(const Pool& pool, std::uint64_t gid) {
  const auto slot = static_cast<std::uint32_t>(gid);
  if (slot >= pool.superblock().dir_entries || gid == 0) return false;
  const DirEntry& e = entry(pool, slot);
  return counts_as_live(e) && e.generation == static_cast<std::uint32_t>(gid >> 32);
}

void repair(const Pool& pool) {
  auto table = pool.dir_entries(primary_node(pool));
  const auto n = static_cast<std::uint32_t>(table.size());
  for (auto& e : table) e.probe_refs = 0;
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!counts_as_live(table[i])) continue;
    if (table[i].name_hash != 0) adjust_probe_refs(table, table[i].name_hash, i, +1);
  }
  DirHeader& primary = pool.dir_header(primary_node(pool));
  primary.magic = kDirMagic;
  const std::uint32_t replica = replica_node(pool);
  if (replica == kNoNode) return;
  std::memcpy(pool.dir_entries(replica).data(), table.data(), table.size_bytes());
  DirHeader& copy = pool.dir_header(replica);
  copy.entries = primary.entries;
  copy.pool_uuid = primary.pool_uuid;
  store_release(copy.update_seq, load_acquire(primary.update_seq));
  store_release(copy.magic, kDirMagic);
}

}  // namespace gmm::dir
