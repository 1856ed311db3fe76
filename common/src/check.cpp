// The pool checker. It copies the tables under the pool's locks (as the
// checker, never as a node), releases them, and checks the copy, so it is
// safe to run while nodes work.
#include "gmm/check.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <atomic>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "directory.hpp"
#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/liveness.hpp"
#include "gmm/lock.hpp"

namespace gmm {
using namespace layout;

namespace {

struct PartitionCopy {
  PartitionHeader header{};
  std::vector<SectionEntry> sections;
  std::vector<SharerEntry> sharers;
  std::vector<FreeExtent> free;
};

struct Snapshot {
  ClusterHeader cluster;
  std::vector<NodeSlot> slots;
  std::vector<TxnRecord> txns;  // [node * kTxnSlotsPerNode + slot]
  DirHeader dir_primary_header, dir_replica_header;
  std::vector<DirEntry> dir_primary, dir_replica;
  std::vector<PartitionCopy> partitions;
  std::vector<SyncObject> sync_objects;
  std::vector<std::string> lock_problems;
};

template <class T>
std::vector<T> copy_of(std::span<T> s) {
  return {s.begin(), s.end()};
}

// Acquires every table lock in the documented order, except those held by a
// dead or stalled owner (reported instead: declaring and repairing are the
// nodes' job, not the checker's). Each wait is bounded, so a wedged or
// stopped lock holder cannot hang the checker: it reports and goes on.
class CheckerLocks {
 public:
  CheckerLocks(const Pool& pool, std::vector<std::string>& problems)
      : pool_(pool), me_(lock_owner_word(kCheckerNode, static_cast<std::uint32_t>(::getpid()))) {
    take(pool.locks().directory, "directory", problems);
    for (std::uint32_t n = 0; n < pool.node_count(); ++n)
      if (!pool.partition_lost(n)) take(pool.locks().partition[n], fmt::format("partition {}", n), problems);
    take(pool.locks().sync, "sync", problems);
    take(pool.locks().membership, "membership", problems);  // a leaf: last
  }
  ~CheckerLocks() {
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) lock_release(**it, me_);
  }

  // False if a node took over any of them (the lease ran out) since.
  bool all_still_held() const {
    return std::all_of(held_.begin(), held_.end(), [&](const GlobalLock* l) { return load_acquire(l->owner) == me_; });
  }

