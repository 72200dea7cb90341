/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devring_pipe_t: devring's pipes from user space, for devref_test (and
 * kernsim, which runs it unmodified).  Built by the test on FreeBSD:
 *
 *	cc -Wall -Werror -I$DEVREF_TOP/shim -o devring_pipe_t \
 *	    devring_pipe_t.c -lpthread
 *
 * Usage (exit 0 when every expectation holds, 1 otherwise, 2 on misuse):
 *	devring_pipe_t create NAME MODE [PERMS [SLOTS [BUFSIZE [UID GID]]]]
 *					make /dev/devring-pipe/NAME (MODE 0
 *					pcpu, 1 counted); prints "created
 *					slots=S buf_size=B" or the errno name
 *	devring_pipe_t destroy NAME	prints "destroyed" or the errno name
 *	devring_pipe_t ctl-errors	bad requests to /dev/devringctl
 *	devring_pipe_t bind-errors PATH	bad binds and syncs on a pipe
 *	devring_pipe_t send PATH COUNT BATCH [DIR]
 *	devring_pipe_t recv PATH COUNT wait|poll [DIR]
 *					end 0 sends COUNT packets, BATCH
 *					slots per TXSYNC; end 1 receives and
 *					checks them (blocking RXSYNC, or
 *					poll(2) then RXSYNC).  With DIR:
 *					DIR/<cmd>.ready once bound; recv
 *					makes DIR/progress after COUNT/4
 *					packets, and COUNT 0 means "until the
 *					device dies": then the end must be
 *					ENXIO from a sync or SIGBUS from a
 *					touch of the rings, nothing else
 *	devring_pipe_t rw PATH		read(2)/write(2) through both ends
 *	devring_pipe_t poll-sync PATH	poll(2) syncs as netmap's does: a
 *					receiver's poll gives back the slots
 *					it consumed, so the blocked sender's
 *					poll finds room
 *	devring_pipe_t kevent PATH DELAY clear|level [DIR]
 *					bind end 1, wait DELAY seconds, add an
 *					EVFILT_READ knote (EV_CLEAR or level),
 *					print "first kevent: N" (5 s wait);
 *					with DIR: DIR/kq.ready once added,
 *					then read the packet, DIR/kq.consumed,
 *					print "second kevent: N"
 *	devring_pipe_t unload-wait PATH DIR
 *					threads block in RXSYNC, read(2) and
 *					poll(2) on end 1; DIR/ready; the test
 *					kldunloads devring: ENXIO, ENXIO,
 *					POLLHUP; once DIR/unloaded exists
 *					(kldunload returned: the revocation
 *					comes after the wakeups) the mapping
 *					is SIGBUS (BUS_OBJERR); the fd's
 *					answers are a dead device's
 */

#include <sys/param.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devring_ioctl.h"

/* A command the pipe node does not know. */
#define	PIPE_T_IOC_UNKNOWN	_IOWR('R', 99, uint32_t)

struct end {
	int			 fd;
	struct devring_pipe_bind b;
	char			*mem;
	struct devring_ring	*tx;
	struct devring_ring	*rx;
};

static int failures;
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_code;

static const char *
errname(int e)
{
	static char buf[32];

	switch (e) {
	case 0: return ("0");
	case EINVAL: return ("EINVAL");
	case EBUSY: return ("EBUSY");
	case EEXIST: return ("EEXIST");
	case ENOENT: return ("ENOENT");
	case ENOSPC: return ("ENOSPC");
	case ENOTTY: return ("ENOTTY");
	case ENXIO: return ("ENXIO");
	case EIO: return ("EIO");
	case EAGAIN: return ("EAGAIN");
	case EACCES: return ("EACCES");
	case EPERM: return ("EPERM");
	case EBADF: return ("EBADF");
	case EMSGSIZE: return ("EMSGSIZE");
	case EINTR: return ("EINTR");
	}
	snprintf(buf, sizeof(buf), "errno %d", e);
	return (buf);
}

static void
expect(const char *what, int got, int want)
{

	if (got == want)
		return;
	printf("FAIL %s: %s, want %s\n", what, errname(got), errname(want));
	failures++;
}

