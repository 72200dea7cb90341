/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: the driver.
 *
 *	kernsim [options] run SCRIPT	a test script (tests/kernsim/cases/)
 *	kernsim [options] serve SOCKET	a kernel for other processes
 *	kernsim ctl SOCKET COMMAND...	one script command on a server
 *
 * Options: -n NCPU vCPUs (4); -p PERMILLE preemption at KPI calls (100, 0
 * turns all injected preemption off); -t USEC timer period (200, 0 off);
 * -K PAGES kernel stack pages (4); -G guard-page allocations; -S
 * store-buffer injection; -M MUTATION a deliberate kernel bug; -v echo
 * the console.  Exit 0 when every expectation held (or the failure the
 * script announced with expect-fail happened), 1 when an expectation
 * failed, 3 on a kernel failure (panic, invariant, fault), 77 skipped.
 * tests/kernsim/README.md lists the commands.
 */

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksim.h"

/*
 * devring's ioctl ABI (shim/devring_ioctl.h, FreeBSD's sys/ioccom.h
 * encoding; shim/devring_module.c pins the same numbers).
 */
#define	DEVRING_IOC_INFO	0x40185200UL
#define	DEVRING_IOC_SYNC	0xc0085201UL
#define	DEVRING_IOC_SLEEP	0x80045202UL
#define	DEVRING_SLOTS		1024
#define	FB_O_RDWR		0x0002
#define	FB_POLLIN		0x0001
#define	FB_POLLOUT		0x0004
#define	FB_POLLHUP		0x0010

struct devring_sync {
	uint32_t	head;
	uint32_t	tail;
};

struct devring_info {
	uint32_t	version;
	uint32_t	slots;
	uint32_t	mode;
	uint32_t	pad;
	uint64_t	syncs;
};

#define	MAXARGS	32
#define	MAXFDS	32

static struct {
	char	name[32];
	int	fd;
} fds[MAXFDS];

static const char *script;
static int lineno;
static int last_errno;
static int unchecked;		/* last command failed, not yet expected */
static char unchecked_cmd[256];
static int failures;
static long slowest_ms;		/* of the last repeat */
static char slowest_cmd[128];
struct hammer;
static struct hammer *hammers;
static int nhammers;
static volatile int hammer_stop;

static void
test_fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL %s:%d: ", script, lineno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	failures++;
	if (nhammers != 0)
		__atomic_store_n(&hammer_stop, 1, __ATOMIC_SEQ_CST);
	fflush(stdout);
	_exit(1);
}

static int *
fd_slot(const char *name, int create)
{
	int i;

	for (i = 0; i < MAXFDS; i++)
		if (strcmp(fds[i].name, name) == 0)
			return (&fds[i].fd);
	if (!create)
		return (NULL);
	for (i = 0; i < MAXFDS; i++)
		if (fds[i].name[0] == '\0') {
			snprintf(fds[i].name, sizeof(fds[i].name), "%s", name);
			fds[i].fd = -1;
			return (&fds[i].fd);
		}
	return (NULL);
}

/* ${VAR} and ${VAR:-default} (the default expanded in turn). */
static void
expand(const char *in, char *out, size_t len)
{
	char var[256], dflt[512], *def;
	const char *e, *v;
	size_t o = 0;
	int depth;

	while (*in != '\0' && o + 1 < len) {
		if (in[0] == '$' && in[1] == '{') {
			for (e = in + 2, depth = 1; *e != '\0'; e++) {
				if (e[0] == '$' && e[1] == '{')
					depth++;
				else if (*e == '}' && --depth == 0)
					break;
			}
			if (*e != '}')
				break;
			snprintf(var, sizeof(var), "%.*s", (int)(e - in - 2),
			    in + 2);
			def = strstr(var, ":-");
			if (def != NULL) {
				*def = '\0';
				def += 2;
			}
			v = getenv(var);
			if (v == NULL || *v == '\0') {
				expand(def != NULL ? def : "", dflt,
				    sizeof(dflt));
				v = dflt;
			}
			o += snprintf(out + o, len - o, "%s", v);
			in = e + 1;
			continue;
		}
		out[o++] = *in++;
	}
	out[o < len ? o : len - 1] = '\0';
}

