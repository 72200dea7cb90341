# tests/sys/devref unload_idle_fd and sleeper_woken_{pcpu,counted}: an fd
# held (by another process) across kldunload devring answers as dead; a
# thread asleep in the driver is woken with ENXIO at once.
. tests/kernsim/lib.sh
ks_start
check kldload "$DEVREF_KO"
for dev in /dev/devring /dev/devring_counted; do
	check kldload "$DEVRING_KO"
	rm -rf sync; mkdir sync
	"$HELPER" dead-fd $dev sync > helper.out 2>&1 &
	pid=$!
	wait_file sync/ready 30
	check kldunload devring
	touch sync/go
	wait $pid || { cat helper.out; fail "dead-fd on $dev"; }
	cat helper.out
	grep -q '^ioctl after: ENXIO$' helper.out || fail "ioctl after on $dev"
	grep -q '^read after: EIO$' helper.out || fail "read after on $dev"
done
for dev in /dev/devring /dev/devring_counted; do
	check kldload "$DEVRING_KO"
	check "$HELPER" sleep-unload $dev devring.ko 30000
	expect_out '^kldunload: ok in '
	expect_out '^sleeper: ENXIO after '
done
ks_stop
