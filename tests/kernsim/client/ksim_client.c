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

#include <dlfcn.h>
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
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../host/proto.h"

/* kern_intf.h: what a fault ends in. */
#define	KS_TOUCH_OK		0
#define	KS_TOUCH_SIGBUS_OBJERR	1
#define	KS_TOUCH_SIGSEGV_ACCERR	2

int	__real_open(const char *, int, ...);
int	__real_close(int);
int	__real_ioctl(int, unsigned long, ...);
ssize_t	__real_read(int, void *, size_t);
ssize_t	__real_write(int, const void *, size_t);
int	__real_poll(struct pollfd *, nfds_t, int);
void	*__real_mmap(void *, size_t, int, int, int, off_t);
int	__real_munmap(void *, size_t);
int	__real_fcntl(int, int, ...);

/*
 * FIONREAD on a Linux descriptor (a pipe: the bytes in it); Linux's value
 * (asm-generic/ioctls.h): compat/sys/ioctl.h gives FreeBSD's encoding.
 */
#define	KSIM_LINUX_FIONREAD	0x541B

static int
ioctl_fionread(int fd, int *np)
{

	return (__real_ioctl(fd, KSIM_LINUX_FIONREAD, np) == 0 ? 0 : -1);
}

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
	case 40: return (EMSGSIZE);
	case 45: return (EOPNOTSUPP);
	case 60: return (ETIMEDOUT);
	case 66: return (ENOTEMPTY);
	case 78: return (ENOSYS);
	case -1: return (EINTR);	/* ERESTART must not escape */
	default: return (e < 35 ? e : EIO);
	}
}

/* The exit status, once exit(3) runs the exit closes (ksim_on_exit). */
static volatile int exiting = -1;

static void
die(const char *why)
{

	if (exiting >= 0)
		_exit(exiting);	/* the server went first: nothing to close */
	fprintf(stderr, "ksim_client: %s\n", why);
	_exit(3);
}

static int ksim_connect(void);
static int copy_fault(const void *, size_t, int);
static ssize_t pipe_direct_write(int, const void *, size_t);

static int
connection(void)
{

	if (conn < 0)
		conn = ksim_connect();
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

/*
 * exit(3): close every kernsim descriptor before the process is gone, as
 * FreeBSD's exit1() does (kern/kern_exit.c: fdescfree() closes the files
 * before the process becomes a zombie, so a parent's wait(2) returns
 * after the closes, and with them the device's close and cdevpriv
 * destructor).  A process killed by a signal skips this: its descriptors
 * are closed when its connections drop, after the fact.
 */
int	__wrap_close(int);

static void
ksim_on_exit(int status, void *arg __attribute__((unused)))
{
	int i;

	exiting = status & 0xff;
	for (i = 0; i < NFDS; i++)
		if (__atomic_load_n(&ksim_fds[i], __ATOMIC_ACQUIRE))
			(void)__wrap_close(FD_BASE + i);
}

static void
ksim_exit_hook(void)
{

	(void)on_exit(ksim_on_exit, NULL);
}

/*
 * The program's own plumbing stays Linux's: /dev/null and the like exist
 * on both systems with the same meaning (a shell's `2>/dev/null`, with the
 * client preloaded), and kernsim's devfs has only the modules' nodes.
 */
static int
linux_node(const char *path)
{
	static const char *const own[] = { "/dev/null", "/dev/zero",
	    "/dev/tty", "/dev/random", "/dev/urandom", "/dev/stdin",
	    "/dev/stdout", "/dev/stderr" };
	size_t i;

	if (strncmp(path, "/dev/fd/", 8) == 0)
		return (1);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(path, own[i]) == 0)
			return (1);
	return (0);
}

