/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim client as an LD_PRELOAD library, for a program that cannot be
 * relinked: /bin/sh, whose redirection `printf ... > /dev/devecho` opens
 * the node itself (devecho_test's echo_round_trip; cases/
 * devecho-as-written.sh runs that body in a shell with this preloaded).
 *
 *	cc -shared -fPIC -o ksim_preload.so ksim_preload.c ksim_client.c \
 *	    -ldl -lpthread
 *
 * ksim_client.c's __wrap_* functions do the work, as in a program linked
 * with --wrap; here its __real_* are the next definitions (libc's), and
 * the libc names are interposed.  What a shell does with a redirection is
 * modelled on top: a kernsim descriptor dup2()ed onto a low number (fd 1)
 * becomes another name of the same open file, closed when its last name
 * is (kern/kern_descrip.c: kern_dup installs the same struct file under
 * the new number, closef drops a reference).  The library takes
 * LD_PRELOAD out of the environment at load, so the shell's children run
 * without it (those that need kernsim are linked with the client).
 */

#define	_GNU_SOURCE	1

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

int	__wrap_open(const char *, int, ...);
int	__wrap_close(int);
int	__wrap_ioctl(int, unsigned long, ...);
ssize_t	__wrap_read(int, void *, size_t);
ssize_t	__wrap_write(int, const void *, size_t);
int	__wrap_poll(struct pollfd *, nfds_t, int);
int	__wrap_fcntl(int, int, ...);

#define	KSIM_FD_BASE	1000
#define	KSIM_NFDS	1024
#define	KSIM_NALIAS	256

static int alias[KSIM_NALIAS];		/* low fd -> kernsim fd + 1, or 0 */
static int names[KSIM_NFDS];		/* names of each kernsim fd */

static void *
next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL)
		abort();
	return (f);
}

__attribute__((constructor)) static void
ksim_preload_init(void)
{

	unsetenv("LD_PRELOAD");
}

/* libc's own, for ksim_client.c. */
int
__real_open(const char *path, int flags, ...)
{
	static int (*f)(const char *, int, ...);
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	if (f == NULL)
		f = next("open");
	return (f(path, flags, mode));
}

int
__real_close(int fd)
{
	static int (*f)(int);

	if (f == NULL)
		f = next("close");
	return (f(fd));
}

int
__real_ioctl(int fd, unsigned long cmd, ...)
{
	static int (*f)(int, unsigned long, ...);
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (f == NULL)
		f = next("ioctl");
	return (f(fd, cmd, arg));
}

ssize_t
__real_read(int fd, void *buf, size_t len)
{
	static ssize_t (*f)(int, void *, size_t);

	if (f == NULL)
		f = next("read");
	return (f(fd, buf, len));
}

ssize_t
__real_write(int fd, const void *buf, size_t len)
{
	static ssize_t (*f)(int, const void *, size_t);

	if (f == NULL)
		f = next("write");
	return (f(fd, buf, len));
}

int
__real_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	static int (*f)(struct pollfd *, nfds_t, int);

	if (f == NULL)
		f = next("poll");
	return (f(fds, n, timeout));
}

void *
__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	static void *(*f)(void *, size_t, int, int, int, off_t);

	if (f == NULL)
		f = next("mmap");
	return (f(addr, len, prot, flags, fd, off));
}

int
__real_munmap(void *addr, size_t len)
{
	static int (*f)(void *, size_t);

	if (f == NULL)
		f = next("munmap");
	return (f(addr, len));
}

int
__real_fcntl(int fd, int cmd, ...)
{
	static int (*f)(int, int, ...);
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	if (f == NULL)
		f = next("fcntl");
	return (f(fd, cmd, arg));
}

/* The kernsim descriptor a number names, or fd itself. */
static int
resolve(int fd)
{

	if (fd >= 0 && fd < KSIM_NALIAS && alias[fd] != 0)
		return (alias[fd] - 1);
	return (fd);
}

static int
is_kfd(int fd)
{

	return (fd >= KSIM_FD_BASE && fd < KSIM_FD_BASE + KSIM_NFDS);
}

/* One name of kernsim fd k goes; the last one closes the file. */
static int
unname(int k)
{

	if (--names[k - KSIM_FD_BASE] > 0)
		return (0);
	names[k - KSIM_FD_BASE] = 0;
	return (__wrap_close(k));
}

static int
open_common(const char *path, int flags, int mode)
{
	int fd;

	fd = __wrap_open(path, flags, mode);
	if (is_kfd(fd))
		names[fd - KSIM_FD_BASE] = 1;
	return (fd);
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	return (open_common(path, flags, mode));
}

/* glibc's open64 is open on LP64; the shell imports both names. */
int	open64(const char *, int, ...) __attribute__((alias("open")));

int
close(int fd)
{
	int k;

	if (fd >= 0 && fd < KSIM_NALIAS && alias[fd] != 0) {
		k = alias[fd] - 1;
		alias[fd] = 0;
		return (unname(k));
	}
	if (is_kfd(fd) && names[fd - KSIM_FD_BASE] > 0)
		return (unname(fd));
	return (__real_close(fd));
}

int
dup2(int from, int to)
{
	static int (*f)(int, int);
	int k;

	if (f == NULL)
		f = next("dup2");
	k = resolve(from);
	if (to >= 0 && to < KSIM_NALIAS && alias[to] != 0) {
		if (alias[to] - 1 == k)
			return (to);
		(void)close(to);
	}
	if (!is_kfd(k))
		return (f(from, to));
	if (to < 0 || to >= KSIM_NALIAS) {
		errno = EBADF;
		return (-1);
	}
	(void)__real_close(to);		/* dup2 closes what `to` named */
	alias[to] = k + 1;
	names[k - KSIM_FD_BASE]++;
	return (to);
}

ssize_t
read(int fd, void *buf, size_t len)
{

	return (__wrap_read(resolve(fd), buf, len));
}

ssize_t
write(int fd, const void *buf, size_t len)
{

	return (__wrap_write(resolve(fd), buf, len));
}

int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return (__wrap_fcntl(resolve(fd), cmd, arg));
}