/* Split on blanks; "double quotes" group. */
static int
split(char *s, char **av)
{
	int n = 0;

	while (*s != '\0' && n < MAXARGS) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0' || *s == '#')
			break;
		if (*s == '"') {
			char *d;

			av[n++] = d = ++s;
			while (*s != '\0' && *s != '"') {
				if (s[0] == '\\' && s[1] != '\0')
					s++;
				*d++ = *s++;
			}
			if (*s == '"')
				s++;
			*d = '\0';
			continue;
		} else {
			av[n++] = s;
			while (*s != '\0' && !isspace((unsigned char)*s))
				s++;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
	return (n);
}

/* ---- hammer: threads calling SYNC in a loop (devring_t.c hammer) ---- */

struct hammer {
	pthread_t	 td;
	int		 id;
	char		 path[256];
	uint64_t	 ok, enxio, opens, open_enxio, other, stale, badtail;
};


static void
hammer_report(struct hammer *h, const char *what, int e)
{

	if (h->other + h->stale + h->badtail < 5)
		printf("FAIL hammer %d: %s answered %s\n", h->id, what,
		    ksim_errname(e));
}

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct devring_sync s;
	struct devring_info info;
	uint32_t head = 0;
	int e, fd = -1;
	char name[32];

	snprintf(name, sizeof(name), "hammer%d", h->id);
	ksim_thread_attach(name);
	while (!__atomic_load_n(&hammer_stop, __ATOMIC_RELAXED)) {
		if (fd < 0) {
			fd = ksys_open(h->path, FB_O_RDWR, &e);
			if (fd < 0) {
				if (e == FB_ENXIO || e == FB_ENOENT)
					h->open_enxio++;
				else {
					hammer_report(h, "open", e);
					h->other++;
				}
				usleep(100);
				continue;
			}
			h->opens++;
		}
		head = (head + 1) % DEVRING_SLOTS;
		s.head = head;
		s.tail = UINT32_MAX;
		if (ksys_ioctl(fd, DEVRING_IOC_SYNC, &s, &e) == 0) {
			h->ok++;
			if (s.tail != head) {
				hammer_report(h, "SYNC (bad tail)", 0);
				h->badtail++;
			}
			continue;
		}
		if (e != FB_ENXIO) {
			hammer_report(h, "SYNC", e);
			h->other++;
			continue;
		}
		h->enxio++;
		/* A dead incarnation's fd stays dead. */
		s.head = 1;
		if (ksys_ioctl(fd, DEVRING_IOC_SYNC, &s, &e) == 0 ||
		    e != FB_ENXIO) {
			hammer_report(h, "SYNC on a dead fd", e);
			h->stale++;
		}
		if (ksys_ioctl(fd, DEVRING_IOC_INFO, &info, &e) == 0 ||
		    e != FB_ENXIO) {
			hammer_report(h, "INFO on a dead fd", e);
			h->stale++;
		}
		if (ksys_close(fd, &e) != 0) {
			hammer_report(h, "close of a dead fd", e);
			h->other++;
		}
		fd = -1;
	}
	if (fd >= 0 && ksys_close(fd, &e) != 0) {
		hammer_report(h, "close", e);
		h->other++;
	}
	ksim_thread_detach();
	return (NULL);
}

#define	MAXHAMMERS	64

static void
hammer_start(const char *path, int n)
{
	pthread_attr_t attr;
	int i, first;

	if (nhammers + n > MAXHAMMERS || n < 1)
		test_fail("hammer-start: 1..%d threads in all", MAXHAMMERS);
	if (hammers == NULL)
		hammers = calloc(MAXHAMMERS, sizeof(*hammers));
	hammer_stop = 0;
	first = nhammers;
	nhammers += n;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (i = first; i < nhammers; i++) {
		hammers[i].id = i;
		snprintf(hammers[i].path, sizeof(hammers[i].path), "%s", path);
		pthread_create(&hammers[i].td, &attr, hammer_main, &hammers[i]);
	}
	pthread_attr_destroy(&attr);
}

