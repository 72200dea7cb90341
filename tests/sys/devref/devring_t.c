/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devring_t: what tests/sys/devref/devref_test cannot do from sh(1):
 * ioctl(2), poll(2), an fd held across kldunload, and a thread asleep in
 * the driver while another one unloads it.  Built by the test itself on
 * FreeBSD:
 *
 *	cc -Wall -Werror -I$DEVREF_TOP/shim -o devring_t devring_t.c -lpthread
 *
 * Usage (exit 0 when every expectation holds, 1 otherwise, 2 on misuse):
 *	devring_t info PATH		print "version=V slots=S mode=M"
 *	devring_t sync PATH		SYNC moves the tail to head
 *	devring_t errors PATH		unknown ioctl and mis-sized SYNC: ENOTTY,
 *					head out of range: EINVAL
 *	devring_t pollout PATH		poll(2) says POLLOUT at once
 *	devring_t open-errno PATH	print "ok" or the errno name of open(2)
 *	devring_t dead-fd PATH DIR	open PATH, create DIR/ready, wait for
 *					DIR/go, then expect the answers of a
 *					dead device: ioctl ENXIO, read and
 *					write EIO, poll POLLHUP
 *	devring_t sleep-unload PATH FILE MS
 *					a thread sleeps MS ms in the driver
 *					(DEVRING_IOC_SLEEP); the main thread
 *					kldunloads FILE; expect the sleeper
 *					woken at once with ENXIO
 *	devring_t hammer PATH NTHREADS SECONDS [DIR]
 *					NTHREADS threads, an fd each, call
 *					DEVRING_IOC_SYNC in a loop for
 *					SECONDS (or until DIR/stop exists,
 *					or SIGTERM/SIGINT); DIR/ready
 *					appears once every thread's first
 *					SYNC succeeded.  A SYNC must answer
 *					0 (tail = head) or ENXIO; an fd that
 *					got ENXIO must keep getting it (a
 *					dead incarnation's) and is replaced
 *					by a new open, which must succeed or
 *					fail ENXIO (the tombstone).  Prints
 *					counts per thread and in total
 *	devring_t kevent PATH FILE SECONDS
 *					EVFILT_WRITE is ready at once,
 *					EVFILT_READ is not; a thread blocks
 *					in kevent(2) on EVFILT_READ (up to
 *					SECONDS) and the main thread
 *					kldunloads FILE: expect the thread
 *					woken with EV_EOF, the write knote
 *					EV_EOF, a new knote on the dead fd
 *					refused with ENXIO
 *	devring_t mmap PATH		mmap(2) fails (prints the errno:
 *					EINVAL or ENODEV accepted); SYNC
 *					and INFO still work on the fd
 *	devring_t rw PATH [DIR]		read(2) and write(2) fail ENODEV
 *					(no such ops); with DIR, create
 *					DIR/ready, wait for DIR/go, and
 *					expect EIO
 *	devring_t region PATH		a region maps and sums (see below)
 *	devring_t region-unload|region-mlock PATH DIR
 *	devring_t region-pipe PATH DIR	a pipe's page hold across unload
 *	devring_t region-touch PATH DIR NPROCS NTHREADS
 *					touches racing the unload
 *	devring_t region-reload PATH DIR
 *					mmap after revocation, and after
 *					the reload
 */

#include <sys/param.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/linker.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devring_ioctl.h"

/* A command devring does not know: group 'R', number 99. */
#define	DEVRING_T_IOC_UNKNOWN	_IOWR('R', 99, uint32_t)
/* SYNC's group and number with another argument size. */
#define	DEVRING_T_IOC_SYNC_BADSIZE _IOWR('R', 1, uint64_t[2])

static int failures;

static const char *
errname(int e)
{

	switch (e) {
	case 0:
		return ("ok");
	case ENXIO:
		return ("ENXIO");
	case EIO:
		return ("EIO");
	case ENOTTY:
		return ("ENOTTY");
	case EINVAL:
		return ("EINVAL");
	case EBUSY:
		return ("EBUSY");
	case ENOENT:
		return ("ENOENT");
	case EINTR:
		return ("EINTR");
	case ENODEV:
		return ("ENODEV");
	case EWOULDBLOCK:
		return ("EWOULDBLOCK");
	case EACCES:
		return ("EACCES");
	case EFAULT:
		return ("EFAULT");
	default:
		return (strerror(e));
	}
}

static void
expect(const char *what, int got, int want)
{

	printf("%s: %s\n", what, errname(got));
	if (got != want) {
		printf("FAIL %s: got %s, expected %s\n", what, errname(got),
		    errname(want));
		failures++;
	}
}

static int
open_or_die(const char *path)
{
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0) {
		printf("FAIL open %s: %s\n", path, errname(errno));
		exit(1);
	}
	return (fd);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
ioctl_errno(int fd, unsigned long cmd, void *arg)
{

	return (ioctl(fd, cmd, arg) == 0 ? 0 : errno);
}

static int
cmd_info(const char *path)
{
	struct devring_info info;
	int fd;

	fd = open_or_die(path);
	memset(&info, 0xa5, sizeof(info));
	if (ioctl(fd, DEVRING_IOC_INFO, &info) != 0) {
		printf("FAIL DEVRING_IOC_INFO: %s\n", errname(errno));
		return (1);
	}
	printf("version=%u slots=%u mode=%u pad=%u syncs=%ju\n", info.version,
	    info.slots, info.mode, info.pad, (uintmax_t)info.syncs);
	close(fd);
	return (0);
}

static int
cmd_sync(const char *path)
{
	struct devring_sync s;
	int fd;

	fd = open_or_die(path);
	s.head = 5;
	s.tail = 0;
	expect("sync head=5", ioctl_errno(fd, DEVRING_IOC_SYNC, &s), 0);
	printf("tail=%u\n", s.tail);
	if (s.tail != 5) {
		printf("FAIL sync: tail %u, expected 5\n", s.tail);
		failures++;
	}
	s.head = DEVRING_SLOTS - 1;
	expect("sync head=slots-1", ioctl_errno(fd, DEVRING_IOC_SYNC, &s), 0);
	close(fd);
	return (failures != 0);
}

static int
cmd_errors(const char *path)
{
	struct devring_sync s;
	uint64_t big[2];
	uint32_t u;
	int fd;

	fd = open_or_die(path);
	u = 0;
	expect("unknown ioctl", ioctl_errno(fd, DEVRING_T_IOC_UNKNOWN, &u),
	    ENOTTY);
	/* The size is part of the command: another size is another command. */
	memset(big, 0, sizeof(big));
	expect("sync with a wrong size",
	    ioctl_errno(fd, DEVRING_T_IOC_SYNC_BADSIZE, big), ENOTTY);
	s.head = DEVRING_SLOTS;
	s.tail = 0;
	expect("sync head=slots", ioctl_errno(fd, DEVRING_IOC_SYNC, &s),
	    EINVAL);
	s.head = UINT32_MAX;
	expect("sync head=UINT32_MAX", ioctl_errno(fd, DEVRING_IOC_SYNC, &s),
	    EINVAL);
	/* Still usable after the errors. */
	s.head = 1;
	expect("sync head=1 after errors",
	    ioctl_errno(fd, DEVRING_IOC_SYNC, &s), 0);
	close(fd);
	return (failures != 0);
}

static int
cmd_pollout(const char *path)
{
	struct pollfd pfd;
	int n;

	pfd.fd = open_or_die(path);
	pfd.events = POLLOUT | POLLIN;
	pfd.revents = 0;
	n = poll(&pfd, 1, 1000);
	printf("poll: n=%d revents=%#x\n", n, pfd.revents);
	if (n != 1 || (pfd.revents & POLLOUT) == 0 ||
	    (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
		printf("FAIL poll: expected POLLOUT alone at once\n");
		return (1);
	}
	close(pfd.fd);
	return (0);
}

static int
cmd_open_errno(const char *path)
{
	int fd;

	fd = open(path, O_RDWR);
	printf("%s\n", errname(fd < 0 ? errno : 0));
	if (fd >= 0)
		close(fd);
	return (0);
}

static int
wait_for(const char *dir, const char *name, int seconds)
{
	char p[PATH_MAX];
	struct stat sb;
	int i;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	for (i = 0; i < seconds * 10; i++) {
		if (stat(p, &sb) == 0)
			return (0);
		usleep(100000);
	}
	printf("FAIL %s did not appear in %d s\n", p, seconds);
	return (-1);
}

static int
touch(const char *dir, const char *name)
{
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return (-1);
	close(fd);
	return (0);
}

static int
cmd_dead_fd(const char *path, const char *dir)
{
	struct devring_info info;
	struct pollfd pfd;
	char buf[16];
	ssize_t r;
	int fd, n;

	fd = open_or_die(path);
	/* Alive before. */
	expect("ioctl before", ioctl_errno(fd, DEVRING_IOC_INFO, &info), 0);
	if (touch(dir, "ready") != 0 || wait_for(dir, "go", 120) != 0)
		return (1);
	expect("ioctl after", ioctl_errno(fd, DEVRING_IOC_INFO, &info),
	    ENXIO);
	r = read(fd, buf, sizeof(buf));
	expect("read after", r < 0 ? errno : 0, EIO);
	r = write(fd, buf, sizeof(buf));
	expect("write after", r < 0 ? errno : 0, EIO);
	pfd.fd = fd;
	pfd.events = POLLIN | POLLOUT;
	pfd.revents = 0;
	n = poll(&pfd, 1, 1000);
	printf("poll after: n=%d revents=%#x\n", n, pfd.revents);
	if (n != 1 || (pfd.revents & POLLHUP) == 0) {
		printf("FAIL poll after: expected POLLHUP\n");
		failures++;
	}
	if (close(fd) != 0) {
		printf("FAIL close after: %s\n", errname(errno));
		failures++;
	}
	return (failures != 0);
}

struct sleeper {
	int		fd;
	uint32_t	ms;
	atomic_int	started;
	int		error;
	double		t0, t1;
};

static void *
sleeper_main(void *arg)
{
	struct sleeper *s;
	uint32_t ms;

	s = arg;
	ms = s->ms;
	s->t0 = now();
	atomic_store(&s->started, 1);
	s->error = ioctl_errno(s->fd, DEVRING_IOC_SLEEP, &ms);
	s->t1 = now();
	return (NULL);
}

static int
cmd_sleep_unload(const char *path, const char *file, const char *ms)
{
	struct sleeper s;
	pthread_t td;
	double u0, u1;
	int fileid, uerr;

	memset(&s, 0, sizeof(s));
	s.fd = open_or_die(path);
	s.ms = (uint32_t)strtoul(ms, NULL, 10);
	fileid = kldfind(file);
	if (fileid < 0) {
		printf("FAIL kldfind %s: %s\n", file, errname(errno));
		return (1);
	}
	if (pthread_create(&td, NULL, sleeper_main, &s) != 0) {
		printf("FAIL pthread_create\n");
		return (1);
	}
	while (atomic_load(&s.started) == 0)
		usleep(1000);
	/* Give the sleeper time to get into the driver's sleep. */
	usleep(500000);
	u0 = now();
	uerr = kldunload(fileid) == 0 ? 0 : errno;
	u1 = now();
	pthread_join(td, NULL);
	printf("kldunload: %s in %.3f s\n", errname(uerr), u1 - u0);
	printf("sleeper: %s after %.3f s\n", errname(s.error), s.t1 - s.t0);
	if (uerr != 0) {
		printf("FAIL kldunload: %s\n", errname(uerr));
		failures++;
	}
	if (s.error != ENXIO) {
		printf("FAIL sleeper: got %s, expected ENXIO\n",
		    errname(s.error));
		failures++;
	}
	if (s.t1 - s.t0 > s.ms / 2000.0) {
		printf("FAIL sleeper: slept %.3f s of %u ms: not woken\n",
		    s.t1 - s.t0, s.ms);
		failures++;
	}
	if (u1 - u0 > 10.0) {
		printf("FAIL kldunload took %.3f s\n", u1 - u0);
		failures++;
	}
	close(s.fd);
	return (failures != 0);
}

/*
 * hammer: threads in DEVRING_IOC_SYNC while the test unloads and reloads
 * devring under them.
 */
#define	HAMMER_MAX_THREADS	256
#define	HAMMER_MAX_REPORTS	5	/* FAIL lines printed per thread */

struct hammer {
	const char	*path;
	pthread_t	 td;
	int		 id;
	int		 reports;
	uint64_t	 ok;		/* SYNC: 0, with tail = head */
	uint64_t	 enxio;		/* SYNC answered ENXIO */
	uint64_t	 opens;		/* successful opens */
	uint64_t	 open_enxio;	/* open: ENXIO (the tombstone) */
	uint64_t	 other;		/* any other answer: a failure */
	uint64_t	 stale;		/* a dead fd not answering ENXIO */
	uint64_t	 badtail;	/* SYNC answered 0 with tail != head */
};

static atomic_bool hammer_stop;
static atomic_int hammer_ready;

static void
hammer_signal(int sig __unused)
{

	atomic_store(&hammer_stop, true);
}

static void
hammer_report(struct hammer *h, const char *what, int e)
{

	if (h->reports++ < HAMMER_MAX_REPORTS)
		printf("FAIL thread %d: %s answered %s\n", h->id, what,
		    errname(e));
}

static void *
hammer_main(void *arg)
{
	struct devring_info info;
	struct devring_sync s;
	struct hammer *h;
	uint32_t head;
	int e, fd;
	bool counted;

	h = arg;
	fd = -1;
	head = 0;
	counted = false;
	while (!atomic_load_explicit(&hammer_stop, memory_order_relaxed)) {
		if (fd < 0) {
			fd = open(h->path, O_RDWR);
			if (fd < 0) {
				e = errno;
				if (e == ENXIO) {
					/* Unloaded: the tombstone answers. */
					h->open_enxio++;
				} else {
					h->other++;
					hammer_report(h, "open", e);
				}
				usleep(100);
				continue;
			}
			h->opens++;
		}
		head = (head + 1) % DEVRING_SLOTS;
		s.head = head;
		s.tail = UINT32_MAX;
		e = ioctl_errno(fd, DEVRING_IOC_SYNC, &s);
		if (e == 0) {
			h->ok++;
			if (s.tail != head) {
				h->badtail++;
				if (h->reports++ < HAMMER_MAX_REPORTS)
					printf("FAIL thread %d: SYNC head=%u "
					    "returned tail=%u\n", h->id, head,
					    s.tail);
			}
			if (!counted) {
				counted = true;
				atomic_fetch_add(&hammer_ready, 1);
			}
			continue;
		}
		if (e != ENXIO) {
			h->other++;
			hammer_report(h, "SYNC", e);
			continue;
		}
		h->enxio++;
		/*
		 * The fd belongs to a dead incarnation: it must stay dead,
		 * also once devring is loaded again.
		 */
		s.head = 1;
		e = ioctl_errno(fd, DEVRING_IOC_SYNC, &s);
		if (e != ENXIO) {
			h->stale++;
			hammer_report(h, "SYNC on a dead fd", e);
		}
		e = ioctl_errno(fd, DEVRING_IOC_INFO, &info);
		if (e != ENXIO) {
			h->stale++;
			hammer_report(h, "INFO on a dead fd", e);
		}
		if (close(fd) != 0) {
			h->other++;
			hammer_report(h, "close of a dead fd", errno);
		}
		fd = -1;
	}
	if (fd >= 0 && close(fd) != 0) {
		h->other++;
		hammer_report(h, "close", errno);
	}
	return (NULL);
}

static bool
file_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return (stat(p, &sb) == 0);
}

static void
hammer_print(const char *who, const struct hammer *h)
{

	printf("%s: ok=%ju enxio=%ju opens=%ju open_enxio=%ju other=%ju "
	    "stale=%ju badtail=%ju\n", who, (uintmax_t)h->ok,
	    (uintmax_t)h->enxio, (uintmax_t)h->opens,
	    (uintmax_t)h->open_enxio, (uintmax_t)h->other,
	    (uintmax_t)h->stale, (uintmax_t)h->badtail);
}

static int
cmd_hammer(const char *path, const char *nthreads, const char *seconds,
    const char *dir)
{
	struct sigaction sa;
	struct hammer *hs, tot;
	char who[32];
	double limit, t0, t1;
	int i, n;
	bool ready;

	n = atoi(nthreads);
	limit = strtod(seconds, NULL);
	if (n < 1 || n > HAMMER_MAX_THREADS || limit <= 0) {
		printf("FAIL hammer: 1..%d threads and a positive duration\n",
		    HAMMER_MAX_THREADS);
		return (2);
	}
	hs = calloc(n, sizeof(*hs));
	if (hs == NULL) {
		printf("FAIL calloc\n");
		return (1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hammer_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	t0 = now();
	for (i = 0; i < n; i++) {
		hs[i].path = path;
		hs[i].id = i;
		if (pthread_create(&hs[i].td, NULL, hammer_main, &hs[i]) != 0) {
			printf("FAIL pthread_create\n");
			atomic_store(&hammer_stop, true);
			n = i;
			break;
		}
	}
	ready = false;
	while (!atomic_load(&hammer_stop) && now() - t0 < limit) {
		if (dir != NULL && !ready && atomic_load(&hammer_ready) == n) {
			ready = true;
			if (touch(dir, "ready") != 0) {
				printf("FAIL cannot create %s/ready\n", dir);
				failures++;
				break;
			}
		}
		if (dir != NULL && file_exists(dir, "stop"))
			break;
		usleep(10000);
	}
	atomic_store(&hammer_stop, true);
	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < n; i++) {
		pthread_join(hs[i].td, NULL);
		snprintf(who, sizeof(who), "thread %d", i);
		hammer_print(who, &hs[i]);
		tot.ok += hs[i].ok;
		tot.enxio += hs[i].enxio;
		tot.opens += hs[i].opens;
		tot.open_enxio += hs[i].open_enxio;
		tot.other += hs[i].other;
		tot.stale += hs[i].stale;
		tot.badtail += hs[i].badtail;
	}
	t1 = now();
	hammer_print("total", &tot);
	printf("threads=%d time=%.3f s\n", n, t1 - t0);
	if (tot.ok == 0) {
		printf("FAIL no SYNC succeeded\n");
		failures++;
	}
	if (tot.other != 0 || tot.stale != 0 || tot.badtail != 0) {
		printf("FAIL unexpected answers: other=%ju stale=%ju "
		    "badtail=%ju\n", (uintmax_t)tot.other,
		    (uintmax_t)tot.stale, (uintmax_t)tot.badtail);
		failures++;
	}
	free(hs);
	return (failures != 0);
}

/*
 * kevent: devring's poll op reports only POLLOUT, so EVFILT_WRITE is ready
 * at once and EVFILT_READ never is while the device lives.
 */
struct kwaiter {
	int		kq;
	int		seconds;
	atomic_int	started;
	int		n;
	int		error;
	struct kevent	ev;
	double		t1;
};

static void *
kwaiter_main(void *arg)
{
	struct kwaiter *w;
	struct timespec ts;

	w = arg;
	ts.tv_sec = w->seconds;
	ts.tv_nsec = 0;
	atomic_store(&w->started, 1);
	w->n = kevent(w->kq, NULL, 0, &w->ev, 1, &ts);
	w->error = w->n < 0 ? errno : 0;
	w->t1 = now();
	return (NULL);
}

/* Add a knote; the registration's errno (EV_RECEIPT reports it). */
static int
kq_add(int kq, int fd, short filter)
{
	struct kevent ch, res;
	int n;

	EV_SET(&ch, fd, filter, EV_ADD | EV_RECEIPT, 0, 0, NULL);
	memset(&res, 0, sizeof(res));
	n = kevent(kq, &ch, 1, &res, 1, NULL);
	if (n < 0)
		return (errno);
	if (n != 1 || (res.flags & EV_ERROR) == 0) {
		printf("FAIL kevent EV_RECEIPT: n=%d flags=%#x\n", n,
		    res.flags);
		failures++;
		return (-1);
	}
	return ((int)res.data);
}

/* The events pending now (zero timeout). */
static int
kq_now(int kq, struct kevent *ev)
{
	struct timespec zero;

	zero.tv_sec = 0;
	zero.tv_nsec = 0;
	memset(ev, 0, sizeof(*ev));
	return (kevent(kq, NULL, 0, ev, 1, &zero));
}

static int
cmd_kevent(const char *path, const char *file, const char *seconds)
{
	struct kwaiter w;
	struct kevent ev;
	pthread_t td;
	double u0, u1;
	int fd, fileid, kqr, kqw, kqx, n, uerr;

	memset(&w, 0, sizeof(w));
	w.seconds = atoi(seconds);
	if (w.seconds < 1) {
		printf("FAIL kevent: SECONDS must be positive\n");
		return (2);
	}
	fd = open_or_die(path);
	kqr = kqueue();
	kqw = kqueue();
	kqx = kqueue();
	if (kqr < 0 || kqw < 0 || kqx < 0) {
		printf("FAIL kqueue: %s\n", errname(errno));
		return (1);
	}
	/* Alive: EVFILT_WRITE is ready at once... */
	expect("add EVFILT_WRITE", kq_add(kqw, fd, EVFILT_WRITE), 0);
	n = kq_now(kqw, &ev);
	printf("write: n=%d filter=%d flags=%#x\n", n, ev.filter, ev.flags);
	if (n != 1 || ev.filter != EVFILT_WRITE || (int)ev.ident != fd ||
	    (ev.flags & (EV_EOF | EV_ERROR)) != 0) {
		printf("FAIL write: expected EVFILT_WRITE ready at once\n");
		failures++;
	}
	/* ...EVFILT_READ registers but is not ready. */
	expect("add EVFILT_READ", kq_add(kqr, fd, EVFILT_READ), 0);
	n = kq_now(kqr, &ev);
	printf("read: n=%d\n", n);
	if (n != 0) {
		printf("FAIL read: EVFILT_READ ready on a live device\n");
		failures++;
	}
	fileid = kldfind(file);
	if (fileid < 0) {
		printf("FAIL kldfind %s: %s\n", file, errname(errno));
		return (1);
	}
	w.kq = kqr;
	if (pthread_create(&td, NULL, kwaiter_main, &w) != 0) {
		printf("FAIL pthread_create\n");
		return (1);
	}
	while (atomic_load(&w.started) == 0)
		usleep(1000);
	/* Give the waiter time to block in kevent(2). */
	usleep(500000);
	u0 = now();
	uerr = kldunload(fileid) == 0 ? 0 : errno;
	u1 = now();
	pthread_join(td, NULL);
	printf("kldunload: %s in %.3f s\n", errname(uerr), u1 - u0);
	if (uerr != 0) {
		printf("FAIL kldunload: %s\n", errname(uerr));
		failures++;
	}
	if (w.n == 1 && w.ev.filter == EVFILT_READ &&
	    (w.ev.flags & EV_EOF) != 0)
		printf("kevent read: EV_EOF after %.3f s\n", w.t1 - u0);
	else
		printf("kevent read: n=%d error=%s filter=%d flags=%#x after "
		    "%.3f s\n", w.n, errname(w.error), w.ev.filter,
		    w.ev.flags, w.t1 - u0);
	if (w.n != 1 || w.ev.filter != EVFILT_READ ||
	    (int)w.ev.ident != fd || (w.ev.flags & EV_EOF) == 0) {
		printf("FAIL kevent read: expected EVFILT_READ with EV_EOF\n");
		failures++;
	} else if (w.t1 < u0) {
		printf("FAIL kevent read: returned before the unload\n");
		failures++;
	} else if (w.t1 - u0 > 5.0) {
		printf("FAIL kevent read: woken %.3f s after the unload "
		    "began\n", w.t1 - u0);
		failures++;
	}
	/* The write knote reports the end too. */
	n = kq_now(kqw, &ev);
	if (n == 1 && (ev.flags & EV_EOF) != 0)
		printf("write after: EV_EOF\n");
	else
		printf("write after: n=%d flags=%#x\n", n, ev.flags);
	if (n != 1 || ev.filter != EVFILT_WRITE ||
	    (ev.flags & EV_EOF) == 0) {
		printf("FAIL write after: expected EVFILT_WRITE with EV_EOF\n");
		failures++;
	}
	/* A new knote on the dead fd is refused (kqfilter ENXIO). */
	expect("add after", kq_add(kqx, fd, EVFILT_READ), ENXIO);
	close(kqx);
	close(kqw);
	close(kqr);
	close(fd);
	return (failures != 0);
}

/*
 * mmap(2) at offset 0, which names no region: refused, without harm to
 * the open file.
 */
static int
cmd_mmap(const char *path)
{
	static const struct {
		const char	*what;
		int		 prot;
	} tries[] = {
		{ "mmap shared rw", PROT_READ | PROT_WRITE },
		{ "mmap shared r", PROT_READ },
	};
	struct devring_info info;
	struct devring_sync s;
	size_t i;
	void *p;
	int e, fd;

	fd = open_or_die(path);
	for (i = 0; i < nitems(tries); i++) {
		p = mmap(NULL, getpagesize(), tries[i].prot, MAP_SHARED, fd,
		    0);
		e = p == MAP_FAILED ? errno : 0;
		printf("%s: %s\n", tries[i].what, errname(e));
		if (p != MAP_FAILED) {
			printf("FAIL %s: succeeded\n", tries[i].what);
			failures++;
			munmap(p, getpagesize());
		} else if (e != EINVAL && e != ENODEV) {
			printf("FAIL %s: expected EINVAL or ENODEV\n",
			    tries[i].what);
			failures++;
		}
	}
	s.head = 7;
	s.tail = 0;
	expect("sync after mmap", ioctl_errno(fd, DEVRING_IOC_SYNC, &s), 0);
	if (s.tail != 7) {
		printf("FAIL sync after mmap: tail %u, expected 7\n", s.tail);
		failures++;
	}
	expect("info after mmap", ioctl_errno(fd, DEVRING_IOC_INFO, &info), 0);
	close(fd);
	return (failures != 0);
}

/* read(2) and write(2) of a device whose client has no such ops. */
static int
cmd_rw(const char *path, const char *dir)
{
	char buf[16];
	ssize_t r;
	int fd;

	fd = open_or_die(path);
	memset(buf, 0, sizeof(buf));
	r = read(fd, buf, sizeof(buf));
	expect("read", r < 0 ? errno : 0, ENODEV);
	r = write(fd, buf, sizeof(buf));
	expect("write", r < 0 ? errno : 0, ENODEV);
	if (dir != NULL) {
		if (touch(dir, "ready") != 0 || wait_for(dir, "go", 120) != 0)
			return (1);
		r = read(fd, buf, sizeof(buf));
		expect("read after", r < 0 ? errno : 0, EIO);
		r = write(fd, buf, sizeof(buf));
		expect("write after", r < 0 ? errno : 0, EIO);
	}
	close(fd);
	return (failures != 0);
}

/*
 * fcntl(F_SETFL) with O_NONBLOCK and O_ASYNC: the kernel sends FIONBIO and
 * FIOASYNC to the device and undoes the change on any error.  devring
 * implements neither; devref answers as null(4) does: FIONBIO is accepted,
 * FIOASYNC only to turn it off (nobody would send the SIGIO).
 */
static int
cmd_fcntl(const char *path)
{
	int fd, fl;

	fd = open(path, O_RDWR);
	if (fd < 0)
		err(1, "open %s", path);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		err(1, "F_GETFL");
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		err(1, "F_SETFL O_NONBLOCK");
	if ((fcntl(fd, F_GETFL) & O_NONBLOCK) == 0)
		errx(1, "O_NONBLOCK did not stick");
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK | O_ASYNC) == 0)
		errx(1, "F_SETFL O_ASYNC succeeded: SIGIO would never come");
	expect("F_SETFL O_ASYNC", errno, EINVAL);
	if ((fcntl(fd, F_GETFL) & O_ASYNC) != 0)
		errx(1, "O_ASYNC stuck after EINVAL");
	if (fcntl(fd, F_SETFL, fl) != 0)
		err(1, "F_SETFL back");
	if (failures == 0)
		printf("fcntl: ok\n");
	close(fd);
	return (failures != 0);
}

