/*
 * opt_global.h of a standalone (untied, no KERNBUILDDIR) amd64 module
 * build for FreeBSD 14.x, as sys/conf/kmod.mk + config.mk make it.
 * Written from a reading of the FreeBSD sources; no FreeBSD text copied.
 *
 * config.mk, "opt_global.h:" rule under ".if !defined(KERNBUILDDIR)":
 *   echo SMP, MAC, VIMAGE (present since long before 14.0; lines 12-14 in
 *   trees without the $FreeBSD$ tag, e.g. MidnightBSD/src 97e31458c5, which
 *   still has NEW_PCIB in KERN_OPTS.amd64 as 14.x does).
 *
 * The DEFAULTS awk line: absent from sobomax/freebsd14_vendor 0f7ff34
 * sys/conf/config.mk, a 14-era tree (NEW_PCIB, MK_BHYVE_SNAPSHOT), found by
 * the review; not checked against the releng/14.x tag itself.  Every copy seen
 * that still lists NEW_PCIB (rscheff/freebsd-src ea4f8f14a7, MidnightBSD)
 * lacks it; every copy that has it (HalfBSD, emaste, CheriBSD) is newer main.
 * If it were present, 14.x DEFAULTS (GEOM_PART_* dropped, CC_CUBIC,
 * NEW_PCIB, NETLINK [Mashijams/freebsd-src dd3d1978ef, mid-2023 main]) would
 * add CC_CUBIC, NEW_PCIB, NETLINK.  None of the three changes a layout in the
 * headers devref uses, so they are left out here.
 */
#define	SMP	1	/* config.mk (SMP) */
#define	MAC	1	/* config.mk (MAC) */
#define	VIMAGE	1	/* config.mk (VIMAGE) */
