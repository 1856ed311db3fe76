// The global pool's shared-memory ABI. Every byte any node, the host checker
// or a later layout version reads is defined here and nowhere else.
//
// Rules (frozen by static_asserts below and by common/tests/layout_test.cpp):
//  - standard-layout, trivially copyable structs of fixed-width integers;
//  - no pointers: tables are addressed by index, regions by 64-bit offset
//    from the start of the pool (pools may exceed 4 GiB);
//  - a word another node may read concurrently is <= 64 bits and accessed
//    through gmm/atomic.hpp, with the memory order in the helper's name;
//  - every table entry has a `state` and an `Owner` saying who reserved it.
//
// Bump kLayoutVersion on ANY change of size, offset or meaning of a field
// or constant below; kLayoutDescriptor (sizes of the key types) catches most
// accidental changes at attach time, the version catches the rest.
//
// Pool (docs/layout.md has the field-by-field picture):
//
//   0                  4 KiB                          partitions_offset
//   +------------------+------------------------------+----------------------+-----
//   | Superblock       | Global area                  | Partition 0          | Partition 1 ...
//   | magic, version,  | ClusterHeader, GlobalLocks,  | (node 0's memory)    |
//   | geometry         | NodeSlots, TxnRecords,       |                      |
//   |                  | RecoveryRecords, Mailboxes,  |                      |
//   |                  | SyncObjects                  |                      |
//   +------------------+------------------------------+----------------------+-----
//
//   Partition k (partition_size bytes, page aligned):
//   +-----------+----------------+---------------+--------------+-------------+--------------
//   | Partition | Directory copy | Section table | Sharer table | Free extent | data pages
//   | Header    | (DirHeader +   | [sections]    | [sharers]    | table       | (sections live
//   |           |  DirEntry[])   |               |              | [extents]   |  here)
//   +-----------+----------------+---------------+--------------+-------------+--------------
//
// Every partition has room for a directory copy (master table + name index),
// but only two are live: the primary and the replica (paper 3.2), named in
// ClusterHeader. A partition's own tables describe only its data pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace gmm::layout {

inline constexpr std::uint64_t kMagic = 0x4C4F4F504D4D4721ULL;  // "!GMMPOOL" little-endian
inline constexpr std::uint32_t kLayoutVersion = 5;  // 2: mailboxes; 3: security descriptors, sync objects;
                                                    // 4: NodeSlot::progress, membership lock taken last;
                                                    // 5: the host watcher: NodeSlot::host_notice and
                                                    //    fenced, ClusterHeader::detectors and watcher_*,
                                                    //    RecoveryRecord::detected_by, fence and host times;
                                                    //    ClusterHeader::leaving keeps a departed node's bit
inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr std::uint32_t kMaxNodes = 64;        // node ids 0..63; bitmasks are 64-bit
inline constexpr std::uint32_t kTxnSlotsPerNode = 8;  // concurrent transactions per node
inline constexpr std::uint32_t kNameMax = 63;         // bytes, NUL-terminated in 64
inline constexpr std::uint32_t kNoIndex = 0xFFFFFFFFu;
inline constexpr std::uint32_t kNoNode = 0xFFFFFFFFu;

// ---------------------------------------------------------------- common --

// Lifecycle of every table entry. Reserved/Releasing entries belong to the
// transaction named in their Owner; recovery finishes or undoes them.
enum class EntryState : std::uint32_t {
  kFree = 0,       // slot unused
  kReserved = 1,   // phase 1 of an allocation/open: temporary, invisible to others
  kCommitted = 2,  // live
  kReleasing = 3,  // phase 1 of a close/free: still live, refuses new users
};

// Who reserved an entry: the node, its incarnation (bumped at every join, so a
// restarted node is a different owner) and the node-local transaction id.
struct Owner {
  std::uint32_t node;         // kNoNode when nobody
  std::uint32_t incarnation;  // NodeSlot::incarnation at the time
  std::uint64_t txn;          // TxnRecord::txn_id
};

// Who may use a global object (paper 4.3): its owner and POSIX-style mode
// bits (owner/group/other x read/write). Written with the object, before
// the object is published, and never changed afterwards; every node checks
// a request against the same bytes, so an access is granted or denied the
// same way everywhere.
struct Security {
  std::uint32_t uid;   // owner (the creating process's uid, from SO_PEERCRED)
  std::uint32_t gid;   // owning group
  std::uint32_t mode;  // 0..0777; only the r (4) and w (2) bits mean something
  std::uint32_t reserved0;
};