/* A region of `pages` pages (writable if `rw`) on fd; its cookie. */
static uint64_t
make_region(int fd, uint32_t pages, bool rw)
{
	struct devring_region r;

	memset(&r, 0, sizeof(r));
	r.pages = pages;
	r.flags = rw ? DEVRING_REGION_WRITABLE : 0;
	if (ioctl(fd, DEVRING_IOC_REGION, &r) != 0)
		err(1, "DEVRING_IOC_REGION");
	return (r.cookie);
}

/* mmap(2) of `len` bytes at `off`: the errno (0 on success, unmapped). */
static int
map_errno(int fd, off_t off, size_t len, int prot, int flags)
{
	void *p;

	p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return (errno);
	munmap(p, len);
	return (0);
}

/*
 * Revocable memory: write a region through a mapping and have the kernel
 * add it up; every bad request refused with the errno devref(4) gives.
 */
static int
cmd_region(const char *path)
{
	struct devring_sum sum;
	size_t pg, len, i;
	uint64_t cookie, ro, want;
	uint32_t *w;
	int fd, rofd;

	pg = getpagesize();
	len = 4 * pg;
	fd = open_or_die(path);
	cookie = make_region(fd, 4, true);
	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, cookie);
	if (w == MAP_FAILED)
		err(1, "mmap region");
	want = 0;
	for (i = 0; i < len / 4; i++) {
		w[i] = (uint32_t)(i * 7 + 1);
		want += w[i];
	}
	sum.cookie = cookie;
	sum.sum = 0;
	expect("sum", ioctl_errno(fd, DEVRING_IOC_SUM, &sum), 0);
	if (sum.sum != want) {
		printf("FAIL sum: kernel %ju, user %ju\n", (uintmax_t)sum.sum,
		    (uintmax_t)want);
		failures++;
	}
	munmap(w, len);
	expect("map one page inside", map_errno(fd, cookie + pg, pg,
	    PROT_READ, MAP_SHARED), 0);
	expect("MAP_PRIVATE", map_errno(fd, cookie, pg, PROT_READ,
	    MAP_PRIVATE), EINVAL);
	expect("past the end", map_errno(fd, cookie + len, pg, PROT_READ,
	    MAP_SHARED), EINVAL);
	expect("running past the end", map_errno(fd, cookie + 3 * pg, 2 * pg,
	    PROT_READ, MAP_SHARED), EINVAL);
	expect("huge offset", map_errno(fd, (off_t)0x7fff000000000000LL, pg,
	    PROT_READ, MAP_SHARED), EINVAL);
	expect("no such region", map_errno(fd, cookie + (1LL << 40), pg,
	    PROT_READ, MAP_SHARED), EINVAL);
	ro = make_region(fd, 1, false);
	expect("read-only region, PROT_WRITE", map_errno(fd, ro, pg,
	    PROT_READ | PROT_WRITE, MAP_SHARED), EACCES);
	expect("read-only region, O_RDWR file", map_errno(fd, ro, pg,
	    PROT_READ, MAP_SHARED), EACCES);
	rofd = open(path, O_RDONLY);
	if (rofd < 0)
		err(1, "open %s O_RDONLY", path);
	expect("read-only region, O_RDONLY file", map_errno(rofd, ro, pg,
	    PROT_READ, MAP_SHARED), 0);
	close(rofd);
	close(fd);
	if (failures == 0)
		printf("region: ok\n");
	return (failures != 0);
}

