/* Compiled as C: the header is valid C and every call links. Returns 0 when
 * a create/acquire/reserve/map/unmap/relinquish round trip works. */
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
