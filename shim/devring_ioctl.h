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

#endif /* !_DEVRING_IOCTL_H_ */
