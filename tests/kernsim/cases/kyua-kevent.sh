# tests/sys/devref kevent_eof_on_unload: devring_t kevent (unmodified)
# against kernsim: EVFILT_WRITE ready, EVFILT_READ not; a thread blocked in
# kevent(2) woken with EV_EOF by kldunload; a new knote on the dead fd
# refused with ENXIO.  Then devref refuses to unload (kqueue_pins_devref's
# console line) as it always does once a pcpu node existed.
. tests/kernsim/lib.sh
ks_start
check kldload "$DEVREF_KO"
check kldload "$DEVRING_KO"
check "$HELPER" kevent /dev/devring devring.ko 10
expect_out '^kevent read: EV_EOF after '
expect_out '^write after: EV_EOF$'
expect_out '^add after: ENXIO$'
kldunload devref > out 2>&1 && fail "devref unloaded"
check dmesg
expect_out '^devref: unload refused'
ks_stop