static int
ioc(int fd, unsigned long cmd, void *arg)
{

	return (ioctl(fd, cmd, arg) == 0 ? 0 : errno);
}

static int
ctl_open(void)
{
	int fd;

	fd = open(DEVRING_PATH_CTL, O_RDWR);
	if (fd < 0)
		err(1, "%s", DEVRING_PATH_CTL);
	return (fd);
}

static void
req_init(struct devring_pipe_req *r, const char *name, uint32_t mode)
{

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->mode = mode;
}

static int
cmd_create(int argc, char **argv)
{
	struct devring_pipe_req r;
	int e, fd;

	req_init(&r, argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
	if (argc > 4)
		r.perms = (uint32_t)strtoul(argv[4], NULL, 8);
	if (argc > 5)
		r.slots = (uint32_t)strtoul(argv[5], NULL, 0);
	if (argc > 6)
		r.buf_size = (uint32_t)strtoul(argv[6], NULL, 0);
	if (argc > 8) {
		r.uid = (uint32_t)strtoul(argv[7], NULL, 0);
		r.gid = (uint32_t)strtoul(argv[8], NULL, 0);
	}
	fd = ctl_open();
	e = ioc(fd, DEVRING_IOC_PIPE_CREATE, &r);
	if (e == 0)
		printf("created slots=%u buf_size=%u\n", r.slots, r.buf_size);
	else
		printf("%s\n", errname(e));
	close(fd);
	return (e != 0);
}

static int
cmd_destroy(const char *name)
{
	struct devring_pipe_req r;
	int e, fd;

	req_init(&r, name, 0);
	fd = ctl_open();
	e = ioc(fd, DEVRING_IOC_PIPE_DESTROY, &r);
	printf("%s\n", e == 0 ? "destroyed" : errname(e));
	close(fd);
	return (e != 0);
}

static int
cmd_ctl_errors(void)
{
	struct devring_pipe_req r;
	uint32_t u = 0;
	int fd;

	fd = ctl_open();
	req_init(&r, "", 0);
	expect("empty name", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "a/b", 0);
	expect("name with /", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "..", 0);
	expect("name ..", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "x", 0);
	memset(r.name, 'x', sizeof(r.name));
	expect("name without NUL", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r),
	    EINVAL);
	req_init(&r, "t_err", 2);
	expect("mode 2", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "t_err", 0);
	r.perms = 01600;
	expect("perms 01600", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "t_err", 0);
	r.slots = 1;
	expect("1 slot", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "t_err", 0);
	r.buf_size = 100;
	expect("buf_size 100", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "t_err", 0);
	r.slots = DEVRING_RING_MAX_SLOTS;
	r.buf_size = DEVRING_BUF_MAX;
	expect("a 1 GiB pipe", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EINVAL);
	req_init(&r, "t_err", 0);
	expect("destroy of no pipe", ioc(fd, DEVRING_IOC_PIPE_DESTROY, &r),
	    ENOENT);
	expect("unknown ioctl", ioc(fd, PIPE_T_IOC_UNKNOWN, &u), ENOTTY);
	req_init(&r, "t_err", 1);
	expect("create", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), 0);
	if (r.slots != DEVRING_PIPE_SLOTS || r.buf_size != DEVRING_PIPE_BUF_SIZE) {
		printf("FAIL defaults: slots %u buf_size %u\n", r.slots,
		    r.buf_size);
		failures++;
	}
	req_init(&r, "t_err", 1);
	expect("create twice", ioc(fd, DEVRING_IOC_PIPE_CREATE, &r), EEXIST);
	expect("destroy", ioc(fd, DEVRING_IOC_PIPE_DESTROY, &r), 0);
	expect("destroy twice", ioc(fd, DEVRING_IOC_PIPE_DESTROY, &r), ENOENT);
	close(fd);
	if (failures == 0)
		printf("ctl-errors: ok\n");
	return (failures != 0);
}

