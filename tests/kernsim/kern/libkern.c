/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: libkern and the console (printf, panic).
 */

#include "ks.h"

#include <machine/stdarg.h>

#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef bcopy
#undef bzero
#undef strcmp
#undef strchr
#undef strncmp
#undef strlcpy
#undef snprintf
#undef vsnprintf
#undef printf
#undef vprintf

/* Byte loops: no builtins here (compiled -fno-builtin). */
void *
(memcpy)(void *dst, const void *src, size_t len)
{
	char *d = dst;
	const char *s = src;

	while (len-- > 0)
		*d++ = *s++;
	return (dst);
}

void *
(memmove)(void *dst, const void *src, size_t len)
{
	char *d = dst;
	const char *s = src;

	if (d < s) {
		while (len-- > 0)
			*d++ = *s++;
	} else if (d > s) {
		d += len;
		s += len;
		while (len-- > 0)
			*--d = *--s;
	}
	return (dst);
}

void *
(memset)(void *b, int c, size_t len)
{
	unsigned char *p = b;

	while (len-- > 0)
		*p++ = (unsigned char)c;
	return (b);
}

int
(memcmp)(const void *b1, const void *b2, size_t len)
{
	const unsigned char *p1 = b1, *p2 = b2;

	for (; len > 0; len--, p1++, p2++)
		if (*p1 != *p2)
			return (*p1 - *p2);
	return (0);
}

void
(bcopy)(const void *src, void *dst, size_t len)
{

	memmove(dst, src, len);
}

void
(bzero)(void *b, size_t len)
{

	memset(b, 0, len);
}

size_t
(strlen)(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return (n);
}

int
(strcmp)(const char *a, const char *b)
{

	for (; *a == *b; a++, b++)
		if (*a == '\0')
			return (0);
	return ((unsigned char)*a - (unsigned char)*b);
}

int
(strncmp)(const char *a, const char *b, size_t n)
{

	for (; n > 0; n--, a++, b++) {
		if (*a != *b)
			return ((unsigned char)*a - (unsigned char)*b);
		if (*a == '\0')
			break;
	}
	return (0);
}

size_t
(strlcpy)(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return (n);
}

int
(vsnprintf)(char *buf, size_t len, const char *fmt, va_list ap)
{

	return (hs_vsnprintf(buf, len, fmt, ap));
}

int
ks_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = hs_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n);
}

int
(snprintf)(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = hs_vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return (n);
}

/* kern/subr_prf.c: printf() writes to the console; kernsim captures it. */
int
(vprintf)(const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = hs_vsnprintf(buf, sizeof(buf), fmt, ap);
	hs_console(buf, n < 0 ? 0 : MIN((size_t)n, sizeof(buf) - 1));
	return (n);
}

int
(printf)(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return (n);
}

/* kern/kern_shutdown.c: panic() -- in kernsim a test failure. */
void
panic(const char *fmt, ...)
{
	char buf[512], msg[600];
	va_list ap;

	va_start(ap, fmt);
	hs_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ks_snprintf(msg, sizeof(msg), "panic: %s", buf);
	hs_fail(msg);
}

void
ks_failf(const char *fmt, ...)
{
	char buf[600];
	va_list ap;

	va_start(ap, fmt);
	hs_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hs_fail(buf);
}

char *
(strchr)(const char *s, int c)
{

	for (;; s++) {
		if (*s == (char)c)
			return (__DECONST(char *, s));
		if (*s == '\0')
			return (NULL);
	}
}

/*
 * sys/libkern/arc4random.c: arc4random_buf fills the buffer from the
 * kernel's CSPRNG (a per-CPU chacha20 context under a mutex); it may
 * sleep-free be called from any thread context.  Here the modelled part
 * is only "different bytes each boot": splitmix64 over the host's uptime.
 * Not cryptographic, and a test must never depend on the bytes.
 */
void
arc4random_buf(void *buf, size_t len)
{
	static uint64_t state;
	unsigned char *p = buf;
	uint64_t z;
	size_t i;

	if (state == 0)
		state = KSIM(hs_uptime_ns)() | 1;
	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			state += 0x9e3779b97f4a7c15ULL;
			z = state;
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
			z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
			z ^= z >> 31;
		}
		p[i] = (unsigned char)(z >> (8 * (i % 8)));
	}
}
