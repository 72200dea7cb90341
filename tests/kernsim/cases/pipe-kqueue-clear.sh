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
ks_start
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
bad=
for mode in level clear; do
	check "$PIPE_T" create c$mode 0
	P=/dev/devring-pipe/c$mode
	rm -f kq.ready kq.consumed
	"$PIPE_T" kevent $P 0 $mode "$PWD" > kq.out 2>&1 &
	r=$!
	wait_file kq.ready 5
	sleep 0.5
	check "$PIPE_T" send $P 1 1
	wait_file kq.consumed 5
	sleep 0.5
	check "$PIPE_T" send $P 1 1
	wait $r
	echo "$mode:"
	cat kq.out
	grep -q '^first kevent: 1$' kq.out || bad="$bad; $mode: first packet not reported"
	grep -q '^second kevent: 1$' kq.out || bad="$bad; $mode: a packet after a collected event is not reported (lost wakeup)"
	check "$PIPE_T" destroy c$mode
done
[ -z "$bad" ] || fail "${bad#; }"
ks_stop