// A recoverable lock word pair living in the pool (paper 3.5).
//   owner: 0 = free, else (incarnation << 32) | (node + 1)   -- one 64-bit CAS
//   state: LockState; set by whoever holds `owner`
//   since_ns: CLOCK_REALTIME when the checker took it (its lease)
struct GlobalLock {
  std::uint64_t owner;
  std::uint32_t state;
  std::uint32_t reserved0;
  std::uint64_t since_ns;
  std::uint64_t acquisitions;  // statistics only
};

enum class LockState : std::uint32_t {
  kConsistent = 0,
  kInconsistent = 1,    // previous owner died; the new owner is repairing
  kNotRecoverable = 2,  // released while inconsistent: permanently unusable
};

// Owner value used by the host-side checker (never a node): node field 0xFFFE.
inline constexpr std::uint32_t kCheckerNode = 0xFFFEu;

// ----------------------------------------------------------- superblock --

// Sizes of the key types, compared at attach time (LMDB's MDB_LOCK_FORMAT idea).
struct LayoutDescriptor {
  std::uint16_t superblock;
  std::uint16_t cluster_header;
  std::uint16_t global_lock;
  std::uint16_t node_slot;
  std::uint16_t txn_record;
  std::uint16_t partition_header;
  std::uint16_t dir_header;
  std::uint16_t dir_entry;
  std::uint16_t section_entry;
  std::uint16_t sharer_entry;
  std::uint16_t free_extent;
  std::uint16_t recovery_record;
  std::uint16_t message;
  std::uint16_t max_nodes;
  std::uint16_t txn_slots_per_node;
  std::uint16_t sync_object;
};

enum class PoolState : std::uint32_t { kFormatting = 0, kReady = 1 };

struct Superblock {
  std::uint64_t magic;            // kMagic; written last by format
  std::uint32_t layout_version;   // kLayoutVersion
  std::uint32_t state;            // PoolState
  LayoutDescriptor descriptor;
  std::uint64_t pool_size;        // bytes, whole region
  std::uint64_t page_size;        // kPageSize
  std::uint32_t node_count;       // partitions in this pool (1..kMaxNodes)
  std::uint32_t reserved0;
  std::uint64_t global_offset;    // ClusterHeader
  std::uint64_t locks_offset;     // GlobalLocks
  std::uint64_t nodes_offset;     // NodeSlot[kMaxNodes]
  std::uint64_t txns_offset;      // TxnRecord[kMaxNodes][kTxnSlotsPerNode]
  std::uint64_t partitions_offset;
  std::uint64_t partition_size;
  // capacities of the per-partition tables
  std::uint32_t dir_entries;
  std::uint32_t section_entries;
  std::uint32_t sharer_entries;
  std::uint32_t free_extents;
  // offsets of the tables inside a partition (relative to its start)
  std::uint64_t dir_offset;
  std::uint64_t sections_offset;
  std::uint64_t sharers_offset;
  std::uint64_t free_offset;
  std::uint64_t data_offset;      // first data page
  std::uint64_t data_size;        // bytes of data pages per partition
  std::uint64_t format_time_ns;
  std::uint64_t pool_uuid;        // random; distinguishes re-formatted pools
  std::uint64_t recoveries_offset;  // RecoveryRecord[kRecoveryRecords]
  std::uint64_t mailboxes_offset;   // Mailbox[kMaxNodes]
  std::uint64_t sync_offset;        // SyncObject[kSyncObjects]
  std::uint64_t reserved[4];      // pads to 256 bytes
};

// ---------------------------------------------------------- global area --

