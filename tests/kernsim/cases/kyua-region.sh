# tests/sys/devref: devring_t's `region` (write a region through mmap(2),
# DEVRING_IOC_SUM sees it; MAP_PRIVATE, past the end, a huge offset, no
# such region: EINVAL; a read-only region: EACCES for PROT_WRITE and for
# an O_RDWR file) with devring_t unmodified against a kernsim server: its
# mmap/munmap go through client/ksim_client.c (the server's simulated VM
# maps the pages; the client maps the same bytes).
. tests/kernsim/lib.sh
ks_start
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
for dev in /dev/devring_counted /dev/devring; do
	check "$HELPER" region $dev
	expect_out '^region: ok$'
done
check sysctl -n kern.devref.regions
expect_out 'regions 4 pages_held 10 graveyard 0 objects_alive 4 '
check kldunload devring
# the pager's destructor runs as a task: the count lags a little
for i in 1 2 3 4 5 6 7 8 9 10; do
	check sysctl -n kern.devref.regions
	grep -q "objects_alive 0 " out && break
	sleep 0.2
done
expect_out 'objects_alive 0 '
ks_stop
