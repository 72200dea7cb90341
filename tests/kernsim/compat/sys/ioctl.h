/* kernsim compat: ioctl(2) with FreeBSD's command encoding. */
#ifndef _KSIM_COMPAT_SYS_IOCTL_H_
#define	_KSIM_COMPAT_SYS_IOCTL_H_

#include <sys/ioccom.h>

int	ioctl(int, unsigned long, ...);

#endif
