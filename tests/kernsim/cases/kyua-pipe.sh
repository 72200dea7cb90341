# tests/sys/devref pipe cases (pipe_ctl, pipe_bind_errors, pipe_rw,
# pipe_exchange, pipe_unload_midway, pipe_unload_wakes): devring_pipe_t
# (unmodified, via client/ksim_client.c) against a kernsim server, two
# processes exchanging slots through a pipe, a kldunload in the middle.
. tests/kernsim/lib.sh
PIPE_T=$(dirname "$HELPER")/devring_pipe_t
ks_start
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
check "$PIPE_T" ctl-errors
expect_out '^ctl-errors: ok$'
for mode in 0 1; do
	P=/dev/devring-pipe/p$mode
	check "$PIPE_T" create p$mode $mode
	expect_out '^created slots=256 buf_size=2048$'
	check "$PIPE_T" bind-errors $P
	expect_out '^bind-errors: ok$'
	check "$PIPE_T" destroy p$mode
	check "$PIPE_T" create p$mode $mode 0600 64 256
	expect_out '^created slots=64 buf_size=256$'
	check "$PIPE_T" rw $P
	expect_out '^rw: ok$'
	check "$PIPE_T" poll-sync $P
	expect_out '^poll-sync: ok$'
	# Two processes, blocking syncs and poll(2), batches of 1 and 32.
	for batch in 1 32; do
		for how in wait poll; do
			"$PIPE_T" recv $P 3000 $how > recv.out 2>&1 &
			r=$!
			check timeout 60 "$PIPE_T" send $P 3000 $batch
			expect_out '^send: sent 3000$'
			wait $r || { cat recv.out; fail "recv $how batch $batch"; }
			grep -q '^recv: received 3000 in order$' recv.out ||
			    { cat recv.out; fail "recv output"; }
		done
	done
	check "$PIPE_T" destroy p$mode
	expect_out '^destroyed$'
done
check sysctl -n kern.devref.regions
expect_out 'objects_alive 0 '

# A kldunload in the middle of an exchange (pcpu and counted): both ends
# stop with ENXIO from a sync or SIGBUS on a touch of the revoked rings,
# what arrived before is in order, nothing leaks.
for mode in 0 1; do
	P=/dev/devring-pipe/m$mode
	check "$PIPE_T" create m$mode $mode
	rm -f progress
	"$PIPE_T" recv $P 0 wait "$PWD" > recv.out 2>&1 &
	r=$!
	"$PIPE_T" send $P 0 8 "$PWD" > send.out 2>&1 &
	s=$!
	wait_file progress 30
	check kldunload devring
	wait $s || { cat send.out; fail "send across the unload"; }
	wait $r || { cat recv.out; fail "recv across the unload"; }
	cat send.out recv.out
	check kldload "$DEVRING_KO"
done

# Sleepers in RXSYNC, read(2) and poll(2) are woken by the unload.
check "$PIPE_T" create w 1
rm -f ready unloaded
"$PIPE_T" unload-wait /dev/devring-pipe/w "$PWD" > wait.out 2>&1 &
w=$!
wait_file ready 30
check kldunload devring
touch unloaded
wait $w || { cat wait.out; fail "unload-wait"; }
grep -q '^unload-wait: ok$' wait.out || { cat wait.out; fail "unload-wait output"; }
for i in 1 2 3 4 5 6 7 8 9 10; do
	check sysctl -n kern.devref.regions
	grep -q "objects_alive 0 " out && break
	sleep 0.2
done
expect_out 'objects_alive 0 '
ks_stop
