// The C interface over gmm::app::Session.
#include "gmm/gmm_c.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gmm/app.hpp"

struct gmm_session {
  gmm::app::Session session;
  std::string last_error;
  std::map<uint64_t, gmm::app::Section> sections;  // acquired, by GID
};

static_assert(GMM_EVENT_MESSAGE == static_cast<int>(gmm::app::NodeEvent::Kind::kMessage) &&
              GMM_EVENT_NODE_JOINED == static_cast<int>(gmm::app::NodeEvent::Kind::kNodeJoined));
static_assert(GMM_MAX_MESSAGE == gmm::app::kMaxMessageBytes && GMM_FIRST_MESSAGE_KIND == gmm::app::kFirstMessageKind);

struct gmm_watch {
  gmm::app::EventWatch watch;
  std::string last_error;
};

namespace {

thread_local std::string connect_error;

int code_of(gmm::Errc code) { return static_cast<int>(code) + 1; }

int fail(gmm_session* s, const gmm::Error& error) {
  s->last_error = error.message;
  return code_of(error.code);
}

int fill(gmm_session* s, gmm::Result<gmm::app::Section> got, gmm_section* out) {
  if (!got) return fail(s, got.error());
  s->sections[got->gid] = *got;
  if (out != nullptr) *out = gmm_section{got->gid, got->size, got->global_address, got->home_node, got->writable};
  return GMM_OK;
}

std::string_view bytes_of(const void* data, size_t length) {
  return length == 0 ? std::string_view() : std::string_view(static_cast<const char*>(data), length);
}

int done_or_fail(gmm_session* s, const gmm::Status& status) { return status ? GMM_OK : fail(s, status.error()); }

int missing(gmm_session* s, uint64_t gid) {
  return fail(s, gmm::make_error(gmm::Errc::kNotFound, "section " + std::to_string(gid) + " is not acquired"));
}

}  // namespace