static void
hammer_finish(void)
{
	struct hammer tot;
	int i;

	__atomic_store_n(&hammer_stop, 1, __ATOMIC_SEQ_CST);
	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < nhammers; i++) {
		pthread_join(hammers[i].td, NULL);
		tot.ok += hammers[i].ok;
		tot.enxio += hammers[i].enxio;
		tot.opens += hammers[i].opens;
		tot.open_enxio += hammers[i].open_enxio;
		tot.other += hammers[i].other;
		tot.stale += hammers[i].stale;
		tot.badtail += hammers[i].badtail;
	}
	ksim_out("hammer: threads=%d ok=%ju enxio=%ju opens=%ju "
	    "open_enxio=%ju other=%ju stale=%ju badtail=%ju\n", nhammers,
	    (uintmax_t)tot.ok, (uintmax_t)tot.enxio, (uintmax_t)tot.opens,
	    (uintmax_t)tot.open_enxio, (uintmax_t)tot.other,
	    (uintmax_t)tot.stale, (uintmax_t)tot.badtail);
	if (tot.ok == 0)
		test_fail("hammer: no SYNC succeeded");
	if (tot.other != 0 || tot.stale != 0 || tot.badtail != 0)
		test_fail("hammer: unexpected answers");
	free(hammers);
	hammers = NULL;
	nhammers = 0;
}

/* ---- spawn: a command on its own thread (a second process/thread) ---- */

static int do_command(int ac, char **av);

struct spawned {
	char		 name[32];
	pthread_t	 td;
	int		 ac;
	char		*av[MAXARGS];
	char		 buf[1024];
	int		 error;
	int		 used;
	struct hthread	*volatile ht;
};
#define	MAXSPAWN	16
static struct spawned spawned[MAXSPAWN];

static void *
spawn_main(void *arg)
{
	struct spawned *sp = arg;

	sp->ht = ksim_thread_attach(sp->name);
	sp->error = do_command(sp->ac, sp->av);
	sp->ht = NULL;
	ksim_thread_detach();
	return (NULL);
}

static void
spawn(const char *name, int ac, char **av)
{
	pthread_attr_t attr;
	struct spawned *sp = NULL;
	size_t off = 0;
	int i;

	for (i = 0; i < MAXSPAWN; i++)
		if (!spawned[i].used) {
			sp = &spawned[i];
			break;
		}
	if (sp == NULL)
		test_fail("spawn: too many threads");
	memset(sp, 0, sizeof(*sp));
	sp->used = 1;
	snprintf(sp->name, sizeof(sp->name), "%s", name);
	for (i = 0; i < ac; i++) {
		sp->av[i] = sp->buf + off;
		off += snprintf(sp->buf + off, sizeof(sp->buf) - off, "%s",
		    av[i]) + 1;
	}
	sp->ac = ac;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_create(&sp->td, &attr, spawn_main, sp);
	pthread_attr_destroy(&attr);
}

/* A signal to a spawned thread: interrupts a PCATCH sleep (EINTR, or with
 * "restart" SA_RESTART: ERESTART, and the system call restarts). */
static void
signal_thread(const char *name, int restart)
{
	int i;

	for (i = 0; i < MAXSPAWN; i++)
		if (spawned[i].used && strcmp(spawned[i].name, name) == 0 &&
		    spawned[i].ht != NULL) {
			ksim_signal_thread(spawned[i].ht, restart);
			return;
		}
	test_fail("signal: no running thread %s", name);
}

static int
join(const char *name)
{
	int i, e;

	for (i = 0; i < MAXSPAWN; i++)
		if (spawned[i].used && strcmp(spawned[i].name, name) == 0) {
			pthread_join(spawned[i].td, NULL);
			spawned[i].used = 0;
			e = spawned[i].error;
			ksim_out("%s: %s\n", name, ksim_errname(e));
			return (e);
		}
	test_fail("join: no thread %s", name);
	return (0);
}

/* ---- commands ---- */

/* Bodies run in the kernel by ksim_syscall(); the int is in and out. */
static void
malloc_report_body(void *p)
{
	int *ip = p;

	*ip = ksim_k_malloc_report(*ip);
}

static void
malloc_baseline_body(void *p)
{
	int *ip = p;

	*ip = ksim_k_malloc_baseline(*ip);
}

static void
kcall_body(void *p)
{
	void (*fn)(void) = (void (*)(void))p;

	fn();
}

