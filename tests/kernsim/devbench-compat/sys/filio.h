/* devbench on kernsim: FreeBSD's FIONBIO (sys/sys/filio.h), encoded by
 * tests/kernsim/compat/sys/ioccom.h as the kernel expects it. */
#ifndef _DEVBENCH_COMPAT_SYS_FILIO_H_
#define	_DEVBENCH_COMPAT_SYS_FILIO_H_

#include <sys/ioccom.h>

#undef FIONBIO
#define	FIONBIO		_IOW('f', 126, int)

#endif