static volatile sig_atomic_t sigbus_code = -1;

static void
on_sigbus(int sig __unused, siginfo_t *si, void *uc __unused)
{

	sigbus_code = si->si_code;
	_exit(si->si_code == BUS_OBJERR ? 42 : 43);
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

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		err(1, "%s", p);
	close(fd);
}

/*
 * A mapping across kldunload of the driver: map a region, fork, say
 * "mapped" (DIR/mapped) and wait for DIR/unloaded.  Then the child's touch
 * must die of SIGBUS (BUS_OBJERR) and the parent's write(2) from the
 * mapping must fail with EFAULT.  With `lock`, mlock(2) the region first:
 * the page stays held after the revocation (devref's graveyard), and the
 * helper waits for DIR/done before it lets go.
 */
static int
cmd_region_unload(const char *path, const char *dir, bool lock)
{
	struct sigaction sa;
	size_t pg;
	uint64_t cookie;
	volatile uint32_t *w;
	pid_t pid;
	int fd, pfd[2], st;

	pg = getpagesize();
	fd = open_or_die(path);
	cookie = make_region(fd, 2, true);
	w = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, cookie);
	if (w == MAP_FAILED)
		err(1, "mmap region");
	w[0] = 0xdeadbeef;
	if (lock && mlock(__DEVOLATILE(void *, w), 2 * pg) != 0)
		err(1, "mlock");
	pid = fork();
	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigbus;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGBUS, &sa, NULL);
		if (w[0] != 0xdeadbeef)
			_exit(44);
		wait_for_file(dir, "unloaded");
		w[pg / 4] = 1;		/* must not return */
		_exit(45);
	}
	make_file(dir, "mapped");
	wait_for_file(dir, "unloaded");
	if (pipe(pfd) != 0)
		err(1, "pipe");
	expect("write(pipe) from a revoked mapping",
	    write(pfd[1], __DEVOLATILE(void *, w), pg) < 0 ? errno : 0,
	    EFAULT);
	if (waitpid(pid, &st, 0) != pid)
		err(1, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 42)
		printf("child: SIGBUS BUS_OBJERR\n");
	else {
		printf("FAIL child: status %#x (42: SIGBUS BUS_OBJERR)\n", st);
		failures++;
	}
	if (lock)
		wait_for_file(dir, "done");
	munmap(__DEVOLATILE(void *, w), 2 * pg);
	close(fd);
	if (failures == 0)
		printf("region-unload: ok\n");
	return (failures != 0);
}

