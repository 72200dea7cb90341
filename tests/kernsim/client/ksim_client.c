/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim client: links into a FreeBSD test program built on Linux
 * (tests/sys/devref/devring_t.c, unmodified) and routes its system calls on
 * /dev nodes to a `kernsim serve` process ($KSIM_SOCKET):
 *
 *	cc -Itests/kernsim/compat -Ishim devring_t.c ksim_client.c \
 *	    -Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=read \
 *	    -Wl,--wrap=write,--wrap=poll,--wrap=mmap,--wrap=fcntl \
 *	    -Wl,--wrap=munmap -lpthread
 *
 * Everything else goes to Linux (__real_*).  kldload/kldunload/kldfind
 * and kqueue/kevent are provided here.  Flags are
 * translated to FreeBSD's on the way in, errno values to Linux's on the way
 * out.  One connection per thread: a call that blocks in the simulated
 * kernel blocks only its thread.
 */

#define	_GNU_SOURCE	1	/* O_DIRECT */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../host/proto.h"

int	__real_open(const char *, int, ...);
int	__real_close(int);
int	__real_ioctl(int, unsigned long, ...);
ssize_t	__real_read(int, void *, size_t);
ssize_t	__real_write(int, const void *, size_t);
int	__real_poll(struct pollfd *, nfds_t, int);
void	*__real_mmap(void *, size_t, int, int, int, off_t);
int	__real_munmap(void *, size_t);
int	__real_fcntl(int, int, ...);

#define	FD_BASE		1000
#define	NFDS		1024

static unsigned char ksim_fds[NFDS];	/* 1: a kernsim descriptor */
static __thread int conn = -1;

static int
is_ksim(int fd)
{

	return (fd >= FD_BASE && fd < FD_BASE + NFDS &&
	    __atomic_load_n(&ksim_fds[fd - FD_BASE], __ATOMIC_ACQUIRE));
}

/* FreeBSD errno -> Linux errno (identical below 35 but EDEADLK). */
static int
fb2linux(int e)
{

	switch (e) {
	case 11: return (EDEADLK);
	case 35: return (EAGAIN);
	case 36: return (EINPROGRESS);
	case 45: return (EOPNOTSUPP);
	case 60: return (ETIMEDOUT);
	case 66: return (ENOTEMPTY);
	case 78: return (ENOSYS);
	case -1: return (EINTR);	/* ERESTART must not escape */
	default: return (e < 35 ? e : EIO);
	}
}

static void
die(const char *why)
{

	fprintf(stderr, "ksim_client: %s\n", why);
	_exit(3);
}