static int
do_command(int ac, char **av)
{
	char buf[65536];
	int e = 0, *fdp, fd, kind, i, n;
	size_t len;

	/* The simulated VM's commands (host/vmhost.c). */
	if (ksim_vm_command(ac, av, fd_slot, &e))
		return (e);
	if (strcmp(av[0], "echo") == 0) {
		for (i = 1; i < ac; i++)
			ksim_out("%s%s", av[i], i + 1 < ac ? " " : "\n");
	} else if (strcmp(av[0], "kldload") == 0 && ac == 2) {
		n = ksys_kldload(av[1], &e);
		if (n >= 0)
			ksim_out("kldload %s: id %d\n", av[1], n);
	} else if (strcmp(av[0], "kldunload") == 0 && (ac == 2 || ac == 3)) {
		n = ksys_kldfind(av[1], &e);
		if (n >= 0)
			ksys_kldunload(n, ac == 3 && strcmp(av[2], "-f") == 0,
			    &e);
	} else if (strcmp(av[0], "kldstat") == 0) {
		ksim_kld_lock();
		ksim_kldstat();
		ksim_kld_unlock();
	} else if (strcmp(av[0], "open") == 0 && ac == 3) {
		fdp = fd_slot(av[1], 1);
		fd = ksys_open(av[2], FB_O_RDWR, &e);
		if (fdp != NULL)
			*fdp = fd;
	} else if (strcmp(av[0], "close") == 0 && ac == 2) {
		fdp = fd_slot(av[1], 0);
		ksys_close(fdp != NULL ? *fdp : -1, &e);
		if (fdp != NULL)
			*fdp = -1;
	} else if (strcmp(av[0], "ioctl") == 0 && ac >= 3) {
		fdp = fd_slot(av[1], 0);
		fd = fdp != NULL ? *fdp : -1;
		if (strcmp(av[2], "info") == 0) {
			struct devring_info info;

			memset(&info, 0xa5, sizeof(info));
			if (ksys_ioctl(fd, DEVRING_IOC_INFO, &info, &e) == 0)
				ksim_out("version=%u slots=%u mode=%u pad=%u "
				    "syncs=%ju\n", info.version, info.slots,
				    info.mode, info.pad,
				    (uintmax_t)info.syncs);
		} else if (strcmp(av[2], "sync") == 0 && ac == 4) {
			struct devring_sync s;

			s.head = (uint32_t)strtoul(av[3], NULL, 0);
			s.tail = UINT32_MAX;
			if (ksys_ioctl(fd, DEVRING_IOC_SYNC, &s, &e) == 0)
				ksim_out("tail=%u\n", s.tail);
		} else if (strcmp(av[2], "sleep") == 0 && ac == 4) {
			uint32_t ms = (uint32_t)strtoul(av[3], NULL, 0);

			ksys_ioctl(fd, DEVRING_IOC_SLEEP, &ms, &e);
		} else if (strcmp(av[2], "fionread") == 0) {
			int nread = -1;

			/* FIONREAD: _IOR('f', 127, int) */
			if (ksys_ioctl(fd, 0x4004667fUL, &nread, &e) == 0)
				ksim_out("fionread=%d\n", nread);
		} else if (strcmp(av[2], "raw") == 0 && ac >= 4) {
			uint64_t arg[16];

			memset(arg, 0, sizeof(arg));
			if (ac == 5)
				arg[0] = strtoull(av[4], NULL, 0);
			ksys_ioctl(fd, strtoul(av[3], NULL, 0), arg, &e);
		} else
			return (-1);
	} else if ((strcmp(av[0], "read") == 0 ||
	    strcmp(av[0], "write") == 0) && ac == 3) {
		long r;

		fdp = fd_slot(av[1], 0);
		fd = fdp != NULL ? *fdp : -1;
		len = strtoul(av[2], NULL, 0);
		if (len > sizeof(buf))
			len = sizeof(buf);
		/* Writes send a running byte pattern, reads check it: what
		 * an echo device returns must be what was written, in
		 * order. */
		static unsigned char wpat, rpat;

		for (i = 0; i < (int)len; i++)
			buf[i] = av[0][0] == 'w' ? (char)(wpat + i) : 0;
		r = av[0][0] == 'r' ? ksys_read(fd, buf, len, &e) :
		    ksys_write(fd, buf, len, &e);
		if (r >= 0) {
			int bad = 0;

			if (av[0][0] == 'w')
				wpat += (unsigned char)r;
			else {
				for (i = 0; i < r; i++)
					bad += (unsigned char)buf[i] !=
					    (unsigned char)(rpat + i);
				rpat += (unsigned char)r;
			}
			ksim_out("%s: %ld bytes%s\n", av[0], r,
			    bad ? " (pattern mismatch)" : "");
		}
	} else if (strcmp(av[0], "poll") == 0 && ac == 4) {
		short ev = 0, rev = 0;

		fdp = fd_slot(av[1], 0);
		fd = fdp != NULL ? *fdp : -1;
		if (strstr(av[2], "in") != NULL)
			ev |= FB_POLLIN;
		if (strstr(av[2], "out") != NULL)
			ev |= FB_POLLOUT;
		n = ksys_poll(&fd, &ev, &rev, 1, atoi(av[3]), &e);
		if (n >= 0)
			ksim_out("poll: n=%d revents=%#x%s%s%s\n", n, rev,
			    rev & FB_POLLIN ? " POLLIN" : "",
			    rev & FB_POLLOUT ? " POLLOUT" : "",
			    rev & FB_POLLHUP ? " POLLHUP" : "");
	} else if (strcmp(av[0], "sysctl") == 0 && ac == 2) {
		len = sizeof(buf) - 1;
		if (ksys_sysctl(av[1], buf, &len, &kind, &e) == 0) {
			buf[len] = '\0';
			if (kind == 2 /* CTLTYPE_INT */ && len == 4)
				ksim_out("%s: %d\n", av[1], *(int *)buf);
			else if (len == 8 && kind != 3 /* CTLTYPE_STRING */)
				ksim_out("%s: %ju\n", av[1],
				    (uintmax_t)*(uint64_t *)buf);
			else
				ksim_out("%s: %s\n", av[1], buf);
		}
	} else if (strcmp(av[0], "kcall") == 0 && ac == 3) {
		void (*fn)(void) = (void (*)(void))ksim_module_symbol(av[1],
		    av[2]);

		if (fn == NULL) {
			test_fail("kcall: no symbol %s in %s", av[2], av[1]);
			return (0);
		}
		ksim_out("kcall %s %s at %p\n", av[1], av[2], (void *)fn);
		fflush(stdout);
		ksim_syscall("kcall", kcall_body, (void *)fn);
	} else if (strcmp(av[0], "hammer-start") == 0 && ac == 3) {
		hammer_start(av[1], atoi(av[2]));
	} else if (strcmp(av[0], "spawn") == 0 && ac >= 3) {
		spawn(av[1], ac - 2, av + 2);
	} else if (strcmp(av[0], "signal") == 0 && (ac == 2 || ac == 3)) {
		signal_thread(av[1], ac == 3 && strcmp(av[2], "restart") == 0);
	} else if (strcmp(av[0], "join") == 0 && ac == 2) {
		e = join(av[1]);
	} else if (strcmp(av[0], "hammer-stop") == 0) {
		hammer_finish();
	} else if (strcmp(av[0], "sleep") == 0 && ac == 2) {
		usleep(atoi(av[1]) * 1000);
	} else if (strcmp(av[0], "kqueue") == 0 && ac == 2) {
		fdp = fd_slot(av[1], 1);
		fd = ksys_kqueue(&e);
		if (fdp != NULL)
			*fdp = fd;
	} else if ((strcmp(av[0], "kevent-add") == 0 ||
	    strcmp(av[0], "kevent-del") == 0) && ac == 4) {
		struct ksim_kevent ch, res;
		int *kqp = fd_slot(av[1], 0);

		fdp = fd_slot(av[2], 0);
		memset(&ch, 0, sizeof(ch));
		ch.ident = fdp != NULL ? (uintptr_t)*fdp : (uintptr_t)-1;
		ch.filter = strcmp(av[3], "read") == 0 ? -1 : -2;
		ch.flags = (av[0][7] == 'a' ? 0x0001 /* EV_ADD */ :
		    0x0002 /* EV_DELETE */) | 0x0040 /* EV_RECEIPT */;
		memset(&res, 0, sizeof(res));
		n = ksys_kevent(kqp != NULL ? *kqp : -1, &ch, 1, &res, 1, 0,
		    &e);
		if (n == 1) {
			ksim_out("%s: %s\n", av[0], ksim_errname((int)res.data));
			e = (int)res.data;
		}
	} else if (strcmp(av[0], "kevent") == 0 && ac == 3) {
		struct ksim_kevent ev[8];
		int *kqp = fd_slot(av[1], 0);
		long ms = atol(av[2]);

		memset(ev, 0, sizeof(ev));
		n = ksys_kevent(kqp != NULL ? *kqp : -1, NULL, 0, ev, 8,
		    ms < 0 ? -1 : ms * 1000000L, &e);
		if (n >= 0) {
			ksim_out("kevent: n=%d", n);
			for (i = 0; i < n; i++)
				ksim_out(" {ident=%lu filter=%s flags=%#x%s}",
				    (unsigned long)ev[i].ident,
				    ev[i].filter == -1 ? "read" : ev[i].filter ==
				    -2 ? "write" : "?", ev[i].flags,
				    (ev[i].flags & 0x8000) ? " EV_EOF" : "");
			ksim_out("\n");
		}
	} else if (strcmp(av[0], "storebuf") == 0 && (ac == 2 || ac == 3)) {
		/* Before kldload: the sites are patched at load. */
		ksim_storebuf = strcmp(av[1], "on") == 0;
		if (ac == 3)
			ksim_storebuf_permille = atoi(av[2]);
	} else if (strcmp(av[0], "mutate") == 0 && ac == 2) {
		if (ksim_k_set_mutation(av[1]) != 0)
			test_fail("unknown mutation %s", av[1]);
	} else if (strcmp(av[0], "memguard") == 0 && ac == 2) {
		ksim_memguard = strcmp(av[1], "on") == 0;
	} else if (strcmp(av[0], "dmesg") == 0) {
		static size_t dmesg_pos;
		char *c = ksim_console_since(&dmesg_pos,
		    ac == 2 && strcmp(av[1], "-c") == 0);

		ksim_out("%s", c);
		free(c);
	} else if (strcmp(av[0], "dev-exists") == 0 && ac == 2) {
		if (!ksys_dev_exists(av[1]))
			e = FB_ENOENT;
	} else if (strcmp(av[0], "dev-stat") == 0 && ac == 2) {
		unsigned long st[5];

		if (ksys_dev_stat(av[1], st, &e) == 0)
			ksim_out("%lu %lu %lu %lu %lo\n", st[0], st[1], st[2],
			    st[3], st[4]);
	} else if (strcmp(av[0], "malloc-stat") == 0) {
		int mode = 1;

		ksim_syscall("malloc-stat", malloc_report_body, &mode);
	} else if (strcmp(av[0], "malloc-baseline") == 0) {
		int mode = 1;

		ksim_syscall("malloc-baseline", malloc_baseline_body, &mode);
	} else if (strcmp(av[0], "expect-no-growth") == 0) {
		n = 2;
		ksim_syscall("expect-no-growth", malloc_baseline_body, &n);
		if (n != 0)
			test_fail("expect-no-growth: %d malloc types grew", n);
	} else if (strcmp(av[0], "leak-check") == 0) {
		/* Module types are checked by malloc_uninit at unload; here:
		 * no descriptor left open, and no type of a module that is
		 * not loaded (kernsim's own excepted) holds memory. */
		if (ksys_open_files() != 0)
			test_fail("leak-check: %d files still open",
			    ksys_open_files());
		if (ksim_loaded_count() == 0) {
			n = 0;
			ksim_syscall("leak-check", malloc_report_body, &n);
			if (n != 0)
				test_fail("leak-check: %d malloc types hold "
				    "memory with no module loaded", n);
		}
	} else
		return (-1);
	return (e);
}

