#include "gmm/app.hpp"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "gmm/gmm.hpp"
#include "gmm/messages.hpp"
#include "gmm/unique_fd.hpp"
#include "proto/client.hpp"

namespace gmm::app {
namespace {

using nlohmann::json;
constexpr std::chrono::milliseconds kTimeout{30'000};

std::uintptr_t page_size() { return static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE)); }
std::uintptr_t round_up(std::uintptr_t v) { return (v + page_size() - 1) / page_size() * page_size(); }
std::uintptr_t as_int(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }
void* as_ptr(std::uintptr_t v) { return reinterpret_cast<void*>(v); }

Error os_error(const std::string& what) { return make_error(Errc::kIo, what + ": " + std::strerror(errno)); }

// Back to a reservation: inaccessible, no memory behind it.
bool make_inaccessible(std::uintptr_t start, std::uintptr_t length) {
  return ::mmap(as_ptr(start), length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) !=
         MAP_FAILED;
}

}  // namespace

struct Session::State {
  struct Acquired {
    Section section;
    UniqueFd window;
    std::uint64_t mmap_offset = 0;  // of the section's first byte, through `window`
  };
  struct Mapping {
    std::uintptr_t end;
    std::uint64_t gid;
    std::uint64_t offset;  // in the section, of the mapping's first byte
  };

  proto::Client client;
  std::string socket_path;
  std::mutex mutex;
  std::map<std::uintptr_t, std::uintptr_t> reservations;  // start -> end
  std::map<std::uintptr_t, Mapping> mappings;             // start -> mapping; all inside reservations
  std::map<std::uint64_t, Acquired> acquired;             // gid -> handle
  std::map<std::uint64_t, std::string> lost;              // gid -> why its handle was lost
  std::chrono::milliseconds reconnect_wait = kDefaultReconnectWait;
  LostHandler on_lost;

  explicit State(proto::Client c) : client(std::move(c)) {}

  // One request; if gmmd's connection is gone, reconnect (re-acquiring the
  // handles) and send it once more.
  Result<json> call(const proto::Request& request, UniqueFd* descriptor = nullptr) {
    auto reply = client.call(request, kTimeout, descriptor);
    if (reply || !client.lost()) return reply;
    if (Status back = reconnect(); !back) return back.error();
    return client.call(request, kTimeout, descriptor);
  }

  // gmmd went away: wait (bounded) until a gmmd answers on the socket
  // again, then acquire every handle anew by GID. A section that survived
  // is the same section at the same place (a GID is never reused), so the
  // mappings stay as they are; the others are lost: their mappings become
  // PROT_NONE (the pages may belong to another section soon), using them
  // says why, and on_lost hears of each.
  Status reconnect() {
    const auto deadline = std::chrono::steady_clock::now() + reconnect_wait;
    auto fresh = proto::Client::connect(socket_path);
    while (!fresh && std::chrono::steady_clock::now() < deadline) {
      timespec pause{0, 50'000'000};
      ::nanosleep(&pause, nullptr);
      fresh = proto::Client::connect(socket_path);
    }
    if (!fresh) {
      std::vector<std::uint64_t> all;
      for (const auto& [gid, a] : acquired) all.push_back(gid);
      const Error gone = make_error(Errc::kIo, "the connection to gmmd on " + socket_path +
                                                   " was lost and no gmmd answered there within " +
                                                   std::to_string(reconnect_wait.count()) + " ms");
      for (std::uint64_t gid : all) lose(gid, gone);
      return gone;
    }
    client = std::move(*fresh);
    std::vector<std::uint64_t> gids;
    for (const auto& [gid, a] : acquired) gids.push_back(gid);
    for (std::uint64_t gid : gids) {
      Acquired& a = acquired.at(gid);
      proto::Request request;
      request.op = proto::Op::kAcquire;
      request.gid = Gid{gid};
      request.writable = a.section.writable;
      UniqueFd window;
      auto reply = client.call(request, kTimeout, &window);
      if (!reply && client.lost()) return reply.error();  // gone again: the next call starts over
      if (!reply) {
        lose(gid, make_error(reply.error().code, "section " + to_string(Gid{gid}) +
                                                     " did not survive the restart of gmmd: " + reply.error().message));
        continue;
      }
      if (!window || (*reply)["address"].get<std::uint64_t>() != a.section.global_address) {
        lose(gid, make_error(Errc::kIo, "gmmd gave section " + to_string(Gid{gid}) + " back without its window"));
        continue;
      }
      a.window = std::move(window);
      a.mmap_offset = (*reply)["window"]["mmap_offset"].get<std::uint64_t>();
    }
    return ok_status();
  }

