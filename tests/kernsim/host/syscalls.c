/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: the system calls a test makes, each a kernel entry on
 * the calling host thread (ksim_enter: a vCPU; ksim_leave: the userret
 * checks).  Descriptors are per process (one simulated process); a call in
 * progress holds a reference on its file (fget/fdrop), so a close from
 * another thread leaves the last fdrop, and with it d_close and the
 * cdevpriv destructor, to whoever finishes last (kern/kern_descrip.c).
 * Errors are FreeBSD errno values.  Designed so that a link-time wrapper
 * (-Wl,--wrap=open,...) can route a FreeBSD test program's calls here.
 */

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ksim.h"

#define	NFILES	1024
#define	FD_BASE	1000		/* kernsim descriptors: never 0, 1, 2 */

#define	FT_DEV	1		/* a device file (struct file) */
#define	FT_KQ	2		/* a kqueue */

static void *fdtab[NFILES];
static int fdtype[NFILES];
static pthread_mutex_t fd_mtx = PTHREAD_MUTEX_INITIALIZER;

/* fget(): the descriptor's file, referenced; NULL if not of that type. */
static void *
fget_type(int fd, int type)
{
	void *fp = NULL;

	if (fd < FD_BASE || fd >= FD_BASE + NFILES)
		return (NULL);
	pthread_mutex_lock(&fd_mtx);
	if (fdtype[fd - FD_BASE] == type)
		fp = fdtab[fd - FD_BASE];
	if (fp != NULL && type == FT_DEV)
		ksim_k_fhold(fp);
	pthread_mutex_unlock(&fd_mtx);
	return (fp);
}

static void *
fget(int fd)
{

	return (fget_type(fd, FT_DEV));
}

void *
ksim_hs_fget(int fd)
{

	return (fget(fd));
}

static int
fdalloc(void *p, int type)
{
	int i, fd = -1;

	pthread_mutex_lock(&fd_mtx);
	for (i = 0; i < NFILES; i++)
		if (fdtab[i] == NULL) {
			fdtab[i] = p;
			fdtype[i] = type;
			fd = FD_BASE + i;
			break;
		}
	pthread_mutex_unlock(&fd_mtx);
	return (fd);
}

int
ksys_open_files(void)
{
	int i, n = 0;

	pthread_mutex_lock(&fd_mtx);
	for (i = 0; i < NFILES; i++)
		n += fdtab[i] != NULL;
	pthread_mutex_unlock(&fd_mtx);
	return (n);
}

/*
 * Every system call runs its kernel part through ksim_syscall(): on the
 * thread's kernel stack, holding a vCPU, with the userret checks after.
 */
struct sc_args {
	int		 fd;
	int		 error;
	long		 ret;
	int		 i1, i2;
	long		 l1;
	unsigned long	 ul;
	const char	*path;
	void		*p1, *p2;
	const void	*cp;
	const short	*events;
	short		*revents;
	int		*ip;
};

static void
sys_open(void *a_)
{
	struct sc_args *a = a_;
	void *fp = NULL;
	int fd;

	a->error = ksim_k_open(a->path, a->i1, &fp);
	a->ret = -1;
	if (a->error == 0) {
		fd = fdalloc(fp, FT_DEV);
		if (fd < 0) {
			ksim_k_fdrop(fp);
			a->error = 24;	/* EMFILE */
		}
		a->ret = fd;
	}
}

int
ksys_open(const char *path, int oflags, int *errp)
{
	struct sc_args a = { .path = path, .i1 = oflags };

	ksim_syscall("open", sys_open, &a);
	*errp = a.error;
	return (a.error == 0 ? (int)a.ret : -1);
}

static void
sys_close(void *a_)
{
	struct sc_args *a = a_;

	if (a->i1 == FT_KQ) {
		ksim_k_kqueue_close(a->p1);
		a->error = 0;
	} else {
		ksim_k_knote_fdclose(a->fd);
		a->error = ksim_k_fdrop(a->p1);
	}
}

/*
 * close(2) (kern/kern_descrip.c closefp): the descriptor goes, the
 * knotes on it are dropped (knote_fdclose), then the reference.
 */
