#include "gmm/pool.hpp"

#include <chrono>
#include <cstring>
#include <random>

#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include <fmt/format.h>

namespace gmm {
using namespace layout;

namespace {

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

// Offsets of everything for a geometry, computed in one place for format and attach.
struct Plan {
  std::uint64_t global_offset, locks_offset, nodes_offset, txns_offset, recoveries_offset, mailboxes_offset,
      sync_offset, partitions_offset;
  std::uint64_t dir_offset, sections_offset, sharers_offset, free_offset, data_offset;
};

Plan plan_for(const Geometry& g) {
  Plan p{};
  p.global_offset = kPageSize;
  p.locks_offset = align_up(p.global_offset + sizeof(ClusterHeader), 64);
  p.nodes_offset = align_up(p.locks_offset + sizeof(GlobalLocks), 64);
  p.txns_offset = align_up(p.nodes_offset + sizeof(NodeSlot) * kMaxNodes, 64);
  p.recoveries_offset = align_up(p.txns_offset + sizeof(TxnRecord) * kMaxNodes * kTxnSlotsPerNode, 64);
  p.mailboxes_offset = align_up(p.recoveries_offset + sizeof(RecoveryRecord) * kRecoveryRecords, 64);
  p.sync_offset = align_up(p.mailboxes_offset + sizeof(Mailbox) * kMaxNodes, 64);
  p.partitions_offset = align_up(p.sync_offset + sizeof(SyncObject) * kSyncObjects, kPageSize);
  p.dir_offset = kPageSize;  // PartitionHeader owns page 0 of the partition
  p.sections_offset = align_up(p.dir_offset + sizeof(DirHeader) + sizeof(DirEntry) * g.dir_entries, kPageSize);
  p.sharers_offset = align_up(p.sections_offset + sizeof(SectionEntry) * g.section_entries, kPageSize);
  p.free_offset = align_up(p.sharers_offset + sizeof(SharerEntry) * g.sharer_entries, kPageSize);
  p.data_offset = align_up(p.free_offset + sizeof(FreeExtent) * (g.section_entries + 1), kPageSize);
  return p;
}

bool descriptor_equal(const LayoutDescriptor& a, const LayoutDescriptor& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}


}  // namespace

std::uint64_t min_pool_size(const Geometry& g) {
  Plan p = plan_for(g);
  return p.partitions_offset + static_cast<std::uint64_t>(g.node_count) * (p.data_offset + 16 * kPageSize);
}

Status format_pool(PoolMapping& mapping, const Geometry& g) {
  if (g.node_count == 0 || g.node_count > kMaxNodes)
    return make_error(Errc::kInvalidArgument, fmt::format("node count {} out of range 1..{}", g.node_count, kMaxNodes));
  if (g.dir_entries < 16 || g.section_entries < 16 || g.sharer_entries < 16)
    return make_error(Errc::kInvalidArgument, "table capacities must be at least 16 entries");
  if (g.heartbeat_period_us < 1000 || g.miss_threshold < 2)
    return make_error(Errc::kInvalidArgument, "heartbeat period must be at least 1 ms and the threshold at least 2");
  const std::uint64_t size = mapping.size();
  if (size < min_pool_size(g))
    return make_error(Errc::kInvalidArgument, fmt::format("pool of {} bytes is too small for {} nodes (need at least {})",
                                                  size, g.node_count, min_pool_size(g)));
  const Plan p = plan_for(g);
  std::byte* base = mapping.base();
  auto* sb = reinterpret_cast<Superblock*>(base);
  store_release(sb->magic, std::uint64_t{0});  // an interrupted format never looks valid
  std::memset(base, 0, p.partitions_offset);

  sb->layout_version = kLayoutVersion;
  sb->state = static_cast<std::uint32_t>(PoolState::kFormatting);
  sb->descriptor = kLayoutDescriptor;
  sb->pool_size = size;
  sb->page_size = kPageSize;
  sb->node_count = g.node_count;
  sb->global_offset = p.global_offset;
  sb->locks_offset = p.locks_offset;
  sb->nodes_offset = p.nodes_offset;
  sb->txns_offset = p.txns_offset;
  sb->recoveries_offset = p.recoveries_offset;
  sb->mailboxes_offset = p.mailboxes_offset;
  sb->sync_offset = p.sync_offset;
  sb->partitions_offset = p.partitions_offset;
  sb->partition_size = (size - p.partitions_offset) / g.node_count / kPageSize * kPageSize;
  sb->dir_entries = g.dir_entries;
  sb->section_entries = g.section_entries;
  sb->sharer_entries = g.sharer_entries;
  sb->free_extents = g.section_entries + 1;
  sb->dir_offset = p.dir_offset;
  sb->sections_offset = p.sections_offset;
  sb->sharers_offset = p.sharers_offset;
  sb->free_offset = p.free_offset;
  sb->data_offset = p.data_offset;
  sb->data_size = sb->partition_size - p.data_offset;
  sb->format_time_ns = realtime_ns();
  sb->pool_uuid = std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ realtime_ns();

  auto* cluster = reinterpret_cast<ClusterHeader*>(base + p.global_offset);
  cluster->dir_primary = 0;
  cluster->dir_replica = g.node_count > 1 ? 1 : kNoNode;
  cluster->heartbeat_period_us = g.heartbeat_period_us;
  cluster->miss_threshold = g.miss_threshold;
  cluster->leave_grace_ms = g.leave_grace_ms;
  for (std::uint32_t n = 0; n < kMaxNodes; ++n) {
    auto* txns = reinterpret_cast<TxnRecord*>(base + p.txns_offset) + n * kTxnSlotsPerNode;
    for (std::uint32_t s = 0; s < kTxnSlotsPerNode; ++s) {
      txns[s].dir_slot = txns[s].section_index = txns[s].sharer_index = kNoIndex;
      txns[s].home_node = kNoNode;
    }
  }
  for (std::uint32_t n = 0; n < g.node_count; ++n) {
    std::byte* part = base + p.partitions_offset + n * sb->partition_size;
    std::memset(part, 0, p.data_offset);  // metadata only; data pages stay sparse
    auto* ph = reinterpret_cast<PartitionHeader*>(part);
    ph->magic = kPartitionMagic;
    ph->node = n;
    ph->pool_uuid = sb->pool_uuid;
    ph->free_count = 1;
    auto* free = reinterpret_cast<FreeExtent*>(part + p.free_offset);
    free[0] = FreeExtent{0, sb->data_size};
    auto* dh = reinterpret_cast<DirHeader*>(part + p.dir_offset);
    dh->entries = g.dir_entries;
    dh->pool_uuid = sb->pool_uuid;
    auto* entries = reinterpret_cast<DirEntry*>(dh + 1);
    for (std::uint32_t i = 0; i < g.dir_entries; ++i) {
      entries[i].home_node = kNoNode;
      entries[i].section_index = kNoIndex;
      entries[i].owner.node = kNoNode;
    }
    if (n == cluster->dir_primary || n == cluster->dir_replica) dh->magic = kDirMagic;
    auto* sections = reinterpret_cast<SectionEntry*>(part + p.sections_offset);
    for (std::uint32_t i = 0; i < g.section_entries; ++i) sections[i].owner.node = kNoNode;
    auto* sharers = reinterpret_cast<SharerEntry*>(part + p.sharers_offset);
    for (std::uint32_t i = 0; i < g.sharer_entries; ++i) {
      sharers[i].owner.node = kNoNode;
      sharers[i].section_index = kNoIndex;
    }
  }
  sb->state = static_cast<std::uint32_t>(PoolState::kReady);
  store_release(sb->magic, kMagic);  // publish last
  return ok_status();
}

Result<Pool> Pool::attach(const PoolMapping& mapping) {
  const std::string what = mapping.describe();
  if (mapping.size() < sizeof(Superblock))
    return make_error(Errc::kBadPool, fmt::format("{} is truncated ({} bytes)", what, mapping.size()));
  Pool pool(mapping.base(), mapping.size());
  const Superblock& sb = pool.superblock();
  const std::uint64_t magic = load_acquire(sb.magic);
  if (magic == 0) return make_error(Errc::kBadPool, fmt::format("{} is not formatted (or its format was interrupted)", what));
  if (magic != kMagic)
    return make_error(Errc::kBadPool, fmt::format("{} is not a GMM pool (magic {:#x}, expected {:#x})", what, magic, kMagic));
  if (sb.layout_version != kLayoutVersion)
    return make_error(Errc::kBadPool, fmt::format("{} has layout version {}, this build understands version {}", what,
                                          sb.layout_version, kLayoutVersion));
  if (!descriptor_equal(sb.descriptor, kLayoutDescriptor))
    return make_error(Errc::kBadPool, fmt::format("{} was formatted by a build with other table sizes (layout descriptor "
                                          "mismatch); reformat it or use the matching build", what));
  if (sb.pool_size != mapping.size())
    return make_error(Errc::kBadPool, fmt::format("{} is {} bytes but its superblock says {} (truncated or resized?)", what,
                                          mapping.size(), sb.pool_size));
  Geometry g{sb.node_count, sb.dir_entries, sb.section_entries, sb.sharer_entries};
  const Plan p = plan_for(g);
  const bool geometry_ok =
      sb.page_size == kPageSize && sb.free_extents == sb.section_entries + 1 && sb.node_count >= 1 && sb.node_count <= kMaxNodes &&
      sb.global_offset == p.global_offset && sb.locks_offset == p.locks_offset && sb.nodes_offset == p.nodes_offset &&
      sb.txns_offset == p.txns_offset && sb.recoveries_offset == p.recoveries_offset &&
      sb.mailboxes_offset == p.mailboxes_offset && sb.sync_offset == p.sync_offset && sb.partitions_offset == p.partitions_offset &&
      sb.dir_offset == p.dir_offset && sb.sections_offset == p.sections_offset &&
      sb.sharers_offset == p.sharers_offset && sb.free_offset == p.free_offset && sb.data_offset == p.data_offset &&
      sb.partition_size % kPageSize == 0 && sb.partition_size > sb.data_offset &&
      sb.data_size == sb.partition_size - sb.data_offset &&
      sb.partitions_offset + sb.partition_size * sb.node_count <= sb.pool_size;
  if (!geometry_ok) return make_error(Errc::kBadPool, fmt::format("{} has an inconsistent geometry in its superblock", what));
  return pool;
}

ClusterHeader& Pool::cluster() const { return *at_as<ClusterHeader>(sb_->global_offset); }
GlobalLocks& Pool::locks() const { return *at_as<GlobalLocks>(sb_->locks_offset); }
NodeSlot& Pool::node_slot(std::uint32_t node) const { return at_as<NodeSlot>(sb_->nodes_offset)[node]; }
RecoveryRecord& Pool::recovery(std::uint64_t sequence) const {
  return at_as<RecoveryRecord>(sb_->recoveries_offset)[(sequence - 1) % kRecoveryRecords];
}
TxnRecord& Pool::txn(std::uint32_t node, std::uint32_t slot) const {
  return at_as<TxnRecord>(sb_->txns_offset)[node * kTxnSlotsPerNode + slot];
}
std::uint64_t Pool::partition_offset(std::uint32_t node) const {
  return sb_->partitions_offset + static_cast<std::uint64_t>(node) * sb_->partition_size;
}
PartitionHeader& Pool::partition(std::uint32_t node) const { return *at_as<PartitionHeader>(partition_offset(node)); }
DirHeader& Pool::dir_header(std::uint32_t node) const {
  return *at_as<DirHeader>(partition_offset(node) + sb_->dir_offset);
}
std::span<DirEntry> Pool::dir_entries(std::uint32_t node) const {
  return {reinterpret_cast<DirEntry*>(&dir_header(node) + 1), sb_->dir_entries};
}
std::span<SectionEntry> Pool::sections(std::uint32_t node) const {
  return {at_as<SectionEntry>(partition_offset(node) + sb_->sections_offset), sb_->section_entries};
}
std::span<SharerEntry> Pool::sharers(std::uint32_t node) const {
  return {at_as<SharerEntry>(partition_offset(node) + sb_->sharers_offset), sb_->sharer_entries};
}
std::span<FreeExtent> Pool::free_table(std::uint32_t node) const {
  return {at_as<FreeExtent>(partition_offset(node) + sb_->free_offset), sb_->free_extents};
}
Mailbox& Pool::mailbox(std::uint32_t node) const { return at_as<Mailbox>(sb_->mailboxes_offset)[node]; }
std::span<SyncObject> Pool::sync_objects() const { return {at_as<SyncObject>(sb_->sync_offset), kSyncObjects}; }
bool Pool::partition_lost(std::uint32_t node) const {
  return node < kMaxNodes && (load_acquire(cluster().lost_partitions) >> node & 1) != 0;
}
std::uint64_t Pool::data_pool_offset(std::uint32_t node, std::uint64_t offset) const {
  return partition_offset(node) + sb_->data_offset + offset;
}

}  // namespace gmm