static int
bind_end(struct end *e, const char *path, uint32_t which)
{
	int r;

	memset(e, 0, sizeof(*e));
	e->fd = open(path, O_RDWR);
	if (e->fd < 0)
		err(1, "%s", path);
	e->b.end = which;
	if ((r = ioc(e->fd, DEVRING_IOC_PIPE_BIND, &e->b)) != 0)
		return (r);
	e->mem = mmap(NULL, e->b.size, PROT_READ | PROT_WRITE, MAP_SHARED,
	    e->fd, (off_t)e->b.offset);
	if (e->mem == MAP_FAILED)
		err(1, "mmap %s", path);
	e->tx = (struct devring_ring *)(void *)(e->mem + e->b.tx_ofs);
	e->rx = (struct devring_ring *)(void *)(e->mem + e->b.rx_ofs);
	return (0);
}

static struct devring_slot *
slot(struct devring_ring *r, uint32_t i)
{

	return ((struct devring_slot *)(void *)(r + 1) + i);
}

static char *
buf(struct end *e, uint32_t idx)
{

	return (e->mem + e->b.buf_ofs + (size_t)idx * e->b.buf_size);
}

static int
sync_e(struct end *e, unsigned long cmd, uint32_t flags,
    struct devring_pipe_sync *s)
{

	memset(s, 0, sizeof(*s));
	s->flags = flags;
	return (ioc(e->fd, cmd, s));
}

static int
cmd_bind_errors(const char *path)
{
	struct devring_pipe_sync s;
	struct devring_pipe_bind b;
	struct end e0, e1, e2;
	struct pollfd pfd;
	uint32_t head;

	memset(&b, 0, sizeof(b));
	/* An end sends and receives: a read-only file cannot bind one. */
	e0.fd = open(path, O_RDONLY);
	if (e0.fd < 0)
		err(1, "%s", path);
	expect("bind from a read-only file", ioc(e0.fd, DEVRING_IOC_PIPE_BIND,
	    &b), EBADF);
	close(e0.fd);
	expect("bind end 2", bind_end(&e0, path, 2), EINVAL);
	expect("TXSYNC unbound", sync_e(&e0, DEVRING_IOC_TXSYNC, 0, &s),
	    EINVAL);
	pfd.fd = e0.fd;
	pfd.events = POLLIN | POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLERR) == 0) {
		printf("FAIL poll unbound: revents %#x, want POLLERR\n",
		    pfd.revents);
		failures++;
	}
	close(e0.fd);
	expect("bind end 0", bind_end(&e0, path, 0), 0);
	b.end = 1;
	expect("bind a bound file", ioc(e0.fd, DEVRING_IOC_PIPE_BIND, &b),
	    EBUSY);
	expect("bind a taken end", bind_end(&e1, path, 0), EBUSY);
	close(e1.fd);
	expect("bind end 1", bind_end(&e1, path, 1), 0);
	expect("TXSYNC flags 2", sync_e(&e0, DEVRING_IOC_TXSYNC, 2, &s),
	    EINVAL);
	expect("TXSYNC", sync_e(&e0, DEVRING_IOC_TXSYNC, 0, &s), 0);
	if (s.slots != e0.b.slots - 1) {
		printf("FAIL free TX slots %u, want %u\n", s.slots,
		    e0.b.slots - 1);
		failures++;
	}
	expect("unknown ioctl", ioc(e0.fd, PIPE_T_IOC_UNKNOWN, &head), ENOTTY);
	/* A head out of range: EINVAL, and the ring is the kernel's again. */
	head = e0.tx->head;
	e0.tx->head = e0.b.slots + 5;
	expect("head out of range", sync_e(&e0, DEVRING_IOC_TXSYNC, 0, &s),
	    EINVAL);
	if (e0.tx->head != head) {
		printf("FAIL head after reset: %u, want %u\n", e0.tx->head,
		    head);
		failures++;
	}
	/* A head moved backwards on RX (past the kernel's tail). */
	e1.rx->head = e1.b.slots - 1;
	expect("RX head past tail", sync_e(&e1, DEVRING_IOC_RXSYNC, 0, &s),
	    EINVAL);
	/* A buffer index out of the pool: EINVAL, not sent. */
	slot(e0.tx, e0.tx->head)->buf_idx = e0.b.buffers;
	e0.tx->head = e0.tx->cur = (e0.tx->head + 1) % e0.b.slots;
	expect("bad buffer index", sync_e(&e0, DEVRING_IOC_TXSYNC, 0, &s),
	    EINVAL);
	expect("RXSYNC", sync_e(&e1, DEVRING_IOC_RXSYNC, 0, &s), 0);
	if (s.slots != 0) {
		printf("FAIL a bad slot arrived (%u slots)\n", s.slots);
		failures++;
	}
	/* Closing a bound file frees its end. */
	munmap(e0.mem, e0.b.size);
	close(e0.fd);
	expect("bind the freed end", bind_end(&e2, path, 0), 0);
	munmap(e1.mem, e1.b.size);
	munmap(e2.mem, e2.b.size);
	close(e1.fd);
	close(e2.fd);
	if (failures == 0)
		printf("bind-errors: ok\n");
	return (failures != 0);
}

