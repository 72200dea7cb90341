/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devbench: the FreeBSD side of devref's benchmarks.
 *
 * N threads each loop on one device entry point for T seconds, as a
 * netmap application loops on NIOCTXSYNC: either
 * ioctl(fd, DEVRING_IOC_SYNC, &s) or poll(fd, POLLOUT), with one fd per
 * thread (default) or one fd shared by all threads (-s).  Devices:
 *
 *   null     /dev/null, the floor: an SI_ETERNAL cdev, which devfs calls
 *            without any per-call counting.  It gets the same ioctl
 *            command, which null answers with ENOTTY (the path through
 *            the syscall, the file and devfs is what is measured), or
 *            FIONBIO (answered 0) with -F.
 *   pcpu     /dev/devring, devring in devref's per-CPU gate mode.
 *   counted  /dev/devring_counted, devring in counted mode.
 *
 * Each point (device, threads) is run -r times, sweeps interleaved (run k
 * of every point in sweep k); the table reports medians, and the ratio to
 * null and to counted.  The table and the JSON (-j) have the layout of the
 * host benchmark (rust/bench, docs/benchmarks.json): "none" there is
 * "null" here, "percdev" is "counted".
 *
 * Pipes (-f, like netmap's pkt-gen over netmap pipes): devbench creates
 * its own pipes through /dev/devringctl (root), one per scheme and thread
 * (pcpu: mode 0, counted: mode 1; named devbench.<pid>.<scheme>.<i>,
 * destroyed at exit), binds their ends, maps each pipe's region once and
 * runs the functions:
 *
 *   tx       (or rx) a sender thread on end 0 and a receiver thread on end 1
 *            of the same pipe, per "thread" (-n counts pairs): the sender
 *            fills up to -b slots from head (a sequence number in each
 *            payload, -l bytes long), advances head and cur and calls
 *            DEVRING_IOC_TXSYNC (DEVRING_SYNC_WAIT when the ring is full);
 *            the receiver calls DEVRING_IOC_RXSYNC with DEVRING_SYNC_WAIT,
 *            checks every slot's length and one payload in 64, and
 *            releases them.  Mpps is what the receivers got.  At the end
 *            the sender sends one empty slot (the end mark) and waits until
 *            everything left; packets and slots moved are cross-checked.
 *   sync     an empty DEVRING_IOC_TXSYNC loop on a bound end: the entry
 *            path with the ring's checks (the kernel answers every slot
 *            free, nothing moved).
 *   poll     poll(2) POLLOUT on a bound end, always ready (the driver
 *            syncs the TX ring, as netmap's poll does, and finds every
 *            slot free).
 *
 * The floor is the null device's ioctl loop (as above, with the same
 * threads).  -s shares one pipe instead of one per thread, for sync and
 * poll: thread i works on end i, its own TX ring (a ring serves one sync
 * at a time: a concurrent sync of it waits), so at most two threads.
 *
 * Exit status: 0 when every point ran (whatever the numbers), 1 on a
 * harness error (a device that cannot be opened, a call that failed in an
 * unexpected way, a device whose counter disagrees), 2 on a usage error.
 */

#include <sys/types.h>
#include <sys/filio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysctl.h>
#include <sys/utsname.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "devring_ioctl.h"

#define	BATCH		64	/* calls between two looks at the stop flag */
#define	MAX_THREADS	256
#define	MAX_POINTS	256
#define	MAX_REPS	101
#define	MAX_BATCH	512	/* slots per TXSYNC (-b) */
#define	VERIFY_EVERY	64	/* tx: one payload in VERIFY_EVERY checked */

/*
 * The floor device.  A build for kernsim (tests/kernsim/devbench.sh) names
 * its stand-in, which answers DEVRING_IOC_SYNC as devring does.
 */
#ifndef DEVBENCH_NULL_PATH
#define	DEVBENCH_NULL_PATH	"/dev/null"
#endif

enum op {
	OP_IOCTL,
	OP_POLL,
};

/* Pipe functions (-f); FN_FLOOR is the null device's ioctl loop. */
enum func {
	FN_FLOOR,
	FN_TX,
	FN_SYNC,
	FN_POLL,
	FN_COUNT,
};

static const char *const func_names[FN_COUNT] = {
	"floor", "tx", "sync", "poll",
};

struct device {
	const char	*name;		/* scheme name in the table */
	const char	*path;
	bool		 devring;	/* answers DEVRING_IOC_INFO */
	uint32_t	 mode;		/* expected DEVRING_MODE_* */
	bool		 selected;
	bool		 missing;
};

static struct device devices[] = {
	{ "null", DEVBENCH_NULL_PATH, false, 0, true, false },
	{ "pcpu", DEVRING_PATH_PCPU, true, DEVRING_MODE_PCPU, true, false },
	{ "counted", DEVRING_PATH_COUNTED, true, DEVRING_MODE_COUNTED, true,
	    false },
};
#define	NDEVICES	(sizeof(devices) / sizeof(devices[0]))

struct run {
	uint64_t	calls;
	uint64_t	pkts;		/* tx: packets received; else calls */
	uint64_t	wall_ns;
};

struct point {
	struct device	*dev;
	enum func	 func;		/* pipe mode only */
	int		 batch;		/* tx: slots per TXSYNC, else 0 */
	int		 threads;
	int		 nruns;
	struct run	 runs[MAX_REPS];
};

struct worker {
	pthread_t		 tid;
	int			 fd;
	bool			 null_dev;
	uint64_t		 calls;
	uint64_t		 errors;
	int			 last_errno;
	struct timespec		 end;
};

static enum op		 opt_op = OP_IOCTL;
static bool		 opt_shared;
static bool		 opt_fionbio;
static double		 opt_seconds = 1.0;
static int		 opt_reps = 5;
static int		 opt_threads[16] = { 1, 2, 4 };
static int		 opt_nthreads = 3;
static const char	*opt_json;
static bool		 opt_pipes;		/* -f: pipe functions */
static bool		 opt_funcs[FN_COUNT];
static int		 opt_batches[16] = { 1, 32, 512 };
static int		 opt_nbatches = 3;
static uint32_t		 opt_slots = 1024;	/* -S, per ring */
static uint32_t		 opt_bufsize;		/* -B, 0: the kernel's */
static uint32_t		 opt_pktlen = 60;	/* -l */

static atomic_int	 stop_flag;
static pthread_barrier_t start_barrier;
static int		 ncpu;

static void
usage(void)
{

	fprintf(stderr,
	    "usage: devbench [-Fs] [-d device] [-j file.json] [-n threads,...] "
	    "[-o ioctl|poll]\n"
	    "                [-r runs] [-t seconds]\n"
	    "       devbench -f tx|rx|sync|poll,... [-s] [-B buf_size] "
	    "[-b batch,...] [-d scheme]\n"
	    "                [-j file.json] [-l length] [-n threads,...] "
	    "[-r runs] [-S slots]\n"
	    "                [-t seconds]\n"
	    "  devices: null, pcpu, counted (default: all three)\n");
	exit(2);
}

static uint64_t
ts_ns(const struct timespec *ts)
{

	return ((uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts_ns(&ts));
}

/*
 * One call on the device.  Returns true if the device answered as
 * expected.
 */
static inline bool
one_call(struct worker *w, struct devring_sync *s)
{
	struct pollfd pfd;
	int on;

	if (opt_op == OP_POLL) {
		pfd.fd = w->fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT) != 0)
			return (true);
		w->last_errno = errno;
		return (false);
	}
	if (w->null_dev && opt_fionbio) {
		on = 0;
		if (ioctl(w->fd, FIONBIO, &on) == 0)
			return (true);
		w->last_errno = errno;
		return (false);
	}
	s->head = (s->head + 1) % DEVRING_SLOTS;
	if (ioctl(w->fd, DEVRING_IOC_SYNC, s) == 0) {
		/* A floor that answers as devring does is fine too. */
		if (s->tail == s->head)
			return (true);
		w->last_errno = 0;
		return (false);
	}
	if (w->null_dev && errno == ENOTTY)
		return (true);
	w->last_errno = errno;
	return (false);
}

