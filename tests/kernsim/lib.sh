# kernsim shell-case helpers (sourced by cases/*.sh through run.sh).
#
# ks_start starts `kernsim serve` on a private socket and puts bin/ (the
# FreeBSD commands kldload, kldunload, kldstat, sysctl, dmesg, forwarded to
# that kernel) first in PATH; HELPER is tests/sys/devref/devring_t.c built
# unmodified against kernsim (client/ksim_client.c).  ks_stop shuts the
# kernel down and fails the case if it failed or left files open.

: "${KSIM:=build/kernsim/${FREEBSD_MAJOR:-15}/kernsim}"
: "${KSIM_MODDIR:=build/${FREEBSD_MAJOR:-15}}"
HELPER=${HELPER:-$(dirname "$KSIM")/devring_t}
DEVREF_KO=$KSIM_MODDIR/devref.ko
DEVRING_KO=$KSIM_MODDIR/devring.ko
KSIM=$(cd "$(dirname "$KSIM")" && pwd)/$(basename "$KSIM")
HELPER=$(cd "$(dirname "$HELPER")" && pwd)/$(basename "$HELPER")
export KSIM

fail()
{
	echo "FAIL $*"
	ks_stop 1
	exit 1
}

# If the case dies (timeout, signal), the server it started goes too.
ks_cleanup()
{
	[ -n "${KS_PID:-}" ] && kill "$KS_PID" 2>/dev/null
	KS_PID=
}
trap ks_cleanup EXIT
trap 'ks_cleanup; exit 1' INT TERM

ks_start()
{
	KS_WORK=$(mktemp -d /tmp/kernsim.XXXXXX)
	export KSIM_SOCKET=$KS_WORK/sock
	# shellcheck disable=SC2086
	"$KSIM" $KSIM_FLAGS serve "$KSIM_SOCKET" > "$KS_WORK/serve.log" 2>&1 &
	KS_PID=$!
	i=0
	while [ ! -S "$KSIM_SOCKET" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$KS_WORK/serve.log"; echo "FAIL no server"; exit 1; }
		sleep 0.05
	done
	PATH=$(cd "$(dirname "$0")/.." && pwd)/bin:$PATH
	export PATH
	cd "$KS_WORK" || exit 1
}

# ks_stop [failed]: shut the kernel down; its verdict decides.
ks_stop()
{
	[ -n "${KS_PID:-}" ] || return 0
	"$KSIM" ctl "$KSIM_SOCKET" shutdown > /dev/null 2>&1
	wait "$KS_PID"
	st=$?
	KS_PID=
	if [ "$st" -ne 0 ] || grep -q '^kernsim: FAIL' "$KS_WORK/serve.log"; then
		echo "FAIL kernsim serve exited $st:"
		sed 's/^/  | /' "$KS_WORK/serve.log" | tail -40
		exit 1
	fi
	grep '^kernsim: stats' "$KS_WORK/serve.log"
	[ "${1:-0}" -eq 0 ] && rm -rf "$KS_WORK"
	return 0
}

ks()
{
	"$KSIM" ctl "$KSIM_SOCKET" "$@"
}

# check CMD...: run it, fail the case on a non-zero exit.
check()
{
	"$@" > out 2>&1 || { cat out; fail "$*"; }
	cat out
}

# expect_out PATTERN: the last check's output matches (grep -E).
expect_out()
{
	grep -Eq -- "$1" out || fail "output lacks /$1/"
}

wait_file()
{
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1))
		[ $i -lt $(($2 * 20)) ] || fail "$1 did not appear in $2 s"
		sleep 0.05
	done
}