static int
run_line(char *line)
{
	char *av[MAXARGS], save[256];
	int ac, e, i, n;

	snprintf(save, sizeof(save), "%s", line);
	save[strcspn(save, "\n")] = '\0';
	ac = split(line, av);
	if (ac == 0)
		return (0);
	if (strcmp(av[0], "expect-errno") == 0 && ac == 2) {
		e = ksim_errno_byname(av[1]);
		if (e == -2)
			test_fail("unknown errno name %s", av[1]);
		else if (last_errno != e)
			test_fail("expected %s, got %s (%s)", av[1],
			    ksim_errname(last_errno), unchecked_cmd);
		unchecked = 0;
		return (0);
	}
	if (unchecked) {
		test_fail("\"%s\" failed: %s", unchecked_cmd,
		    ksim_errname(last_errno));
		unchecked = 0;
	}
	if (strcmp(av[0], "expect-output") == 0 && ac == 2) {
		if (strstr(ksim_last_output(), av[1]) == NULL)
			test_fail("output lacks \"%s\" (got: %s)", av[1],
			    ksim_last_output());
		return (0);
	}
	if (strcmp(av[0], "expect-console") == 0 && ac == 2) {
		if (!ksim_console_contains(av[1], 0))
			test_fail("console lacks \"%s\"", av[1]);
		return (0);
	}
	if (strcmp(av[0], "expect-no-console") == 0 && ac == 2) {
		if (ksim_console_contains(av[1], 1))
			test_fail("console has \"%s\"", av[1]);
		return (0);
	}
	if (strcmp(av[0], "console-mark") == 0) {
		ksim_console_mark();
		return (0);
	}
	if (strcmp(av[0], "expect-dev") == 0 && ac == 2) {
		if (!ksys_dev_exists(av[1]))
			test_fail("%s does not exist", av[1]);
		return (0);
	}
	if (strcmp(av[0], "expect-no-dev") == 0 && ac == 2) {
		if (ksys_dev_exists(av[1]))
			test_fail("%s exists", av[1]);
		return (0);
	}
	if (strcmp(av[0], "expect-fail") == 0 && ac == 2) {
		ksim_expect_failure(av[1]);
		return (0);
	}
	if (strcmp(av[0], "skip-unless-import") == 0 && ac == 3) {
		char cmd[1200];

		/* The module must import SYMBOL, or the case has nothing to
		 * test (llvm-nm-14 reads the undefined symbols). */
		snprintf(cmd, sizeof(cmd), "llvm-nm-14 -u '%s' 2>/dev/null | "
		    "grep -q ' %s$'", av[1], av[2]);
		if (system(cmd) != 0) {
			printf("SKIP %s: %s does not import %s\n", script,
			    av[1], av[2]);
			exit(77);
		}
		return (0);
	}
	if (strcmp(av[0], "skip-unless-file") == 0 && ac == 2) {
		if (access(av[1], R_OK) != 0) {
			printf("SKIP %s: %s not found\n", script, av[1]);
			exit(77);
		}
		return (0);
	}
	if (strcmp(av[0], "expect-slowest-ms") == 0 && ac == 2) {
		if (slowest_ms > atol(av[1]))
			test_fail("the slowest command of the last repeat (%s) "
			    "took %ld ms > %s ms", slowest_cmd, slowest_ms,
			    av[1]);
		return (0);
	}
	if (strcmp(av[0], "repeat") == 0 && ac >= 3) {
		struct timespec t0, t1;
		long ms;
		int j, k;

		slowest_ms = 0;
		n = atoi(av[1]);
		for (i = 0; i < n; i++) {
			for (j = 2; j < ac; j = k + 1) {
				for (k = j; k < ac && strcmp(av[k], ";") != 0;
				    k++)
					;
				if (k == j)
					continue;
				ksim_clear_output();
				clock_gettime(CLOCK_MONOTONIC, &t0);
				e = do_command(k - j, av + j);
				clock_gettime(CLOCK_MONOTONIC, &t1);
				ms = (t1.tv_sec - t0.tv_sec) * 1000 +
				    (t1.tv_nsec - t0.tv_nsec) / 1000000;
				if (ms > slowest_ms && strcmp(av[j], "sleep") != 0) {
					slowest_ms = ms;
					snprintf(slowest_cmd, sizeof(slowest_cmd),
					    "%s, iteration %d", av[j], i);
				}
				if (e != 0) {
					snprintf(unchecked_cmd,
					    sizeof(unchecked_cmd),
					    "%s (iteration %d, %s)", save, i,
					    av[j]);
					last_errno = e;
					unchecked = 1;
					return (0);
				}
			}
		}
		return (0);
	}
	ksim_clear_output();
	e = do_command(ac, av);
	if (e < 0) {
		test_fail("unknown command: %s", save);
		return (0);
	}
	ksim_vm_check(save);
	last_errno = e;
	if (e != 0) {
		unchecked = 1;
		snprintf(unchecked_cmd, sizeof(unchecked_cmd), "%s", save);
	}
	return (0);
}

