#include "proto/proto.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <limits>

namespace gmm::proto {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<Op, std::string_view>, 21> kOps{{
    {Op::kPing, "ping"},
    {Op::kAlloc, "alloc"},
    {Op::kOpen, "open"},
    {Op::kClose, "close"},
    {Op::kFree, "free"},
    {Op::kList, "ls"},
    {Op::kStat, "stat"},
    {Op::kWrite, "write"},
    {Op::kRead, "read"},
    {Op::kWatch, "watch"},
    {Op::kWhoami, "whoami"},
    {Op::kAcquire, "acquire"},
    {Op::kRelinquish, "relinquish"},
    {Op::kMutexCreate, "mutex_create"},
    {Op::kMutexLock, "mutex_lock"},
    {Op::kMutexUnlock, "mutex_unlock"},
    {Op::kEventCreate, "event_create"},
    {Op::kEventSet, "event_set"},
    {Op::kEventReset, "event_reset"},
    {Op::kEventWait, "event_wait"},
    {Op::kSyncDestroy, "sync_destroy"},
}};

constexpr std::array<layout::EventKind, 4> kEventKinds{layout::EventKind::kNodeFailed, layout::EventKind::kMemoryLost,
                                                       layout::EventKind::kNodeLeaving, layout::EventKind::kNodeJoined};

// Thrown by the field readers below, caught in decode_request: keeps each
// op's decoding a straight list of reads.
struct BadRequest {
  std::string message;
};

// Nesting depth outside strings, without parsing: refuses "[[[[..." before
// the parser recurses into it.
bool nested_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// Client text inside an error message, as a JSON string with everything
// outside printable ASCII escaped, cut after kMaxQuoted bytes: the message
// stays one printable line of bounded length (gmmd logs it).
std::string client_text(const json& value) {
  constexpr std::size_t kMaxQuoted = 64;
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  if (text.size() > kMaxQuoted) text = text.substr(0, kMaxQuoted) + "...";
  return text;
}

void only_fields(const json& obj, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : obj.items()) {
    if (key != "op" && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw BadRequest{"unexpected field " + client_text(key)};
    }
  }
}

const json& field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) throw BadRequest{std::string("missing field \"") + key + "\""};
  return *it;
}

std::string string_field(const json& obj, const char* key) {
  const json& value = field(obj, key);
  if (!value.is_string()) throw BadRequest{std::string("field \"") + key + "\" must be a string"};
  return value.get<std::string>();
}

std::uint64_t u64_field(const json& obj, const char* key) {
  const json& value = field(obj, key);
  if (!value.is_number_unsigned()) {
    throw BadRequest{std::string("field \"") + key + "\" must be a non-negative integer"};
  }
  return value.get<std::uint64_t>();
}

std::string name_field(const json& obj) {
  std::string name = string_field(obj, "name");
  if (name.empty()) throw BadRequest{"field \"name\" must not be empty"};
  if (name.find('\0') != std::string::npos) throw BadRequest{"field \"name\" must not contain NUL"};
  return name;
}

Placement placement_field(const json& obj) {
  std::string where = string_field(obj, "where");
  if (where == "local" || where == "any") {
    if (obj.contains("node")) throw BadRequest{"field \"node\" is only valid with \"where\": \"node\""};
    return where == "local" ? Placement::local() : Placement::anywhere();
  }
  if (where != "node") throw BadRequest{"field \"where\" must be \"local\", \"any\" or \"node\""};
  std::uint64_t node = u64_field(obj, "node");
  if (node >= layout::kMaxNodes) {
    throw BadRequest{"field \"node\" must be below " + std::to_string(layout::kMaxNodes)};
  }
  return Placement::on(static_cast<std::uint32_t>(node));
}

std::uint32_t events_field(const json& obj) {
  auto it = obj.find("events");
  if (it == obj.end()) return 0;
  if (!it->is_array() || it->empty() || it->size() > kEventKinds.size()) {
    throw BadRequest{"field \"events\" must be a non-empty array of at most " + std::to_string(kEventKinds.size()) +
                     " event names"};
  }
  std::uint32_t bits = 0;
  for (const json& name : *it) {
    auto kind = name.is_string() ? event_kind_from_name(name.get<std::string>()) : std::nullopt;
    if (!kind) throw BadRequest{"field \"events\" holds an unknown event " + client_text(name)};
    bits |= event_bit(*kind);
  }
  return bits;
}