/* The word at index `i` of the pattern region-pipe writes. */
static uint32_t
pipe_pattern(size_t i)
{

	return ((uint32_t)(i * 2654435761u) ^ 0x5a5a0000u);
}

/*
 * A pipe's direct write holding region pages across kldunload: map a
 * region of DEVRING_REGION_MAX_PAGES pages, fill a pattern, and have a
 * forked child write(2) the whole mapping into a pipe nobody reads yet.
 * The write is large and blocking, so sys_pipe.c takes its direct path:
 * pipe_build_write_buffer() holds (vm_fault_quick_hold_pages) at most one
 * pipe buffer's worth of the pages and the writer sleeps until a reader
 * takes them.  Once fstat(2) of the read end says the hold is in place
 * (pipe_stat() reports pipe_pages.cnt, set with the hold), create
 * DIR/held and wait for DIR/unloaded (devring is unloaded and the held
 * pages sit in devref's graveyard meanwhile).  Then read the pipe to
 * its end: the held part must come out with the pattern intact; the
 * writer's next hold faults on the revoked mapping, so its write(2) fails
 * with EFAULT (pipe_write does not report a partial write for EFAULT).
 */
static int
cmd_region_pipe(const char *path, const char *dir)
{
	const size_t len = (size_t)DEVRING_REGION_MAX_PAGES * getpagesize();
	struct stat sb;
	uint32_t *buf;
	volatile uint32_t *w;
	uint64_t cookie;
	size_t got, i;
	ssize_t r;
	pid_t pid;
	int fd, held, pfd[2], st, tries;

	fd = open_or_die(path);
	cookie = make_region(fd, DEVRING_REGION_MAX_PAGES, true);
	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, cookie);
	if (w == MAP_FAILED)
		err(1, "mmap region");
	for (i = 0; i < len / sizeof(*w); i++)
		w[i] = pipe_pattern(i);
	buf = malloc(len);
	if (buf == NULL)
		err(1, "malloc");
	if (pipe(pfd) != 0)
		err(1, "pipe");
	pid = fork();
	if (pid < 0)
		err(1, "fork");
	if (pid == 0) {
		close(pfd[0]);
		r = write(pfd[1], __DEVOLATILE(void *, w), len);
		if (r < 0)
			_exit(errno == EFAULT ? 42 : 43);
		_exit((size_t)r == len ? 0 : 44);
	}
	if (close(pfd[1]) != 0)
		err(1, "close");
	/* Wait (up to 30 s) for the direct write's hold. */
	held = 0;
	for (tries = 0; tries < 300; tries++) {
		if (fstat(pfd[0], &sb) != 0)
			err(1, "fstat(pipe)");
		held = (int)sb.st_size;
		if (held > 0)
			break;
		usleep(100000);
	}
	printf("held: %d bytes\n", held);
	if (held <= 0) {
		printf("FAIL the child's write(2) never reached the pipe\n");
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &st, 0);
		return (1);
	}
	make_file(dir, "held");
	wait_for_file(dir, "unloaded");
	got = 0;
	for (;;) {
		r = read(pfd[0], (char *)buf + got, len - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			printf("FAIL read(pipe): %s\n", errname(errno));
			failures++;
			break;
		}
		if (r == 0 || (got += (size_t)r) == len)
			break;
	}
	printf("read: %zu bytes\n", got);
	if (got != (size_t)held) {
		printf("FAIL read %zu bytes, %d were held at the unload\n", got,
		    held);
		failures++;
	}
	for (i = 0; i < got / sizeof(*buf); i++) {
		if (buf[i] != pipe_pattern(i)) {
			printf("FAIL word %zu: %#x, expected %#x\n", i, buf[i],
			    pipe_pattern(i));
			failures++;
			break;
		}
	}
	if (i == got / sizeof(*buf))
		printf("pattern: intact\n");
	if (waitpid(pid, &st, 0) != pid)
		err(1, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 42)
		printf("child: write EFAULT after the held part\n");
	else {
		printf("FAIL child: status %#x (42: write EFAULT)\n", st);
		failures++;
	}
	free(buf);
	close(pfd[0]);
	if (munmap(__DEVOLATILE(void *, w), len) != 0) {
		printf("FAIL munmap: %s\n", errname(errno));
		failures++;
	}
	close(fd);
	if (failures == 0)
		printf("region-pipe: ok\n");
	return (failures != 0);
}

