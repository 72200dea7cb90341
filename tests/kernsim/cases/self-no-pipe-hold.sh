# kernsim self-test: does devref_test's mmap_pipe_hold_across_unload, as
# written, depend on the client modelling FreeBSD's pipe direct write?
# With KSIM_MUTANT_NO_PIPE_HOLD the client writes to the pipe as Linux
# does (a copy into the pipe's buffer, no hold of the region's pages), so
# the unload finds no page held (the graveyard does not grow) and the
# case must fail.  Passes when it does; without the mutant the same body
# passes (kyua-as-written).
out=$(mktemp /tmp/kernsim.XXXXXX)
KSIM_MUTANT_NO_PIPE_HOLD=1 KSIM_KYUA_BODIES=mmap_pipe_hold_across_unload \
    sh tests/kernsim/cases/kyua-as-written.sh > "$out" 2>&1
rc=$?
grep -E '^FAIL' "$out" | head -3
if [ $rc -ne 0 ] && grep -q 'no page held' "$out"; then
	echo "the missing page hold was caught (exit $rc)"
	rm -f "$out"
	exit 0
fi
tail -5 "$out"
rm -f "$out"
echo "FAIL a pipe write without a page hold went unnoticed (exit $rc)"
exit 1
