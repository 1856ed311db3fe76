#include "gmmd/handler.hpp"

#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace gmm::gmmd {
namespace {

using nlohmann::json;
using proto::Op;

json empty_body() { return json::object(); }

}  // namespace

Handled RequestHandler::handle_line(std::string_view line) {
  auto request = proto::decode_request(line);
  if (!request) {
    spdlog::warn("bad request: {}", request.error().message);
    return {proto::encode_error(request.error())};
  }
  auto body = dispatch(*request);
  if (!body) {
    spdlog::info("{} {}: {} ({})", proto::op_name(request->op), request->name, body.error().message,
                 errc_name(body.error().code));
    return {proto::encode_error(body.error())};
  }
  spdlog::debug("{} {}: ok", proto::op_name(request->op), request->name);
  return {proto::encode_reply(std::move(*body)), request->op == Op::kWatch, request->events};
}

Result<json> RequestHandler::dispatch(const proto::Request& request) {
  switch (request.op) {
    case Op::kPing: {
      json body{{"node", node_.id()}, {"pid", static_cast<std::int64_t>(::getpid())}};
      if (ping_fields_) body.update(ping_fields_());
      return body;
    }
    case Op::kAlloc: {
      auto section = node_.allocate(request.name, request.size, request.where, kDaemonHolder);
      if (!section) return section.error();
      return json{{"section", proto::section_json(*section)}};
    }
    case Op::kOpen: {
      auto section = node_.open(std::string_view(request.name), kDaemonHolder);
      if (!section) return section.error();
      return json{{"section", proto::section_json(*section)}};
    }
    case Op::kClose: {
      Status closed = node_.close(std::string_view(request.name), kDaemonHolder);
      if (!closed) return closed.error();
      return empty_body();
    }
    case Op::kFree: {
      Status freed = node_.free(request.name, kDaemonHolder);
      if (!freed) return freed.error();
      return empty_body();
    }
    case Op::kList: {
      json sections = json::array();
      for (const SectionInfo& section : node_.list()) sections.push_back(proto::section_json(section));
      return json{{"sections", std::move(sections)}};
    }
    case Op::kStat: {
      json partitions = json::array();
      for (const PartitionStat& partition : node_.stat()) partitions.push_back(proto::partition_json(partition));
      return json{{"partitions", std::move(partitions)}};
    }
    case Op::kWrite: {
      auto range = shared_range(request.name, request.offset, request.data.size());
      if (!range) return range.error();
      std::memcpy(range->data(), request.data.data(), request.data.size());
      return json{{"written", request.data.size()}};
    }
    case Op::kRead: {
      auto range = shared_range(request.name, request.offset, request.length);
      if (!range) return range.error();
      std::string_view bytes(reinterpret_cast<const char*>(range->data()), range->size());
      return json{{"data_b64", proto::base64_encode(bytes)}};
    }
    case Op::kWatch:  // the server registers the connection for events
      return json{{"node", node_.id()}};
  }
  return make_error(Errc::kInvalidArgument, "unhandled op");
}

Result<std::span<std::byte>> RequestHandler::shared_range(const std::string& name, std::uint64_t offset,
                                                          std::uint64_t length) {
  auto gid = node_.lookup_name(name);
  if (!gid) return gid.error();
  if (!node_.holds(*gid, kDaemonHolder)) {
    return make_error(Errc::kPermission, "section \"" + name + "\" is not open on node " +
                                             std::to_string(node_.id()) + "; run `gmmctl open " + name +
                                             "` there first");
  }
  auto bytes = node_.bytes(*gid);
  if (!bytes) return bytes.error();
  if (offset > bytes->size() || length > bytes->size() - offset) {
    return make_error(Errc::kInvalidArgument, "offset " + std::to_string(offset) + " + length " +
                                                  std::to_string(length) + " is past the end of section \"" +
                                                  name + "\" (" + std::to_string(bytes->size()) + " bytes)");
  }
  return bytes->subspan(offset, length);
}

}  // namespace gmm::gmmd
