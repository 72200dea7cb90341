/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: a dd(1) stand-in for devecho_test's steps, linked with
 * ksim_client.c so that its open/read/write on /dev nodes reach a
 * `kernsim serve` (cases/devecho-as-written.sh builds it and puts it first
 * in PATH).  What the test uses of FreeBSD's bin/dd: if=, of=, bs=,
 * count=, status=none; a block is one read(2) (a short read is a short
 * block) written out whole; an open failure is err(1, "%s", name), a read
 * failure warn("%s", name) and exit 1 (bin/dd/dd.c setup, dd_in), with
 * FreeBSD's wording of the errno (lib/libc/gen/errlst.c), as the test
 * greps it.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
fb_strerror(int e)
{

	switch (e) {
	case ENOENT:	return ("No such file or directory");
	case EINTR:	return ("Interrupted system call");
	case EIO:	return ("Input/output error");
	case ENXIO:	return ("Device not configured");
	case EBADF:	return ("Bad file descriptor");
	case EACCES:	return ("Permission denied");
	case EFAULT:	return ("Bad address");
	case EBUSY:	return ("Device busy");
	case ENODEV:	return ("Operation not supported by device");
	case EINVAL:	return ("Invalid argument");
	case ENOTTY:	return ("Inappropriate ioctl for device");
	case EAGAIN:	return ("Resource temporarily unavailable");
	default:	return (strerror(e));
	}
}

static void
fail(const char *name, int e)
{

	fprintf(stderr, "dd: %s: %s\n", name, fb_strerror(e));
	exit(1);
}

int
main(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	long bs = 512, count = -1, n;
	ssize_t r, w, off;
	char *buf;
	int i, ifd = 0, ofd = 1;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "if=", 3) == 0)
			in = argv[i] + 3;
		else if (strncmp(argv[i], "of=", 3) == 0)
			out = argv[i] + 3;
		else if (strncmp(argv[i], "bs=", 3) == 0)
			bs = strtol(argv[i] + 3, NULL, 10);
		else if (strncmp(argv[i], "count=", 6) == 0)
			count = strtol(argv[i] + 6, NULL, 10);
		else if (strcmp(argv[i], "status=none") != 0) {
			fprintf(stderr, "dd: %s: not emulated (kernsim)\n",
			    argv[i]);
			return (2);
		}
	}
	if (bs <= 0 || (buf = malloc(bs)) == NULL)
		return (2);
	if (in != NULL && (ifd = open(in, O_RDONLY)) < 0)
		fail(in, errno);
	if (out != NULL && (ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC,
	    0666)) < 0)
		fail(out, errno);
	for (n = 0; count < 0 || n < count; n++) {
		r = read(ifd, buf, bs);
		if (r < 0)
			fail(in != NULL ? in : "stdin", errno);
		if (r == 0)
			break;
		for (off = 0; off < r; off += w)
			if ((w = write(ofd, buf + off, r - off)) < 0)
				fail(out != NULL ? out : "stdout", errno);
	}
	return (0);
}
