/*
 * Kernel-view opt_global.h for the GENERIC amd64 kernel of FreeBSD 14.x.
 * Written from a reading of the FreeBSD sources; no FreeBSD text copied.
 *
 * NOT VERIFIED against releng/14.x: no stored stable/14 GENERIC was found.
 * This is the 15.0 set (kernel-15.h) minus what 14 cannot have:
 * COMPAT_FREEBSD14 (the option is new in 15).  14.x GENERIC is the single
 * monolithic file (no std.sys/std.generic split) but carries the same
 * opt_global options as far as could be checked (ghostbsd/ghostbsd-src
 * 02b5eacb8a, an older copy, has the same opt_global set up to
 * COMPAT_FREEBSD11).
 * 14.x DEFAULTS also has "options NEW_PCIB" [Mashijams/freebsd-src
 * dd3d1978ef, Nevuqe/nqc 6750612f8b]; its options-file entry was not read,
 * so it is left out.  XENHVM left out as in kernel-15.h.
 */
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
#define	NUMA	1
#define	COMPAT_FREEBSD32	1
#define	KDB	1
#define	DEBUGNET	1
#define	NETDUMP	1
#define	NETGDB	1
#define	SMP	1
#define	PCI_IOV	1
#define	DEV_NETMAP	1
#define	CC_CUBIC	1
#define	NETLINK	1