int
__wrap_open(const char *path, int flags, ...)
{
	static pthread_once_t hook = PTHREAD_ONCE_INIT;

	int64_t a[1];
	va_list ap;
	int mode = 0, fd;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (strncmp(path, "/dev/", 5) != 0 || linux_node(path) ||
	    getenv("KSIM_SOCKET") == NULL)
		return (__real_open(path, flags, mode));
	a[0] = fb_oflags(flags);
	fd = (int)call(KSIM_OP_OPEN, a, 1, path, strlen(path) + 1, NULL, 0);
	if (fd >= FD_BASE && fd < FD_BASE + NFDS) {
		__atomic_store_n(&ksim_fds[fd - FD_BASE], 1, __ATOMIC_RELEASE);
		pthread_once(&hook, ksim_exit_hook);
	}
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

	ssize_t r;
	int tries;

	if (!is_ksim(fd)) {
		for (tries = 0; (r = __real_read(fd, buf, len)) < 0 &&
		    errno == EFAULT && tries < 64 &&
		    copy_fault(buf, len, 1) == 0; tries++)
			;
		if (r < 0 && errno != EFAULT)
			return (r);
		if (r < 0)
			errno = EFAULT;
		return (r);
	}
	return ((ssize_t)call(KSIM_OP_READ, a, 2, NULL, 0, buf, len));
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
	int64_t a[1] = { fd };

	ssize_t r;
	int tries;

	if (!is_ksim(fd)) {
		if ((r = pipe_direct_write(fd, buf, len)) != -2)
			return (r);
		for (tries = 0; (r = __real_write(fd, buf, len)) < 0 &&
		    errno == EFAULT && tries < 64 &&
		    copy_fault(buf, len, 0) == 0; tries++)
			;
		if (r < 0 && errno != EFAULT)
			return (r);
		if (r < 0)
			errno = EFAULT;
		return (r);
	}
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
 * mmap(2) of a kernsim device, and the client's side of the simulated VM.
 *
 * The mapping lives in this process's address space in the server's VM
 * model (kern/vm_map.c; made at the first mmap, or by fork).  Here it is
 * an inaccessible reservation of its pages; the pages this process may
 * touch without a fault are exactly those the server has a PTE for in
 * that address space, mapped from the server's memory file (the
 * simulated physical memory), so both see the same bytes:
 *
 *  - a touch of a page not mapped here raises SIGSEGV; the handler
 *    (ksim_fault) asks the server to run the fault (amd64/amd64/trap.c
 *    trap_pfault -> vm/vm_fault.c vm_fault -> the pager) and either maps
 *    the page the PTE names and returns, so the access is retried, or
 *    delivers the signal the fault ends in: SIGBUS with BUS_OBJERR and
 *    si_addr sent to this very thread (trapsignal), SIGSEGV to the
 *    program's own handler.  A SIGSEGV anywhere else goes to the program's
 *    handler (sigaction(SIGSEGV) is kept here) or kills the process;
 *  - when the server's pmap_remove_all() removes one of this process's
 *    PTEs, it sends a shootdown on the process's shootdown channel and
 *    waits: the shootdown thread (sd_main) replaces the page with an
 *    inaccessible one and answers, as a TLB shootdown completes before
 *    pmap_remove_all returns.  A fault racing it does not map a page
 *    whose shootdown came after it asked (the page's epoch);
 *  - mlock(2) of a kernsim mapping wires its pages in the server's VM
 *    (vm_map_wire); fork(2) forks the address space (vmspace_fork: the
 *    mappings shared, the child's page table empty, so every page here is
 *    made inaccessible in the child); waitpid(2) returns once the server
 *    has processed the child's exit (its vmspace_exit);
 *  - a write(2) or read(2) on a Linux descriptor from or into a kernsim
 *    mapping is a copyin/copyout: Linux answers EFAULT for a page not
 *    mapped here, which is then faulted through the server as the kernel
 *    would (trap_pfault from kernel mode); EFAULT stands if that fails.
 */
#define	KSIM_MAXMAPS	64
#define	KSIM_PG		4096
static struct {
	char		*base;
	size_t		 len;		/* whole pages */
	size_t		 pageoff;	/* of the first byte mmap returned */
	int64_t		 mapid;
	int		 prot;
	int		 live;
	unsigned	*epoch;		/* per page: shootdowns seen */
} maps[KSIM_MAXMAPS];
static volatile int maps_lock;		/* a spinlock: the fault handler */
static int memfd = -1;			/* the server's memory file */
static pid_t sd_pid;			/* the process the channel serves */
static int64_t fork_vs;			/* the address space fork made */
static int have_vs;			/* this process has mappings */
static struct sigaction user_segv;	/* the program's SIGSEGV action */
static int segv_installed;

static void
maps_enter(void)
{

	while (__atomic_exchange_n(&maps_lock, 1, __ATOMIC_ACQUIRE) != 0)
		sched_yield();
}

static void
maps_leave(void)
{

	__atomic_store_n(&maps_lock, 0, __ATOMIC_RELEASE);
}

/* maps_lock held: the live mapping holding p, or -1. */
static int
map_find(const void *p)
{
	const char *c = p;
	int k;

	for (k = 0; k < KSIM_MAXMAPS; k++)
		if (maps[k].live && c >= maps[k].base &&
		    c < maps[k].base + maps[k].len)
			return (k);
	return (-1);
}

static void
page_none(char *page)
{

	if (__real_mmap(page, KSIM_PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_FIXED, -1, 0) != page)
		die("cannot unmap a page");
}

/* The shootdown channel: each message names a page to drop, then ack. */
static void *
sd_main(void *arg)
{
	struct ksim_shootdown m;
	int s = (int)(intptr_t)arg, k;
	char ack = 1;

	for (;;) {
		if (ksim_recv_all(s, &m, sizeof(m)) != 0)
			break;
		maps_enter();
		for (k = 0; k < KSIM_MAXMAPS; k++)
			if (maps[k].live && maps[k].mapid == m.mapid)
				break;
		if (k < KSIM_MAXMAPS && m.page >= 0 &&
		    (size_t)m.page < maps[k].len / KSIM_PG) {
			__atomic_add_fetch(&maps[k].epoch[m.page], 1,
			    __ATOMIC_RELEASE);
			page_none(maps[k].base + m.page * KSIM_PG);
		}
		maps_leave();
		if (ksim_send_all(s, &ack, 1) != 0)
			break;
	}
	return (NULL);
}

static int
ksim_connect(void)
{
	struct sockaddr_un sun;
	struct ksim_req req;
	struct ksim_rep rep;
	const char *path = getenv("KSIM_SOCKET");
	int s;

	if (path == NULL)
		die("KSIM_SOCKET is not set");
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("cannot connect to the kernsim server");
	memset(&req, 0, sizeof(req));
	req.op = KSIM_OP_HELLO;
	req.a[0] = getpid();
	req.a[1] = fork_vs;
	if (ksim_send_all(s, &req, sizeof(req)) != 0 ||
	    ksim_recv_all(s, &rep, sizeof(rep)) != 0)
		die("the kernsim server went away");
	return (s);
}

/* This process's shootdown channel and its thread, once per process. */
static void
sd_start(void)
{
	struct ksim_req req;
	struct ksim_rep rep;
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int s;

	if (sd_pid == getpid())
		return;
	s = ksim_connect();
	memset(&req, 0, sizeof(req));
	req.op = KSIM_OP_SHOOTDOWN;
	if (ksim_send_all(s, &req, sizeof(req)) != 0 ||
	    ksim_recv_all(s, &rep, sizeof(rep)) != 0 || rep.err != 0)
		die("no shootdown channel");
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, sd_main, (void *)(intptr_t)s) != 0)
		die("no shootdown thread");
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sd_pid = getpid();
}