/*
 * region-touch: threads in several processes touch a region while the
 * test unloads devring.
 *
 * Each thread must end with SIGBUS (BUS_OBJERR) of its own: a fault is a
 * synchronous trap, and FreeBSD delivers it (trapsignal) to the thread
 * that faulted.  The handler (shared by the process) leaves through
 * siglongjmp(3) to that thread's sigsetjmp(3) point, kept in thread-local
 * storage of the executable (static TLS: no allocation on access).  This
 * is sound because the interrupted code does nothing but loads and stores
 * to the mapping and atomic counter updates, none of them async-signal
 * unsafe, and nothing the thread had changed since sigsetjmp is read
 * after the jump except through memory (the struct, atomics).  The handler
 * itself stores only volatile sig_atomic_t thread-locals.  A thread not
 * armed (none should fault) ends the process with _exit.
 */
#define	TOUCH_PAGES		32
#define	TOUCH_CONST_WORDS	512	/* per page, never written */
#define	TOUCH_SECONDS		120

struct toucher {
	pthread_t	 td;
	int		 id;		/* global: proc * nthreads + thread */
	int		 sig;		/* the signal that ended it, or 0 */
	int		 code;
	atomic_uint_fast64_t touches;
	atomic_uint_fast64_t bad;	/* wrong data seen */
	atomic_int	 done;
};

