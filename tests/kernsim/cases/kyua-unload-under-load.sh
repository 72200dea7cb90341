# tests/sys/devref unload_under_load: devring_t hammer threads on
# /dev/devring while the shell unloads and reloads devring
# ${KSIM_CYCLES:-20} times; every SYNC answers 0 or ENXIO; each cycle is one
# incarnation and one completed drain.
. tests/kernsim/lib.sh
ks_start
cycles=${KSIM_CYCLES:-20}
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
node=kern.devref.dev.devring
inc0=$(sysctl -n $node.incarnation)
drains0=$(sysctl -n $node.drains)
rm -rf sync; mkdir sync
"$HELPER" hammer /dev/devring 4 120 sync > hammer.out 2>&1 &
pid=$!
wait_file sync/ready 30
i=0
while [ $i -lt "$cycles" ]; do
	kldunload devring > unload.err 2>&1 || { cat unload.err; touch sync/stop; wait $pid; fail "cycle $i: kldunload"; }
	sleep 0.02
	kldload "$DEVRING_KO" > load.err 2>&1 || { cat load.err; touch sync/stop; wait $pid; fail "cycle $i: kldload"; }
	sleep 0.02
	i=$((i + 1))
done
touch sync/stop
wait $pid
st=$?
cat hammer.out
[ $st -eq 0 ] || fail "the hammer exited $st"
grep -Eq '^total: .* other=0 stale=0 badtail=0$' hammer.out || fail "hammer totals"
inc1=$(sysctl -n $node.incarnation)
drains1=$(sysctl -n $node.drains)
[ "$inc1" -eq $((inc0 + cycles)) ] || fail "incarnation $inc0 -> $inc1"
[ "$drains1" -eq $((drains0 + cycles)) ] || fail "drains $drains0 -> $drains1"
check kldunload devring
ks_stop