std::optional<std::uint32_t> mode_field(const json& obj) {
  if (!obj.contains("mode")) return std::nullopt;
  std::uint64_t mode = u64_field(obj, "mode");
  if (mode > kMaxMode) throw BadRequest{"field \"mode\" must be permission bits between 0 and 0777"};
  return static_cast<std::uint32_t>(mode);
}

Gid gid_field(const json& obj) {
  auto gid = parse_gid(string_field(obj, "gid"));
  if (!gid || gid->value == 0) throw BadRequest{"field \"gid\" must be a GID such as \"0x0000000100000007\""};
  return *gid;
}

bool access_field(const json& obj) {
  std::string access = string_field(obj, "access");
  if (access != "read" && access != "write") throw BadRequest{"field \"access\" must be \"read\" or \"write\""};
  return access == "write";
}

bool bool_field(const json& obj, const char* key) {
  const json& value = field(obj, key);
  if (!value.is_boolean()) throw BadRequest{std::string("field \"") + key + "\" must be true or false"};
  return value.get<bool>();
}

void check_io_length(std::uint64_t length) {
  if (length > kMaxIoLength) {
    throw BadRequest{"length " + std::to_string(length) + " exceeds the limit of " +
                     std::to_string(kMaxIoLength) + " bytes"};
  }
}

Request decode_object(const json& obj) {
  if (!obj.is_object()) throw BadRequest{"request must be a JSON object"};
  std::string op_text = string_field(obj, "op");
  auto op_it = std::find_if(kOps.begin(), kOps.end(), [&](const auto& entry) { return entry.second == op_text; });
  if (op_it == kOps.end()) throw BadRequest{"unknown op " + client_text(op_text)};

  Request request;
  request.op = op_it->first;
  switch (request.op) {
    case Op::kPing:
    case Op::kList:
    case Op::kStat:
    case Op::kWhoami:
      only_fields(obj, {});
      break;
    case Op::kAlloc:
      only_fields(obj, {"name", "size", "where", "node", "mode"});
      request.name = name_field(obj);
      request.size = u64_field(obj, "size");
      request.where = placement_field(obj);
      request.mode = mode_field(obj);
      break;
    case Op::kAcquire:
      only_fields(obj, {"name", "gid", "access"});
      if (obj.contains("name") == obj.contains("gid")) throw BadRequest{"acquire needs exactly one of \"name\" and \"gid\""};
      if (obj.contains("name")) request.name = name_field(obj);
      else request.gid = gid_field(obj);
      request.writable = access_field(obj);
      break;
    case Op::kRelinquish:
      only_fields(obj, {"gid"});
      request.gid = gid_field(obj);
      break;
    case Op::kMutexCreate:
      only_fields(obj, {"name", "mode"});
      request.name = name_field(obj);
      request.mode = mode_field(obj);
      break;
    case Op::kEventCreate:
      only_fields(obj, {"name", "mode", "manual_reset", "signaled"});
      request.name = name_field(obj);
      request.mode = mode_field(obj);
      request.manual_reset = bool_field(obj, "manual_reset");
      request.signaled = bool_field(obj, "signaled");
      break;
    case Op::kMutexLock:
    case Op::kMutexUnlock:
    case Op::kEventSet:
    case Op::kEventReset:
    case Op::kEventWait:
    case Op::kSyncDestroy:
      only_fields(obj, {"name"});
      request.name = name_field(obj);
      break;
    case Op::kOpen:
    case Op::kClose:
    case Op::kFree:
      only_fields(obj, {"name"});
      request.name = name_field(obj);
      break;
    case Op::kWrite: {
      only_fields(obj, {"name", "offset", "data_b64"});
      request.name = name_field(obj);
      request.offset = u64_field(obj, "offset");
      auto data = base64_decode(string_field(obj, "data_b64"));
      if (!data) throw BadRequest{"field \"data_b64\" is not valid base64"};
      check_io_length(data->size());
      request.data = std::move(*data);
      break;
    }
    case Op::kRead:
      only_fields(obj, {"name", "offset", "length"});
      request.name = name_field(obj);
      request.offset = u64_field(obj, "offset");
      request.length = u64_field(obj, "length");
      check_io_length(request.length);
      break;
    case Op::kWatch:
      only_fields(obj, {"events"});
      request.events = events_field(obj);
      break;
  }
  return request;
}