static void *
worker_main(void *arg)
{
	struct worker *w;
	struct devring_sync s;
	uint64_t calls, errors;
	int i;

	w = arg;
	memset(&s, 0, sizeof(s));
	calls = errors = 0;
	/* One call before the clock starts (first-touch costs). */
	if (!one_call(w, &s))
		errors++;
	pthread_barrier_wait(&start_barrier);
	while (atomic_load_explicit(&stop_flag, memory_order_relaxed) == 0) {
		for (i = 0; i < BATCH; i++) {
			if (!one_call(w, &s))
				errors++;
		}
		calls += BATCH;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->end);
	w->calls = calls;
	w->errors = errors;
	return (NULL);
}

static int
open_dev(const struct device *d)
{
	int fd;

	fd = open(d->path, O_RDWR);
	if (fd < 0)
		warn("%s", d->path);
	return (fd);
}

/* Calls the device has counted, or 0 for a device that does not count. */
static uint64_t
dev_syncs(const struct device *d, int fd)
{
	struct devring_info info;

	if (!d->devring)
		return (0);
	if (ioctl(fd, DEVRING_IOC_INFO, &info) != 0)
		err(1, "%s: DEVRING_IOC_INFO", d->path);
	return (info.syncs);
}

/* Check that the device is the devring mode it should be. */
static bool
check_dev(struct device *d)
{
	struct devring_info info;
	int fd;

	fd = open_dev(d);
	if (fd < 0)
		return (false);
	if (d->devring) {
		if (ioctl(fd, DEVRING_IOC_INFO, &info) != 0) {
			warn("%s: DEVRING_IOC_INFO", d->path);
			close(fd);
			return (false);
		}
		if (info.mode != d->mode || info.slots != DEVRING_SLOTS) {
			warnx("%s: mode %u slots %u, expected mode %u slots %u",
			    d->path, info.mode, info.slots, d->mode,
			    DEVRING_SLOTS);
			close(fd);
			return (false);
		}
	}
	close(fd);
	return (true);
}

/* One timed run of one point. */
static int
run_point(struct point *p, struct run *out)
{
	struct worker *w;
	struct timespec ts;
	uint64_t t0, end, calls, errors, before, after;
	int ctl, err_no, i, nt, sharedfd;

	nt = p->threads;
	w = calloc((size_t)nt, sizeof(*w));
	if (w == NULL)
		err(1, "calloc");
	sharedfd = -1;
	ctl = open_dev(p->dev);
	if (ctl < 0) {
		free(w);
		return (-1);
	}
	if (opt_shared)
		sharedfd = ctl;
	for (i = 0; i < nt; i++) {
		w[i].fd = opt_shared ? sharedfd : open_dev(p->dev);
		w[i].null_dev = !p->dev->devring;
		if (w[i].fd < 0)
			errx(1, "%s: cannot open one fd per thread",
			    p->dev->path);
	}
	atomic_store(&stop_flag, 0);
	if (pthread_barrier_init(&start_barrier, NULL, (unsigned)nt + 1) != 0)
		errx(1, "pthread_barrier_init");
	for (i = 0; i < nt; i++) {
		if ((err_no = pthread_create(&w[i].tid, NULL, worker_main,
		    &w[i])) != 0)
			errc(1, err_no, "pthread_create");
	}
	pthread_barrier_wait(&start_barrier);
	t0 = now_ns();
	ts.tv_sec = (time_t)opt_seconds;
	ts.tv_nsec = (long)((opt_seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	atomic_store(&stop_flag, 1);
	calls = errors = 0;
	end = t0;
	for (i = 0; i < nt; i++) {
		pthread_join(w[i].tid, NULL);
		calls += w[i].calls;
		errors += w[i].errors;
		if (ts_ns(&w[i].end) > end)
			end = ts_ns(&w[i].end);
		if (w[i].errors != 0)
			warnc(w[i].last_errno, "%s: %ju calls failed",
			    p->dev->path, (uintmax_t)w[i].errors);
	}
	pthread_barrier_destroy(&start_barrier);
	/*
	 * devring counts syncs per open file (no shared atomic on its path):
	 * with one fd per thread the counts are exact; a shared fd's are not
	 * (concurrent increments), so it is not cross-checked.
	 */
	before = after = 0;
	if (!opt_shared) {
		for (i = 0; i < nt; i++) {
			after += dev_syncs(p->dev, w[i].fd);
			close(w[i].fd);
		}
	}
	close(ctl);
	free(w);
	if (errors != 0 || calls == 0)
		return (-1);
	/* The device counts every sync, warm-up calls included. */
	if (p->dev->devring && opt_op == OP_IOCTL && !opt_shared &&
	    after - before != calls + (uint64_t)nt) {
		warnx("%s: the device counted %ju syncs, devbench %ju",
		    p->dev->path, (uintmax_t)(after - before),
		    (uintmax_t)(calls + (uint64_t)nt));
		return (-1);
	}
	out->calls = calls;
	out->wall_ns = end > t0 ? end - t0 : 1;
	return (0);
}

static double
run_rate(const struct run *r)
{

	return ((double)r->calls * 1e9 / (double)r->wall_ns);
}

static double
run_ns(const struct run *r, int threads)
{
	int busy;

	busy = threads < ncpu ? threads : ncpu;
	return ((double)r->wall_ns * busy / (double)r->calls);
}

static int
cmp_double(const void *a, const void *b)
{
	double x, y;

	x = *(const double *)a;
	y = *(const double *)b;
	return ((x > y) - (x < y));
}

/* Sort v[0..n) and return its median; its least and greatest in *lo, *hi. */
static double
median_of(double *v, int n, double *lo, double *hi)
{

	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	if (lo != NULL)
		*lo = v[0];
	if (hi != NULL)
		*hi = v[n - 1];
	return (v[n / 2]);
}

/* Median calls/s (upper median), and the extremes. */
static double
point_rate(const struct point *p, double *lo, double *hi)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = run_rate(&p->runs[i]);
	return (median_of(v, p->nruns, lo, hi));
}

static double
point_ns(const struct point *p)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = run_ns(&p->runs[i], p->threads);
	return (median_of(v, p->nruns, NULL, NULL));
}

static struct point *
find_point(struct point *pts, int npts, const char *name, int threads)
{
	int i;

	for (i = 0; i < npts; i++) {
		if (pts[i].threads == threads &&
		    strcmp(pts[i].dev->name, name) == 0 && pts[i].nruns > 0)
			return (&pts[i]);
	}
	return (NULL);
}

/* A table cell: v with `prec` decimals (and a sign if `sign`), or "-". */
static void
fmt_opt(char *buf, size_t len, bool have, bool sign, int prec, double v)
{

	if (!have)
		snprintf(buf, len, "-");
	else if (sign)
		snprintf(buf, len, "%+.*f", prec, v);
	else
		snprintf(buf, len, "%.*f", prec, v);
}

static void
print_table(struct point *pts, int npts)
{
	struct point *p, *pn, *pc;
	char added[32], xnull[32], xcnt[32], thr[16];
	double lo, hi, rate;
	int i;

	printf("%-5s  %-7s  %-7s  %9s  %6s  %8s  %8s  %6s  %9s\n", "work",
	    "threads", "scheme", "Mcalls/s", "spread", "ns/call", "added ns",
	    "x null", "x counted");
	printf("-------------------------------------------------------------"
	    "-----------------------\n");
	for (i = 0; i < npts; i++) {
		p = &pts[i];
		if (p->nruns == 0)
			continue;
		pn = find_point(pts, npts, "null", p->threads);
		pc = find_point(pts, npts, "counted", p->threads);
		rate = point_rate(p, &lo, &hi);
		fmt_opt(added, sizeof(added), pn != NULL, true, 2,
		    pn != NULL ? point_ns(p) - point_ns(pn) : 0);
		fmt_opt(xnull, sizeof(xnull), pn != NULL, false, 3,
		    pn != NULL ? rate / point_rate(pn, NULL, NULL) : 0);
		fmt_opt(xcnt, sizeof(xcnt), pc != NULL, false, 2,
		    pc != NULL ? rate / point_rate(pc, NULL, NULL) : 0);
		snprintf(thr, sizeof(thr), "%d%s", p->threads,
		    p->threads > ncpu ? "*" : "");
		printf("%-5s  %-7s  %-7s  %9.2f  %5.1f%%  %8.2f  %8s  %6s  "
		    "%9s\n", "0", thr, p->dev->name, rate / 1e6,
		    (hi - lo) / rate * 100, point_ns(p), added, xnull, xcnt);
	}
	for (i = 0; i < opt_nthreads; i++) {
		if (opt_threads[i] > ncpu) {
			printf("* more threads than the %d CPUs: "
			    "oversubscribed\n", ncpu);
			break;
		}
	}
}

