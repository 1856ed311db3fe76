/* gmm/pool_abi.h compiled as C (pool_abi_test.cpp compares the result). */
#include <stddef.h>

#include "gmm/pool_abi.h"

_Static_assert(offsetof(struct gmm_node_slot, progress) == 48, "progress moved: update pool_abi.h and the driver");

int gmm_pool_abi_c_slot_size(void) { return (int)sizeof(struct gmm_node_slot); }
