// SPDX-License-Identifier: GPL-2.0
/*
 * uio-poke - poke the gmm_ivshmem UIO device from a shell (busybox has no
 * mmap tool).  Built static by build-image.sh and put into the initramfs.
 *
 *   uio-poke find                   print /dev/uioN of gmm_ivshmem
 *   uio-poke info                   device, IVPosition, map sizes, vectors
 *   uio-poke ivposition             IVPosition read through map 0 (BAR0)
 *   uio-poke read OFF               print the 64-bit word at pool offset OFF
 *   uio-poke write OFF VAL          store a 64-bit word at pool offset OFF
 *   uio-poke add OFF COUNT          COUNT atomic increments of the word
 *   uio-poke doorbell PEER VECTOR   ring PEER's VECTOR (Doorbell register)
 *   uio-poke wait [MS]              wait for an interrupt, print the count
 *   uio-poke hold MS                keep both maps mapped for MS ms (to
 *                                   look at /sys/kernel/debug/x86/pat_*)
 *
 * OFF, VAL: decimal or 0x-hex.  The device is found by its UIO name, or
 * given as UIO_DEV=/dev/uioN.  Exit status 0 on success, 1 on a failure,
 * 2 on a usage error, 3 when "wait" timed out.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DRIVER_NAME	"gmm_ivshmem"
#define MAP_REGS	0
#define MAP_SHMEM	1
/* BAR0 register offsets, named after QEMU's ivshmem-spec.rst */
#define IVSHMEM_IV_POSITION	0x08
#define IVSHMEM_DOORBELL	0x0c

struct map {
	void *base;	/* start of the device data (mapping + offset) */
	uint64_t size;	/* bytes of device data */
};

static char uio_name[256];	/* "uioN" */

static void die(const char *what)
{
	fprintf(stderr, "uio-poke: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int read_sysfs(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (!fgets(buf, (int)len, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A number from /sys/class/uio/uioN/<rel>. */
static uint64_t sysfs_u64(const char *rel)
{
	char path[384], buf[64];

	snprintf(path, sizeof(path), "/sys/class/uio/%s/%s", uio_name, rel);
	if (read_sysfs(path, buf, sizeof(buf)) != 0)
		die(path);
	return strtoull(buf, NULL, 0);
}

static uint64_t map_attr(int m, const char *attr)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "maps/map%d/%s", m, attr);
	return sysfs_u64(rel);
}

/* Sets uio_name; returns 0, or -1 if there is no gmm_ivshmem device. */
static int find_uio(void)
{
	const char *env = getenv("UIO_DEV");
	char path[300], buf[64];
	struct dirent *de;
	DIR *d;
	int found = -1;

	if (env && *env) {
		const char *slash = strrchr(env, '/');

		snprintf(uio_name, sizeof(uio_name), "%s", slash ? slash + 1 : env);
		return 0;
	}
	d = opendir("/sys/class/uio");
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "uio", 3) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/class/uio/%s/name", de->d_name);
		if (read_sysfs(path, buf, sizeof(buf)) == 0 &&
		    strcmp(buf, DRIVER_NAME) == 0) {
			snprintf(uio_name, sizeof(uio_name), "%s", de->d_name);
			found = 0;
			break;
		}
	}
	closedir(d);
	return found;
}

static int open_uio(void)
{
	char dev[300];
	int fd;

	snprintf(dev, sizeof(dev), "/dev/%s", uio_name);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die(dev);
	return fd;
}

/* Map M lives at mmap offset M * page size; data starts at its "offset". */
static struct map map_uio(int fd, int m)
{
	uint64_t size = map_attr(m, "size");
	uint64_t offs = map_attr(m, "offset");
	long page = sysconf(_SC_PAGESIZE);
	struct map map;
	char *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)m * page);
	if (p == MAP_FAILED)
		die("mmap");
	map.base = p + offs;
	map.size = size - offs;
	return map;
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "uio-poke: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

