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
 * assertions and host test compare it with this header).  A pipe's region
 * holds end 0's TX and RX rings, end 1's TX and RX rings, then the buffer
 * pool; DEVRING_IOC_PIPE_BIND gives each ring's byte offset in it (like
 * netmap's NIOCREGIF nr_offset).
 *
 * Each ring is a struct devring_ring followed by its num_slots struct
 * devring_slot, the whole rounded up to DEVRING_RING_ALIGN bytes; the
 * buffers start on a DEVRING_RING_ALIGN boundary, buf_size bytes each,
 * buffer i at i * buf_size from there.  A ring has DEVRING_RING_MIN_SLOTS
 * to DEVRING_RING_MAX_SLOTS slots; buf_size is a multiple of
 * DEVRING_BUF_ALIGN, at most DEVRING_BUF_MAX.
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

/*
 * Pipes.  /dev/devringctl (root only, 0600) creates and destroys named
 * pipes: /dev/devring-pipe/<name>, one node with two ends.  An open file
 * binds one end with DEVRING_IOC_PIPE_BIND, maps the pipe's region at the
 * returned offset, and moves slots with DEVRING_IOC_TXSYNC (what its TX
 * ring holds goes to the other end's RX ring, buffer indices swapped, no
 * copy) and DEVRING_IOC_RXSYNC (what arrived is published).  read(2) and
 * write(2) move one packet (one slot) per call, as a datagram socket, for
 * clients that do not map the region (EMSGSIZE above buf_size; a short
 * read drops the rest of the packet).  poll(2), select(2) and kqueue(2)
 * sync the rings asked about, as netmap's poll does, and report POLLIN
 * when the RX ring has slots beyond cur, POLLOUT when the TX ring has free
 * slots beyond cur.  Only a file opened O_RDWR may bind an end.
 */
#define	DEVRING_PATH_CTL	"/dev/devringctl"
#define	DEVRING_PIPE_DIR	"/dev/devring-pipe/"
#define	DEVRING_PIPE_NAMELEN	32	/* with the NUL */
#define	DEVRING_PIPES_MAX	64

/* Defaults for a create request's zero fields. */
#define	DEVRING_PIPE_SLOTS	256
#define	DEVRING_PIPE_BUF_SIZE	2048
#define	DEVRING_PIPE_PERMS	0600
#define	DEVRING_PIPE_MAX_BYTES	(64UL << 20)	/* largest region */

struct devring_pipe_req {
	char		name[DEVRING_PIPE_NAMELEN]; /* in: [A-Za-z0-9._-]+ */
	uint32_t	mode;		/* in: DEVRING_MODE_PCPU or _COUNTED */
	uint32_t	uid;		/* in: owner of the node */
	uint32_t	gid;		/* in: group of the node */
	uint32_t	perms;		/* in: 0 (DEVRING_PIPE_PERMS) or <= 0777 */
	uint32_t	slots;		/* in: 0 (default), out: per ring */
	uint32_t	buf_size;	/* in: 0 (default), out: per buffer */
};

struct devring_pipe_bind {
	uint32_t	end;		/* in: 0 or 1 */
	uint32_t	slots;		/* out: slots per ring */
	uint32_t	buf_size;	/* out: bytes per buffer */
	uint32_t	buffers;	/* out: buffers in the pool */
	uint64_t	offset;		/* out: mmap(2) offset of the region */
	uint64_t	size;		/* out: bytes to map */
	uint64_t	tx_ofs;		/* out: this end's TX ring in the region */
	uint64_t	rx_ofs;		/* out: this end's RX ring in the region */
	uint64_t	buf_ofs;	/* out: buffer 0 in the region */
};

/* In struct devring_pipe_sync's flags: sleep until the ring is ready. */
#define	DEVRING_SYNC_WAIT	0x1

struct devring_pipe_sync {
	uint32_t	flags;		/* in: DEVRING_SYNC_WAIT */
	uint32_t	slots;		/* out: slots user space owns now */
	uint32_t	moved;		/* out: TX sent, RX newly arrived */
	uint32_t	pad;
};

#define	DEVRING_IOC_PIPE_CREATE	_IOWR('R', 8, struct devring_pipe_req)
#define	DEVRING_IOC_PIPE_DESTROY	_IOW('R', 9, struct devring_pipe_req)
#define	DEVRING_IOC_PIPE_BIND	_IOWR('R', 10, struct devring_pipe_bind)
#define	DEVRING_IOC_TXSYNC	_IOWR('R', 11, struct devring_pipe_sync)
#define	DEVRING_IOC_RXSYNC	_IOWR('R', 12, struct devring_pipe_sync)

#endif /* !_DEVRING_IOCTL_H_ */
