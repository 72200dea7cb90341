# tests/sys/devref/devecho_test's case bodies *as written*, on kernsim: the
# test program is sourced unchanged and its bodies run against one kernsim
# server, with only what ties them to FreeBSD replaced here:
#  - uname: answers FreeBSD (its setup's system check), and the modules
#    are $KSIM_MODDIR's (DEVREF_KMOD_DIR, which setup looks at first);
#  - atf-sh: tests/kernsim/atf.sh (as for kyua-as-written);
#  - kldload, kldunload, kldstat: bin/ (lib.sh);
#  - dd: client/ksim_dd.c, a dd(1) stand-in linked with the kernsim client
#    (its open/read/write on /dev reach the server), built here and put
#    first in PATH;
#  - cc: the body's C program, unchanged, compiled with the kernsim client
#    linked in (as devring_t is: mk/kernsim.mk).
# Not run here: echo_round_trip.  Its `printf ... > /dev/devecho` is a
# redirection done by the shell itself (open(2) in sh), which no link-time
# wrapper reaches; on Linux it would create a file /dev/devecho.
# cases/devecho-kyua.ks re-expresses it.
. tests/kernsim/lib.sh
. tests/kernsim/atf.sh

BODIES=${KSIM_KYUA_BODIES:-"nonblocking_read_eagain reader_woken_by_unload"}

KS_TOP=$(pwd)
# The test program itself, unchanged: its variables and functions.
# shellcheck disable=SC1091
. "$KS_TOP/tests/sys/devref/devecho_test"

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
mkdir bin && cc -Wall -Werror -o bin/dd \
    "$KS_TOP/tests/kernsim/client/ksim_dd.c" || fail "cc ksim_dd.c"
PATH=$KS_WORK/bin:$PATH
for b in $BODIES; do
	echo "== $b"
	mkdir "$KS_WORK/$b" && cd "$KS_WORK/$b" || fail "mkdir $b"
	"${b}_body"
	"${b}_cleanup"
	cd "$KS_WORK" || fail "cd"
	echo "ok $b"
done
ks_stop
