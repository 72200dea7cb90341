# devring pipes: an EV_CLEAR (edge-triggered) EVFILT_READ knote must fire
# again for a packet that arrives after an earlier event was collected.
#
# Pipe::kick (rust/kernel/devring/src/pipe.rs) notifies only when a poll
# left `armed` set, and Pipe::poll arms only when it finds nothing ready.
# With EV_CLEAR the last filter call before the event was collected
# answered "ready" (kqueue_scan re-runs f_event before copying the event
# out), so nothing is armed afterwards: the reader consumes the packet
# with read(2) (which never arms), the next packet's kick finds `armed`
# clear and posts no KNOTE, and kevent(2) sleeps although data is there.
# Sockets (and netmap, whose notify always KNOTEs) fire on every arrival.
# The control run uses a level-triggered knote (EV_ADD alone).
. tests/kernsim/lib.sh
PIPE_T=$(dirname "$HELPER")/devring_pipe_t
top=$(pwd)
ks_start
cat > kqc_t.c <<'C'
#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/event.h>
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "devring_ioctl.h"
int
main(int argc, char **argv)
{
	struct devring_pipe_bind b;
	struct kevent ch, res;
	struct timespec ts = { 5, 0 };
	char buf[4096];
	int fd, kq, n, r;

	if (argc != 3)
		return (2);
	if ((fd = open(argv[1], O_RDWR)) < 0)
		err(1, "open");
	memset(&b, 0, sizeof(b));
	b.end = 1;
	if (ioctl(fd, DEVRING_IOC_PIPE_BIND, &b) != 0)
		err(1, "bind");
	kq = kqueue();
	EV_SET(&ch, fd, EVFILT_READ, EV_ADD | (atoi(argv[2]) ? EV_CLEAR : 0),
	    0, 0, 0);
	if (kevent(kq, &ch, 1, NULL, 0, NULL) != 0)
		err(1, "kevent add");
	close(open("kq.ready", O_CREAT | O_WRONLY, 0644));
	n = kevent(kq, NULL, 0, &res, 1, &ts);
	printf("first kevent: %d\n", n);
	/* Consume the packet: the ring is empty again. */
	r = (int)read(fd, buf, sizeof(buf));
	printf("read: %d\n", r);
	close(open("kq.consumed", O_CREAT | O_WRONLY, 0644));
	n = kevent(kq, NULL, 0, &res, 1, &ts);
	printf("second kevent: %d\n", n);
	return (0);
}
C
${HOST_CC:-cc} -std=gnu11 -O1 -g -fno-pie -Wall -Werror \
    -I"$top"/tests/kernsim/compat -I"$top"/shim -o kqc_t kqc_t.c \
    "$top"/tests/kernsim/client/ksim_client.c -no-pie \
    -Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=read \
    -Wl,--wrap=write,--wrap=poll,--wrap=mmap,--wrap=fcntl \
    -Wl,--wrap=munmap -lpthread || fail "cc kqc_t"
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
wait_file()
{
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "no $1"
		sleep 0.05
	done
}
bad=
for clear in 0 1; do
	check "$PIPE_T" create c$clear 0
	P=/dev/devring-pipe/c$clear
	rm -f kq.ready kq.consumed
	./kqc_t $P $clear > kq.out 2>&1 &
	r=$!
	wait_file kq.ready
	sleep 0.5
	check "$PIPE_T" send $P 1 1
	wait_file kq.consumed
	sleep 0.5
	check "$PIPE_T" send $P 1 1
	wait $r
	echo "EV_CLEAR=$clear:"
	cat kq.out
	grep -q '^first kevent: 1$' kq.out || bad="$bad; EV_CLEAR=$clear: first packet not reported"
	grep -q '^second kevent: 1$' kq.out || bad="$bad; EV_CLEAR=$clear: a packet after a collected event is not reported (lost wakeup)"
	check "$PIPE_T" destroy c$clear
done
[ -z "$bad" ] || fail "${bad#; }"
ks_stop
