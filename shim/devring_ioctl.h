/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devring(4) ioctl interface, shared by the driver (rust/kernel/devring,
 * whose constants a host test compares with these), devbench and the tests.
 */

#ifndef _DEVRING_IOCTL_H_
#define	_DEVRING_IOCTL_H_

#include <sys/types.h>
#include <sys/ioccom.h>

#define	DEVRING_SLOTS		1024

/* Modes reported by DEVRING_IOC_INFO (devref device modes). */
#define	DEVRING_MODE_PCPU	0
#define	DEVRING_MODE_COUNTED	1

/* Device nodes devring.ko creates. */
#define	DEVRING_PATH_PCPU	"/dev/devring"
#define	DEVRING_PATH_COUNTED	"/dev/devring_counted"

struct devring_sync {
	uint32_t	head;	/* in: first slot not filled */
	uint32_t	tail;	/* out: first slot not consumed */
};

struct devring_info {
	uint32_t	version;
	uint32_t	slots;
	uint32_t	mode;
	uint32_t	pad;
	uint64_t	syncs;	/* SYNC calls on this open file */
};

#define	DEVRING_IOC_INFO	_IOR('R', 0, struct devring_info)
#define	DEVRING_IOC_SYNC	_IOWR('R', 1, struct devring_sync)
/*
 * Sleep inside the driver for the given number of milliseconds (through
 * devref_sleep(9)): returns 0 after the time, EINTR on a signal, ENXIO as
 * soon as the device is being destroyed.  For tests of destroy and unload.
 */
#define	DEVRING_IOC_SLEEP	_IOW('R', 2, uint32_t)

/*
 * Revocable memory (devref's managed pager), for tests of mmap(2).
 * DEVRING_IOC_REGION makes a device-wide region of `pages` pages (1 to
 * DEVRING_REGION_MAX_PAGES; writable by user space with
 * DEVRING_REGION_WRITABLE) and returns the mmap(2) offset of its first
 * byte in `cookie`.  DEVRING_IOC_SUM adds up the region's 32-bit words in
 * the kernel (what the kernel sees of what user space wrote).  The
 * regions go, every mapping revoked, when the device is destroyed.
 */
struct devring_region {
	uint32_t	pages;	/* in */
	uint32_t	flags;	/* in: DEVRING_REGION_WRITABLE */
	uint64_t	cookie;	/* out */
};

struct devring_sum {
	uint64_t	cookie;	/* in: a region's cookie */
	uint64_t	sum;	/* out: its 32-bit words, added (mod 2^64) */
};

#define	DEVRING_REGION_WRITABLE	0x1
#define	DEVRING_REGION_MAX_PAGES	256
#define	DEVRING_IOC_REGION	_IOWR('R', 3, struct devring_region)
#define	DEVRING_IOC_SUM		_IOWR('R', 4, struct devring_sum)

/*
 * Shared-memory rings (netmap-style; the layout of rust/ring, whose
 * assertions and host test compare it with this header).  Reserved for the
 * pipe ioctls, not served yet: no device maps these rings today, and the
 * byte offset of each ring in a pipe's region will come from the ioctl
 * that creates or opens the pipe (like netmap's NIOCREGIF nr_offset).
 *
 * A region holds end 0's TX and RX rings, end 1's TX and RX rings, then
 * the buffer pool.  Each ring is a struct devring_ring followed by its
 * num_slots struct devring_slot, the whole rounded up to
 * DEVRING_RING_ALIGN bytes; the buffers start on a DEVRING_RING_ALIGN
 * boundary, buf_size bytes each, buffer i at i * buf_size from there.  A
 * ring has DEVRING_RING_MIN_SLOTS to DEVRING_RING_MAX_SLOTS slots; buf_size
 * is a multiple of DEVRING_BUF_ALIGN, at most DEVRING_BUF_MAX.
 *
 * The netmap rules: user space owns the slots in [head, tail), the kernel
 * the rest.  User space hands slots over by moving head (and cur) forward,
 * the kernel hands them back by moving tail forward; every index user
 * space writes is checked by the kernel on each sync.
 */
#define	DEVRING_RING_ALIGN	4096
#define	DEVRING_RING_MIN_SLOTS	2
#define	DEVRING_RING_MAX_SLOTS	65536
#define	DEVRING_BUF_ALIGN	64
#define	DEVRING_BUF_MAX		4096

/* Values of struct devring_ring's dir. */
#define	DEVRING_RING_TX		0
#define	DEVRING_RING_RX		1

struct devring_ring {
	uint32_t	head;		/* first slot user space owns */
	uint32_t	cur;		/* wake up when here, in [head, tail] */
	uint32_t	tail;		/* first slot the kernel owns */
	uint32_t	num_slots;	/* slots in the ring (informational) */
	uint32_t	buf_size;	/* bytes per buffer (informational) */
	uint32_t	dir;		/* DEVRING_RING_TX or _RX */
	uint32_t	pad[2];
};

struct devring_slot {
	uint32_t	buf_idx;	/* buffer index in the pool */
	uint32_t	len;		/* bytes of data in the buffer */
};

#endif /* !_DEVRING_IOCTL_H_ */