static int
real_sigaction(int sig, const struct sigaction *act, struct sigaction *oact)
{
	static int (*fn)(int, const struct sigaction *, struct sigaction *);

	if (fn == NULL)
		fn = (int (*)(int, const struct sigaction *,
		    struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
	return (fn(sig, act, oact));
}

/* A SIGSEGV the program should see: its handler, or the default. */
static void
segv_to_program(siginfo_t *si, void *uc)
{
	struct sigaction sa = user_segv;
	sigset_t old;

	if ((sa.sa_flags & SA_SIGINFO) == 0 && (sa.sa_handler == SIG_DFL ||
	    sa.sa_handler == SIG_IGN)) {
		/* The access is retried and kills the process. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		real_sigaction(SIGSEGV, &sa, NULL);
		segv_installed = 0;
		return;
	}
	if ((sa.sa_flags & SA_RESETHAND) != 0) {
		memset(&user_segv, 0, sizeof(user_segv));
		user_segv.sa_handler = SIG_DFL;
	}
	pthread_sigmask(SIG_BLOCK, &sa.sa_mask, &old);
	if ((sa.sa_flags & SA_SIGINFO) != 0)
		sa.sa_sigaction(SIGSEGV, si, uc);
	else
		sa.sa_handler(SIGSEGV);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/*
 * Fault page idx of mapping k (maps_lock not held) through the server:
 * KS_TOUCH_OK once the page is mapped here (or a shootdown overtook it:
 * the access retries), else the signal the fault ends in.
 */
static int
fault_in(int k, size_t idx, size_t off, int write)
{
	int64_t a[3], memoff = -1;
	unsigned e0;
	int rv;

	e0 = __atomic_load_n(&maps[k].epoch[idx], __ATOMIC_ACQUIRE);
	a[0] = maps[k].mapid;
	a[1] = (int64_t)off;
	a[2] = write;
	rv = (int)call(KSIM_OP_FAULT, a, 3, NULL, 0, &memoff,
	    sizeof(memoff));
	if (rv != KS_TOUCH_OK)
		return (rv);
	maps_enter();
	if (maps[k].live && maps[k].mapid == a[0] &&
	    __atomic_load_n(&maps[k].epoch[idx], __ATOMIC_ACQUIRE) == e0 &&
	    __real_mmap(maps[k].base + idx * KSIM_PG, KSIM_PG, maps[k].prot,
	    MAP_SHARED | MAP_FIXED, memfd, (off_t)memoff) == MAP_FAILED)
		die("cannot map a page");
	maps_leave();
	return (KS_TOUCH_OK);
}

static void
ksim_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	siginfo_t bus;
	size_t off;
	int k, rv, write, saved = errno;

	maps_enter();
	k = si->si_code > 0 ? map_find(si->si_addr) : -1;
	off = k >= 0 ? (size_t)((char *)si->si_addr - maps[k].base) : 0;
	maps_leave();
	if (k < 0) {
		segv_to_program(si, ucv);
		errno = saved;
		return;
	}
	/* x86 page fault error code: bit 1, a write. */
	write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
	rv = fault_in(k, off / KSIM_PG, off, write);
	switch (rv) {
	case KS_TOUCH_OK:
		break;
	case KS_TOUCH_SIGBUS_OBJERR:
		/* trapsignal(): SIGBUS to the faulting thread. */
		memset(&bus, 0, sizeof(bus));
		bus.si_signo = SIGBUS;
		bus.si_code = BUS_OBJERR;
		bus.si_addr = si->si_addr;
		syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS,
		    &bus);
		break;
	default:
		si->si_code = rv == KS_TOUCH_SIGSEGV_ACCERR ? SEGV_ACCERR :
		    SEGV_MAPERR;
		segv_to_program(si, ucv);
	}
	(void)sig;
	errno = saved;
}

static void
segv_install(void)
{
	struct sigaction sa;

	if (segv_installed)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = ksim_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	real_sigaction(SIGSEGV, &sa, &user_segv);
	segv_installed = 1;
}

/* The program's sigaction(SIGSEGV) while the fault handler is in place. */
int
sigaction(int sig, const struct sigaction *act, struct sigaction *oact)
{

	if (sig != SIGSEGV || !segv_installed)
		return (real_sigaction(sig, act, oact));
	if (oact != NULL)
		*oact = user_segv;
	if (act != NULL)
		user_segv = *act;
	return (0);
}

void *
__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int64_t a[5], mo[5];
	char path[64], *base;
	unsigned *epoch;
	int k;

	if (!is_ksim(fd))
		return (__real_mmap(addr, len, prot, flags, fd, off));
	sd_start();
	segv_install();
	a[0] = fd;
	a[1] = (int64_t)len;
	a[2] = prot;
	a[3] = (flags & MAP_SHARED) != 0;
	a[4] = off;
	memset(mo, 0, sizeof(mo));
	if (call(KSIM_OP_MMAP, a, 5, NULL, 0, mo, sizeof(mo)) < 0)
		return (MAP_FAILED);
	have_vs = 1;
	if (memfd < 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)mo[0],
		    (int)mo[1]);
		if ((memfd = __real_open(path, O_RDWR | O_CLOEXEC)) < 0)
			die("cannot open the server's memory");
	}
	base = __real_mmap(NULL, (size_t)mo[4] * KSIM_PG, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	epoch = calloc((size_t)mo[4], sizeof(*epoch));
	if (base == MAP_FAILED || epoch == NULL)
		die("cannot reserve the mapping");
	maps_enter();
	for (k = 0; k < KSIM_MAXMAPS; k++)
		if (maps[k].base == NULL) {
			maps[k].base = base;
			maps[k].len = (size_t)mo[4] * KSIM_PG;
			maps[k].pageoff = (size_t)mo[3];
			maps[k].mapid = mo[2];
			maps[k].prot = prot;
			maps[k].epoch = epoch;
			maps[k].live = 1;
			break;
		}
	maps_leave();
	if (k == KSIM_MAXMAPS)
		die("too many mappings");
	return (base + mo[3]);
}