static int
connection(void)
{
	struct sockaddr_un sun;
	struct ksim_req req;
	struct ksim_rep rep;
	const char *path = getenv("KSIM_SOCKET");

	if (conn >= 0)
		return (conn);
	if (path == NULL)
		die("KSIM_SOCKET is not set");
	conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(conn, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("cannot connect to the kernsim server");
	memset(&req, 0, sizeof(req));
	req.op = KSIM_OP_HELLO;
	req.a[0] = getpid();
	if (ksim_send_all(conn, &req, sizeof(req)) != 0 ||
	    ksim_recv_all(conn, &rep, sizeof(rep)) != 0)
		die("the kernsim server went away");
	return (conn);
}

/* One call; the reply's payload (at most outlen bytes) into out. */
static int64_t
call(uint32_t op, const int64_t *a, int na, const void *in, size_t inlen,
    void *out, size_t outlen)
{
	struct ksim_req req;
	struct ksim_rep rep;
	char junk[256];
	size_t n, take;
	int s = connection(), i;

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.len = (uint32_t)inlen;
	for (i = 0; i < na; i++)
		req.a[i] = a[i];
	if (ksim_send_all(s, &req, sizeof(req)) != 0 ||
	    (inlen > 0 && ksim_send_all(s, in, inlen) != 0) ||
	    ksim_recv_all(s, &rep, sizeof(rep)) != 0)
		die("the kernsim server went away");
	take = rep.len < outlen ? rep.len : outlen;
	if (take > 0 && ksim_recv_all(s, out, take) != 0)
		die("the kernsim server went away");
	for (n = rep.len - take; n > 0; n -= take) {
		take = n < sizeof(junk) ? n : sizeof(junk);
		if (ksim_recv_all(s, junk, take) != 0)
			die("the kernsim server went away");
	}
	if (rep.err != 0) {
		errno = fb2linux(rep.err);
		return (-1);
	}
	return (rep.ret);
}

static int
fb_oflags(int f)
{
	int r = f & O_ACCMODE;

	if (f & O_NONBLOCK)
		r |= 0x0004;
	if (f & O_APPEND)
		r |= 0x0008;
	if (f & O_ASYNC)
		r |= 0x0040;
	if (f & O_DIRECT)
		r |= 0x00010000;
	return (r);
}

static int
linux_oflags(int f)
{
	int r = f & O_ACCMODE;

	if (f & 0x0004)
		r |= O_NONBLOCK;
	if (f & 0x0008)
		r |= O_APPEND;
	if (f & 0x0040)
		r |= O_ASYNC;
	if (f & 0x00010000)
		r |= O_DIRECT;
	return (r);
}

int
__wrap_open(const char *path, int flags, ...)
{
	int64_t a[1];
	va_list ap;
	int mode = 0, fd;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (strncmp(path, "/dev/", 5) != 0 || getenv("KSIM_SOCKET") == NULL)
		return (__real_open(path, flags, mode));
	a[0] = fb_oflags(flags);
	fd = (int)call(KSIM_OP_OPEN, a, 1, path, strlen(path) + 1, NULL, 0);
	if (fd >= FD_BASE && fd < FD_BASE + NFDS)
		__atomic_store_n(&ksim_fds[fd - FD_BASE], 1, __ATOMIC_RELEASE);
	return (fd);
}

int
__wrap_close(int fd)
{
	int64_t a[1] = { fd };

	if (!is_ksim(fd))
		return (__real_close(fd));
	__atomic_store_n(&ksim_fds[fd - FD_BASE], 0, __ATOMIC_RELEASE);
	return ((int)call(KSIM_OP_CLOSE, a, 1, NULL, 0, NULL, 0));
}

#define	FB_IOCPARM_LEN(x)	(((x) >> 16) & 0x1fff)
#define	FB_IOC_VOID		0x20000000UL
#define	FB_IOC_OUT		0x40000000UL
#define	FB_IOC_IN		0x80000000UL

int
__wrap_ioctl(int fd, unsigned long cmd, ...)
{
	int64_t a[3];
	va_list ap;
	void *arg;
	size_t sz;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!is_ksim(fd))
		return (__real_ioctl(fd, cmd, arg));
	sz = FB_IOCPARM_LEN(cmd);
	a[0] = fd;
	a[1] = (int64_t)cmd;
	a[2] = (cmd & FB_IOC_VOID) != 0 ? (int64_t)(intptr_t)arg : 0;
	if ((cmd & FB_IOC_VOID) == 0 && sz > 0 && arg == NULL) {
		errno = EFAULT;
		return (-1);
	}
	return ((int)call(KSIM_OP_IOCTL, a, 3,
	    (cmd & FB_IOC_IN) != 0 && (cmd & FB_IOC_VOID) == 0 ? arg : NULL,
	    (cmd & FB_IOC_IN) != 0 && (cmd & FB_IOC_VOID) == 0 ? sz : 0,
	    (cmd & FB_IOC_OUT) != 0 ? arg : NULL,
	    (cmd & FB_IOC_OUT) != 0 ? sz : 0));
}

ssize_t
__wrap_read(int fd, void *buf, size_t len)
{
	int64_t a[2] = { fd, (int64_t)len };

	if (!is_ksim(fd))
		return (__real_read(fd, buf, len));
	return ((ssize_t)call(KSIM_OP_READ, a, 2, NULL, 0, buf, len));
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	int64_t a[1] = { fd };

	if (!is_ksim(fd))
		return (__real_write(fd, buf, len));
	return ((ssize_t)call(KSIM_OP_WRITE, a, 1, buf, len, NULL, 0));
}

int
__wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	char in[64 * 6];
	short rev[64];
	int64_t a[2];
	nfds_t i, nk = 0;
	int r;

	for (i = 0; i < n; i++)
		nk += is_ksim(fds[i].fd);
	if (nk == 0)
		return (__real_poll(fds, n, timeout));
	if (nk != n || n > 64) {
		errno = ENOSYS;		/* mixed sets: not modelled */
		return (-1);
	}
	for (i = 0; i < n; i++) {
		int32_t fd = fds[i].fd;
		int16_t ev = fds[i].events;

		memcpy(in + i * 6, &fd, 4);
		memcpy(in + i * 6 + 4, &ev, 2);
	}
	a[0] = (int64_t)n;
	a[1] = timeout;
	r = (int)call(KSIM_OP_POLL, a, 2, in, n * 6, rev, n * sizeof(short));
	if (r >= 0)
		for (i = 0; i < n; i++)
			fds[i].revents = rev[i];
	return (r);
}

/*
 * mmap(2) of a kernsim device: the server makes the mapping (its process
 * 0), faults every page in and says where each lives in its memory file,
 * which is mapped here page by page, so both see the same bytes.  The
 * mapping here is not revoked with the server's PTEs (README: gaps).
 */
#define	KSIM_MAXMAPS	64
static struct {
	char	*base;
	size_t	 len;
	int64_t	 mapid;
} maps[KSIM_MAXMAPS];
static pthread_mutex_t maps_mtx = PTHREAD_MUTEX_INITIALIZER;