static void
json_str(FILE *f, const char *s)
{

	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void
json_opt(FILE *f, bool have, double v)
{

	if (have)
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "null");
}

static void
write_json(const char *path, struct point *pts, int npts, const char *model,
    const char *kernel, const char *date)
{
	struct point *p, *pn, *pc;
	FILE *f;
	double lo, hi, rate;
	int i, j, first;

	f = fopen(path, "w");
	if (f == NULL)
		err(1, "%s", path);
	fprintf(f, "{\n  \"format\": \"devref-bench/1\",\n");
	fprintf(f, "  \"tool\": \"devbench\",\n  \"quick\": false,\n");
	fprintf(f, "  \"machine\": {\n    \"cpus\": %d,\n    \"cpu_model\": ",
	    ncpu);
	json_str(f, model);
	fprintf(f, ",\n    \"kernel\": ");
	json_str(f, kernel);
	fprintf(f, ",\n    \"date\": ");
	json_str(f, date);
	fprintf(f, ",\n    \"commit\": null\n  },\n");
	fprintf(f, "  \"config\": {\n    \"op\": \"%s\",\n"
	    "    \"shared_fd\": %s,\n    \"null_ioctl\": \"%s\",\n"
	    "    \"threads\": [", opt_op == OP_IOCTL ? "ioctl" : "poll",
	    opt_shared ? "true" : "false",
	    opt_fionbio ? "FIONBIO" : "DEVRING_IOC_SYNC (ENOTTY)");
	for (i = 0; i < opt_nthreads; i++)
		fprintf(f, "%s%d", i > 0 ? ", " : "", opt_threads[i]);
	fprintf(f, "],\n    \"run_ms\": %.0f,\n    \"reps\": %d,\n"
	    "    \"batch\": %d\n  },\n", opt_seconds * 1000, opt_reps, BATCH);
	fprintf(f, "  \"baseline\": { \"none\": \"null\", "
	    "\"percdev\": \"counted\" },\n");
	fprintf(f, "  \"schemes\": [\n");
	for (i = 0; i < (int)NDEVICES; i++) {
		fprintf(f, "    { \"name\": \"%s\", \"path\": \"%s\" }%s\n",
		    devices[i].name, devices[i].path,
		    i + 1 < (int)NDEVICES ? "," : "");
	}
	fprintf(f, "  ],\n  \"throughput\": [");
	first = 1;
	for (i = 0; i < npts; i++) {
		p = &pts[i];
		if (p->nruns == 0)
			continue;
		pn = find_point(pts, npts, "null", p->threads);
		pc = find_point(pts, npts, "counted", p->threads);
		rate = point_rate(p, &lo, &hi);
		fprintf(f, "%s\n    {\n      \"scheme\": \"%s\",\n"
		    "      \"device\": \"%s\",\n      \"threads\": %d,\n"
		    "      \"oversubscribed\": %s,\n"
		    "      \"work_iters\": 0,\n      \"work_ns\": 0,\n"
		    "      \"calls_per_s\": %.6g,\n"
		    "      \"calls_per_s_min\": %.6g,\n"
		    "      \"calls_per_s_max\": %.6g,\n"
		    "      \"spread_pct\": %.4g,\n      \"ns_per_call\": %.6g,\n",
		    first ? "" : ",", p->dev->name, p->dev->path, p->threads,
		    p->threads > ncpu ? "true" : "false", rate, lo, hi,
		    (hi - lo) / rate * 100, point_ns(p));
		first = 0;
		fprintf(f, "      \"added_ns\": ");
		json_opt(f, pn != NULL, pn != NULL ?
		    point_ns(p) - point_ns(pn) : 0);
		fprintf(f, ",\n      \"ratio_none\": ");
		json_opt(f, pn != NULL, pn != NULL ?
		    rate / point_rate(pn, NULL, NULL) : 0);
		fprintf(f, ",\n      \"ratio_percdev\": ");
		json_opt(f, pc != NULL, pc != NULL ?
		    rate / point_rate(pc, NULL, NULL) : 0);
		fprintf(f, ",\n      \"runs\": [");
		for (j = 0; j < p->nruns; j++) {
			fprintf(f, "%s\n        { \"calls\": %ju, "
			    "\"wall_ns\": %ju, \"calls_per_s\": %.6g, "
			    "\"ns_per_call\": %.6g }", j > 0 ? "," : "",
			    (uintmax_t)p->runs[j].calls,
			    (uintmax_t)p->runs[j].wall_ns,
			    run_rate(&p->runs[j]),
			    run_ns(&p->runs[j], p->threads));
		}
		fprintf(f, "\n      ]\n    }");
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f) != 0)
		err(1, "%s", path);
}

/*
 * Pipes (-f).  Each selected devring scheme has its own pipes, made at
 * start and destroyed at exit; each pipe's two ends stay open, bound and
 * its region mapped for the whole run (as a pkt-gen keeps its rings), so
 * that a run measures the rings and not open, bind and mmap.
 */
struct pipe {
	char			 name[DEVRING_PIPE_NAMELEN];
	bool			 created;
	int			 fd[2];		/* end 0, end 1 */
	struct devring_pipe_bind bind[2];
	char			*mem;		/* the region */
	size_t			 len;
};

struct pipeset {
	struct pipe		*pipes;
	int			 npipes;
};

static struct pipeset	 psets[NDEVICES];
static int		 ctl_fd = -1;
static uint32_t		 pipe_bufsize;	/* as the kernel made them */
static volatile sig_atomic_t interrupted;

enum role {
	ROLE_TX,
	ROLE_RX,
	ROLE_SYNC,
	ROLE_POLL,
};

struct pworker {
	pthread_t		 tid;
	enum role		 role;
	struct pipe		*pipe;
	int			 end;
	uint32_t		 batch;
	uint64_t		 calls;		/* syncs or polls */
	uint64_t		 pkts;		/* tx: filled; rx: received */
	uint64_t		 moved;		/* slots the kernel reported */
	bool			 failed;
	char			 why[192];
	struct timespec		 end_ts;
};

static atomic_int	 pdone;

static struct devring_ring *
pipe_ring(const struct pipe *p, uint64_t ofs)
{

	return ((struct devring_ring *)(void *)(p->mem + ofs));
}

static struct devring_slot *
ring_slot(struct devring_ring *r, uint32_t i)
{

	return ((struct devring_slot *)(void *)(r + 1) + i);
}

static char *
pipe_buf(const struct pipe *p, uint32_t idx)
{

	return (p->mem + p->bind[0].buf_ofs + (size_t)idx * p->bind[0].buf_size);
}

/* Slots from a forward to b in a ring of n. */
static uint32_t
ring_dist(uint32_t n, uint32_t a, uint32_t b)
{

	return (b >= a ? b - a : n - a + b);
}

static void
pfail(struct pworker *w, int e, const char *fmt, ...) __printflike(3, 4);

static void
pfail(struct pworker *w, int e, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (w->failed)
		return;
	w->failed = true;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	if (e != 0) {
		len = strlen(w->why);
		snprintf(w->why + len, sizeof(w->why) - len, ": %s",
		    strerror(e));
	}
	/* The others stop too; a blocked peer is the watchdog's. */
	atomic_store(&stop_flag, 1);
}

