/* kernsim compat: glibc's sys/param.h plus FreeBSD's nitems(), __unused,
 * __DEVOLATILE, __DECONST. */
#ifndef _KSIM_COMPAT_SYS_PARAM_H_
#define	_KSIM_COMPAT_SYS_PARAM_H_

#include_next <sys/param.h>
#include <limits.h>
#include <stdint.h>

#ifndef __unused
#define	__unused	__attribute__((__unused__))
#endif
#ifndef __DEVOLATILE
#define	__DEVOLATILE(type, var)	((type)(uintptr_t)(volatile void *)(var))
#endif
#ifndef __DECONST
#define	__DECONST(type, var)	((type)(uintptr_t)(const void *)(var))
#endif
#ifndef nitems
#define	nitems(x)	(sizeof((x)) / sizeof((x)[0]))
#endif

#endif
