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
 * Exit status: 0 when every point ran (whatever the numbers), 1 on a
 * harness error (a device that cannot be opened, a call that failed in an
 * unexpected way, a device whose counter disagrees), 2 on a usage error.
 */

#include <sys/types.h>
#include <sys/filio.h>
#include <sys/ioctl.h>
#include <sys/sysctl.h>
#include <sys/utsname.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#define	MAX_POINTS	64
#define	MAX_REPS	101

enum op {
	OP_IOCTL,
	OP_POLL,
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
	{ "null", "/dev/null", false, 0, true, false },
	{ "pcpu", DEVRING_PATH_PCPU, true, DEVRING_MODE_PCPU, true, false },
	{ "counted", DEVRING_PATH_COUNTED, true, DEVRING_MODE_COUNTED, true,
	    false },
};
#define	NDEVICES	(sizeof(devices) / sizeof(devices[0]))

struct run {
	uint64_t	calls;
	uint64_t	wall_ns;
};

struct point {
	struct device	*dev;
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
		if (!w->null_dev && s->tail == s->head)
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

/* Median calls/s (upper median), and the extremes. */
static double
point_rate(const struct point *p, double *lo, double *hi)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = run_rate(&p->runs[i]);
	qsort(v, (size_t)p->nruns, sizeof(v[0]), cmp_double);
	if (lo != NULL)
		*lo = v[0];
	if (hi != NULL)
		*hi = v[p->nruns - 1];
	return (v[p->nruns / 2]);
}

static double
point_ns(const struct point *p)
{
	double v[MAX_REPS];
	int i;

	for (i = 0; i < p->nruns; i++)
		v[i] = run_ns(&p->runs[i], p->threads);
	qsort(v, (size_t)p->nruns, sizeof(v[0]), cmp_double);
	return (v[p->nruns / 2]);
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
	struct point pts[MAX_POINTS];
	struct utsname un;
	struct tm tm;
	char model[256], kernel[512], date[64], *end;
	size_t len;
	time_t now;
	int ch, i, j, k, npts, failed;
	bool any_selected;

	any_selected = false;
	while ((ch = getopt(argc, argv, "Fd:j:n:o:r:st:")) != -1) {
		switch (ch) {
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
	if (optind != argc)
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
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);

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