int
__wrap_munmap(void *addr, size_t len)
{
	int64_t a[1];
	unsigned *epoch;
	int k;

	maps_enter();
	if ((k = map_find(addr)) < 0) {
		maps_leave();
		return (__real_munmap(addr, len));
	}
	/* kernsim: the whole mapping goes, whatever part is named. */
	maps[k].live = 0;
	__real_munmap(maps[k].base, maps[k].len);
	a[0] = maps[k].mapid;
	epoch = maps[k].epoch;
	maps[k].base = NULL;
	maps[k].epoch = NULL;
	maps_leave();
	free(epoch);
	return ((int)call(KSIM_OP_MUNMAP, a, 1, NULL, 0, NULL, 0));
}

/*
 * copyin/copyout on a kernsim mapping, after Linux said EFAULT: each of
 * its pages in [p, p + len) not mapped here is faulted through the server
 * (trap_pfault from kernel mode: vm_fault, EFAULT through pcb_onfault
 * when it fails).  0 when the call may be retried.
 */
static int
copy_fault(const void *p, size_t len, int write)
{
	const char *c = p, *end = c + len;
	size_t off;
	int k, any = 0;

	while (c < end) {
		maps_enter();
		k = map_find(c);
		off = k >= 0 ? (size_t)(c - maps[k].base) : 0;
		maps_leave();
		if (k >= 0) {
			if (fault_in(k, off / KSIM_PG, off, write) !=
			    KS_TOUCH_OK)
				return (-1);
			any = 1;
		}
		c = (const char *)(((uintptr_t)c | (KSIM_PG - 1)) + 1);
	}
	return (any ? 0 : -1);
}

