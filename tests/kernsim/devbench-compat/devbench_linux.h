/*
 * devbench on Linux against kernsim (tests/kernsim/devbench.sh): what
 * tools/devbench/devbench.c takes from FreeBSD's libc and sys/cdefs.h and
 * glibc 2.36 lacks.  Force-included (-include) by mk/bench.mk's
 * devbench-kernsim rule only; the FreeBSD build never sees it.
 */
#ifndef _DEVBENCH_LINUX_H_
#define	_DEVBENCH_LINUX_H_

#include <err.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef __unused
#define	__unused	__attribute__((__unused__))
#endif
#ifndef __printflike
#define	__printflike(fmt, va)	__attribute__((__format__(__printf__, fmt, va)))
#endif

static inline size_t
devbench_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return (len);
}

static inline size_t
devbench_strlcat(char *dst, const char *src, size_t size)
{
	size_t dlen = strnlen(dst, size);

	if (dlen == size)
		return (size + strlen(src));
	return (dlen + devbench_strlcpy(dst + dlen, src, size - dlen));
}
#define	strlcpy	devbench_strlcpy
#define	strlcat	devbench_strlcat

extern char *__progname;	/* glibc's, as err(3) prints it */

static inline void
devbench_vwarnc(int code, const char *fmt, va_list ap)
{

	fprintf(stderr, "%s: ", __progname);
	if (fmt != NULL) {
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, ": ");
	}
	fprintf(stderr, "%s\n", strerror(code));
}

static inline void __attribute__((__format__(__printf__, 2, 3)))
devbench_warnc(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	devbench_vwarnc(code, fmt, ap);
	va_end(ap);
}

static inline void __attribute__((__noreturn__, __format__(__printf__, 3, 4)))
devbench_errc(int eval, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	devbench_vwarnc(code, fmt, ap);
	va_end(ap);
	exit(eval);
}
#define	warnc	devbench_warnc
#define	errc	devbench_errc

#endif
