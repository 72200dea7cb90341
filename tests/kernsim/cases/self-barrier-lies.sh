# kernsim self-test: can the suite catch a barrier that lies?  A kernel
# whose smp_rendezvous interrupts no CPU (mutate rendezvous-lies) under
# store-buffer injection must fail unload-under-load: measured 9-10 runs
# in 10.  Up to 3 attempts, so a correct suite misses with p ~ 0.001; the
# same script without the mutation passes (unload-under-load-storebuf).
: "${KSIM:=build/kernsim/${FREEBSD_MAJOR:-15}/kernsim}"
dir=$(mktemp -d /tmp/kernsim.XXXXXX)
{ echo "storebuf on 5"; echo "mutate rendezvous-lies";
  grep -v '^#' tests/kernsim/cases/unload-under-load.ks; } > "$dir/m.ks"
i=0
while [ $i -lt 3 ]; do
	i=$((i + 1))
	# shellcheck disable=SC2086
	"$KSIM" $KSIM_FLAGS run "$dir/m.ks" > "$dir/out" 2>&1
	rc=$?
	grep -E '^(FAIL|kernsim: FAIL)' "$dir/out" | head -2
	if [ $rc -ne 0 ]; then
		echo "attempt $i: the lying barrier was caught (exit $rc)"
		rm -rf "$dir"
		exit 0
	fi
	echo "attempt $i: not caught"
done
tail -5 "$dir/out"
rm -rf "$dir"
echo "FAIL a barrier that lies went unnoticed in 3 runs"
exit 1