static void
on_sigbus(int sig __unused, siginfo_t *si, void *uc __unused)
{

	bus_code = si->si_code;
	siglongjmp(bus_jmp, 1);
}

static void
catch_sigbus(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
}

/* Wait (up to a minute) for file `dir`/`name` to exist. */
static void
wait_for_file(const char *dir, const char *name)
{
	char p[1024];
	int i;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	for (i = 0; i < 600; i++) {
		if (access(p, F_OK) == 0)
			return;
		usleep(100000);
	}
	errx(1, "%s did not appear", p);
}

static void
make_file(const char *dir, const char *name)
{
	char p[1024];
	int fd;

	if (dir == NULL)
		return;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		err(1, "%s", p);
	close(fd);
}

/* Packet `seq`: its length and the byte at offset i. */
static uint32_t
pkt_len(uint64_t seq, uint32_t buf_size)
{

	return (8 + (uint32_t)(seq * 37 % (buf_size - 8)));
}

static char
pkt_byte(uint64_t seq, uint32_t i)
{

	return ((char)(seq * 7 + i));
}

/*
 * How an end finished: 0 done, 1 a failure (printed), 2 the device died
 * (ENXIO from a sync, or SIGBUS BUS_OBJERR on a touch).
 */
static int
died(const char *who, int e)
{

	if (e == ENXIO) {
		printf("%s: ENXIO\n", who);
		return (2);
	}
	printf("FAIL %s: %s\n", who, errname(e));
	failures++;
	return (1);
}

static int
cmd_send(const char *path, uint64_t count, uint32_t batch, const char *dir)
{
	struct devring_pipe_sync s;
	struct devring_slot *sl;
	struct end e;
	static uint64_t seq;	/* static: kept across siglongjmp */
	uint32_t i, len, n;
	int r;

	if ((r = bind_end(&e, path, 0)) != 0)
		errx(1, "bind end 0: %s", errname(r));
	catch_sigbus();
	if (sigsetjmp(bus_jmp, 1) != 0) {
		printf("send: SIGBUS %s after %ju\n", bus_code == BUS_OBJERR ?
		    "BUS_OBJERR" : "(another code)", (uintmax_t)seq);
		return (bus_code == BUS_OBJERR && count == 0 ? 0 : 1);
	}
	make_file(dir, "send.ready");
	seq = 0;
	for (; count == 0 || seq < count;) {
		n = 0;
		while (n < batch && e.tx->head != e.tx->tail &&
		    (count == 0 || seq < count)) {
			sl = slot(e.tx, e.tx->head);
			len = pkt_len(seq, e.b.buf_size);
			memcpy(buf(&e, sl->buf_idx), &seq, 8);
			for (i = 8; i < len; i++)
				buf(&e, sl->buf_idx)[i] = pkt_byte(seq, i);
			sl->len = len;
			e.tx->head = e.tx->cur = (e.tx->head + 1) %
			    e.b.slots;
			seq++;
			n++;
		}
		r = sync_e(&e, DEVRING_IOC_TXSYNC, n == 0 ? DEVRING_SYNC_WAIT :
		    0, &s);
		if (r != 0)
			return (died("send", r) == 2 && count == 0 ? 0 : 1);
	}
	/* Wait until the peer took everything (tail back at head - 1). */
	while (e.tx->tail != (e.tx->head + e.b.slots - 1) % e.b.slots) {
		e.tx->cur = e.tx->tail;
		r = sync_e(&e, DEVRING_IOC_TXSYNC, DEVRING_SYNC_WAIT, &s);
		if (r != 0)
			return (died("send", r) == 2 && count == 0 ? 0 : 1);
	}
	printf("send: sent %ju\n", (uintmax_t)seq);
	return (failures != 0);
}