struct ClusterHeader {
  std::uint64_t view_epoch;       // bumped on every membership change
  std::uint64_t members;          // bitmask of MEMBER nodes
  std::uint32_t dir_primary;      // node whose partition holds the primary directory copy
  std::uint32_t dir_replica;      // node holding the replica (kNoNode if none)
  std::uint64_t gid_cursor;       // rotating start for anonymous directory slots
  std::uint32_t heartbeat_period_us;  // membership settings, shared by all nodes
  std::uint32_t miss_threshold;       // periods without a beat before a node is declared failed
  std::uint32_t leave_grace_ms;       // planned removal: time applications get before revocation
  std::uint32_t detectors;            // Detectors bits; 0 = the heartbeat only (no watcher asked for)
  std::uint64_t lost_partitions;  // bitmask: memory lost, never read again
  std::uint64_t leaving;          // bitmask: asked to leave, or left and not rejoined (no new sections there)
  std::uint64_t events;           // count of RecoveryRecords written (next = events % kRecoveryRecords)
  // The host watcher (gmm-host's, docs/design.md "The host watcher"): it
  // stores its clock every tick; it counts as running while that is younger
  // than kWatcherLeaseNs on the reader's clock. 0 = none (or it stopped).
  std::uint64_t watcher_beat_ns;  // CLOCK_REALTIME of the host
  std::uint64_t watcher_pid;      // the watcher's host process id (diagnostics)
  std::uint64_t reserved[5];
};

// ClusterHeader::detectors: who may declare a node failed besides lock
// waiters (which always may: no wait is for ever).
enum Detectors : std::uint32_t {
  kDetectHeartbeat = 1u,  // ring watchers declare a successor whose heartbeat or progress stops
  kDetectHost = 2u,       // the host watcher posts notices, and fences declared nodes
};
// A watcher whose beat is older than this has gone: ring watchers resume
// (detectors without kDetectHeartbeat) and recovery stops waiting for fences.
// Generous against the clock skew of VM guests (tens of ms).
inline constexpr std::uint64_t kWatcherLeaseNs = 1'000'000'000;

// Lock order (always acquire in this order, release in reverse):
//   directory -> partition[0] -> partition[1] -> ... -> sync -> membership
// Nodes take `sync` alone. `membership` is a leaf: whoever holds it waits
// for no other lock (so declaring a node failed, which needs it, is always
// possible while waiting for any other lock). Only the checker holds more
// than one table lock besides a join or leave (directory, then membership).
struct GlobalLocks {
  GlobalLock membership;
  GlobalLock directory;  // both directory copies
  GlobalLock partition[kMaxNodes];  // that partition's section/sharer/free tables
  GlobalLock sync;       // the SyncObject table's entries (creating, destroying)
};

enum class NodeState : std::uint32_t {
  kAbsent = 0,   // never joined, left cleanly, or failed and recovered
  kJoining = 1,
  kMember = 2,
  kFailed = 3,   // declared failed; recovery pending
};

// A node is alive for the others while both `heartbeat` and `progress`
// move: `heartbeat` says the node's OS runs it, `progress` that its daemon
// is not wedged (it stops while the daemon holds a table lock for too long,
// liveness.hpp). Watchers and lock waiters declare a node failed when either
// stands still for miss_threshold heartbeat periods.
struct NodeSlot {
  std::uint32_t state;         // NodeState
  std::uint32_t incarnation;   // bumped at every join
  std::uint64_t heartbeat;     // incremented by the node every period
  std::uint64_t heartbeat_ns;  // CLOCK_REALTIME of the last beat (diagnostics)
  std::uint64_t pid;           // process id (process mode) or 0
  std::uint64_t next_txn_id;   // node-local transaction id counter
  std::uint64_t joined_ns;
  std::uint64_t progress;      // incremented by the daemon every period while it is not wedged
  // Written by the host watcher only (never by the node):
  std::uint32_t host_notice;   // incarnation the host saw die or panic (0 = none); survivors declare it
                               // if it is still the current, live incarnation
  std::uint32_t fenced;        // newest incarnation whose processes the watcher stopped for good
};

enum class TxnState : std::uint32_t {
  kIdle = 0,
  kActive = 1,      // phase 1: reserving; recovery rolls back
  kCommitting = 2,  // phase 2: decision made; recovery rolls forward
};

enum class TxnKind : std::uint32_t { kNone = 0, kAllocate = 1, kOpen = 2, kClose = 3 };

// One per (node, slot). Written only by its node; read by recovery and fsck.
// The transaction's id, kind and targets are written before state becomes
// Active; the targets filled in later are written before Committing.
struct TxnRecord {
  std::uint32_t state;           // TxnState; release-stored last
  std::uint32_t kind;            // TxnKind
  std::uint32_t incarnation;
  std::uint32_t step;            // last step reached (diagnostics)
  std::uint64_t txn_id;
  std::uint64_t gid;
  std::uint32_t dir_slot;        // directory entry (kNoIndex until reserved)
  std::uint32_t home_node;       // partition of the section
  std::uint32_t section_index;
  std::uint32_t sharer_index;
  std::uint64_t size;
  std::uint64_t holder;
  std::uint64_t started_ns;
  std::uint64_t reserved[3];
};

