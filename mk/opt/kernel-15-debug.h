/*
 * kernel-15.h plus the opt_global.h options of sys/conf/std.debug (what main /
 * -CURRENT GENERIC includes; stable branches drop the include).
 * std.debug read at freebsd/freebsd-src 0d4081ed69; options routed per
 * sys/conf/options [aokblast/freebsd-src 5203699dfb].  The other std.debug
 * options go elsewhere: DDB opt_ddb.h, GDB opt_gdb.h, DEADLKRES
 * opt_watchdog.h, WITNESS_SKIPSPIN opt_witness.h, MALLOC_DEBUG_MAXZONES
 * opt_vm.h, VERBOSE_SYSINIT opt_verbose_sysinit.h, ALT_BREAK_TO_DEBUGGER
 * opt_kdb.h, IEEE80211_DEBUG opt_wlan.h, USB_DEBUG opt_usb.h, HID_DEBUG
 * opt_hid.h, CAMDEBUG opt_cam.h.
 */
#include "kernel-15.h"
#define	BUF_TRACKING	1
#define	FULL_BUF_TRACKING	1
#define	INVARIANTS	1
#define	INVARIANT_SUPPORT	1
#define	QUEUE_MACRO_DEBUG_TRASH	1
#define	WITNESS	1
