# devring pipes: a sync WITHOUT DEVRING_SYNC_WAIT must return at once.
#
# Pipe::sync_until (rust/kernel/devring/src/pipe.rs) handles a Busy ring
# (another thread, or the kqueue filter running in the peer's thread,
# syncing the same ring) by counting itself, taking a ticket and syncing
# again; that retry's answer is matched with `Ok(mut s) if ready(&s)` and
# every other Ok goes to devref_sleep -- the `!wait ||` of the first match
# is missing there.  A plain RXSYNC on an empty ring that collided once
# therefore sleeps until the next packet (or a signal): for ever here.
#
# Two threads of one process sync end 1's RX ring, flags 0, on a pipe
# nobody sends on; each must finish its loop.  (Third run: one thread
# syncs, the other polls with a zero timeout: the poll's sync is the
# holder.)
. tests/kernsim/lib.sh
top=$(pwd)
ks_start
cat > nb_t.c <<'C'
#include <sys/param.h>
#include <sys/ioctl.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "devring_ioctl.h"
static int fd, iters, mode;
static volatile int done[2];
static void *
th(void *arg)
{
	int me = (int)(long)arg, i;
	struct devring_pipe_sync s;
	struct pollfd p;

	for (i = 0; i < iters; i++) {
		if (mode == 1 && me == 1) {
			p.fd = fd;
			p.events = POLLIN;
			p.revents = 0;
			(void)poll(&p, 1, 0);
			continue;
		}
		memset(&s, 0, sizeof(s));
		if (ioctl(fd, DEVRING_IOC_RXSYNC, &s) != 0)
			err(1, "rxsync");
	}
	done[me] = 1;
	return (NULL);
}
int
main(int argc, char **argv)
{
	struct devring_pipe_bind b;
	pthread_t t[2];
	int i;

	if (argc != 4)
		return (2);
	iters = atoi(argv[2]);
	mode = atoi(argv[3]);
	if ((fd = open(argv[1], O_RDWR)) < 0)
		err(1, "open");
	memset(&b, 0, sizeof(b));
	b.end = 1;
	if (ioctl(fd, DEVRING_IOC_PIPE_BIND, &b) != 0)
		err(1, "bind");
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, th, (void *)(long)i);
	for (i = 0; i < 100 && !(done[0] && done[1]); i++)
		usleep(100000);
	printf("done %d %d\n", done[0], done[1]);
	fflush(stdout);
	_exit(done[0] && done[1] ? 0 : 1);
}
C
${HOST_CC:-cc} -std=gnu11 -O1 -g -fno-pie -Wall -Werror \
    -I"$top"/tests/kernsim/compat -I"$top"/shim -o nb_t nb_t.c \
    "$top"/tests/kernsim/client/ksim_client.c -no-pie \
    -Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=read \
    -Wl,--wrap=write,--wrap=poll,--wrap=mmap,--wrap=fcntl \
    -Wl,--wrap=munmap -lpthread || fail "cc nb_t"
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
PIPE_T=$(dirname "$HELPER")/devring_pipe_t
bad=
n=0
for mode in 0 1 1 1; do
	# A pipe each: a thread left asleep keeps its file, and its end, bound.
	n=$((n + 1))
	check "$PIPE_T" create s$n 0
	./nb_t /dev/devring-pipe/s$n 20000 $mode > nb.out 2>&1
	st=$?
	cat nb.out
	[ $st -eq 0 ] || bad="$bad; run $n (mode $mode): a sync without WAIT slept"
	# Destroy wakes the thread left asleep (ENXIO); the pipe goes.
	check "$PIPE_T" destroy s$n
done
[ -z "$bad" ] || fail "${bad#; }"
ks_stop
