/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: guard-page allocations for malloc(9) (kernsim -G), in the
 * manner of vm/memguard.c: every object gets pages of its own, followed by
 * an inaccessible page; free makes them inaccessible and keeps them so
 * for the next KSIM_MG_QUARANTINE frees.  A module touching freed kernel
 * memory (C or Rust alike, no recompiling) then faults, and the fault is
 * reported with the allocation's type and size.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ksim.h"

#define	PG		4096UL
#define	KSIM_MG_QUARANTINE 8192

int ksim_memguard;

struct mg_freed {
	char		*map;		/* the whole mapping */
	size_t		 maplen;
	char		*obj;
	size_t		 size;
	char		 type[24];
};

static struct mg_freed freed[KSIM_MG_QUARANTINE];
static int next_freed;
static pthread_mutex_t mg_mtx = PTHREAD_MUTEX_INITIALIZER;

int
ksim_hs_memguard_enabled(void)
{

	return (ksim_memguard);
}

/* [header page][object pages][guard page]; the object starts a page. */
void *
ksim_hs_guard_alloc(unsigned long size)
{
	size_t opages = (size + PG - 1) / PG, len;
	char *map;

	if (opages == 0)
		opages = 1;
	len = (opages + 2) * PG;
	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		ksim_failf("kernsim: memguard: out of mappings");
	mprotect(map + (opages + 1) * PG, PG, PROT_NONE);
	return (map + PG);
}

void
ksim_hs_guard_free(void *obj, unsigned long size, const char *type)
{
	size_t opages = (size + PG - 1) / PG;
	struct mg_freed *f, old;
	char *map = (char *)obj - PG;

	if (opages == 0)
		opages = 1;
	/* The header page stays readable: free() recognises a second free. */
	mprotect(map, PG, PROT_READ);
	mprotect(obj, opages * PG, PROT_NONE);
	pthread_mutex_lock(&mg_mtx);
	f = &freed[next_freed];
	old = *f;
	f->map = map;
	f->maplen = (opages + 2) * PG;
	f->obj = obj;
	f->size = size;
	snprintf(f->type, sizeof(f->type), "%s", type);
	next_freed = (next_freed + 1) % KSIM_MG_QUARANTINE;
	pthread_mutex_unlock(&mg_mtx);
	if (old.map != NULL)
		munmap(old.map, old.maplen);
}

/* For the fault handler: is addr in a freed object (or its guard)? */
int
ksim_memguard_describe(const void *addr, char *buf, size_t len)
{
	const char *a = addr;
	int i, r = 0;

	if (!ksim_memguard || pthread_mutex_trylock(&mg_mtx) != 0)
		return (0);
	for (i = 0; i < KSIM_MG_QUARANTINE && !r; i++) {
		struct mg_freed *f = &freed[i];

		if (f->map == NULL || a < f->map || a >= f->map + f->maplen)
			continue;
		snprintf(buf, len, "use after free: offset %ld of a freed "
		    "%zu-byte malloc(9) allocation of type \"%s\"",
		    (long)(a - f->obj), f->size, f->type);
		r = 1;
	}
	pthread_mutex_unlock(&mg_mtx);
	return (r);
}