// One per membership event (failure, memory loss, planned leave), kept in a
// ring of kRecoveryRecords. Times are CLOCK_REALTIME ns of the writer; in
// process mode that is the host clock.
inline constexpr std::uint32_t kRecoveryRecords = 16;

enum class EventKind : std::uint32_t { kNone = 0, kNodeFailed = 1, kMemoryLost = 2, kNodeLeaving = 3, kNodeJoined = 4 };

struct RecoveryRecord {
  std::uint32_t kind;           // EventKind
  std::uint32_t node;           // the node that failed / lost memory / left
  std::uint32_t incarnation;    // of that node
  std::uint32_t declared_by;    // node that signalled it
  std::uint64_t sequence;       // ClusterHeader::events value when written (1-based)
  std::uint64_t view_epoch;     // view after the change
  std::uint64_t last_beat_ns;   // last heartbeat seen from the node (failures)
  std::uint64_t declared_ns;    // when the event was signalled
  std::uint64_t tables_recovered_ns;  // coordinator finished the GMM tables
  std::uint64_t survivors;      // members expected to finish
  std::uint64_t done;           // members that finished (bitmask)
  std::uint32_t detected_by;    // DetectedBy (failures)
  std::uint32_t fence;          // FenceOutcome (failures; written by the host watcher)
  std::uint64_t fenced_ns;      // host clock: the watcher's fence completed (0: none)
  std::uint64_t host_seen_ns;   // host clock: the watcher saw the declaration (0: no watcher)
  std::uint64_t finished_ns[kMaxNodes];
};

enum class DetectedBy : std::uint32_t {
  kHeartbeat = 0,  // a ring watcher or a lock waiter saw the heartbeat or progress stop
  kHost = 1,       // a survivor acted on the host watcher's notice (NodeSlot::host_notice)
};
enum class FenceOutcome : std::uint32_t {
  kNone = 0,     // no watcher fenced it (none ran, or recovery went ahead without)
  kFenced = 1,   // its processes were gone for good before recovery
  kGaveUp = 2,   // the watcher could not stop it (survived SIGKILL); recovery went ahead
};

// Inter-node messages (paper 3.1): one mailbox per node in the global area,
// a ring of short messages with many producers (any node) and one consumer
// (its node). A producer claims a position by CAS on `tail`, writes the
// message, then release-stores `sequence` = position + 1; the consumer reads
// slot head % kMailboxSlots when its sequence is head + 1. After writing, the
// producer rings the receiver's doorbell.
inline constexpr std::uint32_t kMailboxSlots = 64;
inline constexpr std::uint32_t kMessagePayload = 40;

struct Message {
  std::uint64_t sequence;  // position + 1 when published; written last
  std::uint32_t from;      // sending node
  std::uint32_t kind;      // MessageKind or an application's own kind (>= 1024)
  std::uint64_t sent_ns;
  std::uint8_t payload[kMessagePayload];
};

struct Mailbox {
  std::uint64_t tail;     // next position to claim (producers, CAS)
  std::uint64_t head;     // next position to read (consumer only)
  std::uint64_t refused;  // sends refused because the ring was full (statistics)
  std::uint64_t skipped;  // positions the consumer gave up on (producer died mid-send)
  std::uint64_t reserved[4];
  Message slots[kMailboxSlots];
};

// Global mutexes and events (paper 5.2), one table in the global area. An
// entry is created under the `sync` lock: fields first, then `state`
// release-stored Committed (publish last); destroyed by storing Free. So a
// crash leaves an entry either fully there or not there, and the lock has
// nothing derived to repair.
//
// Mutex: `lock` is a GlobalLock owned by the gmmd (node, incarnation) that
// locked it on behalf of its client `holder_client`; `recursion` counts
// that client's nested locks. A client that dies holding it: its gmmd sets
// `abandoned`, then releases `lock`. A node that dies holding it: the next
// locker takes `lock` over (owner died). Either way the next locker is told
// the mutex was abandoned (Win32 WAIT_ABANDONED) and owns it.
// Event: `signaled` 0/1; an auto-reset event is taken by the one waiter
// whose CAS 1 -> 0 succeeds, a manual-reset event stays set until reset.
inline constexpr std::uint32_t kSyncObjects = 256;