static int
pipe_sync(int fd, unsigned long cmd, uint32_t flags,
    struct devring_pipe_sync *s)
{

	memset(s, 0, sizeof(*s));
	s->flags = flags;
	return (ioctl(fd, cmd, s) == 0 ? 0 : errno);
}

/*
 * tx: fill up to batch slots, TXSYNC, until told to stop; then the end
 * mark, and wait until the peer took everything.
 */
static void
tx_loop(struct pworker *w)
{
	struct devring_pipe_sync s;
	struct devring_ring *r;
	struct devring_slot *sl;
	const struct devring_pipe_bind *b;
	uint64_t seq;
	uint32_t head, k, n, room;
	int e;
	bool last;

	b = &w->pipe->bind[0];
	r = pipe_ring(w->pipe, b->tx_ofs);
	n = b->slots;
	head = r->head;
	if (head >= n || r->tail >= n) {
		pfail(w, 0, "tx: ring head %u tail %u, %u slots", head,
		    r->tail, n);
		return;
	}
	seq = 0;
	last = false;
	while (!last) {
		last = atomic_load_explicit(&stop_flag,
		    memory_order_relaxed) != 0;
		room = ring_dist(n, head, r->tail);
		for (k = 0; k < room && (last ? k < 1 : k < w->batch); k++) {
			sl = ring_slot(r, head);
			if (sl->buf_idx >= b->buffers) {
				pfail(w, 0, "tx: slot %u holds buffer %u of "
				    "%u", head, sl->buf_idx, b->buffers);
				return;
			}
			/* The end mark: an empty slot, seq ~0. */
			if (last) {
				memset(pipe_buf(w->pipe, sl->buf_idx), 0xff, 8);
				sl->len = 0;
			} else {
				memcpy(pipe_buf(w->pipe, sl->buf_idx), &seq, 8);
				sl->len = opt_pktlen;
				seq++;
			}
			head = head + 1 == n ? 0 : head + 1;
		}
		if (last && k == 0)
			last = false;	/* no room for the mark yet */
		r->head = r->cur = head;
		e = pipe_sync(w->pipe->fd[0], DEVRING_IOC_TXSYNC,
		    k == 0 ? DEVRING_SYNC_WAIT : 0, &s);
		w->calls++;
		if (e != 0) {
			pfail(w, e, "tx: TXSYNC after %ju packets",
			    (uintmax_t)seq);
			return;
		}
		w->moved += s.moved;
		if (r->head != head || s.slots != ring_dist(n, head, r->tail)) {
			pfail(w, 0, "tx: TXSYNC answered head %u tail %u slots "
			    "%u, head was %u", r->head, r->tail, s.slots, head);
			return;
		}
	}
	w->pkts = seq;
	/* Everything sent: tail back at head - 1 (cur = tail: wait for it). */
	while (r->tail != (head + n - 1) % n) {
		r->cur = r->tail;
		e = pipe_sync(w->pipe->fd[0], DEVRING_IOC_TXSYNC,
		    DEVRING_SYNC_WAIT, &s);
		w->calls++;
		if (e != 0) {
			pfail(w, e, "tx: draining TXSYNC");
			return;
		}
		w->moved += s.moved;
	}
	r->cur = head;
}

/* rx: RXSYNC (waiting), check and release what arrived, until the mark. */
static void
rx_loop(struct pworker *w)
{
	struct devring_pipe_sync s;
	struct devring_ring *r;
	struct devring_slot *sl;
	const struct devring_pipe_bind *b;
	uint64_t expect, got;
	uint32_t head, n, tail;
	int e;
	bool done;

	b = &w->pipe->bind[1];
	r = pipe_ring(w->pipe, b->rx_ofs);
	n = b->slots;
	head = r->head;
	expect = 0;
	done = false;
	while (!done) {
		e = pipe_sync(w->pipe->fd[1], DEVRING_IOC_RXSYNC,
		    DEVRING_SYNC_WAIT, &s);
		w->calls++;
		if (e != 0) {
			pfail(w, e, "rx: RXSYNC after %ju packets",
			    (uintmax_t)expect);
			return;
		}
		w->moved += s.moved;
		tail = r->tail;
		if (r->head != head || tail >= n ||
		    s.slots != ring_dist(n, head, tail)) {
			pfail(w, 0, "rx: RXSYNC answered head %u tail %u slots "
			    "%u, head was %u", r->head, tail, s.slots, head);
			return;
		}
		for (; head != tail && !done; head = head + 1 == n ? 0 :
		    head + 1) {
			sl = ring_slot(r, head);
			if (sl->buf_idx >= b->buffers) {
				pfail(w, 0, "rx: slot %u holds buffer %u of "
				    "%u", head, sl->buf_idx, b->buffers);
				return;
			}
			if (sl->len == 0) {
				done = true;	/* the end mark */
				continue;
			}
			if (sl->len != opt_pktlen) {
				pfail(w, 0, "rx: packet %ju: length %u, sent "
				    "%u", (uintmax_t)expect, sl->len,
				    opt_pktlen);
				return;
			}
			if (expect % VERIFY_EVERY == 0) {
				memcpy(&got, pipe_buf(w->pipe, sl->buf_idx), 8);
				if (got != expect) {
					pfail(w, 0, "rx: packet %ju carries "
					    "sequence number %ju",
					    (uintmax_t)expect, (uintmax_t)got);
					return;
				}
			}
			expect++;
		}
		r->head = r->cur = head;
		if (done && head != tail) {
			pfail(w, 0, "rx: %u slots after the end mark",
			    ring_dist(n, head, tail));
			return;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &w->end_ts);
	w->pkts = expect;
	/* Give the slots back: the next run starts with an empty ring. */
	e = pipe_sync(w->pipe->fd[1], DEVRING_IOC_RXSYNC, 0, &s);
	w->calls++;
	if (e != 0)
		pfail(w, e, "rx: last RXSYNC");
	else if (s.slots != 0 || s.moved != 0)
		pfail(w, 0, "rx: %u slots (%u new) after the end mark",
		    s.slots, s.moved);
}

/* sync and poll: the entry path on a bound end, nothing moved. */
static void
call_loop(struct pworker *w)
{
	struct devring_pipe_sync s;
	struct pollfd pfd;
	uint32_t n;
	int e, fd, i;

	fd = w->pipe->fd[w->end];
	n = w->pipe->bind[w->end].slots;
	while (atomic_load_explicit(&stop_flag, memory_order_relaxed) == 0) {
		for (i = 0; i < BATCH; i++) {
			if (w->role == ROLE_POLL) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				pfd.revents = 0;
				if (poll(&pfd, 1, 0) != 1 ||
				    pfd.revents != POLLOUT) {
					pfail(w, errno, "poll: revents %#x",
					    (unsigned)pfd.revents);
					return;
				}
				continue;
			}
			e = pipe_sync(fd, DEVRING_IOC_TXSYNC, 0, &s);
			if (e != 0) {
				pfail(w, e, "sync: TXSYNC");
				return;
			}
			if (s.slots != n - 1 || s.moved != 0) {
				pfail(w, 0, "sync: TXSYNC answered slots %u "
				    "moved %u, expected %u and 0", s.slots,
				    s.moved, n - 1);
				return;
			}
		}
		w->calls += BATCH;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->end_ts);
	w->pkts = w->calls;
}

static void *
pworker_main(void *arg)
{
	struct pworker *w;

	w = arg;
	pthread_barrier_wait(&start_barrier);
	switch (w->role) {
	case ROLE_TX:
		tx_loop(w);
		break;
	case ROLE_RX:
		rx_loop(w);
		break;
	case ROLE_SYNC:
	case ROLE_POLL:
		call_loop(w);
		break;
	}
	atomic_fetch_add(&pdone, 1);
	return (NULL);
}

/* OS threads of a point: tx has a sender and a receiver per pair. */
static int
point_busy(const struct point *p)
{
	int nt;

	nt = p->func == FN_TX ? 2 * p->threads : p->threads;
	return (nt < ncpu ? nt : ncpu);
}

