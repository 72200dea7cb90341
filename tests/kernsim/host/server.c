/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim serve: a simulated kernel that outlives one process, so that
 * test programs (linked with client/ksim_client.c) and shell steps
 * (`kernsim ctl`) drive the same machine, as on a FreeBSD host where
 * kldload, a test binary and sysctl(8) are separate processes.
 *
 * Each connection is served by its own simulated thread.  Descriptors are
 * owned by the client process that opened them: when its last connection
 * goes, its descriptors are closed (process exit: kern/kern_descrip.c
 * fdescfree closes every file) and its address space goes (exit1 ->
 * vmspace_exit).
 *
 * A client process that maps a device has an address space of its own in
 * the simulated VM (kern/vm_map.c), made at its first mmap or, for a
 * child, by the fork (vm/vm_map.c vmspace_fork, KSIM_OP_FORK), and a
 * shootdown channel: when pmap_remove_all() takes a PTE out of that
 * address space, hs_vm_shootdown() below has the client drop its own
 * mapping of the page and waits for it, as a TLB shootdown waits for
 * every CPU (x86/x86/mp_x86.c smp_targeted_tlb_shootdown).
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ksim.h"
#include "proto.h"

#define	MAXOWN	4096

static struct {
	int	fd;
	int	pid;
} owners[MAXOWN];
static struct {
	int	pid;
	int	conns;
	int	exiting;	/* its exit is being processed */
	int	vs;		/* its address space, 0: none yet */
	int	sd;		/* its shootdown channel, -1: none */
	int	sd_closed;	/* it had one: the process is exiting */
	pthread_mutex_t	sd_mtx;	/* one shootdown at a time */
} procs[256];
static pthread_mutex_t own_mtx = PTHREAD_MUTEX_INITIALIZER;
static volatile int shutting_down;
static int listen_fd;

static void
own(int fd, int pid)
{
	int i;

	pthread_mutex_lock(&own_mtx);
	for (i = 0; i < MAXOWN; i++)
		if (owners[i].fd == 0) {
			owners[i].fd = fd;
			owners[i].pid = pid;
			break;
		}
	pthread_mutex_unlock(&own_mtx);
}

static void
disown(int fd)
{
	int i;

	pthread_mutex_lock(&own_mtx);
	for (i = 0; i < MAXOWN; i++)
		if (owners[i].fd == fd)
			owners[i].fd = 0;
	pthread_mutex_unlock(&own_mtx);
}

static void
reply(int s, int64_t ret, int err, const void *buf, size_t len)
{
	struct ksim_rep rep;

	rep.ret = ret;
	rep.err = err;
	rep.len = (uint32_t)len;
	if (ksim_send_all(s, &rep, sizeof(rep)) == 0 && len > 0)
		(void)ksim_send_all(s, buf, len);
}

static void
procs_init(void)
{
	int i;

	for (i = 0; i < 256; i++) {
		procs[i].sd = -1;
		pthread_mutex_init(&procs[i].sd_mtx, NULL);
	}
}

/* own_mtx held: the live entry of pid, or -1. */
static int
proc_find(int pid)
{
	int i;

	for (i = 0; i < 256; i++)
		if (procs[i].pid == pid && (procs[i].conns > 0 ||
		    procs[i].exiting))
			return (i);
	return (-1);
}

static void
proc_conn(int pid, int delta, int forkvs)
{
	int i, fds[MAXOWN], n = 0, e, last = 0, vs = 0;

	pthread_mutex_lock(&own_mtx);
	i = proc_find(pid);
	if (i < 0 && delta > 0)
		for (i = 0; i < 256; i++)
			if (procs[i].conns == 0 && !procs[i].exiting) {
				procs[i].pid = pid;
				procs[i].vs = 0;
				procs[i].sd_closed = 0;
				break;
			}
	if (i >= 0 && i < 256) {
		procs[i].conns += delta;
		if (forkvs > 0 && procs[i].vs == 0)
			procs[i].vs = forkvs;
		last = procs[i].conns == 0;
		if (last) {
			procs[i].exiting = 1;
			vs = procs[i].vs;
			procs[i].vs = 0;
		}
	}
	if (last)
		for (i = 0; i < MAXOWN; i++)
			if (owners[i].fd != 0 && owners[i].pid == pid) {
				fds[n++] = owners[i].fd;
				owners[i].fd = 0;
			}
	pthread_mutex_unlock(&own_mtx);
	if (!last)
		return;
	/* The process is gone: exit closes its descriptors... */
	for (i = 0; i < n; i++)
		ksys_close(fds[i], &e);
	/* ...and vmspace_exit drops its mappings. */
	if (vs > 0)
		ksys_vm_exit(vs);
	pthread_mutex_lock(&own_mtx);
	if ((i = proc_find(pid)) >= 0 && procs[i].conns == 0)
		procs[i].exiting = 0;
	pthread_mutex_unlock(&own_mtx);
}

