// The GMM core as one node sees it: global sections allocated, shared and
// released through two-phase transactions on the pool (paper 3.2-3.4).
//
// Threading: one Node object per node per process; its calls are serialised
// by an internal mutex. Any number of Node objects (in any processes/VMs) may
// work on the same pool at once: the pool's global locks order them.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmm/lock.hpp"
#include "gmm/pool.hpp"
#include "gmm/result.hpp"

namespace gmm {

// Global ID: (generation << 32) | directory slot. 0 is never a valid GID.
struct Gid {
  std::uint64_t value = 0;
  std::uint32_t slot() const { return static_cast<std::uint32_t>(value); }
  std::uint32_t generation() const { return static_cast<std::uint32_t>(value >> 32); }
  friend bool operator==(Gid, Gid) = default;
  friend auto operator<=>(Gid, Gid) = default;
};
std::string to_string(Gid gid);                       // "0x0000000100000007"
std::optional<Gid> parse_gid(std::string_view text);  // accepts "0x..." or decimal

// Where allocate() places a section.
struct Placement {
  enum class Kind { kLocal, kNode, kAnywhere } kind = Kind::kLocal;
  std::uint32_t node = 0;  // for kNode
  static Placement local() { return {Kind::kLocal, 0}; }
  static Placement on(std::uint32_t node) { return {Kind::kNode, node}; }
  static Placement anywhere() { return {Kind::kAnywhere, 0}; }
};

struct SectionInfo {
  Gid gid;
  std::string name;            // empty for anonymous or unlinked sections
  bool unlinked = false;
  std::uint32_t home_node = 0;  // partition holding the memory
  std::uint32_t section_index = 0;
  std::uint64_t pool_offset = 0;  // first byte of the section in the pool
  std::uint64_t size = 0;         // bytes (page multiple)
  std::uint64_t sharer_nodes = 0;  // nodes holding a share; filled by describe() and list() only
  std::uint32_t sharers = 0;       // number of sharer entries
  layout::Security security{};     // owner and mode (not filled by open())
};

// Sections created without saying otherwise: root's, owner read/write only.
inline constexpr layout::Security kDefaultSecurity{0, 0, 0600, 0};

struct PartitionStat {
  std::uint32_t node = 0;
  std::uint64_t data_bytes = 0;      // pages this partition contributes
  std::uint64_t free_bytes = 0;      // on the free list
  std::uint64_t used_bytes = 0;      // in committed sections
  std::uint64_t reserved_bytes = 0;  // in sections of in-flight transactions
  std::uint64_t largest_free = 0;
  std::uint32_t sections = 0;
  std::uint32_t free_extents = 0;
  bool lost = false;  // memory declared lost: no figures
};

class Node {
 public:
  // `pool` must stay mapped while the Node lives.
  Node(Pool pool, std::uint32_t node_id);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  std::uint32_t id() const { return id_; }
  const Pool& pool() const { return pool_; }

  // Becomes a member (NodeSlot state Member, a new incarnation). Must be
  // called before any other operation. Errors: kInvalidArgument (id out of
  // range), kBadPool.
  Status join();
  // Leaves cleanly: closes every share of this node, then marks the slot
  // Absent. (A node that dies instead is recovered by the others.)
  void leave();

  // Allocates `size` bytes (rounded up to pages) named `name` (may be empty
  // for an anonymous section) and makes `holder` on this node its first
  // sharer. Errors: kInvalidArgument (size 0, node out of range),
  // kNameTooLong, kExists, kNoSpace, kTableFull, kExpelled.
  Result<SectionInfo> allocate(std::string_view name, std::uint64_t size, Placement where,
                               std::uint64_t holder = 0, const layout::Security& security = kDefaultSecurity);

  // Adds `holder` on this node as a sharer of an existing section.
  // Errors: kNotFound, kBusy (being created/released), kAlreadyOpen, kTableFull.
  Result<SectionInfo> open(std::string_view name, std::uint64_t holder = 0);
  Result<SectionInfo> open(Gid gid, std::uint64_t holder = 0);

  // Removes this holder's share; the last share's close frees the section.
  // Errors: kNotFound (no such section), kNotFound (not open by this holder).
  Status close(Gid gid, std::uint64_t holder = 0);
  Status close(std::string_view name, std::uint64_t holder = 0);

  // Unlinks the name (no new opens) and closes this holder's share if it has
  // one; the memory returns when the last sharer closes. Errors: kNotFound.
  Status free(std::string_view name, std::uint64_t holder = 0);

  // Global Name Service.
  Result<Gid> lookup_name(std::string_view name);
  Result<SectionInfo> describe(Gid gid);
  std::vector<SectionInfo> list();
  std::vector<PartitionStat> stat();

