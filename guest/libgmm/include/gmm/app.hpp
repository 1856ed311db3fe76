// libgmm: the application interface to global memory (paper 4.1-4.2). A
// process talks to its node's gmmd over a unix socket; gmmd knows who it is
// (SO_PEERCRED), checks its rights and keeps its handles, and releases them
// when the process exits, however it exits.
//
// Three independent groups of calls:
//   reserve / unreserve      a range of this process's virtual addresses
//                            (PROT_NONE until something is mapped there);
//   acquire / relinquish     access to a global section, by name or GID:
//                            gmmd checks the rights and hands over a window
//                            onto exactly that section;
//   map / unmap              part of a reserved range onto part of an
//                            acquired section (MAP_FIXED over the
//                            reservation). Unmapping puts PROT_NONE back, so
//                            the reservation stays; mapping over a mapped
//                            range replaces it in place, which is how a
//                            secondary copy is promoted without any pointer
//                            changing.
// Same addresses everywhere: Section::global_address is the same in every
// process on every node (map_global maps the section there), so structures
// with direct pointers work across nodes.
//
// Threading: a Session's calls are serialised internally; use one Session
// per process (or more: each is a separate client of gmmd).
// Errors: every call returns gmm::Result / gmm::Status with a one-line
// message; the codes are gmm::Errc (kPermission = access denied, kNotFound,
// kBusy = still mapped, kInvalidArgument = bad range, kIo = gmmd unreachable).
//
// gmmd restarts: when a call finds gmmd's connection closed, the session
// reconnects (waiting up to set_reconnect_wait(), default
// kDefaultReconnectWait, for a gmmd to answer on the socket), acquires
// every handle again by GID and sends the call once more. A section that
// survived keeps its handle and its mappings (same section, same place);
// one that did not (its node's recovery freed it, or its memory is gone)
// is lost: its mappings become PROT_NONE, on_handle_lost() hears of it,
// and naming it later gives kNotFound "... was lost: <why>". If no gmmd
// answers in time the call fails with kIo saying so and every handle is
// lost. Nothing happens between calls: a session notices a restart at its
// next call. Watches reconnect the same way in next() (events sent while
// gmmd was away are missed).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gmm/result.hpp"

namespace gmm::app {

enum class Access { kRead, kWrite };

// An acquired section (a handle). Copies name the same handle.
struct Section {
  std::uint64_t gid = 0;
  std::string name;               // empty for anonymous sections
  std::uint64_t size = 0;         // bytes, page multiple
  std::uint64_t global_address = 0;  // where map_global maps it, in every process on every node
  std::uint32_t home_node = 0;    // partition holding its memory
  bool writable = false;
};

// Placement and rights of a new section.
struct CreateOptions {
  enum class Where { kLocal, kNode, kAnywhere } where = Where::kLocal;
  std::uint32_t node = 0;   // for kNode
  std::uint32_t mode = 0600;  // permission bits for owner (the caller), group, others
};

// Outcome of waiting on a global mutex or event (Win32's WAIT_OBJECT_0,
// WAIT_ABANDONED, WAIT_TIMEOUT).
enum class Wait { kAcquired, kAbandoned, kTimeout };
inline constexpr std::chrono::milliseconds kForever = std::chrono::milliseconds::max();

struct Identity {
  std::uint64_t client = 0;  // this session's client number at gmmd
  std::int64_t pid = 0;
  std::uint32_t uid = 0, gid = 0;  // as gmmd sees them (SO_PEERCRED)
  std::uint32_t node = 0;
  std::uint64_t handles = 0;  // sections gmmd counts as acquired by this session
};

// Short messages between applications on different nodes (paper 3.1):
// kinds from kFirstMessageKind up (lower ones are GMM's own), at most
// kMaxMessageBytes bytes each. The receiver sees the bytes without trailing
// zero bytes (the mailbox slot holds no length).
inline constexpr std::uint32_t kFirstMessageKind = 1024;
inline constexpr std::size_t kMaxMessageBytes = 40;

// Membership events of the cluster (paper 2, 3.7): the recoverable
// programming model's notifications. After a failure or a memory loss the
// event comes once GMM's tables are recovered; before a planned leave it
// comes first, and the application has the grace period to react.
// kMessage: an application message arrived at this node (only for watches
// that ask for kMessage); `node` is the sender.
struct NodeEvent {
  enum class Kind { kNodeFailed, kMemoryLost, kNodeLeaving, kNodeJoined, kMessage } kind = Kind::kNodeFailed;
  std::uint32_t node = 0;
  std::uint32_t incarnation = 0;
  std::uint64_t sequence = 0;  // the pool's recovery record number
  // kMessage only:
  std::uint32_t message_kind = 0;
  std::string data;
  std::uint64_t sent_ns = 0;  // the sender's CLOCK_REALTIME
};

// A subscription (its own connection to gmmd); ends when destroyed.
class EventWatch {
 public:
  EventWatch(EventWatch&&) noexcept;
  EventWatch& operator=(EventWatch&&) noexcept;
  ~EventWatch();
  // The next event, or kIo when `timeout` passes (timed_out() then says so)
  // or gmmd went away.
  Result<NodeEvent> next(std::chrono::milliseconds timeout);
  bool timed_out() const;