/* mlock(2) of a kernsim mapping: vm_map_wire in the server's VM. */
int
mlock(const void *addr, size_t len)
{
	int64_t a[1];
	int k;

	maps_enter();
	k = map_find(addr);
	a[0] = k >= 0 ? maps[k].mapid : 0;
	maps_leave();
	if (k < 0)
		return ((int)syscall(SYS_mlock, addr, len));
	return ((int)call(KSIM_OP_MLOCK, a, 1, NULL, 0, NULL, 0));
}

/*
 * fork(2): kern/kern_fork.c fork1 -> vm_forkproc -> vmspace_fork, made
 * by the server before the process is copied; the child starts with an
 * empty page table (every kernsim page inaccessible here), connections
 * and a shootdown channel of its own.
 */
pid_t
fork(void)
{
	static pid_t (*real_fork)(void);
	int64_t a[1];
	pid_t pid;
	int k;

	if (real_fork == NULL)
		real_fork = (pid_t (*)(void))dlsym(RTLD_NEXT, "fork");
	if (!have_vs)
		return (real_fork());
	a[0] = call(KSIM_OP_FORK, NULL, 0, NULL, 0, NULL, 0);
	if (a[0] < 0)
		return (-1);
	pid = real_fork();
	if (pid == 0) {
		conn = -1;
		fork_vs = a[0];
		maps_lock = 0;
		for (k = 0; k < KSIM_MAXMAPS; k++)
			if (maps[k].live)
				if (__real_mmap(maps[k].base, maps[k].len,
				    PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
				    MAP_FIXED, -1, 0) == MAP_FAILED)
					die("cannot empty the child's mapping");
		(void)connection();
		sd_start();
		return (0);
	}
	if (pid < 0)
		(void)call(KSIM_OP_VSFREE, a, 1, NULL, 0, NULL, 0);
	return (pid);
}