static int
cmd_recv(const char *path, uint64_t count, bool use_poll, const char *dir)
{
	struct devring_pipe_sync s;
	struct devring_slot *sl;
	struct pollfd pfd;
	struct end e;
	static uint64_t seq;	/* static: kept across siglongjmp */
	uint64_t got;
	uint32_t i, len;
	int r;
	bool progress = false;

	if ((r = bind_end(&e, path, 1)) != 0)
		errx(1, "bind end 1: %s", errname(r));
	catch_sigbus();
	seq = 0;
	if (sigsetjmp(bus_jmp, 1) != 0) {
		printf("recv: SIGBUS %s after %ju\n", bus_code == BUS_OBJERR ?
		    "BUS_OBJERR" : "(another code)", (uintmax_t)seq);
		return (bus_code == BUS_OBJERR && count == 0 &&
		    failures == 0 ? 0 : 1);
	}
	make_file(dir, "recv.ready");
	while (count == 0 || seq < count) {
		if (use_poll) {
			pfd.fd = e.fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (poll(&pfd, 1, 30000) != 1) {
				printf("FAIL recv: poll timed out after %ju\n",
				    (uintmax_t)seq);
				return (1);
			}
			if ((pfd.revents & POLLHUP) != 0) {
				printf("recv: POLLHUP\n");
				return (count == 0 && failures == 0 ? 0 : 1);
			}
			r = sync_e(&e, DEVRING_IOC_RXSYNC, 0, &s);
		} else
			r = sync_e(&e, DEVRING_IOC_RXSYNC, DEVRING_SYNC_WAIT,
			    &s);
		if (r != 0)
			return (died("recv", r) == 2 && count == 0 &&
			    failures == 0 ? 0 : 1);
		for (; e.rx->head != e.rx->tail; seq++) {
			sl = slot(e.rx, e.rx->head);
			len = pkt_len(seq, e.b.buf_size);
			memcpy(&got, buf(&e, sl->buf_idx), 8);
			if (sl->len != len || got != seq) {
				printf("FAIL recv: packet %ju: seq %ju len %u "
				    "(want %u)\n", (uintmax_t)seq,
				    (uintmax_t)got, sl->len, len);
				return (1);
			}
			for (i = 8; i < len; i++)
				if (buf(&e, sl->buf_idx)[i] !=
				    pkt_byte(seq, i)) {
					printf("FAIL recv: packet %ju byte "
					    "%u\n", (uintmax_t)seq, i);
					return (1);
				}
			e.rx->head = e.rx->cur = (e.rx->head + 1) % e.b.slots;
		}
		if (!progress && seq >= (count == 0 ? 4096 : count / 4)) {
			make_file(dir, "progress");
			progress = true;
		}
	}
	sync_e(&e, DEVRING_IOC_RXSYNC, 0, &s);
	printf("recv: received %ju in order\n", (uintmax_t)seq);
	return (failures != 0);
}

