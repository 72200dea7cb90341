# kernsim self-test: can the suite catch a devref that does not wake its
# sleepers on destroy?  The mutant devref.ko (devref-core's cargo feature
# mutant-no-sleeper-wakeup: Node::begin_close marks the node closing but
# skips the notify; mk/kernsim.mk builds it into
# build/kernsim/<major>/mutants/no-sleeper-wakeup/) runs the unchanged
# dead-fd case: its thread asleep in DEVRING_IOC_SLEEP is never woken, so
# kldunload devring gives up after devring's 5 s drain (EBUSY) and the case
# fails.  Passes when it does; the shipped devref.ko passes dead-fd itself.
: "${KSIM:=build/kernsim/${FREEBSD_MAJOR:-15}/kernsim}"
mut=$(dirname "$KSIM")/mutants/no-sleeper-wakeup
[ -f "$mut/devref.ko" ] || { echo "FAIL $mut/devref.ko not built (make -f mk/kernsim.mk)"; exit 1; }
out=$(mktemp /tmp/kernsim.XXXXXX)
# shellcheck disable=SC2086
KSIM_MODDIR=$mut "$KSIM" $KSIM_FLAGS run tests/kernsim/cases/dead-fd.ks > "$out" 2>&1
rc=$?
grep -E '^(FAIL|kernsim: FAIL)' "$out" | head -3
if [ $rc -ne 0 ] && grep -Eq '^FAIL .*(kldunload devring|ENXIO)' "$out"; then
	echo "the missing sleeper wakeup was caught (exit $rc)"
	rm -f "$out"
	exit 0
fi
tail -5 "$out"
rm -f "$out"
echo "FAIL a devref that wakes no sleeper on destroy went unnoticed (exit $rc)"
exit 1