extern "C" {

int gmm_connect(const char* socket_path, gmm_session** out) {
  *out = nullptr;
  auto session = gmm::app::Session::connect(socket_path != nullptr ? socket_path : "");
  if (!session) {
    connect_error = session.error().message;
    return code_of(session.error().code);
  }
  *out = new gmm_session{std::move(*session), {}, {}};
  return GMM_OK;
}

const char* gmm_connect_error(void) { return connect_error.c_str(); }
void gmm_disconnect(gmm_session* session) { delete session; }
const char* gmm_last_error(const gmm_session* session) { return session->last_error.c_str(); }

int gmm_create(gmm_session* s, const char* name, uint64_t size, unsigned mode, uint64_t* gid_out) {
  gmm::app::CreateOptions options;
  options.mode = mode;
  auto gid = s->session.create(name, size, options);
  if (!gid) return fail(s, gid.error());
  if (gid_out != nullptr) *gid_out = *gid;
  return GMM_OK;
}

int gmm_destroy(gmm_session* s, const char* name) {
  auto done = s->session.destroy(name);
  return done ? GMM_OK : fail(s, done.error());
}

int gmm_reserve(gmm_session* s, size_t length, void* at, void** address_out) {
  auto got = s->session.reserve(length, at);
  if (!got) return fail(s, got.error());
  *address_out = *got;
  return GMM_OK;
}

int gmm_unreserve(gmm_session* s, void* address) {
  auto done = s->session.unreserve(address);
  return done ? GMM_OK : fail(s, done.error());
}

int gmm_acquire(gmm_session* s, const char* name, enum gmm_access access, gmm_section* out) {
  return fill(s, s->session.acquire(name, access == GMM_WRITE ? gmm::app::Access::kWrite : gmm::app::Access::kRead),
              out);
}

int gmm_acquire_gid(gmm_session* s, uint64_t gid, enum gmm_access access, gmm_section* out) {
  return fill(
      s, s->session.acquire_gid(gid, access == GMM_WRITE ? gmm::app::Access::kWrite : gmm::app::Access::kRead), out);
}

int gmm_relinquish(gmm_session* s, uint64_t gid) {
  auto it = s->sections.find(gid);
  if (it == s->sections.end()) return missing(s, gid);
  auto done = s->session.relinquish(it->second);
  if (!done) return fail(s, done.error());
  s->sections.erase(it);
  return GMM_OK;
}

int gmm_map(gmm_session* s, void* address, size_t length, uint64_t gid, uint64_t offset) {
  auto it = s->sections.find(gid);
  if (it == s->sections.end()) return missing(s, gid);
  auto done = s->session.map(address, length, it->second, offset);
  return done ? GMM_OK : fail(s, done.error());
}

int gmm_unmap(gmm_session* s, void* address, size_t length) {
  auto done = s->session.unmap(address, length);
  return done ? GMM_OK : fail(s, done.error());
}

int gmm_map_global(gmm_session* s, uint64_t gid, void** address_out) {
  auto it = s->sections.find(gid);
  if (it == s->sections.end()) return missing(s, gid);
  auto got = s->session.map_global(it->second);
  if (!got) return fail(s, got.error());
  *address_out = *got;
  return GMM_OK;
}

void gmm_set_reconnect_wait(gmm_session* s, unsigned wait_ms) {
  s->session.set_reconnect_wait(std::chrono::milliseconds(wait_ms));
}

void gmm_on_handle_lost(gmm_session* s, gmm_lost_fn fn, void* context) {
  if (fn == nullptr) {
    s->session.on_handle_lost({});
    return;
  }
  s->session.on_handle_lost([fn, context](const gmm::app::Section& section, const gmm::Error& why) {
    fn(section.gid, code_of(why.code), why.message.c_str(), context);
  });
}

int gmm_watch_open(gmm_session* s, unsigned kinds, gmm_watch** out) {
  using Kind = gmm::app::NodeEvent::Kind;
  *out = nullptr;
  std::vector<Kind> wanted;
  for (Kind kind : {Kind::kNodeFailed, Kind::kMemoryLost, Kind::kNodeLeaving, Kind::kNodeJoined, Kind::kMessage}) {
    if (kinds & GMM_EVENT_BIT(static_cast<unsigned>(kind))) wanted.push_back(kind);
  }
  auto watch = s->session.watch(wanted);
  if (!watch) return fail(s, watch.error());
  *out = new gmm_watch{std::move(*watch), {}};
  return GMM_OK;
}

int gmm_watch_next(gmm_watch* w, unsigned timeout_ms, gmm_event* out) {
  auto event = w->watch.next(std::chrono::milliseconds(timeout_ms));
  if (!event) {
    w->last_error = event.error().message;
    return w->watch.timed_out() ? GMM_ETIMEDOUT : code_of(event.error().code);
  }
  *out = gmm_event{};
  out->kind = static_cast<gmm_event_kind>(event->kind);
  out->node = event->node;
  out->incarnation = event->incarnation;
  out->sequence = event->sequence;
  out->message_kind = event->message_kind;
  out->sent_ns = event->sent_ns;
  out->length = std::min(event->data.size(), sizeof out->data);
  std::memcpy(out->data, event->data.data(), out->length);
  return GMM_OK;
}

const char* gmm_watch_last_error(const gmm_watch* w) { return w->last_error.c_str(); }
void gmm_watch_close(gmm_watch* w) { delete w; }

int gmm_send(gmm_session* s, uint32_t node, uint32_t kind, const void* data, size_t length) {
  return done_or_fail(s, s->session.send(node, kind, bytes_of(data, length)));
}

int gmm_send_group(gmm_session* s, const uint32_t* nodes, size_t count, uint32_t kind, const void* data,
                   size_t length) {
  std::vector<std::uint32_t> group(nodes, nodes + count);
  return done_or_fail(s, s->session.send_group(group, kind, bytes_of(data, length)));
}

int gmm_send_all(gmm_session* s, uint32_t kind, const void* data, size_t length) {
  return done_or_fail(s, s->session.send_all(kind, bytes_of(data, length)));
}

}  // extern "C"