  // The handle of `gid` is gone: unmap it (back to PROT_NONE), forget it,
  // remember why, tell the application.
  void lose(std::uint64_t gid, const Error& why) {
    auto it = acquired.find(gid);
    if (it == acquired.end()) return;
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> ranges;
    for (const auto& [start, m] : mappings)
      if (m.gid == gid) ranges.emplace_back(start, m.end);
    for (auto [start, end] : ranges) {
      make_inaccessible(start, end - start);
      cut_mappings(start, end);
    }
    const Section section = it->second.section;
    acquired.erase(it);
    lost[gid] = why.message;
    if (on_lost) on_lost(section, why);
  }

  // kNotFound for a handle this session does not hold, saying why if it was lost.
  Error not_acquired(std::uint64_t gid) const {
    if (auto it = lost.find(gid); it != lost.end()) {
      return make_error(Errc::kNotFound, "section " + to_string(Gid{gid}) + " was lost: " + it->second);
    }
    return make_error(Errc::kNotFound, "section " + to_string(Gid{gid}) + " is not acquired by this session");
  }
  // A request whose reply says nothing but "ok": under the mutex.
  Status call_for_status(const proto::Request& request) {
    std::lock_guard lock(mutex);
    auto reply = call(request);
    if (!reply) return reply.error();
    return ok_status();
  }

  // The reservation holding [start, end), if one does.
  bool reserved(std::uintptr_t start, std::uintptr_t end) const {
    auto it = reservations.upper_bound(start);
    if (it == reservations.begin()) return false;
    --it;
    return it->first <= start && end <= it->second;
  }

  // Forgets the mappings' parts inside [start, end) (the caller changes the pages).
  void cut_mappings(std::uintptr_t start, std::uintptr_t end) {
    auto it = mappings.lower_bound(start);
    if (it != mappings.begin()) --it;
    while (it != mappings.end() && it->first < end) {
      auto [m_start, m] = *it;
      if (m.end <= start) {
        ++it;
        continue;
      }
      it = mappings.erase(it);
      if (m_start < start) mappings[m_start] = Mapping{start, m.gid, m.offset};
      if (m.end > end) mappings[end] = Mapping{m.end, m.gid, m.offset + (end - m_start)};
    }
  }

  bool mapped(std::uint64_t gid) const {
    for (const auto& [start, m] : mappings)
      if (m.gid == gid) return true;
    return false;
  }

  Result<Section> acquire(proto::Request request) {
    UniqueFd window;
    auto reply = call(request, &window);
    if (!reply) return reply.error();
    if (!window) return make_error(Errc::kIo, "gmmd sent no window descriptor with its acquire reply");
    const json& s = (*reply)["section"];
    Section section;
    section.gid = parse_gid(s["gid"].get<std::string>()).value_or(Gid{}).value;
    section.name = s["name"].get<std::string>();
    section.size = s["size"].get<std::uint64_t>();
    section.home_node = s["home_node"].get<std::uint32_t>();
    section.global_address = (*reply)["address"].get<std::uint64_t>();
    section.writable = (*reply)["window"]["writable"].get<bool>();
    lost.erase(section.gid);
    Acquired& entry = acquired[section.gid];
    entry.section = section;
    entry.window = std::move(window);
    entry.mmap_offset = (*reply)["window"]["mmap_offset"].get<std::uint64_t>();
    return section;
  }