/* A command for a `kernsim ctl` client: its errno, its output. */
int
ksim_script_command(const char *line, char **outp)
{
	char buf[2048], *av[MAXARGS];
	int ac, e;

	snprintf(buf, sizeof(buf), "%s", line);
	ac = split(buf, av);
	if (ac == 0)
		return (0);
	ksim_capture_begin();
	e = do_command(ac, av);
	if (e >= 0)
		ksim_vm_check(line);
	*outp = ksim_capture_end();
	if (e < 0) {
		free(*outp);
		*outp = strdup("kernsim: unknown command\n");
		e = FB_EINVAL;
	}
	return (e);
}

static void
usage(void)
{

	fprintf(stderr, "usage: kernsim [-v] [-n ncpu] [-p permille] "
	    "[-t tick_us] run SCRIPT\n"
	    "       kernsim [options] serve SOCKET\n"
	    "       kernsim ctl SOCKET COMMAND...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	char line[1024], xline[2048];
	FILE *f;
	int c, ncpu = 4;

	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mutation = NULL;

	while ((c = getopt(argc, argv, "+vn:p:t:M:K:GS")) != -1) {
		switch (c) {
		case 'v':
			ksim_verbose = 1;
			break;
		case 'n':
			ncpu = atoi(optarg);
			if (ncpu < 1 || ncpu > KSIM_MAXCPU)
				usage();
			break;
		case 'p':
			ksim_preempt_permille = atoi(optarg);
			break;
		case 't':
			ksim_tick_us = atoi(optarg);
			break;
		case 'M':
			mutation = optarg;
			break;
		case 'G':
			ksim_memguard = 1;
			break;
		case 'S':
			ksim_storebuf = 1;
			break;
		case 'K':
			ksim_kstack_pages = atoi(optarg);
			if (ksim_kstack_pages < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (mutation != NULL && ksim_k_set_mutation(mutation) != 0) {
		fprintf(stderr, "kernsim: unknown mutation %s\n", mutation);
		return (2);
	}
	if (argc >= 3 && strcmp(argv[0], "ctl") == 0)
		return (ksim_ctl(argv[1], argc - 2, argv + 2));
	if (argc == 2 && strcmp(argv[0], "serve") == 0) {
		ksim_sleepq_init();
		ksim_loader_init();
		ksim_vcpu_init(ncpu);
		ksim_segv_install();
		ksim_storebuf_init();
		ksim_thread_attach("main");
		c = ksim_serve(argv[1]);
		ksim_stats();
		if (c == 0 && ksys_open_files() != 0) {
			printf("FAIL serve: %d files still open at shutdown\n",
			    ksys_open_files());
			c = 1;
		}
		if (c == 0)
			printf("PASS serve\n");
		return (c);
	}
	if (argc != 2 || strcmp(argv[0], "run") != 0)
		usage();
	script = argv[1];
	f = fopen(script, "r");
	if (f == NULL) {
		perror(script);
		return (2);
	}
	ksim_sleepq_init();
	ksim_loader_init();
	ksim_vcpu_init(ncpu);
	ksim_segv_install();
	ksim_storebuf_init();
	ksim_thread_attach("main");
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		expand(line, xline, sizeof(xline));
		run_line(xline);
	}
	fclose(f);
	lineno++;
	if (unchecked)
		test_fail("\"%s\" failed: %s", unchecked_cmd,
		    ksim_errname(last_errno));
	if (nhammers != 0)
		hammer_finish();
	ksim_stats();
	if (ksim_expected_failure() != NULL) {
		printf("FAIL %s: the expected failure \"%s\" did not happen\n",
		    script, ksim_expected_failure());
		return (1);
	}
	if (failures != 0) {
		printf("FAIL %s: %d failure(s)\n", script, failures);
		return (1);
	}
	printf("PASS %s\n", script);
	return (0);
}
