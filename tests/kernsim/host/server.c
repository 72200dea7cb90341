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
 * fdescfree closes every file).
 */

#include <errno.h>
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
} procs[256];
static pthread_mutex_t own_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t mmap_mtx = PTHREAD_MUTEX_INITIALIZER;
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
proc_conn(int pid, int delta)
{
	int i, fds[MAXOWN], n = 0, e, last = 0;

	pthread_mutex_lock(&own_mtx);
	for (i = 0; i < 256; i++)
		if (procs[i].pid == pid && procs[i].conns > 0)
			break;
	if (i == 256 && delta > 0)
		for (i = 0; i < 256; i++)
			if (procs[i].conns == 0) {
				procs[i].pid = pid;
				break;
			}
	if (i < 256) {
		procs[i].conns += delta;
		last = procs[i].conns == 0;
	}
	if (last)
		for (i = 0; i < MAXOWN; i++)
			if (owners[i].fd != 0 && owners[i].pid == pid) {
				fds[n++] = owners[i].fd;
				owners[i].fd = 0;
			}
	pthread_mutex_unlock(&own_mtx);
	/* The process is gone: exit closes its descriptors. */
	for (i = 0; i < n; i++)
		ksys_close(fds[i], &e);
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

#define	FB_IOCPARM_LEN(x)	(((x) >> 16) & 0x1fff)
#define	FB_IOC_VOID		0x20000000UL
#define	FB_IOC_OUT		0x40000000UL
#define	FB_IOC_IN		0x80000000UL

static void *
conn_main(void *arg)
{
	int s = (int)(intptr_t)arg, pid = 0, e, fd, n, i;
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
			pid = (int)req.a[0];
			proc_conn(pid, 1);
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
			static int64_t mo[4 + 4096];
			size_t nmo = sizeof(mo) / sizeof(mo[0]);

			/* One at a time: mo is shared. */
			pthread_mutex_lock(&mmap_mtx);
			r = ksys_mmap_client((int)req.a[0],
			    (unsigned long)req.a[1], (int)req.a[2],
			    (int)req.a[3], (long)req.a[4], mo, &nmo, &e);
			reply(s, r, e, mo, r >= 0 ? nmo * sizeof(mo[0]) : 0);
			pthread_mutex_unlock(&mmap_mtx);
			break;
		}
		case KSIM_OP_MUNMAP:
			r = ksys_munmap_vs(0, (int)req.a[0], &e);
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
	}
	free(pl);
	free(out);
	close(s);
	if (pid != 0)
		proc_conn(pid, -1);
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