  Status map(std::uintptr_t start, std::uintptr_t length, std::uint64_t gid, std::uint64_t offset) {
    auto it = acquired.find(gid);
    if (it == acquired.end()) return not_acquired(gid);
    const Acquired& a = it->second;
    length = round_up(length);
    if (start % page_size() != 0 || offset % page_size() != 0 || length == 0) {
      return make_error(Errc::kInvalidArgument, "map: address and offset must be page-aligned, length non-zero");
    }
    if (offset > a.section.size || length > a.section.size - offset) {
      return make_error(Errc::kInvalidArgument, "map: [" + std::to_string(offset) + ", +" + std::to_string(length) +
                                                    ") is past the end of the section (" +
                                                    std::to_string(a.section.size) + " bytes)");
    }
    if (!reserved(start, start + length)) {
      return make_error(Errc::kInvalidArgument, "map: the range is not inside one reservation; reserve it first");
    }
    int protection = PROT_READ | (a.section.writable ? PROT_WRITE : 0);
    void* got = ::mmap(as_ptr(start), length, protection, MAP_SHARED | MAP_FIXED, a.window.get(),
                       static_cast<off_t>(a.mmap_offset + offset));
    if (got == MAP_FAILED) {
      Error failed = os_error("map: mmap of the section window");
      // MAP_FIXED may have dropped what was there: keep the range reserved.
      cut_mappings(start, start + length);
      make_inaccessible(start, length);
      return failed;
    }
    cut_mappings(start, start + length);
    mappings[start] = Mapping{start + length, gid, offset};
    return ok_status();
  }
};

