/* libgmm's C interface: the calls of gmm/app.hpp for C programs.
 *
 * Every call returns 0 on success or a GMM_E* code; gmm_last_error() gives
 * the one-line message of the session's last failure. A session is used by
 * one thread at a time (or serialise the calls).
 */
#ifndef GMM_GMM_C_H
#define GMM_GMM_C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum gmm_error {
  GMM_OK = 0,
  GMM_EINVAL = 1,      /* bad argument or range */
  GMM_ENAMETOOLONG = 2,
  GMM_ENOTFOUND = 3,   /* no such name, GID, reservation or handle */
  GMM_EEXIST = 4,      /* name taken, or address range in use */
  GMM_ENOSPC = 5,
  GMM_ETABLEFULL = 6,
  GMM_EBUSY = 7,       /* still mapped, or being created/released */
  GMM_EALREADY = 8,    /* already acquired by this session */
  GMM_EBADPOOL = 9,
  GMM_EOWNERDIED = 10,
  GMM_ENOTRECOVERABLE = 11,
  GMM_EEXPELLED = 12,
  GMM_EACCES = 13,     /* access denied */
  GMM_EIO = 14,        /* gmmd unreachable, or a system call failed */
  GMM_ETIMEDOUT = 15   /* gmm_watch_next: nothing came in time */
};

enum gmm_access { GMM_READ = 0, GMM_WRITE = 1 };

typedef struct gmm_session gmm_session;

typedef struct gmm_section {
  uint64_t gid;
  uint64_t size;
  uint64_t global_address; /* the same in every process on every node */
  uint32_t home_node;
  int writable;
} gmm_section;

/* socket_path NULL or "": $GMM_SOCKET. On failure *out is NULL; the message
 * is in gmm_connect_error(). */
int gmm_connect(const char* socket_path, gmm_session** out);
const char* gmm_connect_error(void);
void gmm_disconnect(gmm_session* session);
const char* gmm_last_error(const gmm_session* session);

int gmm_create(gmm_session* session, const char* name, uint64_t size, unsigned mode, uint64_t* gid_out);
int gmm_destroy(gmm_session* session, const char* name);

int gmm_reserve(gmm_session* session, size_t length, void* at, void** address_out);
int gmm_unreserve(gmm_session* session, void* address);

int gmm_acquire(gmm_session* session, const char* name, enum gmm_access access, gmm_section* out);
int gmm_acquire_gid(gmm_session* session, uint64_t gid, enum gmm_access access, gmm_section* out);
int gmm_relinquish(gmm_session* session, uint64_t gid);

int gmm_map(gmm_session* session, void* address, size_t length, uint64_t gid, uint64_t offset);
int gmm_unmap(gmm_session* session, void* address, size_t length);
int gmm_map_global(gmm_session* session, uint64_t gid, void** address_out);

/* gmmd restarts (gmm/app.hpp, "gmmd restarts"): a call that finds gmmd's
 * connection closed reconnects, waiting up to wait_ms (default 30000) for a
 * gmmd to answer on the socket, else fails with GMM_EIO; handles of
 * sections that survived are acquired again and stay mapped. For this
 * session and the watches opened after. */
void gmm_set_reconnect_wait(gmm_session* session, unsigned wait_ms);

/* Called once for each handle lost at a reconnect (its section is gone, or
 * no gmmd answered in time): the section's gid, a GMM_E* code and the
 * message saying why, and `context`. The handle's mappings are PROT_NONE
 * already, and naming its gid later gives GMM_ENOTFOUND. It runs inside the
 * call that noticed the restart: it must not call the session. fn NULL:
 * no more calls. */
typedef void (*gmm_lost_fn)(uint64_t gid, int code, const char* why, void* context);
void gmm_on_handle_lost(gmm_session* session, gmm_lost_fn fn, void* context);

/* Notifications (gmm/app.hpp Session::watch): a watch is its own
 * connection to gmmd. kinds: GMM_EVENT_BIT(...) of the kinds wanted, 0 for
 * every membership kind (messages only when GMM_EVENT_MESSAGE is asked). */
enum gmm_event_kind {
  GMM_EVENT_NODE_FAILED = 0,
  GMM_EVENT_MEMORY_LOST = 1,
  GMM_EVENT_NODE_LEAVING = 2,
  GMM_EVENT_NODE_JOINED = 3,
  GMM_EVENT_MESSAGE = 4
};
#define GMM_EVENT_BIT(kind) (1u << (kind))
#define GMM_FIRST_MESSAGE_KIND 1024u
#define GMM_MAX_MESSAGE 40

typedef struct gmm_event {
  enum gmm_event_kind kind;
  uint32_t node;          /* the node concerned; for a message, its sender */
  uint32_t incarnation;
  uint64_t sequence;
  uint32_t message_kind;  /* GMM_EVENT_MESSAGE only, as the next three */
  uint64_t sent_ns;
  size_t length;
  unsigned char data[GMM_MAX_MESSAGE];
} gmm_event;

typedef struct gmm_watch gmm_watch;
int gmm_watch_open(gmm_session* session, unsigned kinds, gmm_watch** out);
/* GMM_ETIMEDOUT when nothing came within timeout_ms; GMM_EIO when gmmd went. */
int gmm_watch_next(gmm_watch* watch, unsigned timeout_ms, gmm_event* out);
const char* gmm_watch_last_error(const gmm_watch* watch);
void gmm_watch_close(gmm_watch* watch);

/* Short messages (kind >= GMM_FIRST_MESSAGE_KIND, at most GMM_MAX_MESSAGE
 * bytes; trailing zero bytes do not arrive). GMM_EBUSY: a recipient's
 * mailbox is full (the others got it); GMM_ENOTFOUND: a named node is not a
 * member (nothing sent). */
int gmm_send(gmm_session* session, uint32_t node, uint32_t kind, const void* data, size_t length);
int gmm_send_group(gmm_session* session, const uint32_t* nodes, size_t count, uint32_t kind, const void* data,
                   size_t length);
int gmm_send_all(gmm_session* session, uint32_t kind, const void* data, size_t length);

#ifdef __cplusplus
}
#endif

#endif /* GMM_GMM_C_H */