static volatile uint32_t *touch_w;
static size_t touch_words;		/* words per page */
static atomic_bool touch_stop;
static atomic_int touch_ready;
static _Thread_local sigjmp_buf touch_env;
static _Thread_local volatile sig_atomic_t touch_armed;
static _Thread_local volatile sig_atomic_t touch_sig;
static _Thread_local volatile sig_atomic_t touch_code;

static uint32_t
touch_pattern(size_t page, size_t i)
{

	return (0xa5000000u ^ ((uint32_t)page << 12) ^ (uint32_t)i);
}

static void
on_touch_fault(int sig, siginfo_t *si, void *uc __unused)
{

	if (!touch_armed)
		_exit(70);
	touch_armed = 0;
	touch_sig = sig;
	touch_code = si->si_code;
	siglongjmp(touch_env, 1);
}

static void *
toucher_main(void *arg)
{
	struct toucher *t;
	volatile uint32_t *page;
	uint32_t got, seq;
	size_t i, k, p;

	t = arg;
	if (sigsetjmp(touch_env, 1) != 0) {
		t->sig = touch_sig;
		t->code = touch_code;
		atomic_store(&t->done, 1);
		return (NULL);
	}
	touch_armed = 1;
	seq = 0;
	for (i = 0; !atomic_load_explicit(&touch_stop, memory_order_relaxed);
	    i++) {
		/* Every thread goes over every page. */
		p = ((size_t)t->id + i) % TOUCH_PAGES;
		page = touch_w + p * touch_words;
		k = i % TOUCH_CONST_WORDS;
		got = page[k];
		if (got != touch_pattern(p, k))
			atomic_fetch_add(&t->bad, 1);
		/* The thread's own word of the page: nobody else writes it. */
		seq++;
		page[TOUCH_CONST_WORDS + t->id] = seq;
		if (page[TOUCH_CONST_WORDS + t->id] != seq)
			atomic_fetch_add(&t->bad, 1);
		if (atomic_fetch_add_explicit(&t->touches, 1,
		    memory_order_relaxed) == 0)
			atomic_fetch_add(&touch_ready, 1);
	}
	touch_armed = 0;
	atomic_store(&t->done, 1);
	return (NULL);
}

