/*
 * opt_global.h of a standalone (untied, no KERNBUILDDIR) amd64 module
 * build for FreeBSD 15.0 / main 2025, as sys/conf/kmod.mk + config.mk make it.
 * Written from a reading of the FreeBSD sources; no FreeBSD text copied.
 *
 * kmod.mk: without KERNBUILDDIR, SRCS+=opt_global.h and
 *   CFLAGS+=-include ${.OBJDIR}/opt_global.h (no -DHAVE_KERNEL_OPTION_HEADERS)
 *   [aokblast/freebsd-src 5203699dfb, sys/conf/kmod.mk, ".if defined(KERNBUILDDIR)"]
 * config.mk, "opt_global.h:" rule under ".if !defined(KERNBUILDDIR)":
 *   lines 12-14 echo SMP, MAC, VIMAGE; lines 19-21 run awk over
 *   sys/${MACHINE}/conf/DEFAULTS printing every "options X" whose name does
 *   not match GEOM_ as a define to 1
 *   [HalfBSD/freebsd-src 44a5892184, emaste/freebsd 0b4731086e,
 *    CTSRD-CHERI/cheribsd 85406d0d57: sys/conf/config.mk]
 * sys/amd64/conf/DEFAULTS (main, no NEW_PCIB): options GEOM_PART_BSD,
 *   GEOM_PART_EBR, GEOM_PART_MBR, GEOM_PART_GPT (dropped by the awk),
 *   CC_CUBIC, NETLINK  [emaste/freebsd 0db26e423a]
 */
#define	SMP	1	/* config.mk:12 */
#define	MAC	1	/* config.mk:13 */
#define	VIMAGE	1	/* config.mk:14 */
#define	CC_CUBIC	1	/* config.mk:19-21 <- amd64/conf/DEFAULTS */
#define	NETLINK	1	/* config.mk:19-21 <- amd64/conf/DEFAULTS */
