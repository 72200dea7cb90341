/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: the console (kernel printf), failures, test output.
 */

#include <execinfo.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksim.h"

int ksim_verbose;

static pthread_mutex_t console_mtx = PTHREAD_MUTEX_INITIALIZER;
static char *console_buf;
static size_t console_len, console_cap, console_markpos;
static char partial[1024];
static size_t partial_len;
static char expected_failure[256];
static int failing;
static char last_output[8192];
static size_t last_len;

int
ksim_hs_vsnprintf(char *buf, unsigned long len, const char *fmt,
    __builtin_va_list ap)
{

	return (vsnprintf(buf, len, fmt, ap));
}

static void
console_append(const char *s, size_t len)
{

	if (console_len + len + 1 > console_cap) {
		console_cap = (console_len + len + 1) * 2;
		console_buf = realloc(console_buf, console_cap);
		if (console_buf == NULL)
			abort();
	}
	memcpy(console_buf + console_len, s, len);
	console_len += len;
	console_buf[console_len] = '\0';
}

/* Kernel printf output: kept for expect-console, echoed line by line. */
void
ksim_hs_console(const char *s, unsigned long len)
{
	size_t i;

	pthread_mutex_lock(&console_mtx);
	console_append(s, len);
	for (i = 0; i < len; i++) {
		if (s[i] != '\n' && partial_len < sizeof(partial) - 1) {
			partial[partial_len++] = s[i];
			continue;
		}
		if (s[i] == '\n') {
			partial[partial_len] = '\0';
			if (ksim_verbose)
				printf("console: %s\n", partial);
			partial_len = 0;
		}
	}
	pthread_mutex_unlock(&console_mtx);
}

void
ksim_console_mark(void)
{

	pthread_mutex_lock(&console_mtx);
	console_markpos = console_len;
	pthread_mutex_unlock(&console_mtx);
}

int
ksim_console_contains(const char *s, int since_mark)
{
	int r;

	pthread_mutex_lock(&console_mtx);
	r = console_buf != NULL &&
	    strstr(console_buf + (since_mark ? console_markpos : 0), s) != NULL;
	pthread_mutex_unlock(&console_mtx);
	return (r);
}

void
ksim_expect_failure(const char *pattern)
{

	snprintf(expected_failure, sizeof(expected_failure), "%s", pattern);
}

const char *
ksim_expected_failure(void)
{

	return (expected_failure[0] != '\0' ? expected_failure : NULL);
}

static void
dump_console_tail(void)
{
	size_t start;

	if (console_buf == NULL)
		return;
	start = console_len > 2000 ? console_len - 2000 : 0;
	fprintf(stdout, "kernsim: console (last %zu bytes):\n%s%s",
	    console_len - start, console_buf + start,
	    console_len > 0 && console_buf[console_len - 1] != '\n' ? "\n" :
	    "");
}

/*
 * A kernel failure (panic, KASSERT, invariant): the whole simulated
 * machine stops.  When the script announced it (expect-fail), it is the
 * expected outcome.
 */
void
ksim_hs_fail(const char *msg)
{
	void *bt[32];
	int n;

	if (__atomic_exchange_n(&failing, 1, __ATOMIC_SEQ_CST) != 0)
		for (;;)
			pause();
	fflush(stdout);
	if (expected_failure[0] != '\0' &&
	    strstr(msg, expected_failure) != NULL) {
		printf("kernsim: expected failure caught: %s\n", msg);
		fflush(stdout);
		_exit(0);
	}
	printf("kernsim: FAIL: %s\n", msg);
	if (expected_failure[0] != '\0')
		printf("kernsim: (the script expected a failure matching "
		    "\"%s\")\n", expected_failure);
	dump_console_tail();
	printf("kernsim: host backtrace:\n");
	fflush(stdout);
	n = backtrace(bt, 32);
	backtrace_symbols_fd(bt, n, STDOUT_FILENO);
	_exit(3);
}

void
ksim_failf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ksim_hs_fail(buf);
}

static __thread char *capture;
static __thread size_t capture_len;

/* Output of commands run for a `kernsim ctl` client goes back to it. */
void
ksim_capture_begin(void)
{

	capture = calloc(1, 1);
	capture_len = 0;
}

char *
ksim_capture_end(void)
{
	char *r = capture;

	capture = NULL;
	return (r);
}

/* The console from *pos on (dmesg); advance: -c, clear what was read. */
char *
ksim_console_since(size_t *pos, int advance)
{
	char *r;

	pthread_mutex_lock(&console_mtx);
	r = strdup(console_buf != NULL && *pos < console_len ?
	    console_buf + *pos : "");
	if (advance)
		*pos = console_len;
	pthread_mutex_unlock(&console_mtx);
	return (r);
}

/* The whole console (dmesg). */
char *
ksim_console_dump(void)
{
	char *r;

	pthread_mutex_lock(&console_mtx);
	r = strdup(console_buf != NULL ? console_buf : "");
	pthread_mutex_unlock(&console_mtx);
	return (r);
}

/* Output of a script command, kept for expect-output. */
void
ksim_out(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (capture != NULL) {
		capture = realloc(capture, capture_len + strlen(buf) + 1);
		memcpy(capture + capture_len, buf, strlen(buf) + 1);
		capture_len += strlen(buf);
		return;
	}
	fputs(buf, stdout);
	if (last_len + strlen(buf) < sizeof(last_output)) {
		memcpy(last_output + last_len, buf, strlen(buf) + 1);
		last_len += strlen(buf);
	}
}

const char *
ksim_last_output(void)
{

	return (last_output);
}

void
ksim_clear_output(void)
{

	last_len = 0;
	last_output[0] = '\0';
}

static const char *fb_errnames[] = {
	"0", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG",
	"ENOEXEC", "EBADF", "ECHILD", "EDEADLK", "ENOMEM", "EACCES", "EFAULT",
	"ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR",
	"EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC",
	"ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EAGAIN",
	"EINPROGRESS", "EALREADY", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
	"EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT",
	"EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE",
	"EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET",
	"ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN",
	"ESHUTDOWN", "ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED", "ELOOP",
	"ENAMETOOLONG", "EHOSTDOWN", "EHOSTUNREACH", "ENOTEMPTY",
};

/* FreeBSD errno names (sys/sys/errno.h numbering). */
const char *
ksim_errname(int e)
{
	static __thread char buf[32];

	if (e == 0)
		return ("ok");
	if (e == -1)
		return ("ERESTART");
	if (e > 0 && e < (int)(sizeof(fb_errnames) / sizeof(fb_errnames[0])))
		return (fb_errnames[e]);
	snprintf(buf, sizeof(buf), "errno%d", e);
	return (buf);
}

int
ksim_errno_byname(const char *name)
{
	size_t i;

	if (strcmp(name, "ok") == 0 || strcmp(name, "0") == 0)
		return (0);
	for (i = 1; i < sizeof(fb_errnames) / sizeof(fb_errnames[0]); i++)
		if (strcmp(fb_errnames[i], name) == 0)
			return ((int)i);
	if (strcmp(name, "EWOULDBLOCK") == 0)
		return (FB_EAGAIN);
	return (-2);
}
