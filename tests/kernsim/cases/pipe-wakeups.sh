# devring pipe wakeups (review of 94bd7c7/622cc41).  Each part fails today:
#
# 1. A blocking sync must sleep, not spin.  devring_pipe_t recv blocks in
#    DEVRING_IOC_RXSYNC with DEVRING_SYNC_WAIT on a pipe nobody sends on.
#    Pipe::sync_until counts itself in `sleepers`, takes a ticket and syncs
#    again; that sync's kick() sees sleepers > 0 (the thread itself) and
#    calls devref_wakeup, which moves the ticket just taken: devref_sleep
#    returns at once, for ever (never reaching msleep: no signal is seen).
# 2. poll(2) on the empty RX ring: Pipe::poll arms `armed`, and its own
#    second look's kick() finds it set, clears it and notifies: the poller
#    wakes itself, kern_poll rescans, and so on.
# 3. kqueue: for the same reason every poll op ends with `armed` cleared by
#    its own kick; from the filter devref drops that self-notify
#    (de_knote_td), so a packet sent later notifies nobody: EVFILT_READ
#    never fires.  The control registers after the packet arrived.
. tests/kernsim/lib.sh
PIPE_T=$(dirname "$HELPER")/devring_pipe_t
ks_start
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
check "$PIPE_T" create s 0
P=/dev/devring-pipe/s
hz=$(getconf CLK_TCK)
cpu()
{
	awk '{ print $14 + $15 }' /proc/"$KS_PID"/stat
}
cpu_for_2s()
{
	sleep 1
	c0=$(cpu)
	sleep 2
	c1=$(cpu)
	echo $((c1 - c0))
}
"$PIPE_T" recv $P 1 wait > recv.out 2>&1 &
r=$!
wticks=$(cpu_for_2s)
echo "kernel CPU, one thread in RXSYNC WAIT for 2 s: $wticks ticks (CLK_TCK $hz)"
check "$PIPE_T" send $P 1 1
wait $r || { cat recv.out; fail "recv wait"; }
"$PIPE_T" recv $P 1 poll > recv.out 2>&1 &
r=$!
pticks=$(cpu_for_2s)
echo "kernel CPU, one thread in poll(2) for 2 s: $pticks ticks"
check "$PIPE_T" send $P 1 1
wait $r || { cat recv.out; fail "recv poll"; }
# kqueue: a packet 1 s after the registration must fire EVFILT_READ.
"$PIPE_T" kevent $P 0 level > kq.out 2>&1 &
r=$!
sleep 1
check "$PIPE_T" send $P 1 1
wait $r
cat kq.out
grep -q '^first kevent: 1$' kq.out; kq_late=$?
# Control: the packet is there before the registration.  End 1 stays
# bound while it is sent (a pipe bound at one end only starts afresh).
"$PIPE_T" kevent $P 2 level > kq.out 2>&1 &
r=$!
sleep 1
check "$PIPE_T" send $P 1 1
wait $r
cat kq.out
grep -q '^first kevent: 1$' kq.out || fail "kqueue control: an arrived packet is not reported"
# An idle wait costs next to nothing (a few ticks); a spinning one ~2 s.
bad=
[ "$wticks" -lt $((hz / 2)) ] || bad="$bad; RXSYNC WAIT spins: $wticks ticks of CPU in 2 s"
[ "$pticks" -lt $((hz / 2)) ] || bad="$bad; poll(2) spins: $pticks ticks of CPU in 2 s"
[ $kq_late -eq 0 ] || bad="$bad; kqueue: EVFILT_READ lost the wakeup of a packet sent after EV_ADD"
[ -z "$bad" ] || fail "${bad#; }"
check "$PIPE_T" destroy s
ks_stop