/* The address space of client process pid, made at its first need. */
static int
proc_vs(int pid)
{
	int i, vs;

	pthread_mutex_lock(&own_mtx);
	i = proc_find(pid);
	vs = i >= 0 ? procs[i].vs : -1;
	pthread_mutex_unlock(&own_mtx);
	if (vs != 0)
		return (vs);
	vs = ksys_vm_vs_new(-1);
	pthread_mutex_lock(&own_mtx);
	if ((i = proc_find(pid)) >= 0 && procs[i].vs == 0) {
		procs[i].vs = vs;
		vs = -vs;	/* taken */
	}
	pthread_mutex_unlock(&own_mtx);
	if (vs > 0) {		/* raced with another thread of pid */
		ksys_vm_exit(vs);
		return (proc_vs(pid));
	}
	return (-vs);
}

/*
 * kern_intf.h hs_vm_shootdown(): pmap_remove_all() took the PTE of page
 * idx of mapping mapid out of address space vs (HS_LOCK_VM held).  If vs
 * is a client process's, tell the process and wait for its answer: its
 * own mapping of the page is gone then (amd64/amd64/pmap.c
 * pmap_remove_all -> pmap_invalidate_page, whose shootdown IPI is waited
 * for in x86/x86/mp_x86.c smp_targeted_tlb_shootdown).  A process whose
 * channel is closed has exited.
 */
void
ksim_hs_vm_shootdown(int vs, int mapid, unsigned long idx)
{
	struct ksim_shootdown m;
	pthread_mutex_t *mtx = NULL;
	char ack;
	int i;

	pthread_mutex_lock(&own_mtx);
	for (i = 0; i < 256; i++)
		if (procs[i].vs == vs && procs[i].conns > 0) {
			mtx = &procs[i].sd_mtx;
			break;
		}
	pthread_mutex_unlock(&own_mtx);
	if (mtx == NULL)
		return;		/* not a client's (or exiting) */
	m.mapid = mapid;
	m.page = (int64_t)idx;
	pthread_mutex_lock(mtx);
	if (procs[i].sd < 0 && procs[i].sd_closed) {
		/* Exiting: the channel closes before its last connection. */
		pthread_mutex_unlock(mtx);
		return;
	}
	if (procs[i].sd < 0)
		ksim_failf("kernsim serve: a client (pid %d) has PTEs but no "
		    "shootdown channel", procs[i].pid);
	if (ksim_send_all(procs[i].sd, &m, sizeof(m)) == 0)
		(void)ksim_recv_all(procs[i].sd, &ack, 1);
	pthread_mutex_unlock(mtx);
}

/*
 * KSIM_OP_SHOOTDOWN: connection s is pid's shootdown channel until the
 * process closes it (exits); hs_vm_shootdown() talks on it meanwhile.
 */
static void
shootdown_channel(int s, int pid)
{
	struct pollfd pfd;
	int i;

	pthread_mutex_lock(&own_mtx);
	i = proc_find(pid);
	pthread_mutex_unlock(&own_mtx);
	if (i < 0) {
		reply(s, -1, FB_EINVAL, NULL, 0);
		return;
	}
	pthread_mutex_lock(&procs[i].sd_mtx);
	procs[i].sd = s;
	pthread_mutex_unlock(&procs[i].sd_mtx);
	reply(s, 0, 0, NULL, 0);
	pfd.fd = s;
	pfd.events = POLLRDHUP;
	for (;;) {
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			break;
		if ((pfd.revents & (POLLRDHUP | POLLHUP | POLLERR |
		    POLLNVAL)) != 0)
			break;
	}
	pthread_mutex_lock(&procs[i].sd_mtx);
	procs[i].sd = -1;
	procs[i].sd_closed = 1;
	pthread_mutex_unlock(&procs[i].sd_mtx);
}

/* KSIM_OP_REAPED: wait4 returns only after exit1 is done with pid. */
static void
wait_reaped(int pid)
{
	int k, live;

	for (k = 0; k < 10000; k++) {
		pthread_mutex_lock(&own_mtx);
		live = proc_find(pid) >= 0;
		pthread_mutex_unlock(&own_mtx);
		if (!live)
			return;
		usleep(1000);
	}
}


#define	FB_IOCPARM_LEN(x)	(((x) >> 16) & 0x1fff)
#define	FB_IOC_VOID		0x20000000UL
#define	FB_IOC_OUT		0x40000000UL
#define	FB_IOC_IN		0x80000000UL