Session::Session(std::unique_ptr<State> state) : state_(std::move(state)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

Session::~Session() {
  if (!state_) return;
  // Unmapping first: what is relinquished must no longer be reachable.
  for (const auto& [start, end] : state_->reservations) ::munmap(as_ptr(start), end - start);
  for (auto& [gid, a] : state_->acquired) {
    proto::Request request;
    request.op = proto::Op::kRelinquish;
    request.gid = Gid{gid};
    // gmmd releases them anyway when we hang up; no reconnecting here.
    (void)state_->client.call(request, kTimeout);
    if (state_->client.lost()) break;
  }
}

Result<Session> Session::connect(const std::string& socket_path) {
  std::string path = socket_path;
  if (path.empty()) {
    const char* env = std::getenv("GMM_SOCKET");
    if (env == nullptr || *env == '\0') {
      return make_error(Errc::kInvalidArgument, "no gmmd socket: pass a path or set GMM_SOCKET");
    }
    path = env;
  }
  auto client = proto::Client::connect(path);
  if (!client) return client.error();
  auto state = std::make_unique<State>(std::move(*client));
  state->socket_path = path;
  return Session(std::move(state));
}

void Session::set_reconnect_wait(std::chrono::milliseconds wait) {
  std::lock_guard lock(state_->mutex);
  state_->reconnect_wait = wait;
}

void Session::on_handle_lost(LostHandler handler) {
  std::lock_guard lock(state_->mutex);
  state_->on_lost = std::move(handler);
}

Result<std::uint64_t> Session::create(std::string_view name, std::uint64_t size, const CreateOptions& options) {
  std::lock_guard lock(state_->mutex);
  proto::Request request;
  request.op = proto::Op::kAlloc;
  request.name = std::string(name);
  request.size = size;
  switch (options.where) {
    case CreateOptions::Where::kLocal: request.where = Placement::local(); break;
    case CreateOptions::Where::kNode: request.where = Placement::on(options.node); break;
    case CreateOptions::Where::kAnywhere: request.where = Placement::anywhere(); break;
  }
  request.mode = options.mode;
  auto reply = state_->call(request);
  if (!reply) return reply.error();
  return parse_gid((*reply)["section"]["gid"].get<std::string>()).value_or(Gid{}).value;
}

Status Session::destroy(std::string_view name) {
  std::lock_guard lock(state_->mutex);
  proto::Request request;
  request.op = proto::Op::kFree;
  request.name = std::string(name);
  auto reply = state_->call(request);
  if (!reply) return reply.error();
  return ok_status();
}

Result<void*> Session::reserve(std::size_t length, void* at) {
  std::lock_guard lock(state_->mutex);
  std::uintptr_t size = round_up(length);
  if (size == 0) return make_error(Errc::kInvalidArgument, "reserve: length must not be 0");
  if (at != nullptr && as_int(at) % page_size() != 0) {
    return make_error(Errc::kInvalidArgument, "reserve: address must be page-aligned");
  }
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (at != nullptr ? MAP_FIXED_NOREPLACE : 0);
  void* got = ::mmap(at, size, PROT_NONE, flags, -1, 0);
  if (got == MAP_FAILED) {
    if (errno == EEXIST) {
      return make_error(Errc::kExists, "reserve: something is already mapped in the range at " +
                                           std::to_string(as_int(at)) + " (+" + std::to_string(size) + ")");
    }
    return os_error("reserve: mmap");
  }
  if (at != nullptr && got != at) {  // kernels before 4.17 ignore MAP_FIXED_NOREPLACE
    ::munmap(got, size);
    return make_error(Errc::kExists, "reserve: the range at " + std::to_string(as_int(at)) + " is not free");
  }
  state_->reservations[as_int(got)] = as_int(got) + size;
  return got;
}

Status Session::unreserve(void* address) {
  std::lock_guard lock(state_->mutex);
  auto it = state_->reservations.find(as_int(address));
  if (it == state_->reservations.end()) {
    return make_error(Errc::kNotFound, "unreserve: no reservation starts at that address");
  }
  state_->cut_mappings(it->first, it->second);
  ::munmap(address, it->second - it->first);
  state_->reservations.erase(it);
  return ok_status();
}

Result<Section> Session::acquire(std::string_view name, Access access) {
  std::lock_guard lock(state_->mutex);
  proto::Request request;
  request.op = proto::Op::kAcquire;
  request.name = std::string(name);
  request.writable = access == Access::kWrite;
  return state_->acquire(std::move(request));
}

Result<Section> Session::acquire_gid(std::uint64_t gid, Access access) {
  std::lock_guard lock(state_->mutex);
  proto::Request request;
  request.op = proto::Op::kAcquire;
  request.gid = Gid{gid};
  request.writable = access == Access::kWrite;
  return state_->acquire(std::move(request));
}

Status Session::relinquish(const Section& section) {
  std::lock_guard lock(state_->mutex);
  if (!state_->acquired.contains(section.gid)) return state_->not_acquired(section.gid);
  if (state_->mapped(section.gid)) {
    return make_error(Errc::kBusy, "section " + to_string(Gid{section.gid}) + " is still mapped; unmap it first");
  }
  proto::Request request;
  request.op = proto::Op::kRelinquish;
  request.gid = Gid{section.gid};
  auto reply = state_->call(request);
  state_->acquired.erase(section.gid);
  if (!reply) return reply.error();
  return ok_status();
}

Status Session::map(void* address, std::size_t length, const Section& section, std::uint64_t offset) {
  std::lock_guard lock(state_->mutex);
  return state_->map(as_int(address), length, section.gid, offset);
}

Status Session::unmap(void* address, std::size_t length) {
  std::lock_guard lock(state_->mutex);
  std::uintptr_t start = as_int(address);
  std::uintptr_t size = round_up(length);
  if (start % page_size() != 0 || size == 0) {
    return make_error(Errc::kInvalidArgument, "unmap: address must be page-aligned, length non-zero");
  }
  if (!state_->reserved(start, start + size)) {
    return make_error(Errc::kInvalidArgument, "unmap: the range is not inside one reservation");
  }
  if (!make_inaccessible(start, size)) return os_error("unmap: mmap PROT_NONE");
  state_->cut_mappings(start, start + size);
  return ok_status();
}

Result<void*> Session::map_global(const Section& section) {
  auto reserved = reserve(section.size, as_ptr(section.global_address));
  if (!reserved) return reserved.error();
  Status mapped = map(*reserved, section.size, section, 0);
  if (!mapped) {
    (void)unreserve(*reserved);
    return mapped.error();
  }
  return *reserved;
}

namespace {

proto::Request sync_request(proto::Op op, std::string_view name) {
  proto::Request request;
  request.op = op;
  request.name = std::string(name);
  return request;
}

// One attempt per round trip; between attempts the waiter sleeps 50 us,
// doubling to 10 ms, so a long wait costs gmmd little.
template <class Attempt>
Result<Wait> poll_until(std::chrono::milliseconds timeout, Attempt&& attempt) {
  auto deadline = timeout == kForever ? std::chrono::steady_clock::time_point::max()
                                      : std::chrono::steady_clock::now() + timeout;
  long sleep_ns = 50'000;
  for (;;) {
    auto outcome = attempt();
    if (!outcome) return outcome.error();
    if (*outcome) return **outcome;
    if (std::chrono::steady_clock::now() >= deadline) return Wait::kTimeout;
    timespec pause{0, sleep_ns};
    ::nanosleep(&pause, nullptr);
    sleep_ns = std::min(sleep_ns * 2, 10'000'000L);
  }
}

}  // namespace

Status Session::create_mutex(std::string_view name, std::uint32_t mode) {
  auto request = sync_request(proto::Op::kMutexCreate, name);
  request.mode = mode;
  return state_->call_for_status(request);
}

Result<Wait> Session::lock_mutex(std::string_view name, std::chrono::milliseconds timeout) {
  auto request = sync_request(proto::Op::kMutexLock, name);
  return poll_until(timeout, [&]() -> Result<std::optional<Wait>> {
    std::lock_guard lock(state_->mutex);
    auto reply = state_->call(request);
    if (!reply) {
      if (reply.error().code == Errc::kBusy) return std::optional<Wait>();
      return reply.error();
    }
    return std::optional<Wait>((*reply)["abandoned"].get<bool>() ? Wait::kAbandoned : Wait::kAcquired);
  });
}

Status Session::unlock_mutex(std::string_view name) {
  return state_->call_for_status(sync_request(proto::Op::kMutexUnlock, name));
}

Status Session::create_event(std::string_view name, bool manual_reset, bool signaled, std::uint32_t mode) {
  auto request = sync_request(proto::Op::kEventCreate, name);
  request.manual_reset = manual_reset;
  request.signaled = signaled;
  request.mode = mode;
  return state_->call_for_status(request);
}

Status Session::set_event(std::string_view name) {
  return state_->call_for_status(sync_request(proto::Op::kEventSet, name));
}

Status Session::reset_event(std::string_view name) {
  return state_->call_for_status(sync_request(proto::Op::kEventReset, name));
}

Result<Wait> Session::wait_event(std::string_view name, std::chrono::milliseconds timeout) {
  auto request = sync_request(proto::Op::kEventWait, name);
  return poll_until(timeout, [&]() -> Result<std::optional<Wait>> {
    std::lock_guard lock(state_->mutex);
    auto reply = state_->call(request);
    if (!reply) return reply.error();
    if ((*reply)["signaled"].get<bool>()) return std::optional<Wait>(Wait::kAcquired);
    return std::optional<Wait>();
  });
}

Status Session::destroy_sync(std::string_view name) {
  return state_->call_for_status(sync_request(proto::Op::kSyncDestroy, name));
}

struct EventWatch::State {
  proto::Client client;
  std::string socket_path;
  proto::Request request;  // the watch request, sent again after a reconnect
  std::chrono::milliseconds reconnect_wait;
};

EventWatch::EventWatch(std::unique_ptr<State> state) : state_(std::move(state)) {}
EventWatch::EventWatch(EventWatch&&) noexcept = default;
EventWatch& EventWatch::operator=(EventWatch&&) noexcept = default;
EventWatch::~EventWatch() = default;

bool EventWatch::timed_out() const { return state_->client.timed_out(); }

Result<NodeEvent> EventWatch::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto line = state_->client.next_line(deadline, proto::kMaxEventLine);
  if (!line && state_->client.lost()) {
    // gmmd restarted: watch again on the new one (events meanwhile are missed).
    const auto give_up = std::chrono::steady_clock::now() + state_->reconnect_wait;
    auto fresh = proto::Client::connect(state_->socket_path);
    while (!fresh && std::chrono::steady_clock::now() < give_up) {
      timespec pause{0, 50'000'000};
      ::nanosleep(&pause, nullptr);
      fresh = proto::Client::connect(state_->socket_path);
    }
    if (!fresh) return line.error();
    state_->client = std::move(*fresh);
    auto watching = state_->client.call(state_->request, kTimeout);
    if (!watching) return watching.error();
    line = state_->client.next_line(deadline, proto::kMaxEventLine);
  }
  if (!line) return line.error();
  auto decoded = proto::decode_watch_line(*line);
  if (!decoded) return decoded.error();
  NodeEvent out;
  if (auto* message = std::get_if<proto::AppMessage>(&*decoded)) {
    out.kind = NodeEvent::Kind::kMessage;
    out.node = message->from;
    out.message_kind = message->kind;
    out.data = std::move(message->data);
    out.sent_ns = message->sent_ns;
    return out;
  }
  const Event& event = std::get<Event>(*decoded);
  switch (event.kind) {
    case layout::EventKind::kMemoryLost: out.kind = NodeEvent::Kind::kMemoryLost; break;
    case layout::EventKind::kNodeLeaving: out.kind = NodeEvent::Kind::kNodeLeaving; break;
    case layout::EventKind::kNodeJoined: out.kind = NodeEvent::Kind::kNodeJoined; break;
    default: out.kind = NodeEvent::Kind::kNodeFailed; break;
  }
  out.node = event.node;
  out.incarnation = event.incarnation;
  out.sequence = event.sequence;
  return out;
}

