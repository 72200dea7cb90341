/*
 * Kernel-view opt_global.h: what config(8) writes for the GENERIC amd64
 * kernel of FreeBSD 15.0 (stable branch: std.debug not included).
 * Written from a reading of the FreeBSD sources; no FreeBSD text copied.
 *
 * Options taken from sys/amd64/conf/GENERIC and what it includes (std.generic
 * -> std.sys, std.amd64) [lexiwinter/freebsd-src 5fcdba8fe1, main 2025] plus
 * sys/amd64/conf/DEFAULTS [emaste/freebsd 0db26e423a]; kept only those that
 * sys/conf/options [aokblast/freebsd-src 5203699dfb] or sys/conf/options.amd64
 * [HalfBSD/freebsd-src 759e5a0239] route to opt_global.h.
 * Not verified against the releng/15.0 tag itself.
 * Left out: XENHVM (GENERIC has it, but no options file seen lists it, so its
 * header is unknown); every option routed to another opt_*.h.
 */
/* std.sys */
#define	AUDIT	1
#define	MAC	1
#define	KDTRACE_HOOKS	1
#define	RACCT	1
#define	RACCT_DEFAULT_TO_DISABLED	1
#define	RCTL	1
#define	VIMAGE	1
#define	TCP_BLACKBOX	1
#define	TCP_HHOOK	1
#define	COMPAT_FREEBSD4	1
#define	COMPAT_FREEBSD5	1
#define	COMPAT_FREEBSD6	1
#define	COMPAT_FREEBSD7	1
#define	COMPAT_FREEBSD9	1
#define	COMPAT_FREEBSD10	1
#define	COMPAT_FREEBSD11	1
#define	COMPAT_FREEBSD12	1
#define	COMPAT_FREEBSD13	1
#define	COMPAT_FREEBSD14	1
/* std.amd64 */
#define	NUMA	1
#define	COMPAT_FREEBSD32	1	/* options.amd64 */
/* GENERIC */
#define	KDB	1
#define	DEBUGNET	1
#define	NETDUMP	1
#define	NETGDB	1
#define	SMP	1
#define	PCI_IOV	1
#define	DEV_NETMAP	1	/* "device netmap" */
/* DEFAULTS */
#define	CC_CUBIC	1
#define	NETLINK	1
