# tests/sys/devref cases info_modes, sync_moves_tail, ioctl_errors,
# poll_pollout, mmap_refused, missing_ops, fcntl_nonblock, tombstone_stays:
# devring_t (unmodified, via client/ksim_client.c) against a kernsim
# server, the shell steps through bin/.
. tests/kernsim/lib.sh
ks_start
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
check kldstat -q -m devring
check "$HELPER" info /dev/devring
expect_out '^version=1 slots=1024 mode=0 pad=0 syncs=0$'
check "$HELPER" info /dev/devring_counted
expect_out '^version=1 slots=1024 mode=1 '
for dev in /dev/devring /dev/devring_counted; do
	check "$HELPER" sync $dev
	expect_out '^tail=5$'
	check "$HELPER" errors $dev
	expect_out '^sync with a wrong size: ENOTTY$'
	check "$HELPER" pollout $dev
	check "$HELPER" mmap $dev
	check "$HELPER" rw $dev
	expect_out '^read: ENODEV$'
	check "$HELPER" fcntl $dev
	expect_out '^fcntl: ok$'
done
check sysctl -n hw.ncpu
check sysctl -n kern.devref.dev.devring.mode
expect_out '^pcpu$'
check sysctl -n kern.devref.dev.devring_counted.mode
expect_out '^counted$'
# tombstone_stays
check kldunload devring
kldstat -q -m devring && fail "devring still loaded"
check kldstat -q -m devref
check "$HELPER" open-errno /dev/devring
expect_out '^ENXIO$'
check "$HELPER" open-errno /dev/devring_counted
expect_out '^ENOENT$'
check dmesg
expect_out '^devref: client [0-9]+ \(devring\) unregistered'
ks_stop