Result<EventWatch> Session::watch(const std::vector<NodeEvent::Kind>& kinds) {
  auto client = proto::Client::connect(state_->socket_path);
  if (!client) return client.error();
  proto::Request request;
  request.op = proto::Op::kWatch;
  for (NodeEvent::Kind kind : kinds) {
    switch (kind) {
      case NodeEvent::Kind::kNodeFailed: request.events |= proto::event_bit(layout::EventKind::kNodeFailed); break;
      case NodeEvent::Kind::kMemoryLost: request.events |= proto::event_bit(layout::EventKind::kMemoryLost); break;
      case NodeEvent::Kind::kNodeLeaving: request.events |= proto::event_bit(layout::EventKind::kNodeLeaving); break;
      case NodeEvent::Kind::kNodeJoined: request.events |= proto::event_bit(layout::EventKind::kNodeJoined); break;
      case NodeEvent::Kind::kMessage: request.events |= proto::kMessageEventBit; break;
    }
  }
  auto reply = client->call(request, kTimeout);
  if (!reply) return reply.error();
  std::chrono::milliseconds wait;
  {
    std::lock_guard lock(state_->mutex);
    wait = state_->reconnect_wait;
  }
  return EventWatch(std::make_unique<EventWatch::State>(
      EventWatch::State{std::move(*client), state_->socket_path, request, wait}));
}

