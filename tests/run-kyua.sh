#!/bin/sh
# Run the Kyua suite (tests/Kyuafile) and print the closing line
#
#	N passed, N failed, N skipped
#
# On Linux the host tests run and the FreeBSD-VM tests skip; in the VM
# (as root) both run.  kyua gets a private HOME and writes its results to
# build/kyua/results.db; `kyua report' is printed after the run.
#
# Exit status: 0 all passed (or skipped), 1 a test failed or was broken,
# 2 kyua itself failed (not installed, broken Kyuafile, ...).
#
#   tests/run-kyua.sh [kyua test arguments, e.g. host/kldcheck_test]
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/build/kyua"
results="$out/results.db"

if ! command -v kyua >/dev/null 2>&1; then
	echo "run-kyua: kyua not found (mk/deps.sh; FreeBSD: in base, or pkg install kyua)" >&2
	exit 2
fi
mkdir -p "$out/home" || exit 2
rm -f "$results"

# Where mk/deps.sh put the FreeBSD headers, decided before HOME changes.
DEVREF_CACHE=${DEVREF_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/devref}
DEVREF_TOP=$top
HOME="$out/home"
export DEVREF_CACHE DEVREF_TOP HOME
# FreeBSD's base atf-sh lives in /usr/libexec; the tests use env(1) to find it.
if [ "$(uname -s)" = FreeBSD ] && ! command -v atf-sh >/dev/null 2>&1; then
	PATH="$PATH:/usr/libexec"
	export PATH
fi

cd "$top/tests" || exit 2
kyua test --kyuafile "$top/tests/Kyuafile" --results-file "$results" "$@"
status=$?
if [ ! -f "$results" ]; then
	echo "run-kyua: kyua test exited $status and wrote no results" >&2
	exit 2
fi

echo
kyua report --results-file "$results" \
    --results-filter skipped,xfail,broken,failed
report=$(kyua report --results-file "$results" \
    --results-filter passed,skipped,xfail,broken,failed) || {
	echo "run-kyua: kyua report failed" >&2
	exit 2
}

# One line per test case: "prog:case  ->  RESULT..."
count()
{
	printf '%s\n' "$report" | grep -E -c "^[^ ].*  ->  ($1)[:[]? " || :
}
passed=$(count 'passed|expected_failure')
failed=$(count 'failed|broken')
skipped=$(count 'skipped')

echo
echo "$passed passed, $failed failed, $skipped skipped"

# kyua test: 0 all good, 1 some test failed or broken, >1 kyua failed.
if [ "$status" -gt 1 ]; then
	exit 2
fi
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
	exit 1
fi
if [ "$passed" -eq 0 ]; then
	echo "run-kyua: no test passed" >&2
	exit 1
fi
exit 0