static int
cmd_rw(const char *path)
{
	struct end e0, e1;
	char out[5000], in[5000];
	ssize_t n;
	size_t i;
	uint32_t k;

	if (bind_end(&e0, path, 0) != 0 || bind_end(&e1, path, 1) != 0)
		errx(1, "bind");
	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 13);
	/* One packet per write, at most buf_size bytes (a datagram). */
	n = write(e0.fd, out, 5);
	expect("write 5", n == 5 ? 0 : errno, 0);
	n = write(e0.fd, out, e0.b.buf_size + 1);
	expect("write buf_size + 1", n < 0 ? errno : 0, EMSGSIZE);
	n = write(e0.fd, out, e0.b.buf_size);
	expect("write buf_size", n == (ssize_t)e0.b.buf_size ? 0 : errno, 0);
	n = write(e0.fd, out + e0.b.buf_size, 100);
	expect("write 100", n == 100 ? 0 : errno, 0);
	n = read(e1.fd, in, sizeof(in));
	if (n != 5 || memcmp(in, out, 5) != 0) {
		printf("FAIL read 1: %zd\n", n);
		failures++;
	}
	n = read(e1.fd, in, sizeof(in));
	if (n != (ssize_t)e0.b.buf_size || memcmp(in, out, n) != 0) {
		printf("FAIL read 2: %zd, want %u\n", n, e0.b.buf_size);
		failures++;
	}
	/* A short read truncates the packet (the rest is dropped). */
	n = read(e1.fd, in, 10);
	if (n != 10 || memcmp(in, out + e0.b.buf_size, 10) != 0) {
		printf("FAIL short read: %zd\n", n);
		failures++;
	}
	if (fcntl(e1.fd, F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(e0.fd, F_SETFL, O_NONBLOCK) != 0)
		err(1, "fcntl");
	n = read(e1.fd, in, sizeof(in));
	expect("read of an empty ring", n < 0 ? errno : 0, EAGAIN);
	/* write(2) sends at once: the peer's RX ring holds slots - 1. */
	for (k = 0; k < 2 * e0.b.slots; k++)
		if (write(e0.fd, out, 1) != 1)
			break;
	expect("write to a full pipe", errno, EAGAIN);
	if (k != e0.b.slots - 1) {
		printf("FAIL a full pipe took %u packets, want %u\n", k,
		    e0.b.slots - 1);
		failures++;
	}
	for (i = 0; i < k; i++)
		if (read(e1.fd, in, sizeof(in)) != 1) {
			printf("FAIL read %zu of %u: %s\n", i, k,
			    errname(errno));
			failures++;
			break;
		}
	munmap(e0.mem, e0.b.size);
	munmap(e1.mem, e1.b.size);
	close(e0.fd);
	close(e1.fd);
	if (failures == 0)
		printf("rw: ok\n");
	return (failures != 0);
}

/* Fill end e's TX ring with k packets of 1 byte, TXSYNC; slots moved. */
static uint32_t
send_k(struct end *e, uint32_t k)
{
	struct devring_pipe_sync s;
	uint32_t i;

	for (i = 0; i < k && e->tx->head != e->tx->tail; i++) {
		slot(e->tx, e->tx->head)->len = 1;
		e->tx->head = e->tx->cur = (e->tx->head + 1) % e->b.slots;
	}
	expect("TXSYNC", sync_e(e, DEVRING_IOC_TXSYNC, 0, &s), 0);
	return (s.moved);
}

static int
poll1(int fd, short events)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = events;
	pfd.revents = 0;
	return (poll(&pfd, 1, 0) == 1 ? pfd.revents : 0);
}

static int
cmd_poll_sync(const char *path)
{
	struct devring_pipe_sync s;
	struct end e0, e1;
	uint32_t n;

	if (bind_end(&e0, path, 0) != 0 || bind_end(&e1, path, 1) != 0)
		errx(1, "bind");
	n = e0.b.slots - 1;
	/* The receiver's RX ring full, as many more pending in TX. */
	if (send_k(&e0, n) != n || send_k(&e0, n) != 0) {
		printf("FAIL filling the pipe\n");
		failures++;
	}
	if ((poll1(e0.fd, POLLOUT) & POLLOUT) != 0) {
		printf("FAIL POLLOUT on a full pipe\n");
		failures++;
	}
	if ((poll1(e1.fd, POLLIN) & POLLIN) == 0) {
		printf("FAIL no POLLIN on a full RX ring\n");
		failures++;
	}
	/* The receiver takes everything (no sync): head = cur = tail. */
	expect("RXSYNC", sync_e(&e1, DEVRING_IOC_RXSYNC, 0, &s), 0);
	if (s.slots != n) {
		printf("FAIL %u slots arrived, want %u\n", s.slots, n);
		failures++;
	}
	e1.rx->head = e1.rx->cur = e1.rx->tail;
	/* Its poll finds nothing new, but gives the slots back... */
	if ((poll1(e1.fd, POLLIN) & POLLIN) != 0) {
		printf("FAIL POLLIN with nothing new\n");
		failures++;
	}
	/* ...so the sender's poll moves its pending slots and has room. */
	if ((poll1(e0.fd, POLLOUT) & POLLOUT) == 0) {
		printf("FAIL no POLLOUT after the receiver's poll released "
		    "its slots\n");
		failures++;
	}
	if ((poll1(e1.fd, POLLIN) & POLLIN) == 0) {
		printf("FAIL the pending slots did not arrive\n");
		failures++;
	}
	/* Leave the pipe empty: the rings keep their state across binds. */
	expect("RXSYNC", sync_e(&e1, DEVRING_IOC_RXSYNC, 0, &s), 0);
	e1.rx->head = e1.rx->cur = e1.rx->tail;
	expect("RXSYNC", sync_e(&e1, DEVRING_IOC_RXSYNC, 0, &s), 0);
	munmap(e0.mem, e0.b.size);
	munmap(e1.mem, e1.b.size);
	close(e0.fd);
	close(e1.fd);
	if (failures == 0)
		printf("poll-sync: ok\n");
	return (failures != 0);
}

