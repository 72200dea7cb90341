# tests/sys/devref/devring_pipe_test's case bodies *as written*, on
# kernsim: the test program is sourced unchanged and its bodies run against
# one kernsim server, with only what ties them to FreeBSD replaced here:
#  - uname: answers FreeBSD, and the modules are $KSIM_MODDIR's
#    (DEVREF_KMOD_DIR, which setup looks at first);
#  - atf-sh: tests/kernsim/atf.sh;
#  - kldload, kldunload, kldstat, sysctl, stat -f: bin/ (lib.sh; stat's
#    owner, group and mode come from kernsim's devfs);
#  - cc: the body's helper, devring_pipe_t.c unchanged, compiled with the
#    kernsim client linked in (as devring_t is: mk/kernsim.mk).
# pipe_exchange (12 exchanges of 100000 packets, one socket round trip per
# simulated system call) runs in `make kernsim` only
# (KSIM_KYUA_BODIES=pipe_exchange); kyua-pipe.sh runs the same helper steps
# with 3000 packets in `make test`.
. tests/kernsim/lib.sh
. tests/kernsim/atf.sh

BODIES=${KSIM_KYUA_BODIES:-"pipe_ctl pipe_bind_rw pipe_unload_midway
pipe_unload_wakes"}

KS_TOP=$(pwd)
# The test program itself, unchanged: its variables and functions.
# shellcheck disable=SC1091
. "$KS_TOP/tests/sys/devref/devring_pipe_test"

# --- what ties it to FreeBSD ---------------------------------------------------
uname() { echo FreeBSD; }
DEVREF_KMOD_DIR=$(cd "$KSIM_MODDIR" && pwd)
KS_WRAP="-Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=read"
KS_WRAP="$KS_WRAP -Wl,--wrap=write,--wrap=poll,--wrap=mmap,--wrap=fcntl"
KS_WRAP="$KS_WRAP -Wl,--wrap=munmap"
cc()
{
	# shellcheck disable=SC2086
	clang-14 -std=gnu11 -fno-pie -no-pie -I"$KS_TOP/tests/kernsim/compat" \
	    "$@" "$KS_TOP/tests/kernsim/client/ksim_client.c" $KS_WRAP -lpthread
}

ks_start
for b in $BODIES; do
	echo "== $b"
	mkdir "$KS_WORK/$b" && cd "$KS_WORK/$b" || fail "mkdir $b"
	"${b}_body"
	"${b}_cleanup"
	cd "$KS_WORK" || fail "cd"
	echo "ok $b"
done
ks_stop