// Event lines come from gmmd: unknown fields are allowed, missing or
// mistyped ones are not.
std::uint64_t event_number(const json& obj, const char* key, std::uint64_t limit) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() > limit) {
    throw BadRequest{std::string("event field \"") + key + "\" is missing or out of range"};
  }
  return it->get<std::uint64_t>();
}

std::string dump(const json& value) {
  // replace: a message quoting odd bytes must not make the reply itself fail.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string_view op_name(Op op) {
  for (const auto& [value, name] : kOps) {
    if (value == op) return name;
  }
  return "?";
}

bool operator==(const Request& a, const Request& b) {
  return a.op == b.op && a.name == b.name && a.size == b.size && a.where.kind == b.where.kind &&
         a.where.node == b.where.node && a.offset == b.offset && a.length == b.length && a.data == b.data &&
         a.events == b.events && a.mode == b.mode && a.gid == b.gid && a.writable == b.writable &&
         a.manual_reset == b.manual_reset && a.signaled == b.signaled;
}

Result<Request> decode_request(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > kMaxRequestLine) {
    return make_error(Errc::kInvalidArgument,
                      "request line longer than " + std::to_string(kMaxRequestLine) + " bytes");
  }
  if (nested_too_deep(line)) return make_error(Errc::kInvalidArgument, "request nested too deeply");
  json obj = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return make_error(Errc::kInvalidArgument, "request is not valid JSON");
  try {
    return decode_object(obj);
  } catch (const BadRequest& bad) {
    return make_error(Errc::kInvalidArgument, bad.message);
  }
}

std::string encode_request(const Request& request) {
  json obj{{"op", op_name(request.op)}};
  switch (request.op) {
    case Op::kPing:
    case Op::kList:
    case Op::kStat:
    case Op::kWhoami:
      break;
    case Op::kAcquire:
      if (request.gid.value != 0) obj["gid"] = to_string(request.gid);
      else obj["name"] = request.name;
      obj["access"] = request.writable ? "write" : "read";
      break;
    case Op::kRelinquish:
      obj["gid"] = to_string(request.gid);
      break;
    case Op::kEventCreate:
      obj["manual_reset"] = request.manual_reset;
      obj["signaled"] = request.signaled;
      [[fallthrough]];
    case Op::kMutexCreate:
      obj["name"] = request.name;
      if (request.mode) obj["mode"] = *request.mode;
      break;
    case Op::kMutexLock:
    case Op::kMutexUnlock:
    case Op::kEventSet:
    case Op::kEventReset:
    case Op::kEventWait:
    case Op::kSyncDestroy:
      obj["name"] = request.name;
      break;
    case Op::kAlloc:
      if (request.mode) obj["mode"] = *request.mode;
      obj["name"] = request.name;
      obj["size"] = request.size;
      switch (request.where.kind) {
        case Placement::Kind::kLocal: obj["where"] = "local"; break;
        case Placement::Kind::kAnywhere: obj["where"] = "any"; break;
        case Placement::Kind::kNode:
          obj["where"] = "node";
          obj["node"] = request.where.node;
          break;
      }
      break;
    case Op::kOpen:
    case Op::kClose:
    case Op::kFree:
      obj["name"] = request.name;
      break;
    case Op::kWrite:
      obj["name"] = request.name;
      obj["offset"] = request.offset;
      obj["data_b64"] = base64_encode(request.data);
      break;
    case Op::kRead:
      obj["name"] = request.name;
      obj["offset"] = request.offset;
      obj["length"] = request.length;
      break;
    case Op::kWatch:
      if (request.events != 0) {
        json names = json::array();
        for (layout::EventKind kind : kEventKinds) {
          if (request.events & event_bit(kind)) names.push_back(event_name(kind));
        }
        obj["events"] = std::move(names);
      }
      break;
  }
  return dump(obj);
}

std::optional<layout::EventKind> event_kind_from_name(std::string_view name) {
  for (layout::EventKind kind : kEventKinds) {
    if (event_name(kind) == name) return kind;
  }
  return std::nullopt;
}

std::string encode_event(const Event& event) {
  return dump(json{{"event", event_name(event.kind)},
                   {"node", event.node},
                   {"incarnation", event.incarnation},
                   {"sequence", event.sequence}});
}

