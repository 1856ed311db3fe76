/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * gmm_ivshmem's devices: the user-space interface.
 *
 * 1. The window device.
 *
 * /dev/gmm_window (mode 0666) gives a process one part of the pool (BAR2)
 * and nothing else.  A fresh open maps nothing.  A caller with
 * CAP_SYS_ADMIN (gmmd) sets the window once with GMM_WINDOW_SET and hands
 * the descriptor to a client (SCM_RIGHTS); the client mmaps it at file
 * offset 0 = the window's first byte.  The window can never be changed
 * again, and mmap refuses:
 *   - any page outside the window (EINVAL),
 *   - MAP_PRIVATE (EINVAL): a window is shared memory,
 *   - PROT_WRITE on a read-only window (EACCES; mprotect too),
 *   - everything before the window is set (ENXIO).
 * The mapping is cached (write-back), like map 1 of the UIO device.
 *
 * gmmd keeps a copy of the descriptor and, when the section behind the
 * window goes (its memory lost, its node gone), revokes the window with
 * GMM_WINDOW_REVOKE: every mapping of it is torn down at once, a later
 * touch of such a mapping raises SIGBUS, mmap refuses with ENODEV and
 * GET shows GMM_WINDOW_REVOKED.  The bytes in the pool are not touched.
 */
/*
 * 2. The heartbeat device.
 *
 * /dev/gmm_heartbeat (mode 0600) lets the guest kernel keep the node's
 * heartbeat, so that no user-space load can starve it (docs/design.md,
 * "Threads of a node").  gmmd (CAP_SYS_ADMIN) opens it and, once it has
 * an incarnation, calls GMM_HEARTBEAT_START with its node id, incarnation
 * and the pool's heartbeat period.  From then on a kernel timer increments
 * the node slot's `heartbeat` and stores `heartbeat_ns` (CLOCK_REALTIME)
 * every period (common/include/gmm/pool_abi.h), and stops for good:
 *   - the moment the slot shows another incarnation or a state other than
 *     joining/member (the node was expelled, left, or joined again), and
 *   - when the file is released (gmmd exited or was killed): at once.
 * `progress` stays gmmd's own.  A new START on the same file replaces the
 * previous request (gmmd calls it again after every join).
 */
#ifndef _GMM_IVSHMEM_UAPI_H
#define _GMM_IVSHMEM_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define GMM_WINDOW_DEVICE	"/dev/gmm_window"

/* The window is writable through mappings (else read-only). */
#define GMM_WINDOW_WRITABLE	(1U << 0)
/* GET only: the window was revoked (nothing maps it any more). */
#define GMM_WINDOW_REVOKED	(1U << 1)

struct gmm_window_args {
	__u64 offset;		/* pool (BAR2) offset, page-aligned */
	__u64 length;		/* bytes, page-aligned, > 0, inside BAR2 */
	__u32 flags;		/* GMM_WINDOW_WRITABLE or 0; GET adds REVOKED */
	__u32 reserved;		/* must be 0 */
};

#define GMM_WINDOW_IOC_MAGIC	0xb7

/*
 * Set the window of this open file.  Errors: EPERM (the caller or the
 * opener lacks CAP_SYS_ADMIN), EBUSY (already set), EINVAL (unaligned,
 * empty, outside BAR2, unknown flags, reserved != 0), EBADF (writable
 * window on a descriptor opened read-only), EFAULT.
 */
#define GMM_WINDOW_SET	_IOW(GMM_WINDOW_IOC_MAGIC, 1, struct gmm_window_args)
/*
 * Read the window back (anyone), with GMM_WINDOW_REVOKED once revoked.
 * Errors: ENXIO (not set), EFAULT.
 */
#define GMM_WINDOW_GET	_IOR(GMM_WINDOW_IOC_MAGIC, 2, struct gmm_window_args)
/*
 * Revoke the window of this open file for good (gmm_ivshmem 0.4): zap the
 * page table entries of every mapping of it in every process; a later
 * touch of one raises SIGBUS, a later mmap fails with ENODEV.  Revoking
 * again does nothing.  No argument.  Errors: EPERM (the caller or the
 * opener lacks CAP_SYS_ADMIN), ENXIO (not set).
 */
#define GMM_WINDOW_REVOKE	_IO(GMM_WINDOW_IOC_MAGIC, 5)

#define GMM_HEARTBEAT_DEVICE	"/dev/gmm_heartbeat"

struct gmm_heartbeat_args {
	__u32 node;		/* node id: whose slot to beat */
	__u32 incarnation;	/* beat while the slot shows this incarnation */
	__u64 period_ns;	/* 1 ms .. 10 s */
};

struct gmm_heartbeat_status {
	__u32 node;		/* of the last START */
	__u32 incarnation;
	__u64 beats;		/* beats written since the last START */
	__u32 running;		/* 1 while the timer beats, 0 once it stopped */
	__u32 reserved;		/* 0 */
};

/*
 * Beat for (node, incarnation) every period_ns, starting now.  Errors:
 * EPERM (the caller or the opener lacks CAP_SYS_ADMIN), EINVAL (period out
 * of range, node not below the pool's node count), ENODEV (BAR2 holds no
 * formatted GMM pool), EPROTO (the pool's layout version is not
 * GMM_LAYOUT_VERSION), ESTALE (the slot does not show this incarnation
 * joining or member: nothing to beat for), ENOMEM, EFAULT.
 */
#define GMM_HEARTBEAT_START	_IOW(GMM_WINDOW_IOC_MAGIC, 3, struct gmm_heartbeat_args)
/* What the timer does (anyone holding the file).  Errors: EFAULT. */
#define GMM_HEARTBEAT_STATUS	_IOR(GMM_WINDOW_IOC_MAGIC, 4, struct gmm_heartbeat_status)

#endif /* _GMM_IVSHMEM_UAPI_H */