static int
point_osthreads(const struct point *p)
{

	return (p->func == FN_TX ? 2 * p->threads : p->threads);
}

/* One timed run of a pipe point. */
static int
run_pipe_point(struct point *p, struct run *out)
{
	struct pworker *w;
	struct pipeset *ps;
	struct timespec ts;
	uint64_t t0, end, deadline, calls, pkts;
	int err_no, i, nt, pair;
	bool bad;

	ps = &psets[p->dev - devices];
	nt = point_osthreads(p);
	w = calloc((size_t)nt, sizeof(*w));
	if (w == NULL)
		err(1, "calloc");
	for (i = 0; i < nt; i++) {
		switch (p->func) {
		case FN_TX:
			pair = i / 2;
			w[i].role = i % 2 == 0 ? ROLE_TX : ROLE_RX;
			w[i].pipe = &ps->pipes[pair];
			w[i].end = i % 2;
			w[i].batch = (uint32_t)p->batch;
			break;
		default:
			w[i].role = p->func == FN_SYNC ? ROLE_SYNC : ROLE_POLL;
			w[i].pipe = &ps->pipes[opt_shared ? 0 : i];
			w[i].end = opt_shared ? i : 0;
			break;
		}
	}
	atomic_store(&stop_flag, 0);
	atomic_store(&pdone, 0);
	if (pthread_barrier_init(&start_barrier, NULL, (unsigned)nt + 1) != 0)
		errx(1, "pthread_barrier_init");
	for (i = 0; i < nt; i++) {
		if ((err_no = pthread_create(&w[i].tid, NULL, pworker_main,
		    &w[i])) != 0)
			errc(1, err_no, "pthread_create");
	}
	pthread_barrier_wait(&start_barrier);
	t0 = now_ns();
	ts.tv_sec = (time_t)opt_seconds;
	ts.tv_nsec = (long)((opt_seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !interrupted)
		;
	atomic_store(&stop_flag, 1);
	/* A sync that never comes back is a harness error, not a hang. */
	deadline = now_ns() + 10000000000ULL;
	while (atomic_load(&pdone) < nt && now_ns() < deadline) {
		ts.tv_sec = 0;
		ts.tv_nsec = 5000000;
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&pdone) < nt) {
		for (i = 0; i < nt; i++) {
			if (w[i].failed)
				warnx("%s: %s", w[i].pipe->name, w[i].why);
		}
		errx(1, "%s %s, %d threads: a thread did not return 10 s "
		    "after the end of the run (a lost wakeup?)",
		    func_names[p->func], p->dev->name, p->threads);
	}
	calls = pkts = 0;
	end = t0;
	bad = false;
	for (i = 0; i < nt; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].failed) {
			warnx("%s: %s", w[i].pipe->name, w[i].why);
			bad = true;
		}
		calls += w[i].calls;
		if (w[i].role != ROLE_TX) {
			pkts += w[i].pkts;
			if (ts_ns(&w[i].end_ts) > end)
				end = ts_ns(&w[i].end_ts);
		}
	}
	pthread_barrier_destroy(&start_barrier);
	/* tx: every packet filled arrived, the kernel counted each slot. */
	for (i = 0; p->func == FN_TX && !bad && i < nt; i += 2) {
		if (w[i + 1].pkts != w[i].pkts ||
		    w[i].moved != w[i].pkts + 1 ||
		    w[i + 1].moved != w[i + 1].pkts + 1) {
			warnx("%s: sent %ju (TXSYNC moved %ju), received %ju "
			    "(RXSYNC moved %ju), plus the end mark",
			    w[i].pipe->name, (uintmax_t)w[i].pkts,
			    (uintmax_t)w[i].moved, (uintmax_t)w[i + 1].pkts,
			    (uintmax_t)w[i + 1].moved);
			bad = true;
		}
	}
	free(w);
	if (bad || calls == 0 || pkts == 0)
		return (-1);
	out->calls = calls;
	out->pkts = pkts;
	out->wall_ns = end > t0 ? end - t0 : 1;
	return (0);
}

static void
pipe_name(char *buf, size_t len, const struct device *d, int i)
{

	snprintf(buf, len, "devbench.%ld.%s.%d", (long)getpid(), d->name, i);
}

/* Make, open, bind and map one pipe of scheme d. */
static bool
pipe_setup(struct pipe *p, const struct device *d, int i)
{
	struct devring_pipe_req req;
	struct devring_ring *r;
	struct devring_pipe_bind *b;
	char path[sizeof(DEVRING_PIPE_DIR) + DEVRING_PIPE_NAMELEN];
	uint64_t ofs[4], ringlen;
	size_t pg;
	uint32_t dir;
	int e, j;

	memset(p, 0, sizeof(*p));
	p->fd[0] = p->fd[1] = -1;
	pipe_name(p->name, sizeof(p->name), d, i);
	memset(&req, 0, sizeof(req));
	strlcpy(req.name, p->name, sizeof(req.name));
	req.mode = d->mode;
	req.uid = (uint32_t)getuid();
	req.gid = (uint32_t)getgid();
	req.perms = 0600;
	req.slots = opt_slots;
	req.buf_size = opt_bufsize;
	if (ioctl(ctl_fd, DEVRING_IOC_PIPE_CREATE, &req) != 0) {
		warn("%s: DEVRING_IOC_PIPE_CREATE %s", DEVRING_PATH_CTL,
		    p->name);
		return (false);
	}
	p->created = true;
	pipe_bufsize = req.buf_size;
	if (req.slots != opt_slots || opt_pktlen < 8 ||
	    opt_pktlen > req.buf_size) {
		warnx("%s: %u slots of %u bytes: packets of %u bytes do not "
		    "fit", p->name, req.slots, req.buf_size, opt_pktlen);
		return (false);
	}
	snprintf(path, sizeof(path), "%s%s", DEVRING_PIPE_DIR, p->name);
	for (j = 0; j < 2; j++) {
		b = &p->bind[j];
		if ((p->fd[j] = open(path, O_RDWR)) < 0) {
			warn("%s", path);
			return (false);
		}
		b->end = (uint32_t)j;
		if (ioctl(p->fd[j], DEVRING_IOC_PIPE_BIND, b) != 0) {
			warn("%s: DEVRING_IOC_PIPE_BIND end %d", path, j);
			return (false);
		}
	}
	/* Both ends describe one region; everything in it fits. */
	b = &p->bind[0];
	ringlen = sizeof(struct devring_ring) +
	    (uint64_t)b->slots * sizeof(struct devring_slot);
	ofs[0] = b->tx_ofs;
	ofs[1] = b->rx_ofs;
	ofs[2] = p->bind[1].tx_ofs;
	ofs[3] = p->bind[1].rx_ofs;
	e = 0;
	for (j = 0; j < 4; j++) {
		if (ofs[j] % DEVRING_RING_ALIGN != 0 ||
		    ofs[j] + ringlen > b->size)
			e = 1;
	}
	if (e != 0 || p->bind[1].offset != b->offset ||
	    p->bind[1].size != b->size || p->bind[1].buf_ofs != b->buf_ofs ||
	    b->slots != req.slots || b->buf_size != req.buf_size ||
	    b->buffers < 4 * b->slots || b->buf_ofs +
	    (uint64_t)b->buffers * b->buf_size > b->size) {
		warnx("%s: the two binds disagree or describe rings outside "
		    "the region", path);
		return (false);
	}
	p->len = (size_t)b->size;
	p->mem = mmap(NULL, p->len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    p->fd[0], (off_t)b->offset);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		warn("%s: mmap", path);
		return (false);
	}
	/* Fresh rings, as the ABI describes them. */
	for (j = 0; j < 4; j++) {
		r = pipe_ring(p, ofs[j]);
		dir = j % 2 == 0 ? DEVRING_RING_TX : DEVRING_RING_RX;
		if (r->num_slots != b->slots || r->buf_size != b->buf_size ||
		    r->dir != dir || r->head != 0 || r->cur != 0 ||
		    r->tail != (dir == DEVRING_RING_TX ? b->slots - 1 : 0)) {
			warnx("%s: ring %d: head %u cur %u tail %u slots %u "
			    "buf_size %u dir %u", path, j, r->head, r->cur,
			    r->tail, r->num_slots, r->buf_size, r->dir);
			return (false);
		}
	}
	/* Touch every buffer page now, not in the first timed run. */
	pg = (size_t)getpagesize();
	for (ringlen = b->buf_ofs; ringlen < b->size; ringlen += pg)
		p->mem[ringlen] = 0;
	return (true);
}

