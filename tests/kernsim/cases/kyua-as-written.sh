# tests/sys/devref/devref_test's case bodies *as written*, on kernsim: the
# test program is sourced unchanged and its bodies run one after another
# against one kernsim server (one "boot", as in the VM), with only what
# ties them to FreeBSD replaced here:
#  - require_freebsd, find_modules, build_helper: kernsim stands in for
#    the VM; the modules are $KSIM_MODDIR's, the helper is devring_t built
#    unmodified against client/ksim_client.c;
#  - atf_check / atf_fail / atf_skip / atf_check_equal: a small emulation
#    (exit:N, not-exit:N, ignore, match:, not-match:, inline:, empty), with
#    `test -c` / `test -e` on /dev answered by kernsim's devfs;
#  - kldload, kldunload, kldstat, sysctl, dmesg: bin/ (lib.sh); kldunload
#    words its errors as FreeBSD's does ("can't unload file: Device busy");
#  - stat -f on /dev: bin/stat, answered by kernsim's devfs (inode and
#    rdev: the cdev's devfs_inos unit);
#  - the mmap region cases: the helper's mappings are revoked, faulted,
#    forked and mlocked through the server's VM (client/ksim_client.c:
#    shootdown channel, SIGSEGV handler); its pipe(2) write from a mapping
#    is FreeBSD's direct write (the client holds the pages in the server's
#    VM one pipe buffer at a time, fstat reports what is in the pipe;
#    self-no-pipe-hold shows the case fails without it).
# Every body runs; unload_under_load (20 kldunload/kldload rounds under
# the hammer) also runs alone in `make kernsim`, and kyua-unload-under-load
# runs the same helper with more checks.
#
# console_lines runs first: as written it holds only in the first load of
# devring in a boot.  Later, devref reuses the pcpu tombstone and prints
# "devring: reused (pcpu, incarnation N)", not "created (pcpu)", so in
# Kyua's order (after load_creates_nodes) it fails, on kernsim and, by the
# same code, in the VM.
. tests/kernsim/lib.sh

BODIES=${KSIM_KYUA_BODIES:-"console_lines load_creates_nodes info_modes
sync_moves_tail ioctl_errors poll_pollout unload_idle_fd tombstone_stays
sleeper_woken_pcpu sleeper_woken_counted devref_unload_refused sysctl_tree
kevent_eof_on_unload kqueue_pins_devref per_device_sysctls mmap_refused
missing_ops fcntl_nonblock reload_reuses_tombstone mmap_region_rw
mmap_revoked_on_unload mmap_mlock_graveyard mmap_pipe_hold_across_unload
mmap_touch_race_unload mmap_reload_after_revoke unload_under_load"}

. tests/kernsim/atf.sh

KS_TOP=$(pwd)
# The test program itself, unchanged: its variables and functions.
# shellcheck disable=SC1091
. "$KS_TOP/tests/sys/devref/devref_test"

# --- what ties it to FreeBSD ---------------------------------------------------
require_freebsd() { :; }
find_modules() { :; }		# DEVREF_KO, DEVRING_KO: lib.sh
build_helper() { :; }		# HELPER: lib.sh
cleanup_devring()
{
	kldstat -q -m devring && timeout 30 kldunload devring
	return 0
}

ks_start
for b in $BODIES; do
	echo "== $b"
	mkdir "$KS_WORK/$b" && cd "$KS_WORK/$b" || fail "mkdir $b"
	"${b}_body"
	if command -v "${b}_cleanup" > /dev/null; then
		"${b}_cleanup"
	fi
	cd "$KS_WORK" || fail "cd"
	echo "ok $b"
done
ks_stop