/* One process of region-touch: `n` threads; exit 0 if each ended right. */
static void
touch_worker(int proc, int n, int readyfd)
{
	struct sigaction sa;
	struct toucher *ts;
	double t0;
	int done, i, bad;
	char c;

	ts = calloc(n, sizeof(*ts));
	if (ts == NULL) {
		printf("FAIL proc %d: calloc\n", proc);
		_exit(1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_touch_fault;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) != 0 ||
	    sigaction(SIGSEGV, &sa, NULL) != 0) {
		printf("FAIL proc %d: sigaction: %s\n", proc, errname(errno));
		_exit(1);
	}
	for (i = 0; i < n; i++) {
		ts[i].id = proc * n + i;
		if (pthread_create(&ts[i].td, NULL, toucher_main,
		    &ts[i]) != 0) {
			printf("FAIL proc %d: pthread_create\n", proc);
			atomic_store(&touch_stop, true);
			n = i;
			break;
		}
	}
	t0 = now();
	c = 0;
	while (now() - t0 < TOUCH_SECONDS) {
		if (c == 0 && atomic_load(&touch_ready) == n) {
			c = 1;
			if (write(readyfd, &c, 1) != 1) {
				printf("FAIL proc %d: write(ready): %s\n",
				    proc, errname(errno));
				break;
			}
		}
		for (done = 0, i = 0; i < n; i++)
			done += atomic_load(&ts[i].done);
		if (done == n)
			break;
		usleep(10000);
	}
	atomic_store(&touch_stop, true);
	bad = 0;
	for (i = 0; i < n; i++) {
		pthread_join(ts[i].td, NULL);
		printf("proc %d thread %d: %s%s after %ju touches, %ju wrong\n",
		    proc, i, ts[i].sig == SIGBUS ? "SIGBUS" :
		    ts[i].sig == SIGSEGV ? "SIGSEGV" : "no signal",
		    ts[i].sig == SIGBUS && ts[i].code == BUS_OBJERR ?
		    " BUS_OBJERR" : "", (uintmax_t)atomic_load(&ts[i].touches),
		    (uintmax_t)atomic_load(&ts[i].bad));
		if (ts[i].sig != SIGBUS || ts[i].code != BUS_OBJERR) {
			printf("FAIL proc %d thread %d: signal %d code %d, "
			    "expected SIGBUS BUS_OBJERR\n", proc, i, ts[i].sig,
			    ts[i].code);
			bad++;
		}
		if (atomic_load(&ts[i].bad) != 0) {
			printf("FAIL proc %d thread %d: saw wrong data\n",
			    proc, i);
			bad++;
		}
	}
	_exit(bad != 0);
}

/*
 * NPROC processes (forked) of NTHREADS threads each read and write every
 * page of a region; DIR/touching appears once every thread touched it.
 * The test then unloads devring: every thread must end with SIGBUS
 * (BUS_OBJERR), none may see wrong data (a read of a word filled before
 * the fork, or of the thread's own word just written, answering anything
 * else, e.g. the zeroes of a page the VM made up).
 */
static int
cmd_region_touch(const char *path, const char *dir, const char *nprocs,
    const char *nthreads)
{
	const size_t len = (size_t)TOUCH_PAGES * getpagesize();
	pid_t pids[16];
	uint64_t cookie;
	size_t i, p;
	int fd, j, np, nt, rfd[2], st, started;
	char c;

	np = atoi(nprocs);
	nt = atoi(nthreads);
	touch_words = getpagesize() / sizeof(uint32_t);
	if (np < 1 || np > (int)nitems(pids) || nt < 1 ||
	    TOUCH_CONST_WORDS + (size_t)np * nt > touch_words) {
		printf("FAIL region-touch: 1..%zu processes, at most %zu "
		    "threads in all\n", nitems(pids),
		    touch_words - TOUCH_CONST_WORDS);
		return (2);
	}
	fd = open_or_die(path);
	cookie = make_region(fd, TOUCH_PAGES, true);
	touch_w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    cookie);
	if (touch_w == MAP_FAILED)
		err(1, "mmap region");
	for (p = 0; p < TOUCH_PAGES; p++)
		for (i = 0; i < TOUCH_CONST_WORDS; i++)
			touch_w[p * touch_words + i] = touch_pattern(p, i);
	if (pipe(rfd) != 0)
		err(1, "pipe");
	started = 0;
	for (j = 0; j < np; j++) {
		pids[j] = fork();
		if (pids[j] < 0) {
			printf("FAIL fork: %s\n", errname(errno));
			failures++;
			break;
		}
		if (pids[j] == 0) {
			close(rfd[0]);
			touch_worker(j, nt, rfd[1]);
			_exit(1);	/* not reached */
		}
		started++;
	}
	if (close(rfd[1]) != 0)
		err(1, "close");
	/* One byte from each process once its threads all touched. */
	for (j = 0; j < started && failures == 0; j++) {
		if (read(rfd[0], &c, 1) != 1) {
			printf("FAIL process %d of %d never got ready\n", j,
			    started);
			failures++;
		}
	}
	if (failures == 0) {
		printf("touching: %d processes x %d threads\n", np, nt);
		make_file(dir, "touching");
	}
	for (j = 0; j < started; j++) {
		if (waitpid(pids[j], &st, 0) != pids[j])
			err(1, "waitpid");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("FAIL process %d: status %#x\n", j, st);
			failures++;
		}
	}
	close(rfd[0]);
	if (munmap(__DEVOLATILE(void *, touch_w), len) != 0) {
		printf("FAIL munmap: %s\n", errname(errno));
		failures++;
	}
	close(fd);
	if (failures == 0)
		printf("region-touch: ok\n");
	return (failures != 0);
}