enum class SyncKind : std::uint32_t { kNone = 0, kMutex = 1, kEvent = 2 };

struct SyncObject {
  std::uint32_t state;          // EntryState: Free or Committed; release-stored last
  std::uint32_t kind;           // SyncKind
  Security security;
  GlobalLock lock;              // mutex: held by (node, incarnation)
  std::uint64_t holder_client;  // mutex: the holding gmmd's client number
  std::uint32_t recursion;      // mutex
  std::uint32_t abandoned;      // mutex: 1 = the holder died; reported to the next locker
  std::uint32_t signaled;       // event
  std::uint32_t manual_reset;   // event: 1 = stays signaled until reset
  std::uint64_t name_hash;
  char name[kNameMax + 1];      // NUL-terminated, unique among live entries
  std::uint64_t reserved0;
};

// ------------------------------------------------------------- partition --

inline constexpr std::uint64_t kPartitionMagic = 0x5452415050474D47ULL;  // "GMGPPART"

struct PartitionHeader {
  std::uint64_t magic;         // kPartitionMagic; a lost partition fails this check
  std::uint32_t node;          // owner of this partition
  std::uint32_t free_count;    // entries [0, free_count) of the free table are used
  std::uint32_t section_cursor;  // where to start looking for a free section slot
  std::uint32_t sharer_cursor;
  std::uint64_t pool_uuid;
  std::uint64_t reserved[4];
};

// Free extent table: sorted by offset, non-overlapping, never adjacent
// (coalesced); entries [0, free_count) are live. Derived data: repair
// rebuilds it from the section table.
struct FreeExtent {
  std::uint64_t offset;  // bytes from the partition's data_offset, page aligned
  std::uint64_t length;  // bytes, page multiple, > 0
};

struct SectionEntry {
  std::uint32_t state;         // EntryState
  std::uint32_t generation;    // bumped on each reuse of the slot
  Owner owner;                 // who reserved it (or is releasing it)
  std::uint64_t gid;
  std::uint64_t offset;        // bytes from the partition's data_offset
  std::uint64_t size;          // bytes, page multiple
  std::uint32_t sharer_count;  // sharer entries naming this section (derived)
  std::uint32_t reserved0;
  std::uint64_t reserved1;
};

struct SharerEntry {
  std::uint32_t state;          // EntryState
  std::uint32_t section_index;  // in the same partition
  Owner owner;
  std::uint64_t gid;            // of the section (checked on close)
  std::uint32_t node;           // the sharing node
  std::uint32_t reserved0;
  std::uint64_t holder;         // node-local holder id (0 = the node's daemon)
};

// ------------------------------------------------------------- directory --

// Directory = the paper's master table (GID -> home node, section) plus the
// Global Name Service's name index over the same entries: an open-addressing
// hash table on the name. A GID is (generation << 32) | slot, so the same
// slot reused later never yields the same GID.
struct DirHeader {
  std::uint64_t magic;       // kDirMagic when the copy is valid
  std::uint64_t pool_uuid;
  std::uint64_t update_seq;  // bumped on every update (primary == replica when in sync)
  std::uint32_t entries;
  std::uint32_t reserved0;
};
inline constexpr std::uint64_t kDirMagic = 0x5249444D4D474721ULL;  // "!GGMMDIR"

enum class ObjectKind : std::uint32_t { kNone = 0, kSection = 1 };
enum DirFlags : std::uint32_t { kDirUnlinked = 1u };  // name no longer resolvable

struct DirEntry {
  std::uint32_t state;        // EntryState
  std::uint32_t generation;   // GID generation of the current/last occupant
  Owner owner;
  std::uint32_t kind;         // ObjectKind
  std::uint32_t flags;        // DirFlags
  std::uint32_t home_node;    // partition holding the section
  std::uint32_t section_index;
  std::uint64_t size;         // bytes requested (rounded to pages)
  std::uint64_t name_hash;    // 0 for anonymous objects
  std::uint32_t probe_refs;   // live named entries whose probe path passes this slot (derived)
  std::uint32_t name_len;
  char name[kNameMax + 1];    // NUL-terminated
  Security security;          // of the section and its name
};

