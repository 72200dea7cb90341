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
 */

#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/linker.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
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

static void
usage(void)
{

	fprintf(stderr, "usage: devring_t info|sync|errors|pollout|open-errno "
	    "PATH\n       devring_t dead-fd PATH DIR\n"
	    "       devring_t sleep-unload PATH FILE MS\n");
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
	usage();
	return (2);
}
