/* Compiled as C: the header is valid C and every call links. Returns 0 when
 * a create/acquire/reserve/map/unmap/relinquish round trip works. */
#include <stdio.h>
#include <string.h>

#include "gmm/gmm_c.h"

int gmm_c_header_roundtrip(const char* socket_path) {
  gmm_session* session = NULL;
  if (gmm_connect(socket_path, &session) != GMM_OK) return 1;
  int result = 0;
  uint64_t gid = 0;
  gmm_section section;
  void* range = NULL;
  void* global = NULL;
  if (gmm_create(session, "c-section", 8192, 0600, &gid) != GMM_OK) result = 2;
  else if (gmm_acquire(session, "c-section", GMM_WRITE, &section) != GMM_OK || section.gid != gid) result = 3;
  else if (gmm_reserve(session, 16384, NULL, &range) != GMM_OK) result = 4;
  else if (gmm_map(session, range, 8192, gid, 0) != GMM_OK) result = 5;
  else {
    strcpy((char*)range, "from C");
    if (gmm_map_global(session, gid, &global) != GMM_OK || (uint64_t)(uintptr_t)global != section.global_address)
      result = 6;
    else if (strcmp((const char*)global, "from C") != 0) result = 7;
    else if (gmm_relinquish(session, gid) != GMM_EBUSY || strlen(gmm_last_error(session)) == 0) result = 8;
    else if (gmm_unmap(session, range, 8192) != GMM_OK || gmm_unreserve(session, global) != GMM_OK) result = 9;
    else if (gmm_relinquish(session, gid) != GMM_OK) result = 10;
    else if (gmm_unreserve(session, range) != GMM_OK || gmm_destroy(session, "c-section") != GMM_OK) result = 11;
  }
  gmm_disconnect(session);
  return result;
}

/* A message from the sender's node to the receiver's node, through the C
 * calls. Returns 0 when it arrives intact. */
int gmm_c_message_roundtrip(const char* sender_socket, const char* receiver_socket) {
  gmm_session* sender = NULL;
  gmm_session* receiver = NULL;
  gmm_watch* watch = NULL;
  gmm_event event;
  int result = 0;
  if (gmm_connect(sender_socket, &sender) != GMM_OK) return 1;
  if (gmm_connect(receiver_socket, &receiver) != GMM_OK) result = 2;
  else if (gmm_watch_open(receiver, GMM_EVENT_BIT(GMM_EVENT_MESSAGE), &watch) != GMM_OK) result = 3;
  else if (gmm_send(sender, 1, GMM_FIRST_MESSAGE_KIND - 1, "x", 1) != GMM_EINVAL || strlen(gmm_last_error(sender)) == 0)
    result = 4;
  else if (gmm_send(sender, 1, GMM_FIRST_MESSAGE_KIND + 7, "from C", 6) != GMM_OK) result = 5;
  else if (gmm_watch_next(watch, 30000, &event) != GMM_OK) result = 6;
  else if (event.kind != GMM_EVENT_MESSAGE || event.node != 0 || event.message_kind != GMM_FIRST_MESSAGE_KIND + 7)
    result = 7;
  else if (event.length != 6 || memcmp(event.data, "from C", 6) != 0) result = 8;
  else if (gmm_watch_next(watch, 1, &event) != GMM_ETIMEDOUT) result = 9;
  if (watch != NULL) gmm_watch_close(watch);
  if (receiver != NULL) gmm_disconnect(receiver);
  gmm_disconnect(sender);
  return result;
}

/* gmmd restarts through the C calls, in two steps around the caller's
 * SIGKILL of the gmmd at socket_path (not restarted). Before: a section
 * created, acquired and mapped, a reconnect wait of 300 ms and a lost-handle
 * callback. After: the next call fails with GMM_EIO within the wait, and
 * the callback heard of the handle once. Each returns 0 when all held. */
static struct {
  int calls;
  uint64_t gid;
  int code;
  int context_ok;
  char why[256];
} lost;
static int lost_context = 42;

static void note_lost(uint64_t gid, int code, const char* why, void* context) {
  lost.calls++;
  lost.gid = gid;
  lost.code = code;
  lost.context_ok = context == &lost_context;
  snprintf(lost.why, sizeof lost.why, "%s", why);
}

static uint64_t reconnect_gid;

int gmm_c_reconnect_before(const char* socket_path, gmm_session** out) {
  gmm_section section;
  void* global = NULL;
  memset(&lost, 0, sizeof lost);
  if (gmm_connect(socket_path, out) != GMM_OK) return 1;
  gmm_set_reconnect_wait(*out, 300);
  gmm_on_handle_lost(*out, note_lost, &lost_context);
  if (gmm_create(*out, "c-goes", 8192, 0600, &reconnect_gid) != GMM_OK) return 2;
  if (gmm_acquire(*out, "c-goes", GMM_WRITE, &section) != GMM_OK) return 3;
  if (gmm_map_global(*out, reconnect_gid, &global) != GMM_OK) return 4;
  strcpy((char*)global, "mapped");
  return lost.calls == 0 ? 0 : 5;
}

int gmm_c_reconnect_after(gmm_session* session) {
  if (gmm_create(session, "c-after", 8192, 0600, NULL) != GMM_EIO) return 1;
  if (strstr(gmm_last_error(session), "within 300 ms") == NULL) return 2;
  if (lost.calls != 1 || lost.gid != reconnect_gid || !lost.context_ok) return 3;
  if (lost.code == GMM_OK || strlen(lost.why) == 0) return 4;
  gmm_on_handle_lost(session, NULL, NULL);
  return 0;
}