// ------------------------------------------------------- frozen geometry --

template <class T>
inline constexpr bool kPoolType = std::is_standard_layout_v<T> && std::is_trivially_copyable_v<T>;

static_assert(kPoolType<Superblock> && kPoolType<ClusterHeader> && kPoolType<GlobalLocks> &&
              kPoolType<NodeSlot> && kPoolType<TxnRecord> && kPoolType<PartitionHeader> &&
              kPoolType<FreeExtent> && kPoolType<SectionEntry> && kPoolType<SharerEntry> &&
              kPoolType<DirHeader> && kPoolType<DirEntry> && kPoolType<RecoveryRecord> &&
              kPoolType<Mailbox> && kPoolType<SyncObject>);
// One statement per type, in the order of this file: its size, then its
// frozen offsets.
static_assert(sizeof(Owner) == 16);
static_assert(sizeof(Security) == 16);
static_assert(sizeof(GlobalLock) == 32 && offsetof(GlobalLock, owner) == 0);
static_assert(sizeof(LayoutDescriptor) == 32);
static_assert(sizeof(Superblock) == 256 && offsetof(Superblock, magic) == 0 &&
              offsetof(Superblock, layout_version) == 8 && offsetof(Superblock, descriptor) == 16 &&
              offsetof(Superblock, pool_size) == 48 && offsetof(Superblock, node_count) == 64 &&
              offsetof(Superblock, partitions_offset) == 104 && offsetof(Superblock, data_offset) == 168 &&
              offsetof(Superblock, mailboxes_offset) == 208 && offsetof(Superblock, sync_offset) == 216);
static_assert(sizeof(ClusterHeader) == 128 && offsetof(ClusterHeader, detectors) == 44 &&
              offsetof(ClusterHeader, watcher_beat_ns) == 72);
static_assert(sizeof(GlobalLocks) == 32 * (3 + kMaxNodes) && offsetof(GlobalLocks, sync) == 32 * (2 + kMaxNodes));
static_assert(sizeof(NodeSlot) == 64 && offsetof(NodeSlot, heartbeat) == 8 && offsetof(NodeSlot, progress) == 48 &&
              offsetof(NodeSlot, host_notice) == 56 && offsetof(NodeSlot, fenced) == 60);
static_assert(sizeof(TxnRecord) == 96 && offsetof(TxnRecord, state) == 0 && offsetof(TxnRecord, txn_id) == 16);
static_assert(sizeof(RecoveryRecord) == 96 + 8 * kMaxNodes && offsetof(RecoveryRecord, detected_by) == 72 &&
              offsetof(RecoveryRecord, finished_ns) == 96);
static_assert(sizeof(Message) == 64 && offsetof(Message, payload) == 24);
static_assert(sizeof(Mailbox) == 64 + 64 * kMailboxSlots && offsetof(Mailbox, slots) == 64);
static_assert(sizeof(SyncObject) == 160 && offsetof(SyncObject, lock) == 24 && offsetof(SyncObject, name) == 88);
static_assert(sizeof(PartitionHeader) == 64);
static_assert(sizeof(FreeExtent) == 16);
static_assert(sizeof(SectionEntry) == 64 && offsetof(SectionEntry, gid) == 24);
static_assert(sizeof(SharerEntry) == 48 && offsetof(SharerEntry, holder) == 40);
static_assert(sizeof(DirHeader) == 32);
static_assert(sizeof(DirEntry) == 144 && offsetof(DirEntry, owner) == 8 && offsetof(DirEntry, name_hash) == 48 &&
              offsetof(DirEntry, name) == 64 && offsetof(DirEntry, security) == 128);
static_assert(kMaxNodes >= 16);

inline constexpr LayoutDescriptor kLayoutDescriptor{
    sizeof(Superblock),  sizeof(ClusterHeader), sizeof(GlobalLock),  sizeof(NodeSlot),
    sizeof(TxnRecord),   sizeof(PartitionHeader), sizeof(DirHeader), sizeof(DirEntry),
    sizeof(SectionEntry), sizeof(SharerEntry),  sizeof(FreeExtent),  sizeof(RecoveryRecord),
    sizeof(Message),     kMaxNodes,             kTxnSlotsPerNode,    sizeof(SyncObject)};

}  // namespace gmm::layout