static int
cmd_kevent(const char *path, const char *delay, bool clear, const char *dir)
{
	struct devring_pipe_bind pb;
	struct timespec ts = { 5, 0 };
	struct kevent ch, res;
	char b[4096];
	int fd, kq, n;

	if ((fd = open(path, O_RDWR)) < 0)
		err(1, "%s", path);
	memset(&pb, 0, sizeof(pb));
	pb.end = 1;
	if (ioctl(fd, DEVRING_IOC_PIPE_BIND, &pb) != 0)
		err(1, "bind");
	sleep((unsigned)strtoul(delay, NULL, 0));
	if ((kq = kqueue()) < 0)
		err(1, "kqueue");
	EV_SET(&ch, fd, EVFILT_READ, EV_ADD | (clear ? EV_CLEAR : 0), 0, 0,
	    0);
	if (kevent(kq, &ch, 1, NULL, 0, NULL) != 0)
		err(1, "kevent add");
	make_file(dir, "kq.ready");
	n = kevent(kq, NULL, 0, &res, 1, &ts);
	printf("first kevent: %d\n", n);
	if (dir == NULL)
		return (0);
	/* Consume the packet: the ring is empty again. */
	printf("read: %zd\n", read(fd, b, sizeof(b)));
	make_file(dir, "kq.consumed");
	n = kevent(kq, NULL, 0, &res, 1, &ts);
	printf("second kevent: %d\n", n);
	return (0);
}

struct waiter {
	struct end	*e;
	int		 kind;	/* 0 RXSYNC, 1 read, 2 poll */
	int		 result;
	pthread_t	 t;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct devring_pipe_sync s;
	struct pollfd pfd;
	char b[64];

	switch (w->kind) {
	case 0:
		w->result = sync_e(w->e, DEVRING_IOC_RXSYNC,
		    DEVRING_SYNC_WAIT, &s);
		break;
	case 1:
		w->result = read(w->e->fd, b, sizeof(b)) < 0 ? errno : 0;
		break;
	default:
		pfd.fd = w->e->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		w->result = poll(&pfd, 1, 60000) == 1 ? pfd.revents : -1;
	}
	return (NULL);
}