static_assert(kFirstMessageKind == kFirstApplicationMessage);
static_assert(kMaxMessageBytes == layout::kMessagePayload);

namespace {

proto::Request send_request(proto::Request::Recipients recipients, std::uint64_t nodes, std::uint32_t kind,
                            std::string_view data) {
  proto::Request request;
  request.op = proto::Op::kSend;
  request.recipients = recipients;
  request.nodes = nodes;
  request.kind = kind;
  request.data = std::string(data);
  return request;
}

}  // namespace

Status Session::send(std::uint32_t node, std::uint32_t kind, std::string_view data) {
  if (node >= layout::kMaxNodes) {
    return make_error(Errc::kInvalidArgument, "node " + std::to_string(node) + " does not exist");
  }
  return send_group({node}, kind, data);
}

Status Session::send_group(const std::vector<std::uint32_t>& nodes, std::uint32_t kind, std::string_view data) {
  std::uint64_t bits = 0;
  for (std::uint32_t node : nodes) {
    if (node >= layout::kMaxNodes) {
      return make_error(Errc::kInvalidArgument, "node " + std::to_string(node) + " does not exist");
    }
    bits |= std::uint64_t{1} << node;
  }
  if (bits == 0) return make_error(Errc::kInvalidArgument, "send_group needs at least one node");
  auto recipients = nodes.size() == 1 ? proto::Request::Recipients::kNode : proto::Request::Recipients::kGroup;
  return state_->call_for_status(send_request(recipients, bits, kind, data));
}

Status Session::send_all(std::uint32_t kind, std::string_view data) {
  return state_->call_for_status(send_request(proto::Request::Recipients::kAll, 0, kind, data));
}

Result<Identity> Session::whoami() {
  std::lock_guard lock(state_->mutex);
  proto::Request request;
  request.op = proto::Op::kWhoami;
  auto reply = state_->call(request);
  if (!reply) return reply.error();
  Identity identity;
  identity.client = (*reply)["client"].get<std::uint64_t>();
  identity.pid = (*reply)["pid"].get<std::int64_t>();
  identity.uid = (*reply)["uid"].get<std::uint32_t>();
  identity.gid = (*reply)["gid"].get<std::uint32_t>();
  identity.node = (*reply)["node"].get<std::uint32_t>();
  identity.handles = (*reply)["handles"].get<std::uint64_t>();
  return identity;
}

}  // namespace gmm::app
