// The gmmd wire protocol: JSON lines over a unix stream socket. The client
// sends one request object per line, gmmd answers each with one reply
// object, {"ok": true, ...} or {"ok": false, "error": errc_name(code),
// "message": ...}; after the reply to `watch` the connection carries event
// lines.
//
// The requests -- each op's fields, reply, rights -- are written down once,
// in the op table (op_table.hpp): encode_request and decode_request walk it,
// and docs/cli.md's "Wire protocol" section is generated from it
// (gmm-proto-doc); read them there.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

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
// kMaxErrorMessage bytes; client text in it is quoted, escaped and cut
// after kMaxQuotedClientText bytes.
inline constexpr std::size_t kMaxErrorMessage = 256;
inline constexpr std::size_t kMaxQuotedClientText = 64;
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
  kSend,  // the last one: kOpCount (op_table.hpp) counts up to here
};
std::string_view op_name(Op op);  // the wire name: "ping", "alloc", ..., "ls"

// One decoded request. Which fields mean something depends on `op` (its
// row in the op table); the others keep their defaults.
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
  enum class Recipients { kNode, kGroup, kAll };
  Recipients recipients = Recipients::kNode;  // send: "to": node, "nodes": [...], "to": "all"
  std::uint64_t nodes = 0;    // send: bit n = node n (one bit for kNode; 0 for kAll)
  std::uint32_t kind = 0;     // send: the message kind; its payload is `data`

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

// Application messages on a watch connection: "message" in "events" sets
// this bit (apart from the membership kinds' bits).
inline constexpr std::uint32_t kMessageEventBit = 1u << 31;
inline constexpr std::string_view kMessageEventName = "message";
struct AppMessage {
  std::uint32_t from = 0;  // the sending node
  std::uint32_t kind = 0;
  std::uint64_t sent_ns = 0;
  std::string data;        // at most layout::kMessagePayload bytes
  friend bool operator==(const AppMessage&, const AppMessage&) = default;
};
std::string encode_message_event(const AppMessage& message);
// Any line of a watch connection. Errors as decode_event.
using WatchLine = std::variant<Event, AppMessage>;
Result<WatchLine> decode_watch_line(std::string_view line);

// Inverse of errc_name(); nullopt for an unknown name.
std::optional<Errc> errc_from_name(std::string_view name);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace gmm::proto
