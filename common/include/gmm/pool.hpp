// The pool: a validated, typed view over the layout (Pool) of a mapped
// region, whatever backs it (PoolMapping, gmm/platform.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "gmm/layout.hpp"
#include "gmm/platform.hpp"
#include "gmm/result.hpp"

namespace gmm {

// Format-time geometry. Table capacities are per partition.
struct Geometry {
  std::uint32_t node_count = 4;
  std::uint32_t dir_entries = 4096;
  std::uint32_t section_entries = 4096;
  std::uint32_t sharer_entries = 16384;
  // Membership settings (stored in the ClusterHeader, shared by all nodes).
  // Detection takes about period * threshold after the last beat.
  std::uint32_t heartbeat_period_us = 10'000;
  std::uint32_t miss_threshold = 5;
  std::uint32_t leave_grace_ms = 2'000;
  // The free extent table gets section_entries + 1 entries: with coalescing
  // there is at most one free extent per gap between sections, so it can
  // never overflow.
};

// Lays out an empty pool over the whole mapping: superblock, global area,
// one partition per node with empty tables and one free extent each; the
// directory primary on node 0 and replica on node 1 (none with one node).
// The superblock's magic is written last.
Status format_pool(PoolMapping& mapping, const Geometry& geometry);

// Bytes of the pool before the first partition and of each partition's
// metadata for `geometry`: lets callers size a pool (see `min_pool_size`).
std::uint64_t min_pool_size(const Geometry& geometry);

// Typed view of a formatted pool. Cheap to copy; does not own the mapping.
class Pool {
 public:
  // Validates magic, version, layout descriptor, size and geometry.
  static Result<Pool> attach(const PoolMapping& mapping);

  layout::Superblock& superblock() const { return *sb_; }
  std::uint32_t node_count() const { return sb_->node_count; }
  std::byte* base() const { return base_; }
  std::uint64_t size() const { return size_; }

  layout::ClusterHeader& cluster() const;
  layout::GlobalLocks& locks() const;
  layout::NodeSlot& node_slot(std::uint32_t node) const;
  layout::TxnRecord& txn(std::uint32_t node, std::uint32_t slot) const;
  // Record of the `sequence`th event (1-based), in the ring of kRecoveryRecords.
  layout::RecoveryRecord& recovery(std::uint64_t sequence) const;
  bool partition_lost(std::uint32_t node) const;
  layout::Mailbox& mailbox(std::uint32_t node) const;
  std::span<layout::SyncObject> sync_objects() const;

  std::uint64_t partition_offset(std::uint32_t node) const;
  layout::PartitionHeader& partition(std::uint32_t node) const;
  layout::DirHeader& dir_header(std::uint32_t node) const;
  std::span<layout::DirEntry> dir_entries(std::uint32_t node) const;
  std::span<layout::SectionEntry> sections(std::uint32_t node) const;
  std::span<layout::SharerEntry> sharers(std::uint32_t node) const;
  std::span<layout::FreeExtent> free_table(std::uint32_t node) const;
  // Pool offset of a byte `offset` into node's data pages.
  std::uint64_t data_pool_offset(std::uint32_t node, std::uint64_t offset) const;
  std::byte* at(std::uint64_t pool_offset) const { return base_ + pool_offset; }

 private:
  Pool(std::byte* base, std::uint64_t size) : base_(base), size_(size), sb_(reinterpret_cast<layout::Superblock*>(base)) {}
  template <class T>
  T* at_as(std::uint64_t offset) const { return reinterpret_cast<T*>(base_ + offset); }

  std::byte* base_;
  std::uint64_t size_;
  layout::Superblock* sb_;
};

}  // namespace gmm