static void
pipes_teardown(void)
{
	struct devring_pipe_req req;
	struct pipe *p;
	int i, j, k;

	for (i = 0; i < (int)NDEVICES; i++) {
		for (j = 0; j < psets[i].npipes; j++) {
			p = &psets[i].pipes[j];
			if (p->mem != NULL)
				munmap(p->mem, p->len);
			p->mem = NULL;
			for (k = 0; k < 2; k++) {
				if (p->fd[k] >= 0)
					close(p->fd[k]);
				p->fd[k] = -1;
			}
			if (!p->created)
				continue;
			p->created = false;
			memset(&req, 0, sizeof(req));
			strlcpy(req.name, p->name, sizeof(req.name));
			if (ioctl(ctl_fd, DEVRING_IOC_PIPE_DESTROY, &req) != 0)
				warn("%s: DEVRING_IOC_PIPE_DESTROY %s",
				    DEVRING_PATH_CTL, p->name);
		}
		free(psets[i].pipes);
		psets[i].pipes = NULL;
		psets[i].npipes = 0;
	}
	if (ctl_fd >= 0)
		close(ctl_fd);
	ctl_fd = -1;
}

static void
on_signal(int sig __unused)
{

	interrupted = 1;
}

/* The pipes of every selected scheme; false if one could not be made. */
static bool
pipes_setup(int npipes)
{
	struct sigaction sa;
	int i, j;

	ctl_fd = open(DEVRING_PATH_CTL, O_RDWR);
	if (ctl_fd < 0) {
		warn("%s", DEVRING_PATH_CTL);
		return (false);
	}
	atexit(pipes_teardown);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (i = 0; i < (int)NDEVICES; i++) {
		if (!devices[i].selected || !devices[i].devring)
			continue;
		psets[i].pipes = calloc((size_t)npipes, sizeof(struct pipe));
		if (psets[i].pipes == NULL)
			err(1, "calloc");
		for (j = 0; j < npipes; j++) {
			psets[i].npipes++;
			if (!pipe_setup(&psets[i].pipes[j], &devices[i], j))
				return (false);
		}
	}
	return (true);
}

static double
prun_rate(const struct point *p, const struct run *r)
{

	return ((double)(p->func == FN_TX ? r->pkts : r->calls) * 1e9 /
	    (double)r->wall_ns);
}

/* CPU ns per call (per packet with pkts) of one thread. */
static double
prun_ns(const struct point *p, const struct run *r, bool pkts)
{

	return ((double)r->wall_ns * point_busy(p) /
	    (double)(pkts ? r->pkts : r->calls));
}


/* Median of the headline rate (packets/s for tx, calls/s else). */
static double
ppoint_rate(const struct point *p, double *lo, double *hi)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = prun_rate(p, &p->runs[i]);
	return (median_of(v, p->nruns, lo, hi));
}

static double
ppoint_calls(const struct point *p)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = (double)p->runs[i].calls * 1e9 /
		    (double)p->runs[i].wall_ns;
	return (median_of(v, p->nruns, NULL, NULL));
}

static double
ppoint_ns(const struct point *p, bool pkts)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = prun_ns(p, &p->runs[i], pkts);
	return (median_of(v, p->nruns, NULL, NULL));
}

static struct point *
find_ppoint(struct point *pts, int npts, enum func f, int batch,
    const char *name, int threads)
{
	int i;

	for (i = 0; i < npts; i++) {
		if (pts[i].func == f && pts[i].batch == batch &&
		    pts[i].threads == threads && pts[i].nruns > 0 &&
		    strcmp(pts[i].dev->name, name) == 0)
			return (&pts[i]);
	}
	return (NULL);
}

/* The floor and counted points p is compared with. */
static void
ppoint_refs(struct point *pts, int npts, const struct point *p,
    struct point **pn, struct point **pc)
{

	*pn = find_ppoint(pts, npts, FN_FLOOR, 0, "null", p->threads);
	*pc = p->func == FN_FLOOR ? NULL :
	    find_ppoint(pts, npts, p->func, p->batch, "counted", p->threads);
}

static void
print_pipe_table(struct point *pts, int npts)
{
	struct point *p, *pn, *pc;
	char mpps[32], nspkt[32], xnull[32], xcnt[32], thr[16], bat[16];
	double lo, hi, rate;
	int i;

	printf("%-5s  %5s  %-7s  %-7s  %8s  %6s  %8s  %9s  %8s  %6s  %9s\n",
	    "func", "batch", "threads", "scheme", "Mpps", "spread", "ns/pkt",
	    "Mcalls/s", "ns/call", "x null", "x counted");
	printf("-------------------------------------------------------------"
	    "-------------------------------------\n");
	for (i = 0; i < npts; i++) {
		p = &pts[i];
		if (p->nruns == 0)
			continue;
		ppoint_refs(pts, npts, p, &pn, &pc);
		rate = ppoint_rate(p, &lo, &hi);
		fmt_opt(mpps, sizeof(mpps), p->func == FN_TX, false, 3,
		    rate / 1e6);
		fmt_opt(nspkt, sizeof(nspkt), p->func == FN_TX, false, 1,
		    p->func == FN_TX ? ppoint_ns(p, true) : 0);
		/* Per call, against the floor's bare ioctl. */
		fmt_opt(xnull, sizeof(xnull), pn != NULL, false, 3,
		    pn != NULL ? ppoint_ns(pn, false) / ppoint_ns(p, false) :
		    0);
		fmt_opt(xcnt, sizeof(xcnt), pc != NULL, false, 2,
		    pc != NULL ? rate / ppoint_rate(pc, NULL, NULL) : 0);
		snprintf(thr, sizeof(thr), "%d%s", p->threads,
		    point_osthreads(p) > ncpu ? "*" : "");
		if (p->func == FN_TX)
			snprintf(bat, sizeof(bat), "%d", p->batch);
		else
			snprintf(bat, sizeof(bat), "-");
		printf("%-5s  %5s  %-7s  %-7s  %8s  %5.1f%%  %8s  %9.3f  %8.1f  "
		    "%6s  %9s\n", func_names[p->func], bat, thr, p->dev->name,
		    mpps, (hi - lo) / rate * 100, nspkt, ppoint_calls(p) / 1e6,
		    ppoint_ns(p, false), xnull, xcnt);
	}
	printf("tx: threads are sender/receiver pairs; Mpps as received; "
	    "x null: the floor's ns/call over this one's\n");
	for (i = 0; i < npts; i++) {
		if (point_osthreads(&pts[i]) > ncpu) {
			printf("* more threads than the %d CPUs: "
			    "oversubscribed\n", ncpu);
			break;
		}
	}
}

