# tests/sys/devref cases sysctl_tree, per_device_sysctls, console_lines,
# devref_unload_refused, reload_reuses_tombstone against kernsim, with
# devring_t unmodified and the shell steps through bin/.
. tests/kernsim/lib.sh
ks_start
R=kern.devref
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
# sysctl_tree
check sysctl -n $R.kpi_version
expect_out '^1$'
check sysctl -n $R.devices
expect_out 'devring_counted'
check sysctl -n $R.clients
expect_out 'devring'
check sysctl -n $R.dev.devring.alive
expect_out '^1$'
check sysctl -n $R.dev.devring.inside
expect_out '^0$'
# per_device_sysctls
for dev in devring devring_counted; do
	node=$R.dev.$dev
	before=$(sysctl -n $node.calls)
	check "$HELPER" hammer /dev/$dev 2 1
	syncs=$(sed -n 's/^total: ok=\([0-9]*\).*/\1/p' out)
	after=$(sysctl -n $node.calls)
	[ -n "$syncs" ] && [ "$syncs" -gt 0 ] || fail "no SYNC on /dev/$dev"
	[ $((after - before)) -ge "$syncs" ] ||
	    fail "$node.calls grew by $((after - before)) < $syncs"
	check sysctl -n $node.inside
	expect_out '^0$'
	check sysctl -n $node.open_files
	expect_out '^0$'
done
# devref_unload_refused: EBUSY while devring holds it, before its MOD_UNLOAD
dmesg -c > /dev/null
kldunload devref > out 2>&1 && fail "devref unloaded under devring"
expect_out 'EBUSY'
check kldstat -q -m devref
check dmesg
grep -q 'unload refused' out && fail "devref's MOD_UNLOAD ran"
# reload_reuses_tombstone + console_lines
rm -rf sync; mkdir sync
"$HELPER" dead-fd /dev/devring sync > helper.out 2>&1 &
pid=$!
wait_file sync/ready 30
dmesg -c > /dev/null
check kldunload devring
check dmesg
expect_out '^devref: client [0-9]+ \(devring\) unregistered'
grep -Eq '^devref: client [0-9]+ \(devring\) registered' out && fail "register on unload"
check sysctl -n $R.dev.devring.alive
expect_out '^0$'
sysctl -n $R.dev.devring_counted.mode > out 2>&1 && fail "counted node's sysctls stayed"
dmesg -c > /dev/null
check kldload "$DEVRING_KO"
check dmesg
expect_out '^devref: client [0-9]+ \(devring\) registered'
expect_out '^devref: devring_counted: created \(counted\)'
check "$HELPER" info /dev/devring
expect_out 'mode=0'
touch sync/go
wait $pid || { cat helper.out; fail "old fd"; }
grep -q '^ioctl after: ENXIO$' helper.out || { cat helper.out; fail "old fd reached the new incarnation"; }
check kldunload devring
kldunload devref > out 2>&1 && fail "devref unloaded after a pcpu node"
check dmesg
expect_out 'unload refused'
ks_stop