/*
 * A revoked mapping, then a new incarnation: map a region and write it,
 * create DIR/mapped and wait for DIR/unloaded; mmap(2) on the old fd must
 * fail with ENXIO; munmap, create DIR/munmapped and wait for DIR/reloaded;
 * a new open maps a new region and DEVRING_IOC_SUM sees what was written
 * through the new mapping.
 */
static int
cmd_region_reload(const char *path, const char *dir)
{
	struct devring_sum sum;
	const size_t len = 4 * (size_t)getpagesize();
	uint64_t cookie, want;
	uint32_t *w;
	size_t i;
	int fd;

	fd = open_or_die(path);
	cookie = make_region(fd, 4, true);
	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, cookie);
	if (w == MAP_FAILED)
		err(1, "mmap region");
	for (i = 0; i < len / sizeof(*w); i++)
		w[i] = (uint32_t)i;
	make_file(dir, "mapped");
	wait_for_file(dir, "unloaded");
	expect("mmap on the old fd", map_errno(fd, cookie, getpagesize(),
	    PROT_READ, MAP_SHARED), ENXIO);
	if (munmap(w, len) != 0) {
		printf("FAIL munmap: %s\n", errname(errno));
		failures++;
	}
	close(fd);
	make_file(dir, "munmapped");
	wait_for_file(dir, "reloaded");
	fd = open_or_die(path);
	cookie = make_region(fd, 4, true);
	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, cookie);
	if (w == MAP_FAILED) {
		printf("FAIL mmap after the reload: %s\n", errname(errno));
		return (1);
	}
	want = 0;
	for (i = 0; i < len / sizeof(*w); i++) {
		w[i] = (uint32_t)(i * 3 + 11);
		want += w[i];
	}
	sum.cookie = cookie;
	sum.sum = 0;
	expect("sum after the reload", ioctl_errno(fd, DEVRING_IOC_SUM, &sum),
	    0);
	if (sum.sum != want) {
		printf("FAIL sum after the reload: kernel %ju, user %ju\n",
		    (uintmax_t)sum.sum, (uintmax_t)want);
		failures++;
	}
	if (munmap(w, len) != 0) {
		printf("FAIL munmap after the reload: %s\n", errname(errno));
		failures++;
	}
	close(fd);
	if (failures == 0)
		printf("region-reload: ok\n");
	return (failures != 0);
}

static void
usage(void)
{

	fprintf(stderr, "usage: devring_t info|sync|errors|pollout|open-errno|"
	    "mmap|fcntl PATH\n       devring_t dead-fd PATH DIR\n"
	    "       devring_t rw PATH [DIR]\n"
	    "       devring_t sleep-unload PATH FILE MS\n"
	    "       devring_t hammer PATH NTHREADS SECONDS [DIR]\n"
	    "       devring_t kevent PATH FILE SECONDS\n"
	    "       devring_t region PATH\n"
	    "       devring_t region-unload|region-mlock PATH DIR\n"
	    "       devring_t region-pipe|region-reload PATH DIR\n"
	    "       devring_t region-touch PATH DIR NPROCS NTHREADS\n");
	exit(2);
}

int
main(int argc, char **argv)
{

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		usage();
	if (strcmp(argv[1], "info") == 0)
		return (cmd_info(argv[2]));
	if (strcmp(argv[1], "sync") == 0)
		return (cmd_sync(argv[2]));
	if (strcmp(argv[1], "errors") == 0)
		return (cmd_errors(argv[2]));
	if (strcmp(argv[1], "pollout") == 0)
		return (cmd_pollout(argv[2]));
	if (strcmp(argv[1], "open-errno") == 0)
		return (cmd_open_errno(argv[2]));
	if (strcmp(argv[1], "dead-fd") == 0 && argc == 4)
		return (cmd_dead_fd(argv[2], argv[3]));
	if (strcmp(argv[1], "sleep-unload") == 0 && argc == 5)
		return (cmd_sleep_unload(argv[2], argv[3], argv[4]));
	if (strcmp(argv[1], "hammer") == 0 && (argc == 5 || argc == 6))
		return (cmd_hammer(argv[2], argv[3], argv[4],
		    argc == 6 ? argv[5] : NULL));
	if (strcmp(argv[1], "kevent") == 0 && argc == 5)
		return (cmd_kevent(argv[2], argv[3], argv[4]));
	if (strcmp(argv[1], "mmap") == 0)
		return (cmd_mmap(argv[2]));
	if (strcmp(argv[1], "fcntl") == 0)
		return (cmd_fcntl(argv[2]));
	if (strcmp(argv[1], "region") == 0)
		return (cmd_region(argv[2]));
	if (strcmp(argv[1], "region-unload") == 0 && argc == 4)
		return (cmd_region_unload(argv[2], argv[3], false));
	if (strcmp(argv[1], "region-mlock") == 0 && argc == 4)
		return (cmd_region_unload(argv[2], argv[3], true));
	if (strcmp(argv[1], "region-pipe") == 0 && argc == 4)
		return (cmd_region_pipe(argv[2], argv[3]));
	if (strcmp(argv[1], "region-touch") == 0 && argc == 6)
		return (cmd_region_touch(argv[2], argv[3], argv[4], argv[5]));
	if (strcmp(argv[1], "region-reload") == 0 && argc == 4)
		return (cmd_region_reload(argv[2], argv[3]));
	if (strcmp(argv[1], "rw") == 0 && (argc == 3 || argc == 4))
		return (cmd_rw(argv[2], argc == 4 ? argv[3] : NULL));
	usage();
	return (2);
}
