// The gmmd protocol's requests, written down once: one row per op with its
// wire name, request fields, reply fields, rights and what it does
// (op_table.cpp; the fields themselves are in request_fields.cpp).
// encode_request and decode_request walk this table, and docs/cli.md's
// "Wire protocol" section is generated from it by gmm-proto-doc; a ctest
// fails when that section differs (`cmake --build build --target
// proto-doc` rewrites it).
//
// Adding an op: an enumerator at the end of proto::Op, a row at the end of
// the table, then regenerate the docs. Adding a field: a FieldSpec with its
// codec in request_fields.cpp, a member in proto::Request.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "proto/proto.hpp"

namespace gmm::proto {

// Op's enumerators, from kPing to the last one (kSend); the table has one
// row each, in enumerator order.
inline constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::kSend) + 1;

// How a field may appear in one op's request.
enum class Presence {
  kRequired,
  kOptional,     // absent: the Request member keeps its default
  kOneOf,        // exactly one of the op's kOneOf fields (one group per op)
  kConditional,  // required when the fields before it ask for it (RequestField::when), refused otherwise
};

// How a field is read, written and found in a Request: request_fields.hpp.
struct FieldCodec;

// One request field, shared by every op that takes it. `type` and `meaning`
// are for people (docs/cli.md).
struct FieldSpec {
  std::string_view key;
  std::string_view type;
  std::string_view meaning;
  const FieldCodec* codec;
};

struct RequestField {
  const FieldSpec* field;
  Presence presence = Presence::kRequired;
  std::string_view when = {};  // kConditional: the condition, as JSON ("\"where\": \"node\"")
};

// A field of the reply body; `shape` is for people ("Section", "[node]").
struct ReplyField {
  std::string_view key;
  std::string_view shape = {};
};

struct OpSpec {
  Op op;
  std::string_view name;  // on the wire
  std::span<const RequestField> request;  // in the order the decoder reads them
  std::span<const ReplyField> reply;      // empty: the body is {}
  std::string_view rights;  // who may call it (section, mutex and event rights are mode bits)
  std::string_view description;
};

// Every op, in enumerator order.
std::span<const OpSpec> op_table();
// `op` must be one of Op's enumerators.
const OpSpec& op_spec(Op op);
// nullptr for a name that is no op.
const OpSpec* find_op(std::string_view name);

}  // namespace gmm::proto