static void
write_pipe_json(const char *path, struct point *pts, int npts,
    const char *model, const char *kernel, const char *date)
{
	struct point *p, *pn, *pc;
	FILE *f;
	double lo, hi, rate;
	int i, j, first;
	bool tx;

	f = fopen(path, "w");
	if (f == NULL)
		err(1, "%s", path);
	fprintf(f, "{\n  \"format\": \"devref-bench/1\",\n");
	fprintf(f, "  \"tool\": \"devbench\",\n  \"kind\": \"pipes\",\n"
	    "  \"quick\": false,\n");
	fprintf(f, "  \"machine\": {\n    \"cpus\": %d,\n    \"cpu_model\": ",
	    ncpu);
	json_str(f, model);
	fprintf(f, ",\n    \"kernel\": ");
	json_str(f, kernel);
	fprintf(f, ",\n    \"date\": ");
	json_str(f, date);
	fprintf(f, ",\n    \"commit\": null\n  },\n");
	fprintf(f, "  \"config\": {\n    \"functions\": [");
	first = 1;
	for (i = FN_TX; i < FN_COUNT; i++) {
		if (!opt_funcs[i])
			continue;
		fprintf(f, "%s\"%s\"", first ? "" : ", ", func_names[i]);
		first = 0;
	}
	fprintf(f, "],\n    \"shared_pipe\": %s,\n    \"threads\": [",
	    opt_shared ? "true" : "false");
	for (i = 0; i < opt_nthreads; i++)
		fprintf(f, "%s%d", i > 0 ? ", " : "", opt_threads[i]);
	fprintf(f, "],\n    \"batches\": [");
	for (i = 0; i < opt_nbatches; i++)
		fprintf(f, "%s%d", i > 0 ? ", " : "", opt_batches[i]);
	fprintf(f, "],\n    \"slots\": %u,\n    \"buf_size\": %u,\n"
	    "    \"pkt_len\": %u,\n    \"verify_every\": %d,\n"
	    "    \"floor\": \"%s ioctl (DEVRING_IOC_SYNC)\",\n"
	    "    \"run_ms\": %.0f,\n    \"reps\": %d\n  },\n", opt_slots,
	    pipe_bufsize, opt_pktlen, VERIFY_EVERY, devices[0].path,
	    opt_seconds * 1000, opt_reps);
	fprintf(f, "  \"baseline\": { \"none\": \"null\", "
	    "\"percdev\": \"counted\" },\n");
	fprintf(f, "  \"schemes\": [\n");
	for (i = 0; i < (int)NDEVICES; i++) {
		fprintf(f, "    { \"name\": \"%s\", \"path\": \"%s\" }%s\n",
		    devices[i].name, devices[i].devring ?
		    DEVRING_PIPE_DIR "devbench.<pid>.<scheme>.<i>" :
		    devices[i].path, i + 1 < (int)NDEVICES ? "," : "");
	}
	fprintf(f, "  ],\n  \"throughput\": [");
	first = 1;
	for (i = 0; i < npts; i++) {
		p = &pts[i];
		if (p->nruns == 0)
			continue;
		tx = p->func == FN_TX;
		ppoint_refs(pts, npts, p, &pn, &pc);
		rate = ppoint_rate(p, &lo, &hi);
		fprintf(f, "%s\n    {\n      \"function\": \"%s\",\n"
		    "      \"scheme\": \"%s\",\n      \"batch\": ",
		    first ? "" : ",", func_names[p->func], p->dev->name);
		first = 0;
		json_opt(f, tx, p->batch);
		fprintf(f, ",\n      \"threads\": %d,\n"
		    "      \"os_threads\": %d,\n"
		    "      \"oversubscribed\": %s,\n      \"packets_per_s\": ",
		    p->threads, point_osthreads(p),
		    point_osthreads(p) > ncpu ? "true" : "false");
		json_opt(f, tx, rate);
		fprintf(f, ",\n      \"packets_per_s_min\": ");
		json_opt(f, tx, lo);
		fprintf(f, ",\n      \"packets_per_s_max\": ");
		json_opt(f, tx, hi);
		fprintf(f, ",\n      \"ns_per_packet\": ");
		json_opt(f, tx, tx ? ppoint_ns(p, true) : 0);
		fprintf(f, ",\n      \"calls_per_s\": %.6g,\n"
		    "      \"spread_pct\": %.4g,\n      \"ns_per_call\": %.6g,\n"
		    "      \"ratio_none\": ", ppoint_calls(p),
		    (hi - lo) / rate * 100, ppoint_ns(p, false));
		json_opt(f, pn != NULL, pn != NULL ?
		    ppoint_ns(pn, false) / ppoint_ns(p, false) : 0);
		fprintf(f, ",\n      \"ratio_percdev\": ");
		json_opt(f, pc != NULL, pc != NULL ?
		    rate / ppoint_rate(pc, NULL, NULL) : 0);
		fprintf(f, ",\n      \"runs\": [");
		for (j = 0; j < p->nruns; j++) {
			fprintf(f, "%s\n        { \"calls\": %ju, "
			    "\"packets\": ", j > 0 ? "," : "",
			    (uintmax_t)p->runs[j].calls);
			if (tx)
				fprintf(f, "%ju", (uintmax_t)p->runs[j].pkts);
			else
				fprintf(f, "null");
			fprintf(f, ", \"wall_ns\": %ju, \"calls_per_s\": "
			    "%.6g, \"ns_per_call\": %.6g }",
			    (uintmax_t)p->runs[j].wall_ns,
			    (double)p->runs[j].calls * 1e9 /
			    (double)p->runs[j].wall_ns,
			    prun_ns(p, &p->runs[j], false));
		}
		fprintf(f, "\n      ]\n    }");
	}
	fprintf(f, "\n  ]\n}\n");
	if (fclose(f) != 0)
		err(1, "%s", path);
}

static void
parse_list(char *arg, int *list, int *n, int max, int lo, int hi)
{
	char *tok, *end;
	long v;

	*n = 0;
	while ((tok = strsep(&arg, ",")) != NULL) {
		v = strtol(tok, &end, 10);
		if (*tok == '\0' || *end != '\0' || v < lo || v > hi ||
		    *n == max)
			usage();
		list[(*n)++] = (int)v;
	}
}

static void
parse_funcs(char *arg)
{
	char *tok;

	while ((tok = strsep(&arg, ",")) != NULL) {
		if (strcmp(tok, "tx") == 0 || strcmp(tok, "rx") == 0)
			opt_funcs[FN_TX] = true;
		else if (strcmp(tok, "sync") == 0)
			opt_funcs[FN_SYNC] = true;
		else if (strcmp(tok, "poll") == 0)
			opt_funcs[FN_POLL] = true;
		else
			usage();
	}
	opt_pipes = true;
}

