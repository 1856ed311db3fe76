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

enum class Op { kPing, kAlloc, kOpen, kClose, kFree, kList, kStat, kWrite, kRead, kWatch };
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
