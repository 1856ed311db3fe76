/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The few pool fields that C code outside the core reads or writes: the
 * superblock fields that locate the node slots, and a node's slot (its
 * state, incarnation, heartbeat and progress). For the guest kernel driver
 * (ivshmem-driver/, a heartbeat kept by the node's OS) and any other C
 * program; C++ code uses gmm/layout.hpp.
 *
 * Written by hand from gmm/layout.hpp and frozen against it by
 * common/tests/pool_abi_test.cpp (every size, offset and constant compared
 * at compile time), so the two cannot drift: change layout.hpp and that
 * test fails until this header follows. Plain C, includable by the kernel.
 */
#ifndef GMM_POOL_ABI_H
#define GMM_POOL_ABI_H

#include <linux/types.h>

#define GMM_POOL_MAGIC		0x4C4F4F504D4D4721ULL	/* "!GMMPOOL" */
#define GMM_LAYOUT_VERSION	5U
#define GMM_MAX_NODES		64U

/* Superblock offsets (bytes from the start of the pool). */
#define GMM_SB_MAGIC		0	/* __u64, written last by format */
#define GMM_SB_LAYOUT_VERSION	8	/* __u32 */
#define GMM_SB_NODE_COUNT	64	/* __u32 */
#define GMM_SB_NODES_OFFSET	88	/* __u64: where the node slots start */

/* enum NodeState */
#define GMM_NODE_ABSENT		0U
#define GMM_NODE_JOINING	1U
#define GMM_NODE_MEMBER		2U
#define GMM_NODE_FAILED		3U

/*
 * One per node id, at GMM_SB_NODES_OFFSET + id * sizeof(struct
 * gmm_node_slot). A node is alive for the others while `heartbeat` and
 * `progress` both move (docs/design.md, "Threads of a node"). Every field
 * is read and written with single aligned accesses (atomics in C++).
 */
struct gmm_node_slot {
	__u32 state;		/* GMM_NODE_* */
	__u32 incarnation;	/* bumped at every join */
	__u64 heartbeat;	/* incremented every heartbeat period */
	__u64 heartbeat_ns;	/* CLOCK_REALTIME of the last beat */
	__u64 pid;
	__u64 next_txn_id;
	__u64 joined_ns;
	__u64 progress;		/* advanced by the daemon while not wedged */
	__u32 host_notice;	/* host watcher: incarnation seen dead */
	__u32 fenced;		/* host watcher: newest incarnation fenced */
};

#endif /* GMM_POOL_ABI_H */
