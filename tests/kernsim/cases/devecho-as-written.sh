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
#  - echo_round_trip's `printf ... > /dev/devecho` is a redirection the
#    shell does itself (open(2) and dup2(2) in sh), which no link-time
#    wrapper reaches: that body runs in a shell with the kernsim client
#    preloaded (client/ksim_preload.c: the shell's open, dup2, write and
#    close of /dev nodes reach the server).
if [ "${1:-}" = --body ]; then
	# Run by the preloaded shell (below) as a script: the same helpers
	# and stand-ins, no server of its own (KSIM_SOCKET is the parent's),
	# then the body $KS_BODY and its cleanup in the current directory.
	KS_BODY_DIR=$(pwd)
	cd "$KS_TOP" || exit 1
fi
. tests/kernsim/lib.sh
. tests/kernsim/atf.sh

BODIES=${KSIM_KYUA_BODIES:-"echo_round_trip nonblocking_read_eagain
reader_woken_by_unload"}
# Bodies whose shell itself must reach kernsim.
PRELOADED="echo_round_trip"

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

if [ "${1:-}" = --body ]; then
	cd "$KS_BODY_DIR" || exit 1
	"${KS_BODY}_body"
	"${KS_BODY}_cleanup"
	exit 0
fi

ks_start
mkdir bin && cc -Wall -Werror -o bin/dd \
    "$KS_TOP/tests/kernsim/client/ksim_dd.c" || fail "cc ksim_dd.c"
clang-14 -std=gnu11 -Wall -Werror -shared -fPIC -o ksim_preload.so \
    "$KS_TOP/tests/kernsim/client/ksim_preload.c" \
    "$KS_TOP/tests/kernsim/client/ksim_client.c" -ldl -lpthread ||
    fail "cc ksim_preload.c"
PATH=$KS_WORK/bin:$PATH
for b in $BODIES; do
	echo "== $b"
	mkdir "$KS_WORK/$b" && cd "$KS_WORK/$b" || fail "mkdir $b"
	case " $PRELOADED " in
	*" $b "*)
		# The body, unchanged, in a shell with the client preloaded:
		# the same functions and stand-ins, this server.
		LD_PRELOAD=$KS_WORK/ksim_preload.so KS_BODY=$b KS_TOP=$KS_TOP \
		    dash "$KS_TOP/tests/kernsim/cases/devecho-as-written.sh" \
		    --body || fail "$b (preloaded shell)" ;;
	*)	"${b}_body"
		"${b}_cleanup" ;;
	esac
	cd "$KS_WORK" || fail "cd"
	echo "ok $b"
done
# The shell's redirection reached kernsim, not Linux's /dev.
[ ! -e /dev/devecho ] ||
    fail "a Linux /dev/devecho exists: a redirection missed kernsim"
ks_stop
