#include <chrono>
#include <cstring>
#include <unistd.h>

#include <fmt/format.h>

#include "directory.hpp"
#include "gmm/atomic.hpp"
#include "gmm/clock.hpp"
#include "gmm/crash.hpp"
#include "gmm/gmm.hpp"
#include "partition.hpp"
#include "records.hpp"
#include "transaction.hpp"

namespace gmm {
using namespace layout;

namespace {


std::uint64_t round_to_pages(std::uint64_t size) { return (size + kPageSize - 1) / kPageSize * kPageSize; }

Error busy(std::string_view what) {
  return make_error(Errc::kBusy, fmt::format("{} is being created or released by another transaction", what));
}

// The GID of the committed entry named `name` (directory lock held).
Result<Gid> committed_gid(const Pool& pool, std::string_view name) {
  const std::uint32_t slot = dir::find_name(pool, name);
  if (slot == kNoIndex) return make_error(Errc::kNotFound, fmt::format("no section named '{}'", name));
  const DirEntry& e = dir::entry(pool, slot);
  if (load_state<EntryState>(e.state) != EntryState::kCommitted) return busy(fmt::format("name '{}'", name));
  return Gid{dir::gid_of(e, slot)};
}

}  // namespace

std::string to_string(Gid gid) { return fmt::format("{:#018x}", gid.value); }

std::optional<Gid> parse_gid(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : 99;
    if (digit >= base) return std::nullopt;
    value = value * base + static_cast<std::uint64_t>(digit);
  }
  if (value == 0) return std::nullopt;
  return Gid{value};
}

