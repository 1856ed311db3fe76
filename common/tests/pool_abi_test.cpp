// gmm/pool_abi.h (the C view of the pool for the guest driver) against
// gmm/layout.hpp: every size, offset and constant the C header states is
// compared here at compile time, so a layout change that forgets the C
// header does not build. pool_abi_c.c checks the header is plain C.
#include <cstddef>

#include <catch2/catch.hpp>

#include "gmm/layout.hpp"
#include "gmm/pool_abi.h"

using namespace gmm::layout;

static_assert(GMM_POOL_MAGIC == kMagic);
static_assert(GMM_LAYOUT_VERSION == kLayoutVersion);
static_assert(GMM_MAX_NODES == kMaxNodes);

static_assert(GMM_SB_MAGIC == offsetof(Superblock, magic));
static_assert(GMM_SB_LAYOUT_VERSION == offsetof(Superblock, layout_version));
static_assert(GMM_SB_NODE_COUNT == offsetof(Superblock, node_count));
static_assert(GMM_SB_NODES_OFFSET == offsetof(Superblock, nodes_offset));

static_assert(GMM_NODE_ABSENT == static_cast<std::uint32_t>(NodeState::kAbsent));
static_assert(GMM_NODE_JOINING == static_cast<std::uint32_t>(NodeState::kJoining));
static_assert(GMM_NODE_MEMBER == static_cast<std::uint32_t>(NodeState::kMember));
static_assert(GMM_NODE_FAILED == static_cast<std::uint32_t>(NodeState::kFailed));

static_assert(sizeof(gmm_node_slot) == sizeof(NodeSlot));
static_assert(offsetof(gmm_node_slot, state) == offsetof(NodeSlot, state));
static_assert(offsetof(gmm_node_slot, incarnation) == offsetof(NodeSlot, incarnation));
static_assert(offsetof(gmm_node_slot, heartbeat) == offsetof(NodeSlot, heartbeat));
static_assert(offsetof(gmm_node_slot, heartbeat_ns) == offsetof(NodeSlot, heartbeat_ns));
static_assert(offsetof(gmm_node_slot, pid) == offsetof(NodeSlot, pid));
static_assert(offsetof(gmm_node_slot, next_txn_id) == offsetof(NodeSlot, next_txn_id));
static_assert(offsetof(gmm_node_slot, joined_ns) == offsetof(NodeSlot, joined_ns));
static_assert(offsetof(gmm_node_slot, progress) == offsetof(NodeSlot, progress));
static_assert(offsetof(gmm_node_slot, host_notice) == offsetof(NodeSlot, host_notice));
static_assert(offsetof(gmm_node_slot, fenced) == offsetof(NodeSlot, fenced));

extern "C" int gmm_pool_abi_c_slot_size();  // pool_abi_c.c: the size a C compiler sees

TEST_CASE("pool ABI: a C compiler lays out the node slot as layout.hpp does", "[core]") {
  CHECK(gmm_pool_abi_c_slot_size() == static_cast<int>(sizeof(NodeSlot)));
}
