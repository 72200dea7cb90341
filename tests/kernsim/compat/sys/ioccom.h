/*
 * kernsim compat: FreeBSD's ioctl command encoding for programs built on
 * Linux against kernsim (sys/sys/ioccom.h's layout: 13-bit parameter
 * length at bit 16, group at bit 8, IOC_VOID/OUT/IN at bits 29-31).
 * Written from the documented encoding, not copied.
 */
#ifndef _KSIM_COMPAT_SYS_IOCCOM_H_
#define	_KSIM_COMPAT_SYS_IOCCOM_H_

#undef _IOC
#undef _IO
#undef _IOR
#undef _IOW
#undef _IOWR
#define	IOCPARM_SHIFT	13
#define	IOCPARM_MASK	((1 << IOCPARM_SHIFT) - 1)
#define	IOCPARM_LEN(x)	(((x) >> 16) & IOCPARM_MASK)
#define	IOCBASECMD(x)	((x) & ~(IOCPARM_MASK << 16))
#define	IOCGROUP(x)	(((x) >> 8) & 0xff)
#define	IOCPARM_MAX	(1 << IOCPARM_SHIFT)
#define	IOC_VOID	0x20000000UL
#define	IOC_OUT		0x40000000UL
#define	IOC_IN		0x80000000UL
#define	IOC_INOUT	(IOC_IN | IOC_OUT)
#define	IOC_DIRMASK	(IOC_VOID | IOC_OUT | IOC_IN)
#define	_IOC(inout, group, num, len) ((unsigned long)			\
	((inout) | (((len) & IOCPARM_MASK) << 16) | ((group) << 8) | (num)))
#define	_IO(g, n)	_IOC(IOC_VOID, (g), (n), 0)
#define	_IOWINT(g, n)	_IOC(IOC_VOID, (g), (n), sizeof(int))
#define	_IOR(g, n, t)	_IOC(IOC_OUT, (g), (n), sizeof(t))
#define	_IOW(g, n, t)	_IOC(IOC_IN, (g), (n), sizeof(t))
#define	_IOWR(g, n, t)	_IOC(IOC_INOUT, (g), (n), sizeof(t))

#endif