static uint32_t
parse_u32(const char *arg, uint32_t lo, uint32_t hi)
{
	char *end;
	unsigned long v;

	v = strtoul(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return ((uint32_t)v);
}

/* Pipe mode: the points, the pipes, the sweeps, the table. */
static int
pipe_main(struct point *pts, const char *model, const char *kernel,
    const char *date)
{
	int b, f, i, j, k, maxt, npipes, npts, nschemes, failed;

	failed = 0;
	maxt = 0;
	for (j = 0; j < opt_nthreads; j++)
		maxt = opt_threads[j] > maxt ? opt_threads[j] : maxt;
	if (opt_shared && (opt_funcs[FN_TX] || maxt > 2))
		errx(2, "-s: sync and poll only, at most 2 threads (one per "
		    "end of the shared pipe)");
	for (j = 0; j < opt_nbatches; j++) {
		if ((uint32_t)opt_batches[j] >= opt_slots)
			errx(2, "batch %d: a ring of %u slots holds %u",
			    opt_batches[j], opt_slots, opt_slots - 1);
	}
	npipes = opt_shared ? 1 : maxt;
	nschemes = 0;
	for (i = 0; i < (int)NDEVICES; i++) {
		if (devices[i].selected && devices[i].devring)
			nschemes++;
	}
	if (nschemes * npipes > DEVRING_PIPES_MAX)
		errx(2, "%d pipes per scheme: at most %d pipes in all", npipes,
		    DEVRING_PIPES_MAX);
	if (devices[0].selected && !check_dev(&devices[0])) {
		warnx("%s: skipped", devices[0].name);
		devices[0].missing = true;
		failed = 1;
	}
	if (nschemes > 0 && !pipes_setup(npipes))
		errx(1, "cannot set the pipes up");

	npts = 0;
	for (j = 0; j < opt_nthreads; j++) {
		if (!devices[0].selected || devices[0].missing)
			break;
		pts[npts].dev = &devices[0];
		pts[npts].func = FN_FLOOR;
		pts[npts].batch = 0;
		pts[npts].threads = opt_threads[j];
		pts[npts].nruns = 0;
		npts++;
	}
	for (f = FN_TX; f < FN_COUNT; f++) {
		if (!opt_funcs[f])
			continue;
		for (b = 0; b < (f == FN_TX ? opt_nbatches : 1); b++) {
			for (j = 0; j < opt_nthreads; j++) {
				for (i = 0; i < (int)NDEVICES; i++) {
					if (!devices[i].selected ||
					    !devices[i].devring)
						continue;
					if (npts == MAX_POINTS)
						errx(2, "too many points");
					pts[npts].dev = &devices[i];
					pts[npts].func = (enum func)f;
					pts[npts].batch = f == FN_TX ?
					    opt_batches[b] : 0;
					pts[npts].threads = opt_threads[j];
					pts[npts].nruns = 0;
					npts++;
				}
			}
		}
	}
	if (npts == 0)
		errx(1, "nothing to measure");

	printf("devbench: %d CPUs, %s, %s\n", ncpu, model, kernel);
	printf("date: %s\n", date);
	printf("pipes: %s, %u slots per ring, %u-byte buffers, %u-byte "
	    "packets; floor %s ioctl;\n%d runs of %.3f s per point; medians\n\n",
	    opt_shared ? "one shared pipe" : "one pipe per thread (pair)",
	    opt_slots, pipe_bufsize, opt_pktlen,
	    devices[0].path, opt_reps, opt_seconds);
	fflush(stdout);

	/* Sweeps interleaved: run k of every point in sweep k. */
	for (k = 0; k < opt_reps; k++) {
		fprintf(stderr, "devbench: sweep %d/%d\n", k + 1, opt_reps);
		for (i = 0; i < npts; i++) {
			if (interrupted)
				errx(1, "interrupted");
			if ((pts[i].func == FN_FLOOR ?
			    run_point(&pts[i], &pts[i].runs[pts[i].nruns]) :
			    run_pipe_point(&pts[i],
			    &pts[i].runs[pts[i].nruns])) != 0)
				errx(1, "%s %s, batch %d, %d threads: harness "
				    "error", func_names[pts[i].func],
				    pts[i].dev->name, pts[i].batch,
				    pts[i].threads);
			if (pts[i].func == FN_FLOOR)
				pts[i].runs[pts[i].nruns].pkts =
				    pts[i].runs[pts[i].nruns].calls;
			pts[i].nruns++;
		}
	}

	print_pipe_table(pts, npts);
	if (opt_json != NULL)
		write_pipe_json(opt_json, pts, npts, model, kernel, date);
	return (failed);
}

static void
parse_threads(char *arg)
{
	char *tok, *end;
	long v;

	opt_nthreads = 0;
	while ((tok = strsep(&arg, ",")) != NULL) {
		v = strtol(tok, &end, 10);
		if (*tok == '\0' || *end != '\0' || v < 1 || v > MAX_THREADS ||
		    opt_nthreads == (int)(sizeof(opt_threads) /
		    sizeof(opt_threads[0])))
			usage();
		opt_threads[opt_nthreads++] = (int)v;
	}
}

int
main(int argc, char **argv)
{
	static struct point pts[MAX_POINTS];
	struct utsname un;
	struct tm tm;
	char model[256], kernel[512], date[64], *end;
	size_t len;
	time_t now;
	int ch, i, j, k, npts, failed;
	bool any_selected, op_given;

	any_selected = op_given = false;
	while ((ch = getopt(argc, argv, "B:FS:b:d:f:j:l:n:o:r:st:")) != -1) {
		switch (ch) {
		case 'B':
			opt_bufsize = parse_u32(optarg, DEVRING_BUF_ALIGN,
			    DEVRING_BUF_MAX);
			break;
		case 'S':
			opt_slots = parse_u32(optarg, DEVRING_RING_MIN_SLOTS,
			    DEVRING_RING_MAX_SLOTS);
			break;
		case 'b':
			parse_list(optarg, opt_batches, &opt_nbatches,
			    (int)(sizeof(opt_batches) / sizeof(opt_batches[0])),
			    1, MAX_BATCH);
			break;
		case 'f':
			parse_funcs(optarg);
			break;
		case 'l':
			opt_pktlen = parse_u32(optarg, 8, DEVRING_BUF_MAX);
			break;
		case 'F':
			opt_fionbio = true;
			break;
		case 'd':
			if (!any_selected) {
				for (i = 0; i < (int)NDEVICES; i++)
					devices[i].selected = false;
				any_selected = true;
			}
			for (i = 0; i < (int)NDEVICES; i++) {
				if (strcmp(optarg, devices[i].name) == 0)
					break;
			}
			if (i == (int)NDEVICES)
				usage();
			devices[i].selected = true;
			break;
		case 'j':
			opt_json = optarg;
			break;
		case 'n':
			parse_threads(optarg);
			break;
		case 'o':
			op_given = true;
			if (strcmp(optarg, "ioctl") == 0)
				opt_op = OP_IOCTL;
			else if (strcmp(optarg, "poll") == 0)
				opt_op = OP_POLL;
			else
				usage();
			break;
		case 'r':
			opt_reps = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || opt_reps < 1 || opt_reps > MAX_REPS)
				usage();
			break;
		case 's':
			opt_shared = true;
			break;
		case 't':
			opt_seconds = strtod(optarg, &end);
			if (*end != '\0' || !(opt_seconds > 0 &&
			    opt_seconds <= 3600))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (opt_pipes && op_given))
		usage();

	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	len = sizeof(model);
	if (sysctlbyname("hw.model", model, &len, NULL, 0) != 0)
		strlcpy(model, "unknown", sizeof(model));
	if (uname(&un) == 0)
		snprintf(kernel, sizeof(kernel), "%s %s", un.sysname,
		    un.release);
	else
		strlcpy(kernel, "unknown", sizeof(kernel));
#ifdef DEVBENCH_KERNEL_NOTE
	strlcat(kernel, " " DEVBENCH_KERNEL_NOTE, sizeof(kernel));
#endif
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);

	if (opt_pipes)
		return (pipe_main(pts, model, kernel, date));
	failed = 0;
	npts = 0;
	for (i = 0; i < (int)NDEVICES; i++) {
		if (!devices[i].selected)
			continue;
		if (!check_dev(&devices[i])) {
			warnx("%s: skipped", devices[i].name);
			devices[i].missing = true;
			failed = 1;
		}
	}
	for (j = 0; j < opt_nthreads; j++) {
		for (i = 0; i < (int)NDEVICES; i++) {
			if (!devices[i].selected || devices[i].missing)
				continue;
			if (npts == MAX_POINTS)
				errx(2, "too many points");
			pts[npts].dev = &devices[i];
			pts[npts].func = FN_FLOOR;
			pts[npts].batch = 0;
			pts[npts].threads = opt_threads[j];
			pts[npts].nruns = 0;
			npts++;
		}
	}
	if (npts == 0)
		errx(1, "no device to measure");

	printf("devbench: %d CPUs, %s, %s\n", ncpu, model, kernel);
	printf("date: %s\n", date);
	printf("op: %s, %s, null ioctl %s; %d runs of %.3f s per point; "
	    "medians\n\n", opt_op == OP_IOCTL ? "ioctl(DEVRING_IOC_SYNC)" :
	    "poll(POLLOUT)", opt_shared ? "one shared fd" : "one fd per thread",
	    opt_fionbio ? "FIONBIO" : "DEVRING_IOC_SYNC (ENOTTY)", opt_reps,
	    opt_seconds);
	fflush(stdout);

	/* Sweeps interleaved: run k of every point in sweep k. */
	for (k = 0; k < opt_reps; k++) {
		fprintf(stderr, "devbench: sweep %d/%d\n", k + 1, opt_reps);
		for (i = 0; i < npts; i++) {
			if (run_point(&pts[i], &pts[i].runs[pts[i].nruns]) != 0)
				errx(1, "%s, %d threads: harness error",
				    pts[i].dev->name, pts[i].threads);
			pts[i].nruns++;
		}
	}

	print_table(pts, npts);
	if (opt_json != NULL)
		write_json(opt_json, pts, npts, model, kernel, date);
	return (failed);
}
