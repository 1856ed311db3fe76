#include "gmmd/handler.hpp"

#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "gmm/atomic.hpp"
#include "gmm/sync.hpp"

namespace gmm::gmmd {
namespace {

using nlohmann::json;
using proto::Op;

json empty_body() { return json::object(); }

std::string node_list(const std::vector<std::uint32_t>& nodes) {
  std::string text;
  for (std::uint32_t node : nodes) text += (text.empty() ? "" : ", ") + std::to_string(node);
  return text.empty() ? "none" : text;
}

}  // namespace

Handled RequestHandler::handle_line(std::string_view line, const Caller& caller) {
  auto request = proto::decode_request(line);
  if (!request) {
    spdlog::warn("bad request: {}", request.error().message);
    return {proto::encode_error(request.error()), false, 0, UniqueFd()};
  }
  UniqueFd descriptor;
  auto body = dispatch(*request, caller, descriptor);
  if (!body) {
    spdlog::info("{} {}: {} ({})", proto::op_name(request->op), request->name, body.error().message,
                 errc_name(body.error().code));
    return {proto::encode_error(body.error()), false, 0, UniqueFd()};
  }
  spdlog::debug("{} {}: ok", proto::op_name(request->op), request->name);
  return {proto::encode_reply(std::move(*body)), request->op == Op::kWatch, request->events, std::move(descriptor)};
}

void RequestHandler::client_gone(const Caller& caller) {
  if (auto held = mutexes_.find(caller.client); held != mutexes_.end()) {
    for (std::uint32_t index : held->second) {
      if (sync::mutex_held_by(node_.pool(), node_.lock_owner(), caller.client, index)) {
        spdlog::info("client {} (pid {}) died holding a global mutex: abandoned", caller.client, caller.pid);
        sync::mutex_abandon(node_.pool(), node_.lock_owner(), caller.client, index);
      }
    }
    mutexes_.erase(held);
  }
  revoked_.erase(caller.client);
  auto it = handles_.find(caller.client);
  if (it == handles_.end()) return;
  for (const auto& [gid, revoker] : it->second) {
    Status closed = node_.close(gid, caller.client);
    if (!closed && closed.error().code != Errc::kNotFound) {
      spdlog::warn("client {} (pid {}) is gone; releasing {}: {}", caller.client, caller.pid, to_string(gid),
                   closed.error().message);
    }
  }
  spdlog::info("client {} (pid {}) is gone: released {} section(s)", caller.client, caller.pid, it->second.size());
  handles_.erase(it);  // and closes the windows' revokers
}

std::size_t RequestHandler::handles_of(std::uint64_t client) const {
  auto it = handles_.find(client);
  return it == handles_.end() ? 0 : it->second.size();
}

std::size_t RequestHandler::revoke_gone_handles(const std::string& why) {
  std::size_t dropped = 0;
  for (auto it = handles_.begin(); it != handles_.end();) {
    const std::uint64_t client = it->first;
    std::erase_if(it->second, [&](const auto& handle) {
      const auto& [gid, revoker] = handle;
      if (node_.holds(gid, client)) return false;
      std::string window = "its window stays mapped (this platform cannot revoke windows)";
      if (revoker) {
        Status revoked = windows_->revoke(revoker);
        window = revoked ? "its window revoked" : "its window NOT revoked: " + revoked.error().message;
      }
      spdlog::info("client {}: handle of section {} revoked, {} ({})", client, to_string(gid), window, why);
      revoked_[client][gid] = why;
      ++dropped;
      return true;  // closes the revoker
    });
    it = it->second.empty() ? handles_.erase(it) : std::next(it);
  }
  return dropped;
}

Result<json> RequestHandler::acquire(const proto::Request& request, const Caller& caller, UniqueFd& descriptor) {
  if (windows_ == nullptr) {
    return make_error(Errc::kIo, "gmmd on node " + std::to_string(node_.id()) +
                                     " cannot hand out section windows on this platform yet");
  }
  Gid gid = request.gid;
  if (gid.value == 0) {
    auto named = node_.lookup_name(request.name);
    if (!named) return named.error();
    gid = *named;
  }
  auto readable = checked_section(gid, caller, Right::kRead);
  if (!readable) return readable.error();
  if (request.writable) {
    if (Status writable = check_access(readable->security, caller.credentials(), Right::kWrite,
                                       "section \"" + readable->name + "\"");
        !writable) {
      return writable.error();
    }
  }
  auto opened = node_.open(gid, caller.client);
  if (!opened) {
    if (opened.error().code == Errc::kAlreadyOpen) {
      return make_error(Errc::kAlreadyOpen, "section " + to_string(gid) + " is already acquired by this client");
    }
    return opened.error();
  }
  auto window = windows_->open_window(opened->pool_offset, opened->size, request.writable);
  if (!window) {
    (void)node_.close(gid, caller.client);
    return window.error();
  }
  handles_[caller.client].emplace(gid, std::move(window->revoker));
  descriptor = std::move(window->fd);
  return json{{"section", proto::section_json(*opened)},
              {"address", proto::kGlobalAddressBase + opened->pool_offset},
              {"window",
               {{"mmap_offset", window->mmap_offset}, {"length", window->length}, {"writable", window->writable}}}};
}

Result<SectionInfo> RequestHandler::checked_section(Gid gid, const Caller& caller, Right right) {
  auto section = node_.describe(gid);
  if (!section) return section.error();
  std::string what = section->name.empty() ? "section " + to_string(gid) : "section \"" + section->name + "\"";
  if (Status allowed = check_access(section->security, caller.credentials(), right, what); !allowed) {
    return allowed.error();
  }
  return section;
}

Result<Gid> RequestHandler::checked_name(const std::string& name, const Caller& caller, Right right) {
  auto gid = node_.lookup_name(name);
  if (!gid) return gid.error();
  auto section = checked_section(*gid, caller, right);
  if (!section) return section.error();
  return *gid;
}

Result<json> RequestHandler::sync_request(const proto::Request& request, const Caller& caller) {
  const Pool& pool = node_.pool();
  const std::uint64_t me = node_.lock_owner();
  const Credentials who = caller.credentials();
  if (request.op == Op::kMutexCreate || request.op == Op::kEventCreate) {
    const bool mutex = request.op == Op::kMutexCreate;
    layout::Security security{who.uid, who.gid, request.mode.value_or(proto::kDefaultMode), 0};
    auto created = sync::create(pool, me, mutex ? layout::SyncKind::kMutex : layout::SyncKind::kEvent, request.name,
                                security, request.manual_reset, request.signaled);
    if (!created) return created.error();
    return empty_body();
  }
  if (request.op == Op::kSyncDestroy) {
    auto index = sync::find(pool, request.name, layout::SyncKind::kMutex);
    if (!index) index = sync::find(pool, request.name, layout::SyncKind::kEvent);
    if (!index) return make_error(Errc::kNotFound, "no global mutex or event named '" + request.name + "'");
    const layout::SyncObject& object = pool.sync_objects()[*index];
    if (Status owner = check_owner(object.security, who, "'" + request.name + "'"); !owner) return owner.error();
    Status destroyed = sync::destroy(pool, me, *index);
    if (!destroyed) return destroyed.error();
    return empty_body();
  }
  const bool on_mutex = request.op == Op::kMutexLock || request.op == Op::kMutexUnlock;
  auto index = sync::find(pool, request.name, on_mutex ? layout::SyncKind::kMutex : layout::SyncKind::kEvent);
  if (!index) return index.error();
  const layout::SyncObject& object = pool.sync_objects()[*index];
  const Right right = request.op == Op::kEventWait ? Right::kRead : Right::kWrite;
  const std::string what = std::string(on_mutex ? "mutex" : "event") + " '" + request.name + "'";
  if (Status allowed = check_access(object.security, who, right, what); !allowed) return allowed.error();
  switch (request.op) {
    case Op::kMutexLock: {
      auto locked = sync::mutex_try_lock(pool, me, caller.client, *index);
      if (!locked) return locked.error();
      mutexes_[caller.client].insert(*index);
      return json{{"abandoned", *locked == sync::Locked::kAbandoned}};
    }
    case Op::kMutexUnlock: {
      Status unlocked = sync::mutex_unlock(pool, me, caller.client, *index);
      if (!unlocked) return unlocked.error();
      return empty_body();
    }
    case Op::kEventSet:
      sync::event_set(pool, *index);
      return empty_body();
    case Op::kEventReset:
      sync::event_reset(pool, *index);
      return empty_body();
    case Op::kEventWait:
      return json{{"signaled", sync::event_try_wait(pool, *index)}};
    default:
      return make_error(Errc::kInvalidArgument, "not a mutex or event request");
  }
}

// Any local client may send (the socket is open to all local users): a
// message names the sending node, not the user, so receivers must treat it
// as "some process on node N" said it.
Result<json> RequestHandler::send(const proto::Request& request) {
  if (messenger_ == nullptr) {
    return make_error(Errc::kIo, "gmmd on node " + std::to_string(node_.id()) + " cannot send messages");
  }
  const Pool& pool = node_.pool();
  const std::uint64_t members = load_acquire(pool.cluster().members);
  const bool to_all = request.recipients == proto::Request::Recipients::kAll;
  const std::uint64_t targets = to_all ? members : request.nodes;
  std::vector<std::uint32_t> recipients;
  for (std::uint32_t node = 0; node < layout::kMaxNodes; ++node) {
    if ((targets & (std::uint64_t{1} << node)) == 0) continue;
    if (node >= pool.node_count()) {
      return make_error(Errc::kInvalidArgument, "node " + std::to_string(node) + " does not exist (the pool has " +
                                                    std::to_string(pool.node_count()) + " nodes); nothing was sent");
    }
    if ((members & (std::uint64_t{1} << node)) == 0) {
      return make_error(Errc::kNotFound, "node " + std::to_string(node) +
                                             " is not a member of the cluster (failed, left or not started); "
                                             "nothing was sent");
    }
    recipients.push_back(node);
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(request.data.data());
  std::vector<std::uint32_t> sent;
  std::optional<Error> first_error;
  for (std::uint32_t node : recipients) {
    Status delivered = messenger_->send(node, request.kind, {bytes, request.data.size()});
    if (delivered) sent.push_back(node);
    else if (!first_error) first_error = delivered.error();
  }
  if (first_error) {
    std::string why = first_error->code == Errc::kBusy ? " (its gmmd is not taking messages; try again later)" : "";
    return make_error(first_error->code, first_error->message + why + "; sent to nodes " + node_list(sent));
  }
  return json{{"sent_to", sent}};
}

Result<json> RequestHandler::relinquish(Gid gid, const Caller& caller) {
  if (auto gone = revoked_.find(caller.client); gone != revoked_.end()) {
    if (auto why = gone->second.find(gid); why != gone->second.end()) {
      Error revoked = make_error(Errc::kNotFound, "section " + to_string(gid) + " was revoked: " + why->second);
      gone->second.erase(why);
      if (gone->second.empty()) revoked_.erase(gone);
      return revoked;
    }
  }
  auto it = handles_.find(caller.client);
  if (it == handles_.end() || !it->second.contains(gid)) {
    return make_error(Errc::kNotFound, "section " + to_string(gid) + " is not acquired by this client");
  }
  Status closed = node_.close(gid, caller.client);
  it->second.erase(gid);
  if (it->second.empty()) handles_.erase(it);
  if (!closed && closed.error().code != Errc::kNotFound) return closed.error();
  return empty_body();
}

Result<json> RequestHandler::dispatch(const proto::Request& request, const Caller& caller, UniqueFd& descriptor) {
  switch (request.op) {
    case Op::kWhoami:
      return json{{"client", caller.client},
                  {"pid", static_cast<std::int64_t>(caller.pid)},
                  {"uid", caller.uid},
                  {"gid", caller.gid},
                  {"node", node_.id()},
                  {"handles", handles_of(caller.client)}};
    case Op::kAcquire:
      return acquire(request, caller, descriptor);
    case Op::kMutexCreate:
    case Op::kMutexLock:
    case Op::kMutexUnlock:
    case Op::kEventCreate:
    case Op::kEventSet:
    case Op::kEventReset:
    case Op::kEventWait:
    case Op::kSyncDestroy:
      return sync_request(request, caller);
    case Op::kRelinquish:
      return relinquish(request.gid, caller);
    case Op::kPing: {
      json body{{"node", node_.id()}, {"pid", static_cast<std::int64_t>(::getpid())}};
      if (ping_fields_) body.update(ping_fields_());
      return body;
    }
    case Op::kAlloc: {
      layout::Security security{caller.uid, caller.gid, request.mode.value_or(proto::kDefaultMode), 0};
      auto section = node_.allocate(request.name, request.size, request.where, kDaemonHolder, security);
      if (!section) return section.error();
      return json{{"section", proto::section_json(*section)}};
    }
    case Op::kOpen: {
      auto gid = checked_name(request.name, caller, Right::kRead);
      if (!gid) return gid.error();
      auto section = node_.open(*gid, kDaemonHolder);
      if (!section) return section.error();
      return json{{"section", proto::section_json(*section)}};
    }
    case Op::kClose: {
      Status closed = node_.close(std::string_view(request.name), kDaemonHolder);
      if (!closed) return closed.error();
      return empty_body();
    }
    case Op::kFree: {
      auto gid = node_.lookup_name(request.name);
      if (!gid) return gid.error();
      auto section = node_.describe(*gid);
      if (!section) return section.error();
      if (Status owner = check_owner(section->security, caller.credentials(), "section \"" + request.name + "\"");
          !owner) {
        return owner.error();
      }
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
      if (auto allowed = checked_name(request.name, caller, Right::kWrite); !allowed) return allowed.error();
      auto range = shared_range(request.name, request.offset, request.data.size());
      if (!range) return range.error();
      std::memcpy(range->data(), request.data.data(), request.data.size());
      return json{{"written", request.data.size()}};
    }
    case Op::kRead: {
      if (auto allowed = checked_name(request.name, caller, Right::kRead); !allowed) return allowed.error();
      auto range = shared_range(request.name, request.offset, request.length);
      if (!range) return range.error();
      std::string_view bytes(reinterpret_cast<const char*>(range->data()), range->size());
      return json{{"data_b64", proto::base64_encode(bytes)}};
    }
    case Op::kWatch:  // the server registers the connection for events
      return json{{"node", node_.id()}};
    case Op::kSend:
      return send(request);
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
