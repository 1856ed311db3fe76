// Recovery of the GMM tables after a node failure or a memory loss (paper
// 3.4). Everything here is idempotent: if the recovering node dies too, the
// next coordinator runs it again, and resolves the dead coordinator's own
// transactions first.
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "directory.hpp"
#include "gmm/atomic.hpp"
#include "gmm/crash.hpp"
#include "gmm/gmm.hpp"
#include "gmm/lock.hpp"
#include "partition.hpp"
#include "transaction.hpp"

namespace gmm {
using namespace layout;

namespace {

bool live_member(const Pool& pool, std::uint32_t node) {
  return node < pool.node_count() && load_state<NodeState>(pool.node_slot(node).state) == NodeState::kMember;
}

void copy_directory(const Pool& pool, std::uint32_t from, std::uint32_t to) {
  auto src = pool.dir_entries(from);
  std::memcpy(pool.dir_entries(to).data(), src.data(), src.size_bytes());
  const DirHeader& sh = pool.dir_header(from);
  DirHeader& dh = pool.dir_header(to);
  dh.entries = sh.entries;
  dh.pool_uuid = sh.pool_uuid;
  store_release(dh.update_seq, load_acquire(sh.update_seq));
  store_release(dh.magic, kDirMagic);  // valid only once complete
}

}  // namespace

void Node::relocate_directory(std::uint32_t excluded) {
  ClusterHeader& c = pool_.cluster();
  const std::uint32_t copies[2] = {load_acquire(c.dir_primary), load_acquire(c.dir_replica)};
  auto intact = [&](std::uint32_t n) { return n < pool_.node_count() && !pool_.partition_lost(n); };
  auto eligible = [&](std::uint32_t n) { return intact(n) && n != excluded && live_member(pool_, n); };
  std::uint32_t source = kNoNode;
  for (std::uint32_t n : copies)
    if (source == kNoNode && intact(n) && load_acquire(pool_.dir_header(n).magic) == kDirMagic) source = n;
  if (source == kNoNode) return;  // both copies lost: nothing left to copy from
  std::vector<std::uint32_t> holders;
  for (std::uint32_t n : copies)
    if (eligible(n)) holders.push_back(n);
  for (std::uint32_t n = 0; n < pool_.node_count() && holders.size() < 2; ++n) {
    if (!eligible(n) || (!holders.empty() && holders[0] == n)) continue;
    if (n != source) copy_directory(pool_, source, n);
    holders.push_back(n);
  }
  if (holders.empty()) return;  // no live member to hold it: leave it where it is
  const std::uint32_t primary = holders[0], replica = holders.size() > 1 ? holders[1] : kNoNode;
  if (primary == copies[0] && replica == copies[1]) return;
  if (primary != source && primary != copies[0] && primary != copies[1]) copy_directory(pool_, source, primary);
  store_release(c.dir_primary, primary);
  store_release(c.dir_replica, replica);
}

Status Node::recover_failed_nodes(const std::vector<std::uint32_t>& dead_nodes) {
  std::lock_guard guard(mutex_);
  for (std::uint32_t dead : dead_nodes)
    if (dead >= pool_.node_count() || dead == id_)
      return make_error(Errc::kInvalidArgument, fmt::format("cannot recover node {}", dead));
  // 1. Finish or undo what they had in flight (their transaction records).
  for (std::uint32_t dead : dead_nodes)
    if (auto r = txn::resolve_transactions(pool_, lock_owner(), dead); !r) return r;
  // 2. Locks they held: taken over, repaired, made consistent.
  for (std::uint32_t dead : dead_nodes)
    if (auto r = repair_abandoned_locks(dead); !r) return r;
  // 2b. Reservations no record accounts for (see sweep_reservations).
  for (std::uint32_t dead : dead_nodes)
    if (auto r = sweep_reservations(dead); !r) return r;
  // 3. Remove them from every sharer list; the last share's close frees the memory.
  for (std::uint32_t dead : dead_nodes)
    if (auto r = remove_sharer_everywhere(dead); !r) return r;
  // 4. Keep two directory copies on live nodes.
  auto lock = lock_directory();
  if (!lock) return lock.error();
  relocate_directory(kNoNode);
  return ok_status();
}

// Takes (and so repairs) every table lock a dead incarnation of
// `dead_node` held: TableLock runs the table's repair on kOwnerDied.
Status Node::repair_abandoned_locks(std::uint32_t dead_node) {
  GlobalLocks& locks = pool_.locks();
  auto abandoned = [&](const GlobalLock& l) {
    const std::uint64_t dead_owner = lock_dead_owner(pool_, l);
    return dead_owner != 0 && lock_owner_node(dead_owner) == dead_node;
  };
  if (abandoned(locks.directory))
    if (auto lock = lock_directory(); !lock) return lock.error();
  for (std::uint32_t n = 0; n < pool_.node_count(); ++n)
    if (!pool_.partition_lost(n) && abandoned(locks.partition[n]))
      if (auto lock = lock_partition(n); !lock) return lock.error();
  if (abandoned(locks.sync))  // nothing derived in the sync table: taking it is the repair
    if (auto lock = TableLock::acquire(pool_, locks.sync, lock_owner(), [] {}); !lock) return lock.error();
  return ok_status();
}

// A node that was paused, declared failed and recovered may, when it
// resumes, complete the one store group it had already checked its
// membership for (the fencing window): a reservation that no transaction
// record accounts for any more. Recovery and rejoin therefore sweep every
// reservation owned by an incarnation of `node` that is not alive: reserved
// entries are freed, releasing ones return to committed. Idempotent.
Status Node::sweep_reservations(std::uint32_t node) {
  const NodeSlot& slot = pool_.node_slot(node);
  auto stale = [&](const Owner& o) {
    if (o.node != node) return false;
    const auto state = load_state<NodeState>(slot.state);
    const bool alive = state == NodeState::kMember || state == NodeState::kJoining;
    return !alive || o.incarnation != load_acquire(slot.incarnation);
  };
  auto is = [](const std::uint32_t& field, EntryState s) { return load_state<EntryState>(field) == s; };
  std::vector<std::uint64_t> touched;  // sections whose last sharer may have gone
  for (std::uint32_t home = 0; home < pool_.node_count(); ++home) {
    if (pool_.partition_lost(home)) continue;
    auto lock = lock_partition(home);
    if (!lock) return lock.error();
    auto sharers = pool_.sharers(home);
    for (std::uint32_t i = 0; i < sharers.size(); ++i) {
      SharerEntry& sh = sharers[i];
      if (!stale(sh.owner)) continue;
      if (is(sh.state, EntryState::kReleasing)) publish_state(sh.state, EntryState::kCommitted);
      if (is(sh.state, EntryState::kReserved)) {
        const std::uint32_t section = sh.section_index;
        touched.push_back(sh.gid);
        part::free_sharer(pool_, home, i);
        part::release_if_unshared(pool_, home, section);
      }
    }
    auto sections = pool_.sections(home);
    for (std::uint32_t i = 0; i < sections.size(); ++i) {
      SectionEntry& sec = sections[i];
      if (!stale(sec.owner)) continue;
      if (is(sec.state, EntryState::kReserved)) part::free_section(pool_, home, i);
      if (is(sec.state, EntryState::kReleasing)) publish_state(sec.state, EntryState::kCommitted);
    }
  }
  auto lock = lock_directory();
  if (!lock) return lock.error();
  auto table = pool_.dir_entries(dir::primary_node(pool_));
  for (std::uint32_t i = 0; i < table.size(); ++i) {
    const DirEntry& e = table[i];
    if (!stale(e.owner)) continue;
    if (is(e.state, EntryState::kReserved)) dir::release(pool_, i, std::nullopt);
    if (is(e.state, EntryState::kReleasing)) dir::set_state(pool_, i, EntryState::kCommitted, e.owner, std::nullopt);
  }
  for (std::uint64_t gid : touched) dir::release_if_orphaned(pool_, gid, std::nullopt);
  return ok_status();
}

Status Node::remove_sharer_everywhere(std::uint32_t dead) {
  for (std::uint32_t home = 0; home < pool_.node_count(); ++home) {
    if (pool_.partition_lost(home)) continue;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> shares;  // (gid, sharer index)
    {
      auto lock = lock_partition(home);
      if (!lock) return lock.error();
      auto sharers = pool_.sharers(home);
      for (std::uint32_t i = 0; i < sharers.size(); ++i)
        if (sharers[i].node == dead && load_state<EntryState>(sharers[i].state) == EntryState::kCommitted)
          shares.emplace_back(sharers[i].gid, i);
    }
    for (auto [gid, index] : shares) {
      auto closed = close_share(Gid{gid}, Share{home, index, 0, 0}, dead);
      if (!closed && closed.error().code != Errc::kNotFound) return closed;
    }
  }
  return ok_status();
}

Status Node::recover_lost_memory(std::uint32_t lost) {
  std::lock_guard guard(mutex_);
  auto lock = lock_directory();
  if (!lock) return lock.error();
  relocate_directory(kNoNode);  // first: a copy on the lost partition must not be read again
  auto table = pool_.dir_entries(dir::primary_node(pool_));
  for (std::uint32_t i = 0; i < table.size(); ++i)
    if (load_state<EntryState>(table[i].state) != EntryState::kFree && table[i].home_node == lost)
      dir::release(pool_, i, std::nullopt);
  return ok_status();
}

Status Node::revoke_departed(std::uint32_t departed) {
  std::lock_guard guard(mutex_);
  if (departed >= pool_.node_count())
    return make_error(Errc::kInvalidArgument, fmt::format("cannot revoke the memory of node {}", departed));
  if (pool_.partition_lost(departed)) return ok_status();  // memory loss took it all already
  crash_point(CrashPoint::kLeaveRevokeBegun);
  struct Revoked {
    std::uint64_t gid;
    std::uint32_t index;
    std::uint32_t node;
  };
  std::vector<Revoked> shares;
  {
    auto lock = lock_partition(departed);
    if (!lock) return lock.error();
    auto sharers = pool_.sharers(departed);
    for (std::uint32_t i = 0; i < sharers.size(); ++i)
      if (load_state<EntryState>(sharers[i].state) == EntryState::kCommitted)
        shares.push_back({sharers[i].gid, i, sharers[i].node});
  }
  for (const Revoked& s : shares) {
    auto closed = close_share(Gid{s.gid}, Share{departed, s.index, 0, 0}, s.node);
    if (!closed && closed.error().code != Errc::kNotFound) return closed;
    crash_point(CrashPoint::kLeaveSharerRevoked);
  }
  // What another node had in flight there (an allocation that checked the
  // leaving mark before it was set, an open, a close) ends either way;
  // until then the leave is not done.
  {
    auto lock = lock_partition(departed);
    if (!lock) return lock.error();
    for (const SectionEntry& sec : pool_.sections(departed))
      if (load_state<EntryState>(sec.state) != EntryState::kFree)
        return make_error(Errc::kBusy, fmt::format("a section of node {} is still in use or in flight", departed));
  }
  crash_point(CrashPoint::kLeaveRevoked);
  return ok_status();
}

void Node::forget_revoked_shares(std::uint32_t home) {
  std::lock_guard guard(mutex_);
  if (home >= pool_.node_count()) return;
  if (pool_.partition_lost(home)) {
    std::erase_if(shares_, [&](const auto& entry) { return entry.second.home_node == home; });
    return;
  }
  auto lock = lock_partition(home);
  if (!lock) return;
  auto sharers = pool_.sharers(home);
  std::erase_if(shares_, [&](const auto& entry) {
    if (entry.second.home_node != home) return false;
    const SharerEntry& sh = sharers[entry.second.sharer_index];
    return load_state<EntryState>(sh.state) != EntryState::kCommitted || sh.gid != entry.first.first ||
           sh.node != id_ || sh.holder != entry.first.second;
  });
}

void Node::forget_shares_on(std::uint32_t home) {
  std::lock_guard guard(mutex_);
  std::erase_if(shares_, [&](const auto& entry) { return entry.second.home_node == home; });
}

Status Node::close_all() {
  std::lock_guard guard(mutex_);
  return close_all_locked();
}

Status Node::close_all_but(std::uint64_t keep) {
  std::lock_guard guard(mutex_);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> keys;
  for (const auto& [key, share] : shares_)
    if (key.second != keep) keys.push_back(key);
  for (auto [gid, holder] : keys)
    if (auto r = close_locked(Gid{gid}, holder); !r && r.error().code != Errc::kNotFound) return r;
  return ok_status();
}

Status Node::close_all_locked() {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> keys;
  for (const auto& [key, share] : shares_) keys.push_back(key);
  for (auto [gid, holder] : keys)
    if (auto r = close_locked(Gid{gid}, holder); !r && r.error().code != Errc::kNotFound) return r;
  return ok_status();
}

}  // namespace gmm
