// Every request field once: its key, what it is for people, and its codec
// (read into a Request, written from one, present in one). The op table
// (op_table.cpp) says which ops take which fields.
#include "proto/request_fields.hpp"

#include <bit>
#include <limits>

#include "gmm/messages.hpp"

namespace gmm::proto {
namespace {

using nlohmann::json;

std::string quoted(std::string_view key) { return "field \"" + std::string(key) + "\""; }

std::string string_value(std::string_view key, const json& value) {
  if (!value.is_string()) throw BadRequest{quoted(key) + " must be a string"};
  return value.get<std::string>();
}

std::uint64_t u64_value(std::string_view key, const json& value) {
  if (!value.is_number_unsigned()) throw BadRequest{quoted(key) + " must be a non-negative integer"};
  return value.get<std::uint64_t>();
}

bool bool_value(std::string_view key, const json& value) {
  if (!value.is_boolean()) throw BadRequest{quoted(key) + " must be true or false"};
  return value.get<bool>();
}

std::uint32_t node_number(const json& value, const std::string& what) {
  if (!value.is_number_unsigned() || value.get<std::uint64_t>() >= layout::kMaxNodes) {
    throw BadRequest{what + " must be a node number below " + std::to_string(layout::kMaxNodes)};
  }
  return value.get<std::uint32_t>();
}

std::string bytes_value(std::string_view key, const json& value) {
  auto data = base64_decode(string_value(key, value));
  if (!data) throw BadRequest{quoted(key) + " is not valid base64"};
  return std::move(*data);
}

void check_io_length(std::uint64_t length) {
  if (length > kMaxIoLength) {
    throw BadRequest{"length " + std::to_string(length) + " exceeds the limit of " + std::to_string(kMaxIoLength) +
                     " bytes"};
  }
}

// The texts below name these limits.
static_assert(kMaxIoLength == 1024 * 1024 && layout::kMessagePayload == 40 && layout::kMaxNodes == 64 &&
              kMaxMode == 0777 && kDefaultMode == 0600 && kFirstApplicationMessage == 1024);

const FieldCodec kNameCodec{
    [](std::string_view key, const json& value, Request& request) {
      request.name = string_value(key, value);
      if (request.name.empty()) throw BadRequest{quoted(key) + " must not be empty"};
      if (request.name.find('\0') != std::string::npos) throw BadRequest{quoted(key) + " must not contain NUL"};
    },
    [](const Request& request) -> json { return request.name; },
    [](const Request& request) { return !request.name.empty(); }};

const FieldCodec kSizeCodec{
    [](std::string_view key, const json& value, Request& request) { request.size = u64_value(key, value); },
    [](const Request& request) -> json { return request.size; }, nullptr};

// Only the kind: the node, when there is one, is the `node` field's.
const FieldCodec kWhereCodec{
    [](std::string_view key, const json& value, Request& request) {
      std::string where = string_value(key, value);
      if (where == "local") request.where = Placement::local();
      else if (where == "any") request.where = Placement::anywhere();
      else if (where == "node") request.where = Placement::on(0);
      else throw BadRequest{quoted(key) + " must be \"local\", \"any\" or \"node\""};
    },
    [](const Request& request) -> json {
      switch (request.where.kind) {
        case Placement::Kind::kLocal: return "local";
        case Placement::Kind::kAnywhere: return "any";
        case Placement::Kind::kNode: break;
      }
      return "node";
    },
    nullptr};

const FieldCodec kNodeCodec{
    [](std::string_view key, const json& value, Request& request) {
      std::uint64_t node = u64_value(key, value);
      if (node >= layout::kMaxNodes) throw BadRequest{quoted(key) + " must be below " + std::to_string(layout::kMaxNodes)};
      request.where = Placement::on(static_cast<std::uint32_t>(node));
    },
    [](const Request& request) -> json { return request.where.node; },
    [](const Request& request) { return request.where.kind == Placement::Kind::kNode; }};

const FieldCodec kModeCodec{
    [](std::string_view key, const json& value, Request& request) {
      std::uint64_t mode = u64_value(key, value);
      if (mode > kMaxMode) throw BadRequest{quoted(key) + " must be permission bits between 0 and 0777"};
      request.mode = static_cast<std::uint32_t>(mode);
    },
    [](const Request& request) -> json { return request.mode.value_or(kDefaultMode); },
    [](const Request& request) { return request.mode.has_value(); }};

const FieldCodec kOffsetCodec{
    [](std::string_view key, const json& value, Request& request) { request.offset = u64_value(key, value); },
    [](const Request& request) -> json { return request.offset; }, nullptr};

const FieldCodec kLengthCodec{
    [](std::string_view key, const json& value, Request& request) {
      request.length = u64_value(key, value);
      check_io_length(request.length);
    },
    [](const Request& request) -> json { return request.length; }, nullptr};

const FieldCodec kWriteDataCodec{
    [](std::string_view key, const json& value, Request& request) {
      request.data = bytes_value(key, value);
      check_io_length(request.data.size());
    },
    [](const Request& request) -> json { return base64_encode(request.data); }, nullptr};

const FieldCodec kEventsCodec{
    [](std::string_view key, const json& value, Request& request) {
      if (!value.is_array() || value.empty() || value.size() > kEventKinds.size() + 1) {
        throw BadRequest{quoted(key) + " must be a non-empty array of at most " +
                         std::to_string(kEventKinds.size() + 1) + " event names"};
      }
      for (const json& name : value) {
        if (name.is_string() && name.get<std::string>() == kMessageEventName) {
          request.events |= kMessageEventBit;
          continue;
        }
        auto kind = name.is_string() ? event_kind_from_name(name.get<std::string>()) : std::nullopt;
        if (!kind) throw BadRequest{quoted(key) + " holds an unknown event " + client_text(name)};
        request.events |= event_bit(*kind);
      }
    },
    [](const Request& request) -> json {
      json names = json::array();
      for (layout::EventKind kind : kEventKinds) {
        if (request.events & event_bit(kind)) names.push_back(event_name(kind));
      }
      if (request.events & kMessageEventBit) names.push_back(kMessageEventName);
      return names;
    },
    [](const Request& request) { return request.events != 0; }};

const FieldCodec kGidCodec{
    [](std::string_view key, const json& value, Request& request) {
      auto gid = parse_gid(string_value(key, value));
      if (!gid || gid->value == 0) throw BadRequest{quoted(key) + " must be a GID such as \"0x0000000100000007\""};
      request.gid = *gid;
    },
    [](const Request& request) -> json { return to_string(request.gid); },
    [](const Request& request) { return request.gid.value != 0; }};

const FieldCodec kAccessCodec{
    [](std::string_view key, const json& value, Request& request) {
      std::string access = string_value(key, value);
      if (access != "read" && access != "write") throw BadRequest{quoted(key) + " must be \"read\" or \"write\""};
      request.writable = access == "write";
    },
    [](const Request& request) -> json { return request.writable ? "write" : "read"; }, nullptr};

const FieldCodec kManualResetCodec{
    [](std::string_view key, const json& value, Request& request) { request.manual_reset = bool_value(key, value); },
    [](const Request& request) -> json { return request.manual_reset; }, nullptr};

const FieldCodec kSignaledCodec{
    [](std::string_view key, const json& value, Request& request) { request.signaled = bool_value(key, value); },
    [](const Request& request) -> json { return request.signaled; }, nullptr};

const FieldCodec kToCodec{
    [](std::string_view key, const json& value, Request& request) {
      if (value.is_string()) {
        if (value.get<std::string>() != "all") throw BadRequest{quoted(key) + " must be a node number or \"all\""};
        request.recipients = Request::Recipients::kAll;
        return;
      }
      request.recipients = Request::Recipients::kNode;
      request.nodes = std::uint64_t{1} << node_number(value, quoted(key));
    },
    [](const Request& request) -> json {
      if (request.recipients == Request::Recipients::kAll) return "all";
      return std::countr_zero(request.nodes);
    },
    [](const Request& request) { return request.recipients != Request::Recipients::kGroup; }};

const FieldCodec kNodesCodec{
    [](std::string_view key, const json& value, Request& request) {
      if (!value.is_array() || value.empty() || value.size() > layout::kMaxNodes) {
        throw BadRequest{quoted(key) + " must be a non-empty list of at most " + std::to_string(layout::kMaxNodes) +
                         " node numbers"};
      }
      request.recipients = Request::Recipients::kGroup;
      for (const json& node : value) {
        request.nodes |= std::uint64_t{1} << node_number(node, "each of \"" + std::string(key) + "\"");
      }
    },
    [](const Request& request) -> json { return node_array(request.nodes); },
    [](const Request& request) { return request.recipients == Request::Recipients::kGroup; }};

const FieldCodec kKindCodec{
    [](std::string_view key, const json& value, Request& request) {
      std::uint64_t kind = u64_value(key, value);
      if (kind < kFirstApplicationMessage || kind > std::numeric_limits<std::uint32_t>::max()) {
        throw BadRequest{quoted(key) + " must be an application message kind from " +
                         std::to_string(kFirstApplicationMessage) + " to 4294967295 (lower kinds are GMM's own)"};
      }
      request.kind = static_cast<std::uint32_t>(kind);
    },
    [](const Request& request) -> json { return request.kind; }, nullptr};

const FieldCodec kMessageDataCodec{
    [](std::string_view key, const json& value, Request& request) {
      request.data = bytes_value(key, value);
      if (request.data.size() > layout::kMessagePayload) {
        throw BadRequest{"message payload is " + std::to_string(request.data.size()) + " bytes, the limit is " +
                         std::to_string(layout::kMessagePayload) + " (send a section's name for more)"};
      }
    },
    [](const Request& request) -> json { return base64_encode(request.data); }, nullptr};

}  // namespace

namespace fields {
const FieldSpec kName{"name", "string, not empty, no NUL", "a section's, mutex's or event's name", &kNameCodec};
const FieldSpec kSize{"size", "integer", "bytes to allocate", &kSizeCodec};
const FieldSpec kWhere{"where", "`\"local\"`, `\"any\"` or `\"node\"`",
                       "whose memory: this node's, any node's, or node `node`'s", &kWhereCodec};
const FieldSpec kNode{"node", "node number below 64", "the node whose memory `where` asks for", &kNodeCodec};
const FieldSpec kMode{"mode", "integer 0 to 0777", "permission bits of the new object (default 0600)", &kModeCodec};
const FieldSpec kOffset{"offset", "integer", "first byte in the section", &kOffsetCodec};
const FieldSpec kLength{"length", "integer, at most 1 MiB", "bytes to read", &kLengthCodec};
const FieldSpec kWriteData{"data_b64", "base64 string, at most 1 MiB of bytes", "the bytes to write",
                           &kWriteDataCodec};
const FieldSpec kEvents{"events", "non-empty array of event names",
                        "only these: `node-failed`, `memory-lost`, `node-leaving`, `node-joined`, `message` "
                        "(application messages); without it the membership events",
                        &kEventsCodec};
const FieldSpec kGid{"gid", "string, a GID (`\"0x0000000100000007\"`)", "the section's GID", &kGidCodec};
const FieldSpec kAccess{"access", "`\"read\"` or `\"write\"`", "what the window allows", &kAccessCodec};
const FieldSpec kManualReset{"manual_reset", "boolean",
                             "the event stays set until reset (else the waiter that gets it resets it)",
                             &kManualResetCodec};
const FieldSpec kSignaled{"signaled", "boolean", "the event's first state", &kSignaledCodec};
const FieldSpec kTo{"to", "node number or `\"all\"`", "one recipient node, or every current member", &kToCodec};
const FieldSpec kNodes{"nodes", "non-empty array of node numbers", "the recipient nodes", &kNodesCodec};
const FieldSpec kKind{"kind", "integer, 1024 to 4294967295", "the message kind (lower kinds are GMM's own)",
                      &kKindCodec};
const FieldSpec kMessageData{"data_b64", "base64 string, at most 40 bytes", "the message payload",
                             &kMessageDataCodec};
}  // namespace fields

}  // namespace gmm::proto
