// Requests are encoded and decoded by walking the op table (op_table.cpp);
// replies, event lines and base64 are here.
#include "proto/proto.hpp"

#include <algorithm>
#include <limits>

#include "proto/op_table.hpp"
#include "proto/request_fields.hpp"

namespace gmm {
// The wire form of a partition's figures (`stat`); `lost` is not sent (a lost
// partition has no figures).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PartitionStat, node, data_bytes, free_bytes, used_bytes, reserved_bytes,
                                   largest_free, sections, free_extents)
}  // namespace gmm

namespace gmm::proto {

using nlohmann::json;

std::string client_text(const json& value) {
  std::string text = value.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace);
  if (text.size() > kMaxQuotedClientText) text = text.substr(0, kMaxQuotedClientText) + "...";
  return text;
}

namespace {

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

void refuse_unknown_fields(const json& obj, const OpSpec& spec) {
  for (const auto& item : obj.items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture those
    if (key == "op") continue;
    auto known = std::find_if(spec.request.begin(), spec.request.end(),
                              [&](const RequestField& field) { return field.field->key == key; });
    if (known == spec.request.end()) throw BadRequest{"unexpected field " + client_text(key)};
  }
}

void require_one_of(const json& obj, const OpSpec& spec) {
  std::string keys;
  int given = 0;
  for (const RequestField& field : spec.request) {
    if (field.presence != Presence::kOneOf) continue;
    keys += (keys.empty() ? "\"" : " and \"") + std::string(field.field->key) + "\"";
    given += obj.contains(field.field->key) ? 1 : 0;
  }
  if (given != 1) throw BadRequest{std::string(spec.name) + " needs exactly one of " + keys};
}

bool carried(const FieldCodec& codec, const Request& request) {
  return codec.present == nullptr || codec.present(request);
}

// Reads the op's fields in table order, so the first problem in that order
// is the one reported.
Request decode_object(const json& obj) {
  if (!obj.is_object()) throw BadRequest{"request must be a JSON object"};
  auto op = obj.find("op");
  if (op == obj.end()) throw BadRequest{"missing field \"op\""};
  if (!op->is_string()) throw BadRequest{"field \"op\" must be a string"};
  const OpSpec* spec = find_op(op->get<std::string>());
  if (spec == nullptr) throw BadRequest{"unknown op " + client_text(*op)};
  refuse_unknown_fields(obj, *spec);

  Request request;
  request.op = spec->op;
  bool one_of_checked = false;
  for (const RequestField& field : spec->request) {
    const std::string_view key = field.field->key;
    auto value = obj.find(key);
    const bool given = value != obj.end();
    switch (field.presence) {
      case Presence::kRequired:
        if (!given) throw BadRequest{"missing field \"" + std::string(key) + "\""};
        break;
      case Presence::kOptional:
        break;
      case Presence::kOneOf:
        if (!one_of_checked) require_one_of(obj, *spec);
        one_of_checked = true;
        break;
      case Presence::kConditional: {
        const bool wanted = carried(*field.field->codec, request);
        if (wanted && !given) throw BadRequest{"missing field \"" + std::string(key) + "\""};
        if (!wanted && given) {
          throw BadRequest{"field \"" + std::string(key) + "\" is only valid with " + std::string(field.when)};
        }
        break;
      }
    }
    if (given) field.field->codec->read(key, *value, request);
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
  return static_cast<std::size_t>(op) < kOpCount ? op_spec(op).name : "?";
}

bool operator==(const Request& a, const Request& b) {
  return a.op == b.op && a.name == b.name && a.size == b.size && a.where.kind == b.where.kind &&
         a.where.node == b.where.node && a.offset == b.offset && a.length == b.length && a.data == b.data &&
         a.events == b.events && a.mode == b.mode && a.gid == b.gid && a.writable == b.writable &&
         a.manual_reset == b.manual_reset && a.signaled == b.signaled && a.recipients == b.recipients &&
         a.nodes == b.nodes && a.kind == b.kind;
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
  const OpSpec& spec = op_spec(request.op);
  json obj{{"op", spec.name}};
  bool one_of_written = false;
  for (const RequestField& field : spec.request) {
    const FieldCodec& codec = *field.field->codec;
    if (field.presence != Presence::kRequired && !carried(codec, request)) continue;
    if (field.presence == Presence::kOneOf) {
      if (one_of_written) continue;
      one_of_written = true;
    }
    obj[field.field->key] = codec.write(request);
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

std::string encode_message_event(const AppMessage& message) {
  return dump(json{{"event", kMessageEventName},
                   {"from", message.from},
                   {"kind", message.kind},
                   {"data_b64", base64_encode(message.data)},
                   {"sent_ns", message.sent_ns}});
}

namespace {

Result<json> parse_event_line(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > kMaxEventLine) {
    return make_error(Errc::kIo, "event line longer than " + std::to_string(kMaxEventLine) + " bytes");
  }
  if (nested_too_deep(line)) return make_error(Errc::kIo, "event line nested too deeply");
  json obj = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!obj.is_object()) return make_error(Errc::kIo, "event line is not a JSON object");
  return obj;
}

Result<Event> decode_event_object(const json& obj) {
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

Result<AppMessage> decode_message_object(const json& obj) {
  try {
    AppMessage message;
    message.from = static_cast<std::uint32_t>(event_number(obj, "from", layout::kMaxNodes - 1));
    message.kind = static_cast<std::uint32_t>(event_number(obj, "kind", std::numeric_limits<std::uint32_t>::max()));
    message.sent_ns = event_number(obj, "sent_ns", std::numeric_limits<std::uint64_t>::max());
    auto text = obj.find("data_b64");
    auto data = text != obj.end() && text->is_string() ? base64_decode(text->get<std::string>()) : std::nullopt;
    if (!data || data->size() > layout::kMessagePayload) {
      throw BadRequest{"message event field \"data_b64\" is missing, not base64 or too long"};
    }
    message.data = std::move(*data);
    return message;
  } catch (const BadRequest& bad) {
    return make_error(Errc::kIo, bad.message);
  }
}

}  // namespace

Result<Event> decode_event(std::string_view line) {
  auto obj = parse_event_line(line);
  if (!obj) return obj.error();
  return decode_event_object(*obj);
}

Result<WatchLine> decode_watch_line(std::string_view line) {
  auto obj = parse_event_line(line);
  if (!obj) return obj.error();
  auto name = obj->find("event");
  if (name != obj->end() && name->is_string() && name->get<std::string>() == kMessageEventName) {
    auto message = decode_message_object(*obj);
    if (!message) return message.error();
    return WatchLine(std::move(*message));
  }
  auto event = decode_event_object(*obj);
  if (!event) return event.error();
  return WatchLine(*event);
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

json node_array(std::uint64_t nodes) {
  json array = json::array();
  for (std::uint32_t node = 0; node < layout::kMaxNodes; ++node) {
    if (nodes & (std::uint64_t{1} << node)) array.push_back(node);
  }
  return array;
}

json section_json(const SectionInfo& section) {
  return json{{"gid", to_string(section.gid)},
              {"name", section.name},
              {"unlinked", section.unlinked},
              {"home_node", section.home_node},
              {"section_index", section.section_index},
              {"pool_offset", section.pool_offset},
              {"size", section.size},
              {"sharer_nodes", node_array(section.sharer_nodes)},
              {"sharers", section.sharers}};
}

json partition_json(const PartitionStat& partition) { return json(partition); }

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