 private:
  void take(GlobalLock& lock, const std::string& name, std::vector<std::string>& problems) {
    if (const std::uint64_t dead_owner = still_held_by_dead_owner(lock)) {
      problems.push_back(fmt::format("{} lock is held by dead owner node {} (incarnation {})", name,
                                     lock_owner_node(dead_owner), lock_owner_incarnation(dead_owner)));
      return;
    }
    // Long enough for any healthy holder (holds are short; a stalled one
    // shows within the detection threshold), short enough for a person.
    const std::uint64_t max_wait = std::max<std::uint64_t>(4 * detection_threshold_ns(pool_), 2'000'000'000);
    auto got = lock_acquire_bounded(pool_, lock, me_, max_wait);
    if (got) {
      held_.push_back(&lock);
      return;
    }
    problems.push_back(fmt::format("{} lock not taken: {}; the tables it protects were copied without it",
                                   name, got.error().message));
  }
  // A node that leaves publishes its slot absent under its locks and
  // releases them right after: an owner that is not live is reported only
  // if it still holds the lock a moment later.
  std::uint64_t still_held_by_dead_owner(const GlobalLock& lock) const {
    const std::uint64_t dead_owner = lock_dead_owner(pool_, lock);
    if (dead_owner == 0) return 0;
    const std::uint64_t give_up = monotonic_ns() + kReleaseGraceNs;
    while (load_acquire(lock.owner) == dead_owner && monotonic_ns() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return lock_dead_owner(pool_, lock);
  }
  static constexpr std::uint64_t kReleaseGraceNs = 100'000'000;

  const Pool& pool_;
  std::uint64_t me_;
  std::vector<GlobalLock*> held_;
};

// Copies everything while holding the table locks. Transaction records are
// copied last, still under the locks: a transaction with an entry reserved
// (or a close between its partition and directory steps) cannot finish
// without a lock we hold, so its record is visibly in flight.
void copy_tables(const Pool& pool, Snapshot& snap) {
  const std::uint32_t n = pool.node_count();
  const ClusterHeader& cluster = pool.cluster();
  snap.cluster.dir_primary = load_acquire(cluster.dir_primary);
  snap.cluster.dir_replica = load_acquire(cluster.dir_replica);
  snap.cluster.lost_partitions = load_acquire(cluster.lost_partitions);
  const std::uint32_t primary = snap.cluster.dir_primary, replica = snap.cluster.dir_replica;
  auto readable = [&](std::uint32_t node) { return node < n && !pool.partition_lost(node); };
  if (readable(primary)) {
    snap.dir_primary_header = pool.dir_header(primary);
    snap.dir_primary = copy_of(pool.dir_entries(primary));
  }
  if (readable(replica)) {
    snap.dir_replica_header = pool.dir_header(replica);
    snap.dir_replica = copy_of(pool.dir_entries(replica));
  }
  for (std::uint32_t node = 0; node < n; ++node) {
    PartitionCopy p;
    if (!readable(node)) {  // lost memory is never read again
      snap.partitions.push_back(std::move(p));
      continue;
    }
    p.header = pool.partition(node);
    p.sections = copy_of(pool.sections(node));
    p.sharers = copy_of(pool.sharers(node));
    auto free = pool.free_table(node);
    p.free.assign(free.begin(), free.begin() + std::min<std::size_t>(p.header.free_count, free.size()));
    snap.partitions.push_back(std::move(p));
  }
  // Entries change only under the sync lock (held now); their mutex and
  // event words change any time, so they are not copied (nor checked).
  for (const SyncObject& live : pool.sync_objects()) {
    SyncObject& o = snap.sync_objects.emplace_back(load_fields(live, &SyncObject::state, &SyncObject::kind,
                                                               &SyncObject::name_hash));
    o.security = live.security;
    std::memcpy(o.name, live.name, sizeof o.name);
  }
  // Only the fields the checks use, read atomically: their owners write them concurrently.
  for (std::uint32_t node = 0; node < kMaxNodes; ++node) {
    snap.slots.push_back(load_fields(pool.node_slot(node), &NodeSlot::state, &NodeSlot::incarnation));
    for (std::uint32_t s = 0; s < kTxnSlotsPerNode; ++s)
      snap.txns.push_back(load_fields(pool.txn(node, s), &TxnRecord::state, &TxnRecord::kind, &TxnRecord::txn_id,
                                      &TxnRecord::incarnation, &TxnRecord::gid));
  }
}

// The checker's locks are leases (a checker that dies must not block the
// cluster): on an overloaded machine a node may take one over while the
// copy is still being made, and that copy is then not consistent. Such a
// copy is thrown away and taken again.
constexpr int kSnapshotAttempts = 5;

Snapshot take_snapshot(const Pool& pool) {
  for (int attempt = 1;; ++attempt) {
    Snapshot snap;
    CheckerLocks locks(pool, snap.lock_problems);
    copy_tables(pool, snap);
    if (locks.all_still_held()) return snap;
    if (attempt == kSnapshotAttempts) {
      snap.lock_problems.push_back(fmt::format(
          "no consistent copy of the tables: a node took over the checker's locks during each of {} copies "
          "(the checker held them longer than its lease; is the machine overloaded?)",
          kSnapshotAttempts));
      return snap;
    }
  }
}

class Checker {
 public:
  Checker(const Pool& pool, Snapshot snap, CheckReport& report)
      : sb_(pool.superblock()), snap_(std::move(snap)), report_(report) {}

  void run() {
    for (const auto& d : snap_.lock_problems) violation("{}", d);
    check_directory_copies();
    for (std::uint32_t node = 0; node < sb_.node_count; ++node)
      if (!lost(node)) check_partition(node);
    check_directory_entries();
    check_sync_objects();
  }

 private:
  template <class... Args>
  void violation(fmt::format_string<Args...> f, Args&&... args) {
    report_.violations.push_back(fmt::format(f, std::forward<Args>(args)...));
  }

  bool lost(std::uint32_t node) const { return node < kMaxNodes && (snap_.cluster.lost_partitions >> node & 1) != 0; }

  // Members that can hold a directory copy (their memory is intact).
  std::uint32_t live_members() const {
    std::uint32_t count = 0;
    for (std::uint32_t n = 0; n < sb_.node_count; ++n)
      count += static_cast<NodeState>(snap_.slots[n].state) == NodeState::kMember && !lost(n) ? 1 : 0;
    return count;
  }

  static std::string_view state_name(std::uint32_t s) {
    switch (static_cast<EntryState>(s)) {
      case EntryState::kFree: return "free";
      case EntryState::kReserved: return "reserved";
      case EntryState::kCommitted: return "committed";
      case EntryState::kReleasing: return "releasing";
    }
    return "invalid";
  }

  // A Reserved/Releasing entry must belong to a transaction in flight.
  bool reservation_is_live(const Owner& o) const {
    if (o.node >= kMaxNodes) return false;
    const NodeSlot& slot = snap_.slots[o.node];
    if (static_cast<NodeState>(slot.state) != NodeState::kMember || o.incarnation != slot.incarnation) return false;
    for (std::uint32_t s = 0; s < kTxnSlotsPerNode; ++s) {
      const TxnRecord& r = snap_.txns[o.node * kTxnSlotsPerNode + s];
      if (r.txn_id == o.txn && r.incarnation == o.incarnation) return static_cast<TxnState>(r.state) != TxnState::kIdle;
    }
    return false;
  }

  // A close that freed the section but has not yet released the directory entry.
  bool close_in_flight(std::uint64_t gid) const {
    for (const TxnRecord& r : snap_.txns)
      if (static_cast<TxnKind>(r.kind) == TxnKind::kClose && static_cast<TxnState>(r.state) != TxnState::kIdle &&
          r.gid == gid)
        return true;
    return false;
  }

  void check_reservation(std::string_view what, std::uint32_t state, const Owner& owner) {
    const auto s = static_cast<EntryState>(state);
    if (s != EntryState::kReserved && s != EntryState::kReleasing) return;
    if (!reservation_is_live(owner))
      violation("{} is {} by node {} transaction {} (incarnation {}), which is not in flight", what, state_name(state),
                owner.node, owner.txn, owner.incarnation);
  }

  // Live mutexes and events: a known kind, a NUL-terminated non-empty name
  // unique among them, permission bits only.
  void check_sync_objects() {
    std::map<std::string, std::uint32_t> names;
    for (std::uint32_t i = 0; i < snap_.sync_objects.size(); ++i) {
      const SyncObject& o = snap_.sync_objects[i];
      const auto state = static_cast<EntryState>(o.state);
      if (state == EntryState::kFree) continue;
      if (state != EntryState::kCommitted) {
        violation("sync object {} is {}, only free or committed are valid", i, state_name(o.state));
        continue;
      }
      const auto kind = static_cast<SyncKind>(o.kind);
      if (kind != SyncKind::kMutex && kind != SyncKind::kEvent) violation("sync object {} has kind {}", i, o.kind);
      const std::size_t length = strnlen(o.name, sizeof o.name);
      if (length == 0 || length == sizeof o.name) {
        violation("sync object {} has no valid name", i);
        continue;
      }
      std::string name(o.name, length);
      if (dir::name_hash(name) != o.name_hash) violation("sync object {} ('{}') has a wrong name hash", i, name);
      if (auto [it, fresh] = names.emplace(name, i); !fresh)
        violation("sync objects {} and {} are both named '{}'", it->second, i, name);
      if (o.security.mode > 0777) violation("sync object {} ('{}') has mode {:o}", i, name, o.security.mode);
    }
  }

  void check_directory_copies() {
    const std::uint32_t primary = snap_.cluster.dir_primary, replica = snap_.cluster.dir_replica;
    if (primary >= sb_.node_count || lost(primary)) {
      violation("directory primary is on node {}, which {}", primary, lost(primary) ? "lost its memory" : "does not exist");
      return;
    }
    if (snap_.dir_primary_header.magic != kDirMagic) violation("directory primary on node {} is not valid", primary);
    if (replica == kNoNode) {
      if (live_members() > 1) violation("no directory replica although {} nodes are members", live_members());
      return;
    }
    if (lost(replica)) {
      violation("directory replica is on node {}, which lost its memory", replica);
      return;
    }
    if (replica == primary) violation("directory primary and replica are both on node {}", primary);
    if (snap_.dir_replica_header.magic != kDirMagic) violation("directory replica on node {} is not valid", replica);
    std::uint32_t differing = 0;
    for (std::size_t i = 0; i < snap_.dir_primary.size() && i < snap_.dir_replica.size(); ++i) {
      if (std::memcmp(&snap_.dir_primary[i], &snap_.dir_replica[i], sizeof(DirEntry)) == 0) continue;
      if (++differing <= 5) violation("directory slot {} differs between primary and replica", i);
    }
    if (differing > 5) violation("... {} directory slots differ in all", differing);
  }

  void check_directory_entries() {
    const auto& table = snap_.dir_primary;
    const auto n = static_cast<std::uint32_t>(table.size());
    std::vector<std::uint32_t> refs(n, 0);
    std::map<std::string, std::uint32_t> names;
    for (std::uint32_t i = 0; i < n; ++i) {
      const DirEntry& e = table[i];
      const auto state = static_cast<EntryState>(e.state);
      if (state == EntryState::kFree) continue;
      const std::string name(e.name, std::min<std::uint32_t>(e.name_len, kNameMax));
      const std::string what = fmt::format("directory slot {} ('{}')", i, name);
      check_reservation(what, e.state, e.owner);
      if (e.name_hash != 0) {
        for (std::uint32_t k = static_cast<std::uint32_t>(e.name_hash % n); k != i; k = (k + 1) % n) ++refs[k];
        if (e.name_hash != dir::name_hash(name)) violation("{} has a wrong name hash", what);
        if ((e.flags & kDirUnlinked) == 0 && !names.emplace(name, i).second)
          violation("name '{}' is in directory slots {} and {}", name, names[name], i);
      }
      if (state == EntryState::kReserved) continue;  // location decided at commit
      ++report_.sections;
      if (e.name_hash != 0 && (e.flags & kDirUnlinked) == 0) ++report_.names;
      if (lost(e.home_node)) {
        violation("{} lives in the lost memory of node {}", what, e.home_node);
        continue;
      }
      if (e.home_node >= sb_.node_count || e.section_index >= sb_.section_entries) {
        violation("{} points at a section that cannot exist (node {}, index {})", what, e.home_node, e.section_index);
        continue;
      }
      const SectionEntry& s = snap_.partitions[e.home_node].sections[e.section_index];
      const std::uint64_t gid = dir::gid_of(e, i);
      if ((static_cast<EntryState>(s.state) == EntryState::kFree || s.gid != gid) && !close_in_flight(gid))
        violation("{} (GID {:#x}) points at node {} section {}, which does not hold it", what, gid, e.home_node,
                  e.section_index);
    }
    for (std::uint32_t i = 0; i < n; ++i)
      if (refs[i] != table[i].probe_refs)
        violation("directory slot {} has probe_refs {} but {} names pass it", i, table[i].probe_refs, refs[i]);
  }

  void check_partition(std::uint32_t node) {
    const PartitionCopy& p = snap_.partitions[node];
    if (p.header.magic != kPartitionMagic || p.header.node != node || p.header.pool_uuid != sb_.pool_uuid) {
      violation("partition {} header is not valid (lost memory or foreign data)", node);
      return;
    }
    struct Span {
      std::uint64_t offset, length;
      std::string what;
    };
    std::vector<Span> spans;
    for (std::size_t i = 0; i < p.free.size(); ++i) {
      const FreeExtent& f = p.free[i];
      spans.push_back({f.offset, f.length, fmt::format("free extent {}", i)});
      report_.free_bytes += f.length;
      if (f.length == 0 || f.offset % kPageSize != 0 || f.length % kPageSize != 0)
        violation("node {} free extent {} [{:#x}, +{:#x}) is empty or not page aligned", node, i, f.offset, f.length);
      if (i > 0 && p.free[i - 1].offset + p.free[i - 1].length >= f.offset)
        violation("node {} free extents {} and {} are unsorted, overlapping or not coalesced", node, i - 1, i);
    }
    std::vector<std::uint32_t> sharer_counts(p.sections.size(), 0);
    for (std::size_t i = 0; i < p.sharers.size(); ++i) {
      const SharerEntry& sh = p.sharers[i];
      if (static_cast<EntryState>(sh.state) == EntryState::kFree) continue;
      const std::string what = fmt::format("node {} sharer {}", node, i);
      check_reservation(what, sh.state, sh.owner);
      if (sh.section_index >= p.sections.size() ||
          static_cast<EntryState>(p.sections[sh.section_index].state) == EntryState::kFree ||
          p.sections[sh.section_index].gid != sh.gid) {
        violation("{} names section {} (GID {:#x}) which does not exist", what, sh.section_index, sh.gid);
        continue;
      }
      if (sh.node >= sb_.node_count) {
        violation("{} names node {} which does not exist", what, sh.node);
      } else {
        // A failed node stays in sharer lists only until its recovery is done.
        const auto state = static_cast<NodeState>(snap_.slots[sh.node].state);
        if (state != NodeState::kMember && state != NodeState::kFailed)
          violation("{} names node {}, which is not a member", what, sh.node);
      }
      ++sharer_counts[sh.section_index];
    }
    for (std::size_t i = 0; i < p.sections.size(); ++i) {
      const SectionEntry& s = p.sections[i];
      const auto state = static_cast<EntryState>(s.state);
      if (state == EntryState::kFree) continue;
      const std::string what = fmt::format("node {} section {} (GID {:#x})", node, i, s.gid);
      spans.push_back({s.offset, s.size, what});
      (state == EntryState::kReserved ? report_.reserved_bytes : report_.used_bytes) += s.size;
      check_reservation(what, s.state, s.owner);
      if (s.size == 0 || s.offset % kPageSize != 0 || s.size % kPageSize != 0)
        violation("{} is empty or not page aligned", what);
      if (s.sharer_count != sharer_counts[i])
        violation("{} counts {} sharers but {} sharer entries name it", what, s.sharer_count, sharer_counts[i]);
      if (sharer_counts[i] == 0 && state == EntryState::kCommitted)
        violation("{} is committed but has no sharers (leaked)", what);
      if (!dir_holds(s.gid, node, static_cast<std::uint32_t>(i)))
        violation("{} has no directory entry pointing at it", what);
    }
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.offset < b.offset; });
    std::uint64_t cursor = 0;
    for (const Span& s : spans) {
      if (s.offset < cursor) violation("node {}: {} overlaps the previous extent at {:#x}", node, s.what, s.offset);
      if (s.offset > cursor)
        violation("node {}: pages [{:#x}, {:#x}) are neither free nor allocated (leaked)", node, cursor, s.offset);
      cursor = std::max(cursor, s.offset + s.length);
    }
    if (cursor < sb_.data_size)
      violation("node {}: pages [{:#x}, {:#x}) are neither free nor allocated (leaked)", node, cursor, sb_.data_size);
    if (cursor > sb_.data_size) violation("node {}: extents run past the end of the partition", node);
  }

  bool dir_holds(std::uint64_t gid, std::uint32_t node, std::uint32_t index) const {
    const auto slot = static_cast<std::uint32_t>(gid);
    if (slot >= snap_.dir_primary.size()) return false;
    const DirEntry& e = snap_.dir_primary[slot];
    if (static_cast<EntryState>(e.state) == EntryState::kFree || e.generation != static_cast<std::uint32_t>(gid >> 32))
      return false;
    // A reserved entry learns its location only at commit.
    return static_cast<EntryState>(e.state) == EntryState::kReserved || (e.home_node == node && e.section_index == index);
  }

  const Superblock& sb_;
  Snapshot snap_;
  CheckReport& report_;
};

}  // namespace

CheckReport check_pool(const Pool& pool) {
  CheckReport report;
  Checker(pool, take_snapshot(pool), report).run();
  return report;
}

}  // namespace gmm