static void *
conn_main(void *arg)
{
	int s = (int)(intptr_t)arg, pid = 0, e, fd, n, i, sd = 0;
	struct ksim_req req;
	char name[32], *pl = NULL, *out = NULL;
	long r;

	snprintf(name, sizeof(name), "conn%d", s);
	ksim_thread_attach(name);
	for (;;) {
		if (ksim_recv_all(s, &req, sizeof(req)) != 0 ||
		    req.len > KSIM_MAXPAYLOAD)
			break;
		free(pl);
		pl = malloc(req.len + 1);
		if (ksim_recv_all(s, pl, req.len) != 0)
			break;
		pl[req.len] = '\0';
		e = 0;
		switch (req.op) {
		case KSIM_OP_HELLO:
			if (pid != 0) {
				reply(s, -1, FB_EINVAL, NULL, 0);
				break;
			}
			pid = (int)req.a[0];
			proc_conn(pid, 1, (int)req.a[1]);
			reply(s, 0, 0, NULL, 0);
			break;
		case KSIM_OP_SHOOTDOWN:
			shootdown_channel(s, pid);
			sd = 1;
			break;
		case KSIM_OP_FAULT: {
			int64_t memoff;
			long mo = -1;

			r = ksys_vm_user_fault(proc_vs(pid), (int)req.a[0],
			    (unsigned long)req.a[1], (int)req.a[2], &mo);
			memoff = mo;
			reply(s, r, 0, &memoff, sizeof(memoff));
			break;
		}
		case KSIM_OP_MLOCK:
			r = ksys_vm_mlock(proc_vs(pid), (int)req.a[0], &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_HOLD:
			r = ksys_vm_hold(proc_vs(pid), (int)req.a[0],
			    (unsigned long)req.a[1], (unsigned long)req.a[2], &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_UNHOLD:
			r = ksys_vm_unhold((int)req.a[0], &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_FORK:
			r = ksys_vm_vs_new(proc_vs(pid));
			reply(s, r, r < 0 ? FB_ENOMEM : 0, NULL, 0);
			break;
		case KSIM_OP_VSFREE:
			ksys_vm_exit((int)req.a[0]);
			reply(s, 0, 0, NULL, 0);
			break;
		case KSIM_OP_REAPED:
			wait_reaped((int)req.a[0]);
			reply(s, 0, 0, NULL, 0);
			break;
		case KSIM_OP_OPEN:
			fd = ksys_open(pl, (int)req.a[0], &e);
			if (fd >= 0)
				own(fd, pid);
			reply(s, fd, e, NULL, 0);
			break;
		case KSIM_OP_CLOSE:
			disown((int)req.a[0]);
			reply(s, ksys_close((int)req.a[0], &e), e, NULL, 0);
			break;
		case KSIM_OP_IOCTL: {
			unsigned long cmd = (unsigned long)req.a[1];
			size_t sz = FB_IOCPARM_LEN(cmd);
			char buf[8192];
			void *argp;

			memset(buf, 0, sizeof(buf));
			if ((cmd & FB_IOC_VOID) != 0)
				argp = (void *)(intptr_t)req.a[2];
			else {
				if ((cmd & FB_IOC_IN) != 0)
					memcpy(buf, pl, req.len < sz ? req.len :
					    sz);
				argp = buf;
			}
			r = ksys_ioctl((int)req.a[0], cmd, argp, &e);
			reply(s, r, e, buf, e == 0 && (cmd & FB_IOC_OUT) != 0 ?
			    sz : 0);
			break;
		}
		case KSIM_OP_READ:
			free(out);
			out = malloc(req.a[1] > 0 ? req.a[1] : 1);
			r = ksys_read((int)req.a[0], out, req.a[1], &e);
			reply(s, r, e, out, r > 0 ? r : 0);
			break;
		case KSIM_OP_WRITE:
			r = ksys_write((int)req.a[0], pl, req.len, &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_POLL: {
			int fds[64];
			short ev[64], rev[64];

			n = (int)req.a[0];
			if (n < 0 || n > 64 || req.len < (size_t)n * 6) {
				reply(s, -1, FB_EINVAL, NULL, 0);
				break;
			}
			for (i = 0; i < n; i++) {
				memcpy(&fds[i], pl + i * 6, 4);
				memcpy(&ev[i], pl + i * 6 + 4, 2);
				rev[i] = 0;
			}
			r = ksys_poll(fds, ev, rev, n, (int)req.a[1], &e);
			reply(s, r, e, rev, n * sizeof(short));
			break;
		}
		case KSIM_OP_KLDLOAD:
			r = ksys_kldload(pl, &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_KLDUNLOAD:
			r = ksys_kldunload((int)req.a[0], (int)req.a[1], &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_KLDFIND:
			r = ksys_kldfind(pl, &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_FCNTL: {
			int ret = 0;

			r = ksys_fcntl((int)req.a[0], (int)req.a[1],
			    (long)req.a[2], &ret, &e);
			reply(s, r == 0 ? ret : -1, e, NULL, 0);
			break;
		}
		case KSIM_OP_MMAP: {
			int64_t mo[5];

			r = ksys_mmap_client(proc_vs(pid), (int)req.a[0],
			    (unsigned long)req.a[1], (int)req.a[2],
			    (int)req.a[3], (long)req.a[4], mo, &e);
			reply(s, r, e, mo, r >= 0 ? sizeof(mo) : 0);
			break;
		}
		case KSIM_OP_MUNMAP:
			r = ksys_munmap_vs(proc_vs(pid), (int)req.a[0], &e);
			reply(s, r, e, NULL, 0);
			break;
		case KSIM_OP_CMD: {
			char *txt = NULL;

			e = ksim_script_command(pl, &txt);
			reply(s, e == 0 ? 0 : -1, e, txt,
			    txt != NULL ? strlen(txt) : 0);
			free(txt);
			break;
		}
		case KSIM_OP_KQUEUE:
			fd = ksys_kqueue(&e);
			if (fd >= 0)
				own(fd, pid);
			reply(s, fd, e, NULL, 0);
			break;
		case KSIM_OP_KEVENT: {
			struct ksim_kevent ev[64];
			int nch = (int)req.a[1], nev = (int)req.a[2];

			if (nch < 0 || nev < 0 || nev > 64 ||
			    req.len < (size_t)nch * sizeof(ev[0])) {
				reply(s, -1, FB_EINVAL, NULL, 0);
				break;
			}
			memset(ev, 0, sizeof(ev));
			n = ksys_kevent((int)req.a[0], pl, nch, ev, nev,
			    (long)req.a[3], &e);
			reply(s, n, e, ev, n > 0 ? n * sizeof(ev[0]) : 0);
			break;
		}
		case KSIM_OP_SHUTDOWN:
			shutting_down = 1;
			reply(s, 0, 0, NULL, 0);
			shutdown(listen_fd, SHUT_RDWR);
			break;
		default:
			reply(s, -1, FB_EINVAL, NULL, 0);
		}
		if (sd)
			break;
	}
	free(pl);
	free(out);
	close(s);
	if (pid != 0)
		proc_conn(pid, -1, 0);
	ksim_thread_detach();
	return (NULL);
}

/* Serve until a client asks for shutdown; 0 if nothing is left open. */
int
ksim_serve(const char *path)
{
	struct sockaddr_un sun;
	pthread_attr_t attr;
	pthread_t t;
	int s;

	signal(SIGPIPE, SIG_IGN);
	procs_init();
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(listen_fd, 64) != 0) {
		perror(path);
		return (2);
	}
	printf("kernsim: serving on %s\n", path);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!shutting_down) {
		s = accept(listen_fd, NULL, NULL);
		if (s < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		pthread_create(&t, &attr, conn_main, (void *)(intptr_t)s);
	}
	pthread_attr_destroy(&attr);
	close(listen_fd);
	unlink(path);
	/* Let closing connections finish their process-exit closes. */
	usleep(100000);
	return (0);
}

/* `kernsim ctl SOCKET WORD...`: one script command on the server. */
int
ksim_ctl(const char *path, int argc, char **argv)
{
	struct sockaddr_un sun;
	struct ksim_req req;
	struct ksim_rep rep;
	char line[4096], *buf;
	size_t off = 0;
	int s, i;

	for (i = 0; i < argc; i++)
		off += snprintf(line + off, sizeof(line) - off,
		    strchr(argv[i], ' ') != NULL ? "%s\"%s\"" : "%s%s",
		    i > 0 ? " " : "", argv[i]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror(path);
		return (2);
	}
	memset(&req, 0, sizeof(req));
	req.op = strcmp(line, "shutdown") == 0 ? KSIM_OP_SHUTDOWN :
	    KSIM_OP_CMD;
	req.len = strlen(line);
	if (ksim_send_all(s, &req, sizeof(req)) != 0 ||
	    ksim_send_all(s, line, req.len) != 0 ||
	    ksim_recv_all(s, &rep, sizeof(rep)) != 0) {
		fprintf(stderr, "kernsim ctl: the server went away\n");
		return (3);
	}
	buf = malloc(rep.len + 1);
	if (ksim_recv_all(s, buf, rep.len) != 0)
		return (3);
	buf[rep.len] = '\0';
	fputs(buf, stdout);
	free(buf);
	close(s);
	if (rep.err != 0) {
		fprintf(stderr, "%s\n", ksim_errname(rep.err));
		return (1);
	}
	return (0);
}
