/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * libc-style symbols the compilers emit calls to but the kernel does not
 * export.  Linked into each module and kept local to it.
 *
 * LLVM lowers equality-only memcmp() (Rust slice ==) to bcmp(), which
 * userland FreeBSD has; the kernel has bcmp only as a macro over memcmp.
 */

#include <sys/param.h>
#include <sys/systm.h>

#undef bcmp
int	bcmp(const void *b1, const void *b2, size_t len);

int
bcmp(const void *b1, const void *b2, size_t len)
{

	return (memcmp(b1, b2, len));
}
