/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * gmm_ivshmem window device: the user-space interface.
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
 */
#ifndef _GMM_IVSHMEM_UAPI_H
#define _GMM_IVSHMEM_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define GMM_WINDOW_DEVICE	"/dev/gmm_window"

/* The window is writable through mappings (else read-only). */
#define GMM_WINDOW_WRITABLE	(1U << 0)

struct gmm_window_args {
	__u64 offset;		/* pool (BAR2) offset, page-aligned */
	__u64 length;		/* bytes, page-aligned, > 0, inside BAR2 */
	__u32 flags;		/* GMM_WINDOW_WRITABLE or 0 */
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
/* Read the window back (anyone).  Errors: ENXIO (not set), EFAULT. */
#define GMM_WINDOW_GET	_IOR(GMM_WINDOW_IOC_MAGIC, 2, struct gmm_window_args)

#endif /* _GMM_IVSHMEM_UAPI_H */