 private:
  friend class Session;
  struct State;
  explicit EventWatch(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

inline constexpr std::chrono::milliseconds kDefaultReconnectWait{30'000};

class Session {
 public:
  // Told of each handle lost (see "gmmd restarts" above), with why. Runs
  // inside the Session call that noticed it: it must not call the Session.
  using LostHandler = std::function<void(const Section&, const Error&)>;

  // Connects to gmmd at `socket_path`, or at $GMM_SOCKET when empty.
  // Errors: kInvalidArgument (no path), kIo (nobody listening).
  static Result<Session> connect(const std::string& socket_path = "");
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();  // unmaps, unreserves and relinquishes everything of this session

  // Creates a section (kept by gmmd until `gmmctl free` or destroy()), owned
  // by the caller with `options.mode`. It is not acquired: call acquire().
  // Errors: kExists, kNoSpace, kNameTooLong, kInvalidArgument.
  Result<std::uint64_t> create(std::string_view name, std::uint64_t size, const CreateOptions& options = {});
  // Unlinks the name; the memory returns when the last holder relinquishes.
  Status destroy(std::string_view name);

  // ---- address space
  // Reserves `length` bytes (rounded up to pages), anywhere, or exactly at
  // `at` (kExists if anything is mapped there already).
  Result<void*> reserve(std::size_t length, void* at = nullptr);
  // Releases a whole reservation and whatever is mapped in it.
  Status unreserve(void* address);

  // ---- access
  // Errors: kNotFound, kPermission (no such right), kAlreadyOpen.
  Result<Section> acquire(std::string_view name, Access access);
  Result<Section> acquire_gid(std::uint64_t gid, Access access);
  // kBusy while any part of the section is mapped.
  Status relinquish(const Section& section);

  // ---- mapping
  // Maps [offset, offset + length) of `section` at `address`, which must
  // lie in one reservation; whatever was mapped there is replaced. address,
  // offset page-aligned; length rounded up to pages, within the section.
  Status map(void* address, std::size_t length, const Section& section, std::uint64_t offset = 0);
  // Back to PROT_NONE; the reservation stays.
  Status unmap(void* address, std::size_t length);
  // Reserves the section's global address range and maps it whole there.
  Result<void*> map_global(const Section& section);

  // ---- global mutexes and events (paper 5.2), usable from any process on
  // any node; they live in the pool and survive node failures.
  // A mutex is owned by the locking process (recursively). If its owner
  // process dies, or the owner's node dies, the next locker gets
  // Wait::kAbandoned and owns it. Waiting polls gmmd with back-off.
  // Rights: locking needs w, waiting on an event r, set/reset w.
  Status create_mutex(std::string_view name, std::uint32_t mode = 0600);
  Result<Wait> lock_mutex(std::string_view name, std::chrono::milliseconds timeout = kForever);
  Status unlock_mutex(std::string_view name);  // kPermission if not the owner
  Status create_event(std::string_view name, bool manual_reset, bool signaled, std::uint32_t mode = 0600);
  Status set_event(std::string_view name);
  Status reset_event(std::string_view name);
  // kAcquired once signaled; an auto-reset event is reset for the one waiter that gets it.
  Result<Wait> wait_event(std::string_view name, std::chrono::milliseconds timeout = kForever);
  Status destroy_sync(std::string_view name);  // a mutex or event; owner only

  // ---- notifications: events of these kinds (every membership kind when
  // empty; messages only when kMessage is listed). Every watch of a node
  // that asked for kMessage gets each message that reaches the node.
  Result<EventWatch> watch(const std::vector<NodeEvent::Kind>& kinds = {});

  // ---- messages: any local process may send. To one node, to the nodes
  // listed, or to every current member; this node is included when named
  // (and by send_all). Errors: kInvalidArgument (kind below
  // kFirstMessageKind, more than kMaxMessageBytes, no such node), kNotFound
  // (a named node is not a member: nothing sent), kBusy (a recipient's
  // mailbox is full, it is not taking messages: the others got it; the
  // message says which).
  Status send(std::uint32_t node, std::uint32_t kind, std::string_view data);
  Status send_group(const std::vector<std::uint32_t>& nodes, std::uint32_t kind, std::string_view data);
  Status send_all(std::uint32_t kind, std::string_view data);

  Result<Identity> whoami();

  // ---- gmmd restarts (see the top of this header)
  void set_reconnect_wait(std::chrono::milliseconds wait);  // for this session and watches made after
  void on_handle_lost(LostHandler handler);

 private:
  struct State;
  explicit Session(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace gmm::app