int
ksys_close(int fd, int *errp)
{
	struct sc_args a = { .fd = fd };

	pthread_mutex_lock(&fd_mtx);
	if (fd >= FD_BASE && fd < FD_BASE + NFILES) {
		a.p1 = fdtab[fd - FD_BASE];
		a.i1 = fdtype[fd - FD_BASE];
		fdtab[fd - FD_BASE] = NULL;
		fdtype[fd - FD_BASE] = 0;
	}
	pthread_mutex_unlock(&fd_mtx);
	if (a.p1 == NULL) {
		*errp = FB_EBADF;
		return (-1);
	}
	ksim_syscall("close", sys_close, &a);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

static void
sys_ioctl(void *a_)
{
	struct sc_args *a = a_;
	void *fp = fget(a->fd);

	if (fp == NULL) {
		a->error = FB_EBADF;
		return;
	}
	a->error = ksim_k_ioctl(fp, a->ul, a->p1);
	ksim_k_fdrop(fp);
}

int
ksys_ioctl(int fd, unsigned long cmd, void *arg, int *errp)
{
	struct sc_args a = { .fd = fd, .ul = cmd, .p1 = arg };

	/* kern/subr_syscall.c: ERESTART re-executes the system call once
	 * the signal is handled (SA_RESTART). */
	do
		ksim_syscall("ioctl", sys_ioctl, &a);
	while (a.error == KS_ERESTART);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

static void
sys_rw(void *a_)
{
	struct sc_args *a = a_;
	void *fp = fget(a->fd);

	a->ret = 0;
	if (fp == NULL) {
		a->error = FB_EBADF;
		return;
	}
	a->error = ksim_k_rw(fp, a->p1, a->ul, a->i1, &a->ret);
	ksim_k_fdrop(fp);
}

static long
rw(int fd, void *buf, size_t len, int write, int *errp)
{
	struct sc_args a = { .fd = fd, .p1 = buf, .ul = len, .i1 = write };

	do
		ksim_syscall(write ? "write" : "read", sys_rw, &a);
	while (a.error == KS_ERESTART);
	*errp = a.error;
	return (a.error == 0 ? a.ret : -1);
}

long
ksys_read(int fd, void *buf, size_t len, int *errp)
{

	return (rw(fd, buf, len, 0, errp));
}

long
ksys_write(int fd, const void *buf, size_t len, int *errp)
{

	return (rw(fd, (void *)(uintptr_t)buf, len, 1, errp));
}

static void
sys_poll(void *a_)
{
	struct sc_args *a = a_;
	const int *fds = a->cp;
	void *fps[64];
	int i, n = 0;

	for (i = 0; i < a->i1; i++)
		fps[i] = fget(fds[i]);
	a->error = ksim_k_poll(fps, a->events, a->revents, a->i1, a->l1, &n);
	a->ret = n;
	for (i = 0; i < a->i1; i++)
		if (fps[i] != NULL)
			ksim_k_fdrop(fps[i]);
}

int
ksys_poll(const int *fds, const short *events, short *revents, int n,
    int timo_ms, int *errp)
{
	struct sc_args a = { .cp = fds, .events = events, .revents = revents,
	    .i1 = n, .l1 = timo_ms };

	if (n > 64) {
		*errp = FB_EINVAL;
		return (-1);
	}
	ksim_syscall("poll", sys_poll, &a);
	*errp = a.error;
	return (a.error == 0 ? (int)a.ret : -1);
}

static void
sys_kldload(void *a_)
{
	struct sc_args *a = a_;
	int id = -1;

	a->error = ksim_kldload(a->path, &id);
	a->ret = id;
}

/* kldload(2)/kldunload(2): kld_sx is taken before entering the kernel
 * (an sx sleeps: a waiter does not hold a CPU). */
int
ksys_kldload(const char *path, int *errp)
{
	struct sc_args a = { .path = path };

	ksim_kld_lock();
	ksim_syscall("kldload", sys_kldload, &a);
	ksim_kld_unlock();
	*errp = a.error;
	return (a.error == 0 ? (int)a.ret : -1);
}

static void
sys_kldunload(void *a_)
{
	struct sc_args *a = a_;
	char name[16];

	snprintf(name, sizeof(name), "%d", a->fd);
	a->error = ksim_kldunload(name, a->i1);
}

int
ksys_kldunload(int fileid, int force, int *errp)
{
	struct sc_args a = { .fd = fileid, .i1 = force };

	ksim_kld_lock();
	ksim_syscall("kldunload", sys_kldunload, &a);
	ksim_kld_unlock();
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

int
ksys_kldfind(const char *name, int *errp)
{
	int id;

	ksim_kld_lock();
	id = ksim_kldfind(name);
	ksim_kld_unlock();
	*errp = id < 0 ? FB_ENOENT : 0;
	return (id);
}

static void
sys_sysctl(void *a_)
{
	struct sc_args *a = a_;
	unsigned long len = a->ul;

	a->error = ksim_k_sysctl_read(a->path, a->p1, &len, a->ip);
	a->ul = len;
}

int
ksys_sysctl(const char *name, void *buf, size_t *lenp, int *kindp,
    int *errp)
{
	struct sc_args a = { .path = name, .p1 = buf, .ul = *lenp,
	    .ip = kindp };

	ksim_syscall("sysctl", sys_sysctl, &a);
	*lenp = a.ul;
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

static void
sys_stat(void *a_)
{
	struct sc_args *a = a_;

	a->ret = ksim_k_dev_exists(a->path);
}

int
ksys_dev_exists(const char *path)
{
	struct sc_args a = { .path = path };

	ksim_syscall("stat", sys_stat, &a);
	return ((int)a.ret);
}

static void
sys_devstat(void *a_)
{
	struct sc_args *a = a_;

	a->error = ksim_k_dev_stat(a->path, (unsigned long *)a->p1);
}

int
ksys_dev_stat(const char *path, unsigned long *st, int *errp)
{
	struct sc_args a = { .path = path, .p1 = st };

	ksim_syscall("stat", sys_devstat, &a);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

static void
sys_fcntl(void *a_)
{
	struct sc_args *a = a_;
	void *fp = fget(a->fd);

	if (fp == NULL) {
		a->error = FB_EBADF;
		return;
	}
	a->error = ksim_k_fcntl(fp, a->i1, a->l1, a->ip);
	ksim_k_fdrop(fp);
}

int
ksys_fcntl(int fd, int cmd, long arg, int *retp, int *errp)
{
	struct sc_args a = { .fd = fd, .i1 = cmd, .l1 = arg, .ip = retp };

	ksim_syscall("fcntl", sys_fcntl, &a);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

/*
 * mmap(2) of a device file into a simulated address space (kern/vm_map.c:
 * devfs_mmap_f, vm_mmap_cdev): the mapping's number, or -1.  vs 0 is the
 * script's (and the server's clients') process; flags are FreeBSD's
 * MAP_SHARED (0x1) / MAP_PRIVATE (0x2).
 */
static void
sys_mmap(void *a_)
{
	struct sc_args *a = a_;
	void *fp = fget(a->fd);
	int mapid = -1;

	a->ret = -1;
	if (fp == NULL) {
		a->error = FB_EBADF;
		return;
	}
	a->error = ksim_k_vm_mmap(a->i1 >> 8, fp, a->ul, a->i1 & 0xff, a->i2,
	    a->l1, &mapid);
	if (a->error == 0)
		a->ret = mapid;
	ksim_k_fdrop(fp);
}

int
ksys_mmap_vs(int vs, int fd, unsigned long len, int prot, int flags,
    long off, int *errp)
{
	struct sc_args a = { .fd = fd, .ul = len, .i1 = (vs << 8) | prot,
	    .i2 = flags, .l1 = off };

	ksim_syscall("mmap", sys_mmap, &a);
	*errp = a.error;
	return (a.error == 0 ? (int)a.ret : -1);
}

int
ksys_mmap(int fd, unsigned long len, int prot, int shared, long off,
    int *errp)
{

	return (ksys_mmap_vs(0, fd, len, prot, shared ? 0x1 : 0x2, off,
	    errp));
}

static void
sys_kqueue(void *a_)
{
	struct sc_args *a = a_;
	void *kq;

	kq = ksim_k_kqueue_create();
	a->ret = fdalloc(kq, FT_KQ);
	if (a->ret < 0) {
		ksim_k_kqueue_close(kq);
		a->error = 24;
	}
}

int
ksys_kqueue(int *errp)
{
	struct sc_args a = { .error = 0 };

	ksim_syscall("kqueue", sys_kqueue, &a);
	*errp = a.error;
	return ((int)a.ret);
}

static void
sys_kevent(void *a_)
{
	struct sc_args *a = a_;
	void *kq = fget_type(a->fd, FT_KQ);
	int n = 0;

	if (kq == NULL) {
		a->error = FB_EBADF;
		return;
	}
	a->error = ksim_k_kevent(kq, (void *)(uintptr_t)a->cp, a->i1, a->p1,
	    a->i2, a->l1, &n);
	a->ret = n;
}

/* kevent(2): arrays of FreeBSD struct kevent (ksim_kevent). */
int
ksys_kevent(int kqfd, const void *changes, int nchanges, void *events,
    int nevents, long timo_ns, int *errp)
{
	struct sc_args a = { .fd = kqfd, .cp = changes, .i1 = nchanges,
	    .p1 = events, .i2 = nevents, .l1 = timo_ns };

	ksim_syscall("kevent", sys_kevent, &a);
	*errp = a.error;
	return (a.error == 0 ? (int)a.ret : -1);
}