  // The section's bytes, if this node holds a share of it (any holder).
  Result<std::span<std::byte>> bytes(Gid gid);

  // Holders on this node that share `gid` (node-local bookkeeping).
  bool holds(Gid gid, std::uint64_t holder) const;

  // ---- membership and recovery (driven by the node's threads, gmm/node_threads.hpp)
  std::uint32_t incarnation() const { return incarnation_.load(std::memory_order_relaxed); }
  std::uint64_t lock_owner() const { return lock_owner_.load(std::memory_order_relaxed); }
  // True while this incarnation is a member; false once declared failed.
  bool is_member() const;
  // The sequence of the kNodeJoined record this incarnation wrote: the
  // membership events after it are this incarnation's to act on.
  std::uint64_t joined_event() const { return joined_event_.load(std::memory_order_relaxed); }
  // Advances this node's heartbeat (unless `heartbeat` is false: the OS
  // beats it, OsHeartbeat) and, if `progressing`, its progress
  // (liveness.hpp). Any thread may; does nothing before the first join().
  void beat(bool progressing = true, bool heartbeat = true);
  // Recovery of failed nodes (paper 3.4), run by the coordinator: finishes
  // or undoes their transactions and repairs locks they held (for all of
  // them first: one of them may have died recovering another), then removes
  // them from every sharer list (freeing what nobody shares any more) and
  // moves directory copies off them. Idempotent.
  Status recover_failed_nodes(const std::vector<std::uint32_t>& dead);
  // Memory of `lost` is gone: drop every directory entry homed there and
  // keep the directory on surviving partitions. Idempotent.
  Status recover_lost_memory(std::uint32_t lost);
  // Forgets local shares of sections homed on a lost partition.
  void forget_shares_on(std::uint32_t home);
  // Planned leave (paper 3.7), run by the coordinator once `departed` has
  // left: revokes every section homed on its partition (each remaining
  // sharer removed by a close transaction of this node; the last close
  // frees the section and its name). Its partition takes no new sections
  // until it rejoins (allocate() refuses a node under planned removal).
  // Idempotent; a crash at any step is recovered by running it again.
  // Errors: kBusy (a transaction of another node still has an entry there
  // in flight: call again later), kExpelled, kInvalidArgument.
  Status revoke_departed(std::uint32_t departed);
  // Forgets local shares on `home` whose sharer entry is gone (revoked).
  void forget_revoked_shares(std::uint32_t home);
  // Closes every share this node holds (planned removal).
  Status close_all();
  // Closes every share of this node not held by `keep`: a daemon starting
  // anew drops the shares its previous incarnation's clients held (a node
  // rejoining before its failure was detected keeps its sharer entries).
  Status close_all_but(std::uint64_t keep);

 private:
  struct Share {
    std::uint32_t home_node;
    std::uint32_t sharer_index;
    std::uint64_t pool_offset;  // of the section's bytes (for bytes())
    std::uint64_t size;
  };
  class Txn;  // one transaction record in the pool (node.cpp)

  Result<TableLock> lock_membership();
  Result<TableLock> lock_directory();
  Result<TableLock> lock_partition(std::uint32_t node);
  Result<SectionInfo> open_locked(Gid gid, std::uint64_t holder);
  // Name -> GID of a committed, linked directory entry.
  Result<Gid> resolve_name_locked(std::string_view name);
  Status close_locked(Gid gid, std::uint64_t holder);
  Status close_share(Gid gid, Share share, std::uint32_t sharer_node);
  Status close_all_locked();
  Result<SectionInfo> describe_locked(Gid gid, bool with_sharer_nodes);
  std::map<std::uint64_t, std::uint64_t> sharer_nodes_locked(std::uint32_t home);
  void rebuild_shares();
  // Takes (and so repairs) every table lock abandoned by a dead incarnation of `dead_node`.
  Status repair_abandoned_locks(std::uint32_t dead_node);
  Status remove_sharer_everywhere(std::uint32_t dead);
  Status sweep_reservations(std::uint32_t node);
  // Keeps two directory copies on live, intact partitions other than
  // `excluded` (a node on its way out). Directory lock held.
  void relocate_directory(std::uint32_t excluded);
  std::uint32_t claim_txn_slot();

  Pool pool_;
  std::uint32_t id_;
  // Written by join() (under mutex_); read by the liveness thread too.
  std::atomic<std::uint32_t> incarnation_{0};
  std::atomic<std::uint64_t> lock_owner_{0};  // our owner word for global locks
  std::atomic<bool> joined_{false};
  std::atomic<std::uint64_t> joined_event_{0};
  mutable std::mutex mutex_;  // serialises this object's calls
  std::map<std::pair<std::uint64_t, std::uint64_t>, Share> shares_;  // (gid, holder) -> share; guarded by mutex_
};

}  // namespace gmm