// One transaction record in the pool, claimed for the duration of a call.
// Fields are written before the state that makes them meaningful.
class Node::Txn {
 public:
  Txn(Node& node, TxnKind kind, std::uint64_t size, std::uint64_t holder)
      : node_(node), record_(node.pool_.txn(node.id_, node.claim_txn_slot())) {
    NodeSlot& slot = node.pool_.node_slot(node.id_);
    const std::uint64_t id = load_relaxed(slot.next_txn_id) + 1;
    store_release(slot.next_txn_id, id);
    store_relaxed(record_.txn_id, id);
    record_.kind = static_cast<std::uint32_t>(kind);
    store_relaxed(record_.incarnation, node.incarnation());
    record_.step = 0;
    record_.gid = 0;
    record_.dir_slot = record_.section_index = record_.sharer_index = kNoIndex;
    record_.home_node = kNoNode;
    record_.size = size;
    record_.holder = holder;
    record_.started_ns = realtime_ns();
    publish_state(record_.state, TxnState::kActive);
  }
  // A transaction left unfinished (we were expelled mid-way) stays in the
  // pool for recovery to resolve.
  ~Txn() {
    if (!unfinished_) publish_state(record_.state, TxnState::kIdle);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  TxnRecord& record() { return record_; }
  Owner owner() const { return txn::owner_of(record_, node_.id_); }
  void step(CrashPoint point) {
    store_release(record_.step, static_cast<std::uint32_t>(point));
    crash_point(point);
  }
  void set_target(std::uint32_t TxnRecord::*field, std::uint32_t value) { store_release(record_.*field, value); }
  void set_gid(std::uint64_t gid) { store_release(record_.gid, gid); }
  // The decision point: from here on recovery rolls forward.
  Status commit(CrashPoint committing) {
    publish_state(record_.state, TxnState::kCommitting);
    step(committing);
    auto done = txn::roll_forward(node_.pool_, node_.lock_owner(), node_.id_, record_);
    unfinished_ = !done.ok();
    return done;
  }
  // Undo every reservation (the abort path and recovery share this code).
  Error abort(Error why) {
    auto undone = txn::roll_back(node_.pool_, node_.lock_owner(), node_.id_, record_);
    unfinished_ = !undone.ok();
    return undone ? std::move(why) : undone.error();
  }

 private:
  Node& node_;
  TxnRecord& record_;
  bool unfinished_ = false;
};

Node::Node(Pool pool, std::uint32_t node_id) : pool_(pool), id_(node_id) {}
Node::~Node() = default;

std::uint32_t Node::claim_txn_slot() {
  for (std::uint32_t s = 0; s < kTxnSlotsPerNode; ++s)
    if (load_state<TxnState>(pool_.txn(id_, s).state) == TxnState::kIdle) return s;
  return 0;  // unreachable: calls are serialised by mutex_, so one slot suffices
}

// No keep-alive while waiting: the node's liveness thread beats meanwhile.
Result<TableLock> Node::lock_membership() { return records::lock_membership(pool_, lock_owner(), nullptr); }

void Node::beat(bool progressing, bool heartbeat) {
  if (lock_owner() == 0) return;  // never joined: no incarnation to show alive
  NodeSlot& slot = pool_.node_slot(id_);
  if (heartbeat) fetch_add_acq_rel(slot.heartbeat, std::uint64_t{1});
  if (progressing) fetch_add_acq_rel(slot.progress, std::uint64_t{1});
  if (heartbeat) store_release(slot.heartbeat_ns, realtime_ns());
}

Result<TableLock> Node::lock_directory() {
  return TableLock::acquire(pool_, pool_.locks().directory, lock_owner(), [&] { dir::repair(pool_); });
}

Result<TableLock> Node::lock_partition(std::uint32_t node) {
  return TableLock::acquire(pool_, pool_.locks().partition[node], lock_owner(), [&] { part::repair(pool_, node); });
}

Status Node::join() {
  std::lock_guard guard(mutex_);
  if (id_ >= pool_.node_count())
    return make_error(Errc::kInvalidArgument,
                      fmt::format("node {} does not exist: the pool has nodes 0..{}", id_, pool_.node_count() - 1));
  if (pool_.partition_lost(id_) || load_acquire(pool_.partition(id_).magic) != kPartitionMagic)
    return make_error(Errc::kBadPool, fmt::format("partition of node {} is not valid (memory lost?)", id_));
  NodeSlot& slot = pool_.node_slot(id_);
  if (load_state<NodeState>(slot.state) == NodeState::kFailed)
    return make_error(Errc::kBusy, fmt::format("node {} was declared failed; its recovery is still running", id_));
  // The new incarnation makes every lock and reservation of a previous
  // incarnation of this node "owned by a dead node".
  const std::uint32_t incarnation = load_acquire(slot.incarnation) + 1;
  incarnation_ = incarnation;
  lock_owner_ = lock_owner_word(id_, incarnation);
  store_relaxed(slot.pid, static_cast<std::uint64_t>(::getpid()));
  store_relaxed(slot.joined_ns, realtime_ns());
  store_release(slot.heartbeat_ns, realtime_ns());
  store_release(slot.incarnation, incarnation);
  // Alive from here: may take locks, and the liveness thread beats for it
  // (a joiner that stalls holding a lock is declared failed like a member).
  publish_state(slot.state, NodeState::kJoining);
  {
    // Becoming a member and placing the directory copies happen under the
    // directory and membership locks (in the lock order: membership last),
    // so nobody (the checker included) sees a member count without the
    // copies that go with it.
    auto dir_lock = lock_directory();
    if (!dir_lock) return dir_lock.error();
    auto lock = lock_membership();
    if (!lock) return lock.error();
    if (!dir_lock->held() || !lock->held()) return TableLock::expelled();
    publish_state(slot.state, NodeState::kMember);
    ClusterHeader& c = pool_.cluster();
    store_release(c.members, load_acquire(c.members) | (std::uint64_t{1} << id_));
    store_release(c.leaving, load_acquire(c.leaving) & ~(std::uint64_t{1} << id_));  // a new incarnation stays
    joined_event_ = records::append(pool_, EventKind::kNodeJoined, id_, incarnation, id_, 0).sequence;
    // Paper 4.1: a joining node that finds no replica becomes the replica.
    relocate_directory(kNoNode);
  }
  joined_ = true;
  // What a previous incarnation left: this may wait on locks of other
  // nodes (declaring a stalled owner failed); the liveness thread beats meanwhile.
  if (auto resolved = txn::resolve_transactions(pool_, lock_owner(), id_); !resolved) return resolved;
  if (auto repaired = repair_abandoned_locks(id_); !repaired) return repaired;
  if (auto swept = sweep_reservations(id_); !swept) return swept;
  rebuild_shares();
  return ok_status();
}

bool Node::is_member() const {
  const NodeSlot& slot = pool_.node_slot(id_);
  return joined_ && load_state<NodeState>(slot.state) == NodeState::kMember &&
         load_acquire(slot.incarnation) == incarnation();
}

void Node::leave() {
  std::lock_guard guard(mutex_);
  if (!joined_) return;
  (void)close_all_locked();  // a node that leaves shares nothing (fails only if expelled)
  NodeSlot& slot = pool_.node_slot(id_);
  auto dir_lock = lock_directory();  // lock order: directory, then membership
  if (auto lock = lock_membership(); lock) {
    if (dir_lock && dir_lock->held()) relocate_directory(id_);
    ClusterHeader& c = pool_.cluster();
    store_release(c.members, load_acquire(c.members) & ~(std::uint64_t{1} << id_));
    // A leaving mark stays until this node rejoins: the coordinator revokes
    // what is left of its memory, which takes no new sections meanwhile.
    store_release(c.view_epoch, load_acquire(c.view_epoch) + 1);
    publish_state(slot.state, NodeState::kAbsent);
  }
  joined_ = false;
}

void Node::rebuild_shares() {
  shares_.clear();
  for (std::uint32_t home = 0; home < pool_.node_count(); ++home) {
    if (pool_.partition_lost(home)) continue;
    auto sharers = pool_.sharers(home);
    for (std::uint32_t i = 0; i < sharers.size(); ++i) {
      const SharerEntry& sh = sharers[i];
      if (load_state<EntryState>(sh.state) != EntryState::kCommitted || sh.node != id_) continue;
      const SectionEntry& s = pool_.sections(home)[sh.section_index];
      shares_[{sh.gid, sh.holder}] = Share{home, i, pool_.data_pool_offset(home, s.offset), s.size};
    }
  }
}

Result<SectionInfo> Node::allocate(std::string_view name, std::uint64_t size, Placement where, std::uint64_t holder,
                                   const layout::Security& security) {
  std::lock_guard guard(mutex_);
  if (name.size() > kNameMax)
    return make_error(Errc::kNameTooLong, fmt::format("name is {} bytes, the limit is {}", name.size(), kNameMax));
  if (name.find('\0') != std::string_view::npos)
    return make_error(Errc::kInvalidArgument, "name contains a NUL byte");
  if (size == 0) return make_error(Errc::kInvalidArgument, "size must be greater than 0");
  if (!joined_) return make_error(Errc::kInvalidArgument, "node has not joined the pool");
  const std::uint64_t data_size = pool_.superblock().data_size;
  if (size > data_size)
    return make_error(Errc::kNoSpace, fmt::format("size {} is larger than a partition ({} bytes)", size, data_size));
  size = round_to_pages(size);
  std::vector<std::uint32_t> homes;
  switch (where.kind) {
    case Placement::Kind::kLocal: homes.push_back(id_); break;
    case Placement::Kind::kNode:
      if (where.node >= pool_.node_count())
        return make_error(Errc::kInvalidArgument, fmt::format("node {} does not exist (nodes 0..{})", where.node,
                                                              pool_.node_count() - 1));
      homes.push_back(where.node);
      break;
    case Placement::Kind::kAnywhere:
      for (std::uint32_t k = 0; k < pool_.node_count(); ++k) homes.push_back((id_ + k) % pool_.node_count());
      break;
  }

  Txn txn(*this, TxnKind::kAllocate, size, holder);
  txn.step(CrashPoint::kAllocBegun);
  // Every phase runs under its lock; a failure aborts after the lock is
  // released (undoing takes the locks itself).
  std::uint64_t gid = 0;
  Status phase = [&]() -> Status {
    auto lock = lock_directory();
    if (!lock) return lock.error();
    if (std::uint32_t existing = dir::find_name(pool_, name); existing != kNoIndex) {
      if (load_state<EntryState>(dir::entry(pool_, existing).state) == EntryState::kCommitted)
        return make_error(Errc::kExists, fmt::format("name '{}' already exists", name));
      return busy(fmt::format("name '{}'", name));
    }
    const std::uint32_t slot = dir::pick_slot(pool_, name);
    if (slot == kNoIndex) return make_error(Errc::kTableFull, "the directory (master table) is full");
    if (!lock->held()) return TableLock::expelled();
    txn.set_target(&TxnRecord::dir_slot, slot);
    gid = dir::reserve(pool_, slot, name, txn.owner(), size, security, CrashPoint::kAllocDirPrimary);
    txn.set_gid(gid);
    return ok_status();
  }();
  if (!phase) return txn.abort(phase.error());
  txn.step(CrashPoint::kAllocDirReserved);

  Error last_failure = make_error(Errc::kNoSpace, "no partition has room");
  bool placed = false;
  std::uint64_t offset_in_partition = 0;
  for (std::uint32_t home : homes) {
    if (pool_.partition_lost(home)) {
      last_failure = make_error(Errc::kNoSpace, fmt::format("the memory of node {} is lost", home));
      continue;
    }
    auto lock = lock_partition(home);
    if (!lock) {
      last_failure = lock.error();
      break;
    }
    // Under the partition lock: revoke_departed's last look at this
    // partition sees any section reserved before the leaving mark was set.
    if ((load_acquire(pool_.cluster().leaving) & (std::uint64_t{1} << home)) != 0) {
      last_failure = make_error(Errc::kNoSpace, fmt::format("node {} is leaving or has left the cluster: its memory "
                                                            "takes no new sections until it rejoins", home));
      continue;
    }
    const std::uint32_t section = part::find_free_section(pool_, home);
    const std::uint32_t sharer = part::find_free_sharer(pool_, home);
    if (section == kNoIndex || sharer == kNoIndex) {
      last_failure = make_error(Errc::kTableFull, fmt::format("the {} table of node {} is full",
                                                              section == kNoIndex ? "section" : "sharer", home));
      continue;
    }
    auto offset = part::carve(pool_, home, size);
    if (!offset) {
      last_failure = make_error(Errc::kNoSpace, fmt::format("node {} has no free extent of {} bytes", home, size));
      continue;
    }
    // Targets first: recovery finds the entries through the record.
    txn.set_target(&TxnRecord::home_node, home);
    txn.set_target(&TxnRecord::section_index, section);
    txn.set_target(&TxnRecord::sharer_index, sharer);
    crash_point(CrashPoint::kAllocExtentCarved);
    if (!lock->held()) {
      last_failure = TableLock::expelled();
      break;
    }
    part::reserve_section(pool_, home, part::Reservation{txn.owner(), gid, section, sharer, id_, holder}, *offset, size,
                          CrashPoint::kAllocSectionReserved);
    offset_in_partition = *offset;
    placed = true;
    break;
  }
  if (!placed) return txn.abort(std::move(last_failure));
  txn.step(CrashPoint::kAllocPartitionReserved);
  if (auto done = txn.commit(CrashPoint::kAllocCommitting); !done) return done.error();
  txn.step(CrashPoint::kAllocDone);
  const TxnRecord& r = txn.record();
  SectionInfo info;
  info.gid = Gid{gid};
  info.name = std::string(name);
  info.home_node = r.home_node;
  info.section_index = r.section_index;
  info.pool_offset = pool_.data_pool_offset(r.home_node, offset_in_partition);
  info.size = size;
  info.sharer_nodes = std::uint64_t{1} << id_;
  info.sharers = 1;
  info.security = security;
  shares_[{gid, holder}] = Share{r.home_node, r.sharer_index, info.pool_offset, size};
  return info;
}

Result<SectionInfo> Node::open(std::string_view name, std::uint64_t holder) {
  std::lock_guard guard(mutex_);
  auto gid = resolve_name_locked(name);
  if (!gid) return gid.error();
  return open_locked(*gid, holder);
}

Result<SectionInfo> Node::open(Gid gid, std::uint64_t holder) {
  std::lock_guard guard(mutex_);
  return open_locked(gid, holder);
}

Result<SectionInfo> Node::open_locked(Gid gid, std::uint64_t holder) {
  if (shares_.contains({gid.value, holder}))
    return make_error(Errc::kAlreadyOpen, fmt::format("section {} is already open by holder {} on node {}",
                                                      to_string(gid), holder, id_));
  Txn txn(*this, TxnKind::kOpen, 0, holder);
  txn.set_gid(gid.value);
  txn.step(CrashPoint::kOpenBegun);
  std::uint32_t home = kNoNode, section = kNoIndex;
  SectionInfo info;
  info.gid = gid;
  Status located = [&]() -> Status {
    auto lock = lock_directory();
    if (!lock) return lock.error();
    if (!dir::gid_matches(pool_, gid.value))
      return make_error(Errc::kNotFound, fmt::format("no section with GID {}", to_string(gid)));
    const DirEntry& e = dir::entry(pool_, gid.slot());
    if (load_state<EntryState>(e.state) != EntryState::kCommitted) return busy(fmt::format("section {}", to_string(gid)));
    if (pool_.partition_lost(e.home_node))
      return make_error(Errc::kNotFound, fmt::format("section {} was in lost memory", to_string(gid)));
    home = e.home_node;
    section = e.section_index;
    info.unlinked = (e.flags & kDirUnlinked) != 0;
    info.name = std::string(e.name, e.name_len);
    return ok_status();
  }();
  if (!located) return txn.abort(located.error());
  Status reserved = [&]() -> Status {
    auto lock = lock_partition(home);
    if (!lock) return lock.error();
    SectionEntry& s = pool_.sections(home)[section];
    if (s.gid != gid.value || load_state<EntryState>(s.state) != EntryState::kCommitted)
      return busy(fmt::format("section {}", to_string(gid)));
    const std::uint32_t sharer = part::find_free_sharer(pool_, home);
    if (sharer == kNoIndex) return make_error(Errc::kTableFull, fmt::format("the sharer table of node {} is full", home));
    if (!lock->held()) return TableLock::expelled();
    txn.set_target(&TxnRecord::home_node, home);
    txn.set_target(&TxnRecord::section_index, section);
    txn.set_target(&TxnRecord::sharer_index, sharer);
    part::reserve_sharer(pool_, home, part::Reservation{txn.owner(), gid.value, section, sharer, id_, holder});
    info.sharers = s.sharer_count;
    info.size = s.size;
    info.pool_offset = pool_.data_pool_offset(home, s.offset);
    return ok_status();
  }();
  if (!reserved) return txn.abort(reserved.error());
  txn.step(CrashPoint::kOpenSharerReserved);
  if (auto done = txn.commit(CrashPoint::kOpenCommitting); !done) return done.error();
  const TxnRecord& r = txn.record();
  info.home_node = r.home_node;
  info.section_index = r.section_index;
  shares_[{gid.value, holder}] = Share{r.home_node, r.sharer_index, info.pool_offset, info.size};
  return info;
}

Status Node::close(Gid gid, std::uint64_t holder) {
  std::lock_guard guard(mutex_);
  return close_locked(gid, holder);
}

Status Node::close(std::string_view name, std::uint64_t holder) {
  std::lock_guard guard(mutex_);
  auto gid = resolve_name_locked(name);
  if (!gid) return gid.error();
  return close_locked(*gid, holder);
}

Status Node::close_locked(Gid gid, std::uint64_t holder) {
  auto it = shares_.find({gid.value, holder});
  if (it == shares_.end())
    return make_error(Errc::kNotFound, fmt::format("section {} is not open by holder {} on node {}", to_string(gid),
                                                   holder, id_));
  auto closed = close_share(gid, it->second, id_);
  if (closed || closed.error().code == Errc::kNotFound) shares_.erase({gid.value, holder});
  return closed;
}

// Removes one sharer entry (of this node, or of a failed node during
// recovery). The last sharer's close frees the section and its name.
Status Node::close_share(Gid gid, Share share, std::uint32_t sharer_node) {
  Txn txn(*this, TxnKind::kClose, 0, 0);
  txn.set_gid(gid.value);
  txn.set_target(&TxnRecord::home_node, share.home_node);
  txn.set_target(&TxnRecord::sharer_index, share.sharer_index);
  txn.step(CrashPoint::kCloseBegun);
  Status marked = [&]() -> Status {
    auto lock = lock_partition(share.home_node);
    if (!lock) return lock.error();
    SharerEntry& sh = pool_.sharers(share.home_node)[share.sharer_index];
    if (sh.gid != gid.value || sh.node != sharer_node || load_state<EntryState>(sh.state) != EntryState::kCommitted)
      return make_error(Errc::kNotFound, fmt::format("share of section {} no longer exists", to_string(gid)));
    if (!lock->held()) return TableLock::expelled();
    txn.set_target(&TxnRecord::section_index, sh.section_index);
    sh.owner = txn.owner();
    publish_state(sh.state, EntryState::kReleasing);
    return ok_status();
  }();
  if (!marked) return txn.abort(marked.error());
  txn.step(CrashPoint::kCloseSharerReleasing);
  if (auto done = txn.commit(CrashPoint::kCloseCommitting); !done) return done.error();
  txn.step(CrashPoint::kCloseDone);
  return ok_status();
}

Status Node::free(std::string_view name, std::uint64_t holder) {
  std::lock_guard guard(mutex_);
  Gid gid;
  {
    auto lock = lock_directory();
    if (!lock) return lock.error();
    auto found = committed_gid(pool_, name);
    if (!found) return found.error();
    gid = *found;
    if (!lock->held()) return TableLock::expelled();
    dir::set_unlinked(pool_, gid.slot(), CrashPoint::kUnlinkPrimary);
  }
  if (shares_.contains({gid.value, holder})) return close_locked(gid, holder);
  return ok_status();
}

Result<Gid> Node::lookup_name(std::string_view name) {
  std::lock_guard guard(mutex_);
  return resolve_name_locked(name);
}

Result<Gid> Node::resolve_name_locked(std::string_view name) {
  auto lock = lock_directory();
  if (!lock) return lock.error();
  return committed_gid(pool_, name);
}

Result<SectionInfo> Node::describe(Gid gid) {
  std::lock_guard guard(mutex_);
  return describe_locked(gid, true);
}

Result<SectionInfo> Node::describe_locked(Gid gid, bool with_sharer_nodes) {
  SectionInfo info;
  {
    auto lock = lock_directory();
    if (!lock) return lock.error();
    if (!dir::gid_matches(pool_, gid.value) ||
        load_state<EntryState>(dir::entry(pool_, gid.slot()).state) != EntryState::kCommitted)
      return make_error(Errc::kNotFound, fmt::format("no section with GID {}", to_string(gid)));
    const DirEntry& e = dir::entry(pool_, gid.slot());
    info.gid = gid;
    info.unlinked = (e.flags & kDirUnlinked) != 0;
    info.name = std::string(e.name, e.name_len);
    info.home_node = e.home_node;
    info.section_index = e.section_index;
    info.size = e.size;
    info.security = e.security;
  }
  if (pool_.partition_lost(info.home_node))
    return make_error(Errc::kNotFound, fmt::format("section {} was in lost memory", to_string(gid)));
  {
    auto lock = lock_partition(info.home_node);
    if (!lock) return lock.error();
    const SectionEntry& s = pool_.sections(info.home_node)[info.section_index];
    info.pool_offset = pool_.data_pool_offset(info.home_node, s.offset);
    info.sharers = s.sharer_count;
  }
  if (with_sharer_nodes) info.sharer_nodes = sharer_nodes_locked(info.home_node)[gid.value];
  return info;
}

// One pass over a partition's sharer table: GID -> nodes sharing it.
std::map<std::uint64_t, std::uint64_t> Node::sharer_nodes_locked(std::uint32_t home) {
  std::map<std::uint64_t, std::uint64_t> nodes;
  auto lock = lock_partition(home);
  if (!lock) return nodes;
  for (const SharerEntry& sh : pool_.sharers(home))
    if (load_state<EntryState>(sh.state) != EntryState::kFree && sh.node < kMaxNodes)
      nodes[sh.gid] |= std::uint64_t{1} << sh.node;
  return nodes;
}

std::vector<SectionInfo> Node::list() {
  std::lock_guard guard(mutex_);
  std::vector<Gid> gids;
  {
    auto lock = lock_directory();
    if (!lock) return {};
    auto table = pool_.dir_entries(dir::primary_node(pool_));
    for (std::uint32_t i = 0; i < table.size(); ++i)
      if (load_state<EntryState>(table[i].state) == EntryState::kCommitted)
        gids.push_back(Gid{dir::gid_of(table[i], i)});
  }
  std::vector<SectionInfo> out;
  for (Gid gid : gids)
    if (auto info = describe_locked(gid, false)) out.push_back(std::move(info.value()));
  std::map<std::uint32_t, std::map<std::uint64_t, std::uint64_t>> by_home;
  for (SectionInfo& info : out) {
    if (!by_home.contains(info.home_node)) by_home[info.home_node] = sharer_nodes_locked(info.home_node);
    info.sharer_nodes = by_home[info.home_node][info.gid.value];
  }
  return out;
}

std::vector<PartitionStat> Node::stat() {
  std::lock_guard guard(mutex_);
  std::vector<PartitionStat> out;
  for (std::uint32_t home = 0; home < pool_.node_count(); ++home) {
    PartitionStat st;
    st.node = home;
    st.data_bytes = pool_.superblock().data_size;
    st.lost = pool_.partition_lost(home);
    if (st.lost) {
      out.push_back(st);
      continue;
    }
    auto lock = lock_partition(home);
    if (!lock) continue;
    const PartitionHeader& ph = pool_.partition(home);
    auto free = pool_.free_table(home);
    st.free_extents = ph.free_count;
    for (std::uint32_t i = 0; i < ph.free_count; ++i) {
      st.free_bytes += free[i].length;
      st.largest_free = std::max(st.largest_free, free[i].length);
    }
    for (const SectionEntry& s : pool_.sections(home)) {
      const auto state = load_state<EntryState>(s.state);
      if (state == EntryState::kFree) continue;
      ++st.sections;
      (state == EntryState::kReserved ? st.reserved_bytes : st.used_bytes) += s.size;
    }
    out.push_back(st);
  }
  return out;
}

Result<std::span<std::byte>> Node::bytes(Gid gid) {
  std::lock_guard guard(mutex_);
  auto it = shares_.lower_bound({gid.value, 0});
  if (it == shares_.end() || it->first.first != gid.value)
    return make_error(Errc::kNotFound, fmt::format("section {} is not open on node {}: open it first", to_string(gid), id_));
  if (pool_.partition_lost(it->second.home_node))
    return make_error(Errc::kNotFound, fmt::format("section {} was in lost memory", to_string(gid)));
  return std::span<std::byte>(pool_.at(it->second.pool_offset), it->second.size);
}

bool Node::holds(Gid gid, std::uint64_t holder) const {
  std::lock_guard guard(mutex_);
  return shares_.contains({gid.value, holder});
}

}  // namespace gmm