static volatile uint64_t *word(struct map *pool, const char *off_arg)
{
	uint64_t off = parse_u64(off_arg);

	if (off % 8 || off + 8 > pool->size) {
		fprintf(stderr, "uio-poke: offset %s not 8-aligned inside %" PRIu64 " bytes\n",
			off_arg, pool->size);
		exit(2);
	}
	return (volatile uint64_t *)((char *)pool->base + off);
}

static uint32_t reg_read(struct map *regs, unsigned int off)
{
	return *(volatile uint32_t *)((char *)regs->base + off);
}

static int usage(void)
{
	fprintf(stderr, "usage: uio-poke find|info|ivposition|read OFF|write OFF VAL|"
		"add OFF COUNT|doorbell PEER VECTOR|wait [MS]|hold MS\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	struct map regs, pool;
	int fd;

	if (argc < 2)
		return usage();
	if (find_uio() != 0) {
		fprintf(stderr, "uio-poke: no UIO device named %s (is the module loaded?)\n",
			DRIVER_NAME);
		return 1;
	}
	if (strcmp(cmd, "find") == 0) {
		printf("/dev/%s\n", uio_name);
		return 0;
	}
	fd = open_uio();

	if (strcmp(cmd, "info") == 0) {
		regs = map_uio(fd, MAP_REGS);
		printf("device /dev/%s\nivposition %d\nregisters %" PRIu64 " bytes\n"
		       "shmem %" PRIu64 " bytes\nvectors %" PRIu64 "\n",
		       uio_name, (int32_t)reg_read(&regs, IVSHMEM_IV_POSITION),
		       map_attr(MAP_REGS, "size"), map_attr(MAP_SHMEM, "size"),
		       sysfs_u64("device/vectors"));
	} else if (strcmp(cmd, "ivposition") == 0) {
		regs = map_uio(fd, MAP_REGS);
		printf("%d\n", (int32_t)reg_read(&regs, IVSHMEM_IV_POSITION));
	} else if (strcmp(cmd, "read") == 0 && argc == 3) {
		pool = map_uio(fd, MAP_SHMEM);
		printf("0x%016" PRIx64 "\n",
		       __atomic_load_n(word(&pool, argv[2]), __ATOMIC_ACQUIRE));
	} else if (strcmp(cmd, "write") == 0 && argc == 4) {
		pool = map_uio(fd, MAP_SHMEM);
		__atomic_store_n(word(&pool, argv[2]), parse_u64(argv[3]),
				 __ATOMIC_RELEASE);
	} else if (strcmp(cmd, "add") == 0 && argc == 4) {
		volatile uint64_t *w;
		uint64_t i, n = parse_u64(argv[3]);

		pool = map_uio(fd, MAP_SHMEM);
		w = word(&pool, argv[2]);
		for (i = 0; i < n; i++)
			__atomic_fetch_add(w, 1, __ATOMIC_RELAXED);
		printf("0x%016" PRIx64 "\n", __atomic_load_n(w, __ATOMIC_ACQUIRE));
	} else if (strcmp(cmd, "doorbell") == 0 && argc == 4) {
		uint32_t peer = (uint32_t)parse_u64(argv[2]);
		uint32_t vector = (uint32_t)parse_u64(argv[3]);

		regs = map_uio(fd, MAP_REGS);
		*(volatile uint32_t *)((char *)regs.base + IVSHMEM_DOORBELL) =
			peer << 16 | (vector & 0xffff);
	} else if (strcmp(cmd, "hold") == 0 && argc == 3) {
		regs = map_uio(fd, MAP_REGS);
		pool = map_uio(fd, MAP_SHMEM);
		usleep((useconds_t)parse_u64(argv[2]) * 1000);
	} else if (strcmp(cmd, "wait") == 0 && argc <= 3) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ms = argc == 3 ? (int)parse_u64(argv[2]) : -1;
		int32_t count;
		int r = poll(&pfd, 1, ms);

		if (r < 0)
			die("poll");
		if (r == 0) {
			fprintf(stderr, "uio-poke: no interrupt within %d ms\n", ms);
			return 3;
		}
		if (read(fd, &count, sizeof(count)) != sizeof(count))
			die("read (no interrupts on ivshmem-plain)");
		printf("%d\n", count);
	} else {
		return usage();
	}
	return 0;
}