static int
cmd_unload_wait(const char *path, const char *dir)
{
	struct devring_pipe_sync s;
	struct waiter w[3];
	struct pollfd pfd;
	struct end e;
	volatile uint32_t *p;
	char b[8];
	int i, r;

	if ((r = bind_end(&e, path, 1)) != 0)
		errx(1, "bind end 1: %s", errname(r));
	for (i = 0; i < 3; i++) {
		w[i].e = &e;
		w[i].kind = i;
		w[i].result = -2;
		if (pthread_create(&w[i].t, NULL, waiter_main, &w[i]) != 0)
			errx(1, "pthread_create");
	}
	usleep(200000);
	make_file(dir, "ready");
	for (i = 0; i < 3; i++)
		pthread_join(w[i].t, NULL);
	expect("blocked RXSYNC after the unload", w[0].result, ENXIO);
	expect("blocked read after the unload", w[1].result, ENXIO);
	if (w[2].result < 0 || (w[2].result & POLLHUP) == 0) {
		printf("FAIL blocked poll after the unload: %#x, want "
		    "POLLHUP\n", w[2].result);
		failures++;
	}
	/*
	 * The mapping was revoked by the time kldunload returned (sleepers
	 * are woken first): a touch is SIGBUS (BUS_OBJERR).
	 */
	wait_for_file(dir, "unloaded");
	catch_sigbus();
	bus_code = 0;
	p = (volatile uint32_t *)(void *)e.rx;
	if (sigsetjmp(bus_jmp, 1) == 0) {
		(void)*p;
		printf("FAIL a touch of the revoked rings did not fault\n");
		failures++;
	} else if (bus_code != BUS_OBJERR) {
		printf("FAIL SIGBUS code %d, want BUS_OBJERR\n", (int)bus_code);
		failures++;
	}
	/* The fd is a dead device's: ioctl ENXIO, read EIO, poll POLLHUP. */
	expect("TXSYNC on the dead fd", sync_e(&e, DEVRING_IOC_TXSYNC, 0, &s),
	    ENXIO);
	expect("read on the dead fd", read(e.fd, b, sizeof(b)) < 0 ? errno :
	    0, EIO);
	expect("write on the dead fd", write(e.fd, b, sizeof(b)) < 0 ? errno :
	    0, EIO);
	pfd.fd = e.fd;
	pfd.events = POLLIN | POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLHUP) == 0) {
		printf("FAIL poll on the dead fd: %#x\n", pfd.revents);
		failures++;
	}
	munmap(e.mem, e.b.size);
	close(e.fd);
	if (failures == 0)
		printf("unload-wait: ok\n");
	return (failures != 0);
}

static void
usage(void)
{

	fprintf(stderr, "usage: devring_pipe_t create NAME MODE [PERMS [SLOTS "
	    "[BUFSIZE [UID GID]]]]\n       devring_pipe_t destroy NAME\n"
	    "       devring_pipe_t ctl-errors\n"
	    "       devring_pipe_t bind-errors|rw|poll-sync PATH\n"
	    "       devring_pipe_t send PATH COUNT BATCH [DIR]\n"
	    "       devring_pipe_t recv PATH COUNT wait|poll [DIR]\n"
	    "       devring_pipe_t kevent PATH DELAY clear|level [DIR]\n"
	    "       devring_pipe_t unload-wait PATH DIR\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	uint32_t batch;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "create") == 0 && argc >= 4 && argc <= 9 &&
	    argc != 8)
		return (cmd_create(argc, argv));
	if (strcmp(argv[1], "destroy") == 0 && argc == 3)
		return (cmd_destroy(argv[2]));
	if (strcmp(argv[1], "ctl-errors") == 0)
		return (cmd_ctl_errors());
	if (strcmp(argv[1], "bind-errors") == 0 && argc == 3)
		return (cmd_bind_errors(argv[2]));
	if (strcmp(argv[1], "rw") == 0 && argc == 3)
		return (cmd_rw(argv[2]));
	if (strcmp(argv[1], "poll-sync") == 0 && argc == 3)
		return (cmd_poll_sync(argv[2]));
	if (strcmp(argv[1], "send") == 0 && (argc == 5 || argc == 6)) {
		batch = (uint32_t)strtoul(argv[4], NULL, 0);
		if (batch == 0)
			usage();
		return (cmd_send(argv[2], strtoull(argv[3], NULL, 0), batch,
		    argc == 6 ? argv[5] : NULL));
	}
	if (strcmp(argv[1], "recv") == 0 && (argc == 5 || argc == 6))
		return (cmd_recv(argv[2], strtoull(argv[3], NULL, 0),
		    strcmp(argv[4], "poll") == 0, argc == 6 ? argv[5] : NULL));
	if (strcmp(argv[1], "kevent") == 0 && (argc == 5 || argc == 6))
		return (cmd_kevent(argv[2], argv[3], strcmp(argv[4], "clear") == 0,
		    argc == 6 ? argv[5] : NULL));
	if (strcmp(argv[1], "unload-wait") == 0 && argc == 4)
		return (cmd_unload_wait(argv[2], argv[3]));
	usage();
	return (2);
}
