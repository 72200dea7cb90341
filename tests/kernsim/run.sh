#!/bin/sh
# kernsim test runner: every tests/kernsim/cases/*.ks (a kernsim script)
# and *.sh (a shell case driving a `kernsim serve`) against the modules
# of build/$FREEBSD_MAJOR (or $KSIM_MODDIR), with the kernsim built for the
# same major.  Prints one line per case and "N passed, N failed" (skips
# counted apart).  Exit 0 when nothing failed.
#
#   sh tests/kernsim/run.sh [case.ks ...]
#
# Environment: FREEBSD_MAJOR (15), KSIM_MODDIR (build/$FREEBSD_MAJOR),
# KSIM (build/kernsim/$FREEBSD_MAJOR/kernsim), KSIM_FLAGS (e.g. "-n 4 -p 100"),
# KSIM_CYCLES (unload-under-load cycles, 20), KSIM_TIMEOUT (seconds per
# case, 120), KSIM_JOBS (cases run at once, 3).

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
major=${FREEBSD_MAJOR:-15}
export FREEBSD_MAJOR=$major
export KSIM_TESTMODS=${KSIM_TESTMODS:-build/kernsim/$major/testmods}
export KSIM_MODDIR=${KSIM_MODDIR:-build/$major}
ksim=${KSIM:-build/kernsim/$major/kernsim}
timeout=${KSIM_TIMEOUT:-120}
logdir=build/kernsim/$major/logs

if [ ! -x "$ksim" ]; then
	echo "run.sh: $ksim not built (make -f mk/kernsim.mk)" >&2
	exit 2
fi
for m in devref devring; do
	if [ ! -f "$KSIM_MODDIR/$m.ko" ]; then
		echo "run.sh: $KSIM_MODDIR/$m.ko not built (make)" >&2
		exit 2
	fi
done
mkdir -p "$logdir"
# One case: its lines printed in one write (cases run in parallel).
run_one()
{
	c=$1
	name=$(basename "${c%.*}")
	log=$logdir/$name.log
	t0=$(date +%s.%N)
	case $c in
	*.sh)	# A shell case: its own kernsim server (tests/kernsim/lib.sh).
		KSIM=$ksim timeout "$timeout" sh "$c" > "$log" 2>&1 ;;
	*)	# shellcheck disable=SC2086
		timeout "$timeout" "$ksim" $KSIM_FLAGS run "$c" > "$log" 2>&1 ;;
	esac
	rc=$?
	t1=$(date +%s.%N)
	dt=$(echo "$t0 $t1" | awk '{ printf "%.2f", $2 - $1 }')
	case $rc in
	0)	out="ok      $name (${dt}s)" ;;
	77)	out="skipped $name: $(grep '^SKIP' "$log")" ;;
	*)	if [ $rc -eq 124 ]; then
			out="FAILED  $name: timed out after ${timeout}s"
		else
			out="FAILED  $name (exit $rc, ${dt}s):"
		fi
		out="$out
$(grep -E '^(FAIL|kernsim: FAIL)' "$log" | head -5 | sed 's/^/        /')
        log: $log" ;;
	esac
	printf '%s\n' "$out"
}

if [ "${1:-}" = --one ]; then
	run_one "$2"
	exit 0
fi
# Imports kernsim does not define (the modules grow faster than the model):
# say so once, by name; every case loading that module will fail on it.
syms=build/kernsim/$major/kernel.syms
if [ -f "$syms" ] && command -v llvm-nm-14 > /dev/null; then
	for m in "$KSIM_MODDIR"/*.ko; do
		miss=$(llvm-nm-14 -u "$m" | awk '{ print $2 }' |
		    grep -v -E '^__(start|stop)_set_|^devref_' |
		    grep -v -x -F -f "$syms" | tr '\n' ' ')
		[ -z "$miss" ] || echo "run.sh: $(basename "$m") imports what kernsim lacks: $miss"
	done
fi
if [ $# -eq 0 ]; then
	set -- tests/kernsim/cases/*.ks tests/kernsim/cases/*.sh
fi
# KSIM_JOBS cases at a time (3): most of a case's time is spent waiting
# (sleeps, timeouts, a peer), and each has its own kernel, so they do not
# share state; a case that measures time or CPU measures its own server.
jobs=${KSIM_JOBS:-3}
res=$logdir/results.$$
printf '%s\n' "$@" | KSIM=$ksim xargs -P "$jobs" -n 1 sh "$0" --one | tee "$res"
pass=$(grep -c '^ok ' "$res")
fail=$(grep -c '^FAILED ' "$res")
skip=$(grep -c '^skipped ' "$res")
rm -f "$res"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