/* wait4 returns after the child's exit, vmspace_exit included. */
pid_t
waitpid(pid_t wpid, int *status, int options)
{
	int64_t a[1];
	pid_t pid;
	int st = 0;

	pid = (pid_t)syscall(SYS_wait4, wpid, &st, options, NULL);
	if (pid > 0 && have_vs && (WIFEXITED(st) || WIFSIGNALED(st))) {
		a[0] = pid;
		(void)call(KSIM_OP_REAPED, a, 1, NULL, 0, NULL, 0);
	}
	if (pid > 0 && status != NULL)
		*status = st;
	return (pid);
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

/*
 * A write(2) to a pipe from a kernsim mapping, as FreeBSD's direct write
 * does it (kern/sys_pipe.c): a blocking write of PIPE_MINDIRECT (8192)
 * bytes or more is not copied into the pipe's buffer; pipe_write calls
 * pipe_direct_write, which holds the writer's pages
 * (pipe_build_write_buffer: vm_fault_quick_hold_pages of at most one
 * pipe buffer's worth, BIG_PIPE_SIZE), lets the reader copy from them and
 * sleeps until it has taken everything (pipe_map.cnt == 0), then drops
 * the hold (pipe_destroy_write_buffer) and goes on with the next part.  A
 * hold that faults ends the write with EFAULT, whatever went before (only
 * EPIPE becomes a short count in pipe_write).  Here the hold is the
 * server's (kern/vm_map.c k_vm_hold: the pages wired, so a revocation
 * leaves them in devref's graveyard), the bytes go through the Linux pipe
 * (a part fits its 64 KiB), and fstat's st_size is what is in the pipe
 * (pipe_stat: pipe_buffer.cnt, or pipe_map.cnt during a direct write).
 * -2: not such a write.
 */
#define	KSIM_PIPE_MINDIRECT	8192
#define	KSIM_BIG_PIPE_SIZE	65536

static ssize_t
pipe_direct_write(int fd, const void *buf, size_t len)
{
	struct stat sb;
	const char *c = buf;
	int64_t a[3], mapid;
	size_t off, part, done = 0;
	ssize_t r;
	int k, fl, hold, e, left;

	/* kernsim self-test (self-no-pipe-hold): Linux's pipe semantics. */
	if (getenv("KSIM_MUTANT_NO_PIPE_HOLD") != NULL)
		return (-2);
	if (len < KSIM_PIPE_MINDIRECT || syscall(SYS_fstat, fd, &sb) != 0 ||
	    !S_ISFIFO(sb.st_mode) || ((fl = __real_fcntl(fd, F_GETFL, 0)) != -1 &&
	    (fl & O_NONBLOCK) != 0))
		return (-2);
	maps_enter();
	k = map_find(c);
	off = k >= 0 ? (size_t)(c - maps[k].base) - maps[k].pageoff : 0;
	mapid = k >= 0 ? maps[k].mapid : -1;
	if (k >= 0 && (size_t)(c - maps[k].base) + len > maps[k].len)
		k = -1;		/* beyond one mapping: not modelled */
	maps_leave();
	if (k < 0)
		return (-2);
	while (done < len) {
		part = len - done < KSIM_BIG_PIPE_SIZE ? len - done :
		    KSIM_BIG_PIPE_SIZE;
		a[0] = mapid;
		a[1] = (int64_t)(off + done);
		a[2] = (int64_t)part;
		if ((hold = (int)call(KSIM_OP_HOLD, a, 3, NULL, 0, NULL, 0)) < 0) {
			errno = EFAULT;
			return (-1);
		}
		/* The reader copies from the held pages: here, at once. */
		for (r = 0; (size_t)r < part; r += e) {
			e = (int)__real_write(fd, c + done + r, part - r);
			if (e < 0 && errno == EFAULT &&
			    copy_fault(c + done + r, part - r, 0) == 0) {
				e = 0;
				continue;
			}
			if (e < 0)
				break;
		}
		/* pipe_direct_write sleeps until the reader took it all. */
		while (r >= 0 && ioctl_fionread(fd, &left) == 0 && left > 0)
			usleep(1000);
		a[0] = hold;
		(void)call(KSIM_OP_UNHOLD, a, 1, NULL, 0, NULL, 0);
		if (r < 0)
			return (-1);
		done += part;
	}
	return ((ssize_t)done);
}

/* fstat(2): a pipe's st_size is what is in it (pipe_stat), as FreeBSD. */
int
__wrap_fstat(int fd, struct stat *sb)
{
	int n;

	if (syscall(SYS_fstat, fd, sb) != 0)
		return (-1);
	if (S_ISFIFO(sb->st_mode) && ioctl_fionread(fd, &n) == 0)
		sb->st_size = n;
	return (0);
}
