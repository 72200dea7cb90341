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

#endif /* !_DEVRING_IOCTL_H_ */
