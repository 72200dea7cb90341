/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim serve: the wire format between the server (host/server.c) and
 * its clients (client/ksim_client.c, `kernsim ctl`).  One connection per
 * client thread, so that a call blocking in the simulated kernel blocks
 * only its own thread; the server runs each connection on a thread of its
 * own, a simulated thread.  Buffers are copied at the boundary, as the
 * kernel's copyin/copyout would.  Errors are FreeBSD errno values.
 */

#ifndef _KSIM_PROTO_H_
#define	_KSIM_PROTO_H_

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>

#define	KSIM_OP_HELLO		1	/* a[0] = pid, a[1] = the address space
					   a fork made for it (KSIM_OP_FORK),
					   0: none */
#define	KSIM_OP_OPEN		2	/* a[0] = FreeBSD oflags; path */
#define	KSIM_OP_CLOSE		3	/* a[0] = fd */
#define	KSIM_OP_IOCTL		4	/* a[0] = fd, a[1] = cmd, a[2] = int arg;
					   in: IOC_IN bytes; out: IOC_OUT bytes */
#define	KSIM_OP_READ		5	/* a[0] = fd, a[1] = len; out: data */
#define	KSIM_OP_WRITE		6	/* a[0] = fd; in: data */
#define	KSIM_OP_POLL		7	/* a[0] = n, a[1] = timeout ms;
					   in: n x {int32 fd, int16 events};
					   out: n x int16 revents */
#define	KSIM_OP_KLDLOAD		8	/* path */
#define	KSIM_OP_KLDUNLOAD	9	/* a[0] = fileid, a[1] = force */
#define	KSIM_OP_KLDFIND		10	/* name */
#define	KSIM_OP_FCNTL		11	/* a[0] = fd, a[1] = cmd, a[2] = arg */
#define	KSIM_OP_MMAP		12	/* a[0] = fd, a[1] = len, a[2] = prot,
					   a[3] = shared, a[4] = offset; out:
					   int64 {server pid, memory fd,
					   mapping, page offset, pages} */
#define	KSIM_OP_CMD		13	/* a kernsim script command line;
					   out: its output */
#define	KSIM_OP_SHUTDOWN	14
#define	KSIM_OP_KQUEUE		15
#define	KSIM_OP_KEVENT		16	/* a[0] = kq fd, a[1] = nchanges,
					   a[2] = nevents, a[3] = timeout ns
					   (-1: none); in: changes; out:
					   events (64-byte struct kevent) */
#define	KSIM_OP_MUNMAP		17	/* a[0] = mapping (KSIM_OP_MMAP) */
#define	KSIM_OP_FAULT		18	/* a[0] = mapping, a[1] = byte offset
					   from its first page, a[2] = write;
					   ret: KS_TOUCH_*; out: int64 the
					   page's offset in the memory file */
#define	KSIM_OP_MLOCK		19	/* a[0] = mapping */
#define	KSIM_OP_FORK		20	/* ret: the child's address space */
#define	KSIM_OP_VSFREE		21	/* a[0] = address space (fork failed) */
#define	KSIM_OP_SHOOTDOWN	22	/* this connection is the process's
					   shootdown channel: the server sends
					   struct ksim_shootdown, the client
					   answers one byte once its mapping
					   of that page is gone */
#define	KSIM_OP_REAPED		23	/* a[0] = pid: returns once the server
					   finished that process's exit */
#define	KSIM_OP_HOLD		24	/* a[0] = mapping, a[1] = byte offset
					   from its start, a[2] = length: a
					   kernel hold of those pages (a pipe's
					   direct write); ret: the hold */
#define	KSIM_OP_UNHOLD		25	/* a[0] = a hold (KSIM_OP_HOLD) */

struct ksim_shootdown {
	int64_t		mapid;
	int64_t		page;		/* index from the mapping's first */
};

struct ksim_req {
	uint32_t	op;
	uint32_t	len;		/* payload bytes that follow */
	int64_t		a[6];
};

struct ksim_rep {
	int64_t		ret;
	int32_t		err;		/* FreeBSD errno */
	uint32_t	len;		/* payload bytes that follow */
};

#define	KSIM_MAXPAYLOAD	(1024 * 1024)

/*
 * The whole buffer over the connection, or -1.  recv/send rather than
 * read/write: a client's read and write are wrapped (ksim_client.c), and
 * these must reach the socket itself on both sides.
 */
static inline int
ksim_recv_all(int s, void *buf, size_t len)
{
	char *p = buf;
	ssize_t r;

	while (len > 0) {
		r = recv(s, p, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return (-1);
		p += r;
		len -= (size_t)r;
	}
	return (0);
}

static inline int
ksim_send_all(int s, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t r;

	while (len > 0) {
		r = send(s, p, len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return (-1);
		p += r;
		len -= (size_t)r;
	}
	return (0);
}

#endif /* !_KSIM_PROTO_H_ */
