// The gmmd wire protocol: JSON lines over a unix stream socket (docs/cli.md
// has the same summary for users).
//
//   client -> gmmd   one request object per line   {"op": "alloc", "name": "a", "size": 4096, "where": "local"}
//   gmmd -> client   one reply object per line     {"ok": true, ...}  or
//                                                  {"ok": false, "error": "kExists", "message": "..."}
//
// Requests (fields not listed are rejected, so typos fail loudly):
//   ping                                      -> {"node", "pid", "doorbell": {"kind", "wakes"}}
//   alloc  name, size, where ("local"|"any"|"node"), node (only with "node")
//                                             -> {"section": Section}
//   open   name                               -> {"section": Section}
//   close  name                               -> {}
//   free   name                               -> {}
//   ls                                        -> {"sections": [Section...]}
//   stat                                      -> {"partitions": [Partition...]}
//   write  name, offset, data_b64             -> {"written"}
//   read   name, offset, length               -> {"data_b64"}
//   watch  [events: ["node-failed", ...]]     -> {"node"}, then event lines (below)
//
// Application requests (libgmm; the caller's identity is the socket peer's
// SO_PEERCRED uid/gid/pid, each connection is one client with its own
// handles, all released when it hangs up):
//   whoami                                    -> {"client", "pid", "uid", "gid", "node"}
//   alloc  ... [mode]                         mode: permission bits (0..0777) of the new
//                                             section, owned by the caller (default 0600)
//   acquire (name | gid), access ("read"|"write")
//                                             -> {"section": Section, "address", "window":
//                                                 {"mmap_offset", "length", "writable"}}
//                                                and ONE descriptor (SCM_RIGHTS) with the reply
//   relinquish gid                            -> {}
//   mutex_create name [mode]                  -> {}
//   mutex_lock   name                         -> {"abandoned": bool}; one attempt, "busy" if held
//   mutex_unlock name                         -> {}
//   event_create name, manual_reset, signaled [mode] -> {}
//   event_set / event_reset name              -> {}
//   event_wait   name                         -> {"signaled": bool}; one attempt (auto-reset
//                                                events are reset by the attempt that gets them)
//   sync_destroy name                         -> {}   (mutex or event; owner only)
// Rights (mode bits, owner/group/other, uid 0 may do anything): acquire for
// read needs r, for write r and w; read/open need r, write needs w; locking a
// mutex and setting/resetting an event need w, waiting on an event needs r;
// free and sync_destroy need ownership. Denied: "permission-denied" with the
// same message on every node.
// "address" is the section's cluster-wide virtual address (the same in every
// process on every node, libgmm's map_global); "gid" travels as a string.
// Section and Partition are the objects made by section_json/partition_json.
// Bytes travel base64-encoded: sections hold arbitrary bytes, JSON strings
// hold only UTF-8.
//
// Limits: a request line is at most kMaxRequestLine bytes (so a write
// carries at most ~48 KiB); read/write lengths are at most kMaxIoLength.
//
// Events (paper 3.7): after the reply to `watch`, the connection carries
// only events: gmmd sends one line per application-phase event of its node
// (optionally only the kinds listed in "events"), e.g.
//   {"event": "node-failed", "node": 2, "incarnation": 1, "sequence": 7}
// "sequence" is the pool's RecoveryRecord number. gmmd ignores anything the
// client sends afterwards; the watch ends when either side hangs up. An
// event line is at most kMaxEventLine bytes; decoders ignore fields they do
// not know (later versions may add some).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gmm/gmm.hpp"
#include "gmm/membership.hpp"
#include "gmm/result.hpp"

namespace gmm::proto {

inline constexpr std::size_t kMaxRequestLine = 64 * 1024;
inline constexpr std::uint64_t kMaxIoLength = 1024 * 1024;
// Replies carry up to kMaxIoLength bytes base64-encoded, or a whole listing.
inline constexpr std::size_t kMaxReplyLine = 16 * 1024 * 1024;
// Deeper nesting is never valid and would only cost stack.
inline constexpr int kMaxJsonDepth = 8;
inline constexpr std::size_t kMaxEventLine = 1024;
// A refused request's message: one printable line (gmmd logs it), at most
// this long; client text in it is quoted, escaped and shortened.
inline constexpr std::size_t kMaxErrorMessage = 256;
// Same addresses everywhere (paper 4.2): a section's cluster-wide virtual
// address is this base plus its pool offset. Pool offsets of live sections
// never overlap and never change, so the pool's allocator is the cluster's
// address allocator: no table, and equal on every node. The base lies in
// the user half of x86-64 and aarch64 (47/48-bit) address spaces, far from
// where Linux puts heaps, libraries and stacks.
inline constexpr std::uint64_t kGlobalAddressBase = 0x2000'0000'0000ULL;
// Permission bits an object may carry (owner/group/other rwx).
inline constexpr std::uint32_t kMaxMode = 0777;
// Mode of a new object when the request names none: owner only.
inline constexpr std::uint32_t kDefaultMode = 0600;

enum class Op {
  kPing, kAlloc, kOpen, kClose, kFree, kList, kStat, kWrite, kRead, kWatch,
  kWhoami, kAcquire, kRelinquish,
  kMutexCreate, kMutexLock, kMutexUnlock, kEventCreate, kEventSet, kEventReset, kEventWait, kSyncDestroy,
};
std::string_view op_name(Op op);  // the wire name: "ping", "alloc", ..., "ls"

// One decoded request. Which fields mean something depends on `op` (see the
// table above); the others keep their defaults.
struct Request {
  Op op = Op::kPing;
  std::string name;
  std::uint64_t size = 0;  // alloc
  Placement where = Placement::local();  // alloc
  std::uint64_t offset = 0;  // read, write
  std::uint64_t length = 0;  // read
  std::string data;          // write: raw bytes
  std::uint32_t events = 0;  // watch: bits event_bit(kind) of the kinds wanted; 0 = all
  std::optional<std::uint32_t> mode;  // alloc: permission bits of the new object
  Gid gid;                   // acquire (instead of name), relinquish
  bool writable = false;     // acquire: "access": "write"
  bool manual_reset = false;  // event_create
  bool signaled = false;      // event_create: initial state

  friend bool operator==(const Request& a, const Request& b);
};

// Pure function of its input (fuzzed). Errors: kInvalidArgument with a
// message naming the problem (malformed JSON, unknown op, missing or
// mistyped field, oversized line or length).
Result<Request> decode_request(std::string_view line);
// One line without the trailing '\n'.
std::string encode_request(const Request& request);

// Replies: `body` must be an object; "ok" is added.
std::string encode_reply(nlohmann::json body);
std::string encode_error(const Error& error);
// The body of an ok reply, or the error an error reply carries. A reply that
// is not valid protocol is a kIo error.
Result<nlohmann::json> decode_reply(std::string_view line);

// Body fields shared by gmmd (producer) and gmmctl (consumer).
nlohmann::json section_json(const SectionInfo& section);
nlohmann::json partition_json(const PartitionStat& partition);

// Events: the bit of a kind in Request::events, the kind named by
// gmm::event_name(), and one event line (without '\n') each way.
constexpr std::uint32_t event_bit(layout::EventKind kind) { return 1u << static_cast<std::uint32_t>(kind); }
std::optional<layout::EventKind> event_kind_from_name(std::string_view name);
std::string encode_event(const Event& event);
// Pure and bounded (fuzzable). Errors: kIo naming what is malformed.
Result<Event> decode_event(std::string_view line);

// Inverse of errc_name(); nullopt for an unknown name.
std::optional<Errc> errc_from_name(std::string_view name);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace gmm::proto
