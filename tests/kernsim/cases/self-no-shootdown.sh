# kernsim self-test: can a revoked-mapping case fail when a client's own
# mapping outlives the revocation?  With -M client-no-shootdown, the
# server's pmap_remove_all clears its PTEs but never tells the client
# process (no TLB shootdown), so the client keeps reaching the region's
# pages.  devref_test's mmap_revoked_on_unload, as written
# (kyua-as-written), must then fail: its write(2) from the revoked
# mapping succeeds instead of EFAULT.  Passes when it does; without the
# mutation the same body passes (kyua-as-written).
out=$(mktemp /tmp/kernsim.XXXXXX)
KSIM_FLAGS="${KSIM_FLAGS:+$KSIM_FLAGS }-M client-no-shootdown" \
    KSIM_KYUA_BODIES=mmap_revoked_on_unload \
    sh tests/kernsim/cases/kyua-as-written.sh > "$out" 2>&1
rc=$?
grep -E '^FAIL' "$out" | head -3
if [ $rc -ne 0 ] &&
    grep -q '^FAIL write(pipe) from a revoked mapping: got ok' "$out"; then
	echo "the missing shootdown was caught (exit $rc)"
	rm -f "$out"
	exit 0
fi
tail -5 "$out"
rm -f "$out"
echo "FAIL a client mapping kept across the revocation went unnoticed (exit $rc)"
exit 1
