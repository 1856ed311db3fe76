/* Creates, acquires, maps and writes a section through the C interface. */
#include <stdio.h>
#include <string.h>

#include <gmm/gmm_c.h>

int main(void) {
  gmm_session* session = NULL;
  if (gmm_connect(NULL, &session) != GMM_OK) {
    fprintf(stderr, "consumer: %s\n", gmm_connect_error());
    return 1;
  }
  uint64_t gid = 0;
  gmm_section section;
  void* at = NULL;
  if (gmm_create(session, "from-c-consumer", 4096, 0600, &gid) != GMM_OK ||
      gmm_acquire(session, "from-c-consumer", GMM_WRITE, &section) != GMM_OK ||
      gmm_map_global(session, gid, &at) != GMM_OK) {
    fprintf(stderr, "consumer: %s\n", gmm_last_error(session));
    return 1;
  }
  strcpy((char*)at, "hello");
  printf("wrote at %p\n", at);
  gmm_disconnect(session);
  return 0;
}
