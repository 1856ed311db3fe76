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
  GMM_EIO = 14         /* gmmd unreachable, or a system call failed */
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

#ifdef __cplusplus
}
#endif

#endif /* GMM_GMM_C_H */