Result<Event> decode_event(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > kMaxEventLine) {
    return make_error(Errc::kIo, "event line longer than " + std::to_string(kMaxEventLine) + " bytes");
  }
  if (nested_too_deep(line)) return make_error(Errc::kIo, "event line nested too deeply");
  json obj = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!obj.is_object()) return make_error(Errc::kIo, "event line is not a JSON object");
  try {
    auto name = obj.find("event");
    auto kind = name != obj.end() && name->is_string() ? event_kind_from_name(name->get<std::string>()) : std::nullopt;
    if (!kind) throw BadRequest{"event line has no known \"event\""};
    Event event;
    event.kind = *kind;
    event.node = static_cast<std::uint32_t>(event_number(obj, "node", layout::kMaxNodes - 1));
    event.incarnation = static_cast<std::uint32_t>(event_number(obj, "incarnation", 0xFFFFFFFFu));
    event.sequence = event_number(obj, "sequence", std::numeric_limits<std::uint64_t>::max());
    return event;
  } catch (const BadRequest& bad) {
    return make_error(Errc::kIo, bad.message);
  }
}

std::string encode_reply(json body) {
  body["ok"] = true;
  return dump(body);
}

std::string encode_error(const Error& error) {
  return dump(json{{"ok", false}, {"error", errc_name(error.code)}, {"message", error.message}});
}

Result<json> decode_reply(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > kMaxReplyLine) return make_error(Errc::kIo, "reply line too long");
  json reply = json::parse(line, nullptr, /*allow_exceptions=*/false);
  auto ok = reply.is_object() ? reply.find("ok") : reply.end();
  if (!reply.is_object() || ok == reply.end() || !ok->is_boolean()) {
    return make_error(Errc::kIo, "malformed reply from gmmd");
  }
  if (ok->get<bool>()) return reply;
  auto error = reply.find("error");
  auto message = reply.find("message");
  if (error == reply.end() || !error->is_string() || message == reply.end() || !message->is_string()) {
    return make_error(Errc::kIo, "malformed error reply from gmmd");
  }
  auto code = errc_from_name(error->get<std::string>());
  if (!code) return make_error(Errc::kIo, "gmmd replied with unknown error " + error->get<std::string>());
  return make_error(*code, message->get<std::string>());
}

json section_json(const SectionInfo& section) {
  json sharer_nodes = json::array();
  for (std::uint32_t node = 0; node < layout::kMaxNodes; ++node) {
    if (section.sharer_nodes & (std::uint64_t{1} << node)) sharer_nodes.push_back(node);
  }
  return json{{"gid", to_string(section.gid)},
              {"name", section.name},
              {"unlinked", section.unlinked},
              {"home_node", section.home_node},
              {"section_index", section.section_index},
              {"pool_offset", section.pool_offset},
              {"size", section.size},
              {"sharer_nodes", sharer_nodes},
              {"sharers", section.sharers}};
}

json partition_json(const PartitionStat& partition) {
  return json{{"node", partition.node},
              {"data_bytes", partition.data_bytes},
              {"free_bytes", partition.free_bytes},
              {"used_bytes", partition.used_bytes},
              {"reserved_bytes", partition.reserved_bytes},
              {"largest_free", partition.largest_free},
              {"sections", partition.sections},
              {"free_extents", partition.free_extents}};
}

std::optional<Errc> errc_from_name(std::string_view name) {
  for (int code = 0; code <= static_cast<int>(Errc::kIo); ++code) {
    if (errc_name(static_cast<Errc>(code)) == name) return static_cast<Errc>(code);
  }
  return std::nullopt;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t v = (std::uint8_t(bytes[i]) << 16) | (std::uint8_t(bytes[i + 1]) << 8) | std::uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64Alphabet[(v >> shift) & 63];
  }
  std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = std::uint8_t(bytes[i]) << 16;
    if (rest == 2) v |= std::uint8_t(bytes[i + 1]) << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    std::uint32_t v = 0;
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      std::size_t digit = kBase64Alphabet.find(c);
      if (c == '=' && last && j >= 2) {
        ++padding;
        digit = 0;
      } else if (digit == std::string_view::npos || padding > 0) {
        return std::nullopt;  // a bad character, or data after padding
      }
      v = (v << 6) | static_cast<std::uint32_t>(digit);
    }
    out += static_cast<char>(v >> 16);
    if (padding < 2) out += static_cast<char>((v >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

}  // namespace gmm::proto