void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static int64_t mo[4 + 4096];
	int64_t a[5], n, i;
	char path[64], *base, *p;
	size_t total;
	int mfd, k;

	if (!is_ksim(fd))
		return (__real_mmap(addr, len, prot, flags, fd, off));
	a[0] = fd;
	a[1] = (int64_t)len;
	a[2] = prot;
	a[3] = (flags & MAP_SHARED) != 0;
	a[4] = off;
	pthread_mutex_lock(&maps_mtx);
	memset(mo, 0, sizeof(mo));
	if (call(KSIM_OP_MMAP, a, 5, NULL, 0, mo, sizeof(mo)) < 0) {
		pthread_mutex_unlock(&maps_mtx);
		return (MAP_FAILED);
	}
	n = (int64_t)((mo[3] + len + 4095) / 4096);
	total = (size_t)n * 4096;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)mo[0], (int)mo[1]);
	mfd = __real_open(path, O_RDWR);
	base = __real_mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (mfd < 0 || base == MAP_FAILED)
		die("kernsim client: cannot map the server's memory");
	for (i = 0; i < n; i++) {
		if (mo[4 + i] < 0)
			continue;	/* no page: touching it faults */
		p = __real_mmap(base + i * 4096, 4096, prot,
		    MAP_SHARED | MAP_FIXED, mfd, (off_t)mo[4 + i]);
		if (p == MAP_FAILED)
			die("kernsim client: cannot map a page");
	}
	__real_close(mfd);
	for (k = 0; k < KSIM_MAXMAPS; k++)
		if (maps[k].base == NULL) {
			maps[k].base = base;
			maps[k].len = total;
			maps[k].mapid = mo[2];
			break;
		}
	pthread_mutex_unlock(&maps_mtx);
	if (k == KSIM_MAXMAPS)
		die("kernsim client: too many mappings");
	return (base + mo[3]);
}

int
__wrap_munmap(void *addr, size_t len)
{
	char *p = addr;
	int64_t a[1];
	int k;

	pthread_mutex_lock(&maps_mtx);
	for (k = 0; k < KSIM_MAXMAPS; k++)
		if (maps[k].base != NULL && p >= maps[k].base &&
		    p < maps[k].base + maps[k].len)
			break;
	if (k == KSIM_MAXMAPS) {
		pthread_mutex_unlock(&maps_mtx);
		return (__real_munmap(addr, len));
	}
	/* kernsim: the whole mapping goes, whatever part is named. */
	__real_munmap(maps[k].base, maps[k].len);
	a[0] = maps[k].mapid;
	maps[k].base = NULL;
	pthread_mutex_unlock(&maps_mtx);
	return ((int)call(KSIM_OP_MUNMAP, a, 1, NULL, 0, NULL, 0));
}

int
__wrap_fcntl(int fd, int cmd, ...)
{
	int64_t a[3];
	va_list ap;
	long arg;
	int r;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	if (!is_ksim(fd))
		return (__real_fcntl(fd, cmd, arg));
	a[0] = fd;
	switch (cmd) {
	case F_GETFL:
		a[1] = 3;	/* FreeBSD F_GETFL */
		a[2] = 0;
		r = (int)call(KSIM_OP_FCNTL, a, 3, NULL, 0, NULL, 0);
		return (r < 0 ? r : linux_oflags(r));
	case F_SETFL:
		a[1] = 4;	/* FreeBSD F_SETFL */
		a[2] = fb_oflags((int)arg);
		return ((int)call(KSIM_OP_FCNTL, a, 3, NULL, 0, NULL, 0));
	default:
		errno = EINVAL;
		return (-1);
	}
}

int
kldload(const char *path)
{

	return ((int)call(KSIM_OP_KLDLOAD, NULL, 0, path, strlen(path) + 1,
	    NULL, 0));
}

int
kldunloadf(int id, int flags)
{
	int64_t a[2] = { id, flags };

	return ((int)call(KSIM_OP_KLDUNLOAD, a, 2, NULL, 0, NULL, 0));
}

int
kldunload(int id)
{

	return (kldunloadf(id, 0));
}

int
kldfind(const char *name)
{

	return ((int)call(KSIM_OP_KLDFIND, NULL, 0, name, strlen(name) + 1,
	    NULL, 0));
}

struct kevent;		/* FreeBSD's, 64 bytes (compat/sys/event.h) */

int
kqueue(void)
{
	int fd;

	fd = (int)call(KSIM_OP_KQUEUE, NULL, 0, NULL, 0, NULL, 0);
	if (fd >= FD_BASE && fd < FD_BASE + NFDS)
		__atomic_store_n(&ksim_fds[fd - FD_BASE], 1, __ATOMIC_RELEASE);
	return (fd);
}

int
kevent(int kq, const struct kevent *ch, int nch, struct kevent *ev, int nev,
    const struct timespec *ts)
{
	int64_t a[4];

	if (nch < 0 || nev < 0 || nev > 64) {
		errno = EINVAL;
		return (-1);
	}
	a[0] = kq;
	a[1] = nch;
	a[2] = nev;
	a[3] = ts == NULL ? -1 : (int64_t)ts->tv_sec * 1000000000 +
	    ts->tv_nsec;
	return ((int)call(KSIM_OP_KEVENT, a, 4, ch, (size_t)nch * 64, ev,
	    (size_t)nev * 64));
}
