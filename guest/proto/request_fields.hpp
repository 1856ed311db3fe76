// Inside gmm_proto: the request fields the op table (op_table.cpp) is made
// of, and what their decoders share with proto.cpp. Not for callers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gmm/layout.hpp"
#include "proto/op_table.hpp"
#include "proto/proto.hpp"

namespace gmm::proto {

// Thrown by field readers and caught where a line is decoded: keeps the
// decoders straight lists of reads.
struct BadRequest {
  std::string message;
};

// Client text inside an error message: a JSON string with everything but
// printable ASCII escaped, cut after kMaxQuotedClientText bytes.
std::string client_text(const nlohmann::json& value);

// Bit n of `nodes` as node n in a JSON array, lowest first.
nlohmann::json node_array(std::uint64_t nodes);

// The membership event kinds, in the order `watch` lists them.
inline constexpr std::array<layout::EventKind, 4> kEventKinds{
    layout::EventKind::kNodeFailed, layout::EventKind::kMemoryLost, layout::EventKind::kNodeLeaving,
    layout::EventKind::kNodeJoined};

struct FieldCodec {
  // Stores the field's value in `request`; throws BadRequest naming `key`
  // and the problem.
  void (*read)(std::string_view key, const nlohmann::json& value, Request& request);
  nlohmann::json (*write)(const Request& request);
  // Whether `request` carries the field: decides if an optional or one-of
  // field is sent (the first present one of a one-of group), and if a
  // conditional one is wanted. nullptr: always.
  bool (*present)(const Request& request);
};

namespace fields {
extern const FieldSpec kName, kSize, kWhere, kNode, kMode, kOffset, kLength, kWriteData, kEvents, kGid, kAccess,
    kManualReset, kSignaled, kTo, kNodes, kKind, kMessageData;
}  // namespace fields

}  // namespace gmm::proto
