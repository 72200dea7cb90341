/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: malloc(9) with types, accounting and checks (kern/kern_malloc.c).
 */

#include "ks.h"

#include <sys/malloc.h>

#undef malloc
#undef free

#define	KS_MAGIC_LIVE	0x6b73696d6c697665ULL	/* "ksimlive" */
#define	KS_MAGIC_FREE	0x6b73696d66726565ULL	/* "ksimfree" */

struct ks_mhdr {
	struct ks_mhdr		*mh_next, *mh_prev;	/* live blocks of the type */
	struct malloc_type	*mh_type;
	size_t			 mh_size;
	void			*mh_base;
	uint64_t		 mh_magic;
};

struct ks_mtype {
	struct malloc_type	*mt_type;
	long			 mt_allocs;
	long			 mt_bytes;
	struct ks_mhdr		 mt_live;	/* list head */
};

#define	KS_NMTYPES	64
static struct ks_mtype ks_mtypes[KS_NMTYPES];

/* Freed blocks are kept a while so that a double free is recognised. */
#define	KS_QUARANTINE	4096
static void *ks_quarantine[KS_QUARANTINE];
static int ks_qnext;

static struct ks_mtype *
ks_mtype_find(struct malloc_type *mtp)
{
	int i;

	for (i = 0; i < KS_NMTYPES; i++)
		if (ks_mtypes[i].mt_type == mtp)
			return (&ks_mtypes[i]);
	return (NULL);
}

/*
 * kern/kern_malloc.c: malloc_init(): the type's version must be M_VERSION
 * ("malloc_init: unsupported malloc_type version"); it joins the list of
 * types (kmemstatistics).
 */
void
malloc_init(void *data)
{
	struct malloc_type *mtp = data;
	struct ks_mtype *mt;

	if (mtp->ks_version != M_VERSION)
		ks_failf("panic: malloc_init: type %s: unsupported malloc_type "
		    "version %lu (kernel %lu)", mtp->ks_shortdesc,
		    mtp->ks_version, (u_long)M_VERSION);
	hs_lock(HS_LOCK_MALLOC);
	if (ks_mtype_find(mtp) != NULL) {
		hs_unlock(HS_LOCK_MALLOC);
		ks_failf("malloc_init: type %s registered twice",
		    mtp->ks_shortdesc);
	}
	mt = ks_mtype_find(NULL);
	if (mt == NULL)
		ks_failf("kernsim: too many malloc types");
	mt->mt_type = mtp;
	mt->mt_allocs = mt->mt_bytes = 0;
	mt->mt_live.mh_next = mt->mt_live.mh_prev = &mt->mt_live;
	hs_unlock(HS_LOCK_MALLOC);
}

/*
 * kern/kern_malloc.c: malloc_uninit(): a type still holding memory is
 * reported ("Warning: memory type %s leaked memory on destroy"); kernsim
 * makes it a test failure and lists the blocks.
 */
void
malloc_uninit(void *data)
{
	struct malloc_type *mtp = data;
	struct ks_mtype *mt;
	struct ks_mhdr *h;
	long allocs, bytes;
	int n;

	if (mtp->ks_version != M_VERSION)
		ks_failf("panic: malloc_uninit: bad malloc type version");
	hs_lock(HS_LOCK_MALLOC);
	mt = ks_mtype_find(mtp);
	if (mt == NULL) {
		hs_unlock(HS_LOCK_MALLOC);
		ks_failf("malloc_uninit: type %s was not initialised",
		    mtp->ks_shortdesc);
	}
	allocs = mt->mt_allocs;
	bytes = mt->mt_bytes;
	if (allocs != 0) {
		printf("Warning: memory type %s leaked memory on destroy "
		    "(%ld allocations, %ld bytes leaked).\n", mtp->ks_shortdesc,
		    allocs, bytes);
		n = 0;
		for (h = mt->mt_live.mh_next; h != &mt->mt_live && n < 10;
		    h = h->mh_next, n++)
			printf("  leaked: %zu bytes at %p\n", h->mh_size,
			    (void *)(h + 1));
		hs_unlock(HS_LOCK_MALLOC);
		ks_failf("leak: malloc type \"%s\": %ld allocations, %ld bytes "
		    "not freed at malloc_uninit", mtp->ks_shortdesc, allocs,
		    bytes);
	}
	mt->mt_type = NULL;
	hs_unlock(HS_LOCK_MALLOC);
}

static void
ks_malloc_checkflags(struct malloc_type *mtp, int flags)
{
	char held[256];

	/* kern/kern_malloc.c: malloc_dbg(): exactly one of M_WAITOK and
	 * M_NOWAIT ("malloc: bad malloc flags"). */
	if (((flags & M_WAITOK) != 0) == ((flags & M_NOWAIT) != 0))
		ks_failf("panic: malloc(%s): bad malloc flags %#x",
		    mtp->ks_shortdesc, flags);
	if ((flags & M_WAITOK) == 0)
		return;
	/* vm/uma_core.c: uma_zalloc_debug: "called with spinlock or
	 * critical section held" */
	if (curthread->td_critnest != 0)
		ks_failf("panic: malloc(M_WAITOK) of \"%s\" in a critical "
		    "section", mtp->ks_shortdesc);
	/* kern/kern_malloc.c: WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK) */
	if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
		ks_failf("witness: malloc(M_WAITOK) of \"%s\", forcing "
		    "M_NOWAIT with the following non-sleepable locks held: %s",
		    mtp->ks_shortdesc, held);
}

/*
 * malloc(9): allocations are aligned to their size class, a power of two
 * up to a page (kern/kern_malloc.c: kmemzones; malloc(9) "allocations
 * ... naturally aligned"), which some callers rely on.
 */
void *
(malloc)(size_t size, struct malloc_type *mtp, int flags)
{
	struct ks_mtype *mt;
	struct ks_mhdr *h;
	size_t align, hsz;
	char *base;

	ks_malloc_checkflags(mtp, flags);
	if (hs_memguard_enabled()) {
		/* The header ends just before the (page-aligned) object. */
		base = hs_guard_alloc(size);
		h = (struct ks_mhdr *)base - 1;
		base = NULL;
	} else {
		align = 16;
		while (align < size && align < PAGE_SIZE)
			align <<= 1;
		hsz = roundup2(sizeof(*h), align);
		base = hs_alloc(hsz + MAX(size, 1), align);
		h = (struct ks_mhdr *)(base + hsz) - 1;
	}
	h->mh_type = mtp;
	h->mh_size = size;
	h->mh_base = base;
	h->mh_magic = KS_MAGIC_LIVE;
	if ((flags & M_ZERO) == 0)
		memset(h + 1, 0xdeadc0de & 0xff, size);
	hs_lock(HS_LOCK_MALLOC);
	mt = ks_mtype_find(mtp);
	if (mt == NULL) {
		hs_unlock(HS_LOCK_MALLOC);
		ks_failf("malloc: type \"%s\" %p is not initialised "
		    "(malloc_init)", mtp->ks_shortdesc, mtp);
	}
	mt->mt_allocs++;
	mt->mt_bytes += size;
	h->mh_next = mt->mt_live.mh_next;
	h->mh_prev = &mt->mt_live;
	h->mh_next->mh_prev = h;
	mt->mt_live.mh_next = h;
	hs_unlock(HS_LOCK_MALLOC);
	hs_preempt_point();
	return (h + 1);
}

/*
 * free(9): NULL is allowed; anything else must be a live allocation
 * (kern/kern_malloc.c: free(): "free: address %p(%p) has not been
 * allocated"), freed once, with the type it was allocated with (kernsim's
 * own check: the kernel would corrupt the type's statistics).
 */
void
(free)(void *addr, struct malloc_type *mtp)
{
	struct ks_mtype *mt;
	struct ks_mhdr *h;
	char where[128];
	void *old;

	if (addr == NULL)
		return;
	h = (struct ks_mhdr *)addr - 1;
	if (h->mh_magic == KS_MAGIC_FREE)
		ks_failf("panic: free: double free of %p (type %s)", addr,
		    mtp->ks_shortdesc);
	if (h->mh_magic != KS_MAGIC_LIVE)
		ks_failf("panic: free: address %p (%s) has not been allocated",
		    addr, hs_describe_addr(addr, where, sizeof(where)));
	if (h->mh_type != mtp)
		ks_failf("free: type mismatch: %p allocated as \"%s\", freed as "
		    "\"%s\"", addr, h->mh_type->ks_shortdesc, mtp->ks_shortdesc);
	hs_lock(HS_LOCK_MALLOC);
	mt = ks_mtype_find(mtp);
	if (mt == NULL) {
		hs_unlock(HS_LOCK_MALLOC);
		ks_failf("free: type \"%s\" is not initialised",
		    mtp->ks_shortdesc);
	}
	mt->mt_allocs--;
	mt->mt_bytes -= h->mh_size;
	h->mh_prev->mh_next = h->mh_next;
	h->mh_next->mh_prev = h->mh_prev;
	h->mh_magic = KS_MAGIC_FREE;
	if (h->mh_base == NULL) {
		/* Guarded: the object pages become inaccessible. */
		hs_unlock(HS_LOCK_MALLOC);
		hs_guard_free(addr, h->mh_size, mtp->ks_shortdesc);
		hs_preempt_point();
		return;
	}
	memset(addr, 0xfe, h->mh_size);
	old = ks_quarantine[ks_qnext];
	ks_quarantine[ks_qnext] = h->mh_base;
	ks_qnext = (ks_qnext + 1) % KS_QUARANTINE;
	hs_unlock(HS_LOCK_MALLOC);
	if (old != NULL)
		hs_dealloc(old);
	hs_preempt_point();
}

/*
 * kern/kern_malloc.c: malloc_domainset_aligned() (malloc_aligned): align a
 * power of two ("wrong align") not above a page ("too large"); the size is
 * rounded up to a power of two (up to a page), then to align, and malloc's
 * natural alignment does the rest.
 */
void *
malloc_aligned(size_t size, size_t align, struct malloc_type *mtp, int flags)
{
	size_t asize;
	void *res;

	if (align == 0 || (align & (align - 1)) != 0)
		ks_failf("panic: malloc_domainset_aligned: wrong align %#zx "
		    "size %#zx", align, size);
	if (align > PAGE_SIZE)
		ks_failf("panic: malloc_domainset_aligned: align %#zx (size "
		    "%#zx) too large", align, size);
	if (size == 0)
		size = 1;
	asize = size <= PAGE_SIZE ? (size_t)1 << flsl(size - 1) : size;
	asize = roundup(asize, align);
	res = (malloc)(asize, mtp, flags);
	if (res != NULL && ((uintptr_t)res & (align - 1)) != 0)
		ks_failf("panic: malloc_domainset_aligned: result not aligned "
		    "%p size %#zx allocsize %#zx align %#zx", res, size, asize,
		    align);
	return (res);
}

/* kernsim's own allocations (not charged to a module's type). */
MALLOC_DEFINE(M_KSIM, "kernsim", "kernsim internals");
static int ks_mksim_inited;

void *
ks_kmalloc(size_t size, int flags)
{

	if (!ks_mksim_inited) {
		hs_lock(HS_LOCK_MODULE);
		if (!ks_mksim_inited) {
			malloc_init(M_KSIM);
			ks_mksim_inited = 1;
		}
		hs_unlock(HS_LOCK_MODULE);
	}
	return ((malloc)(size, M_KSIM, flags));
}

void
ks_kfree(void *p)
{

	(free)(p, M_KSIM);
}

/*
 * Allocation counts per type, to compare two points of a test (no growth
 * across load/unload cycles).  mode 0: report types holding memory; 1:
 * remember the counts; 2: fail on a type that grew since mode 1.
 */
static struct {
	struct malloc_type	*type;
	long			 allocs;
} ks_baseline[KS_NMTYPES];

int
k_malloc_baseline(int mode)
{
	int i, j, n = 0;

	hs_lock(HS_LOCK_MALLOC);
	for (i = 0; i < KS_NMTYPES; i++) {
		if (mode == 1) {
			ks_baseline[i].type = ks_mtypes[i].mt_type;
			ks_baseline[i].allocs = ks_mtypes[i].mt_allocs;
			continue;
		}
		if (ks_mtypes[i].mt_type == NULL)
			continue;
		for (j = 0; j < KS_NMTYPES; j++)
			if (ks_baseline[j].type == ks_mtypes[i].mt_type)
				break;
		if (ks_mtypes[i].mt_allocs > (j < KS_NMTYPES ?
		    ks_baseline[j].allocs : 0)) {
			printf("malloc type %s: %ld allocations, %ld at the "
			    "baseline\n", ks_mtypes[i].mt_type->ks_shortdesc,
			    ks_mtypes[i].mt_allocs, j < KS_NMTYPES ?
			    ks_baseline[j].allocs : 0L);
			n++;
		}
	}
	hs_unlock(HS_LOCK_MALLOC);
	return (n);
}

int
k_malloc_report(int verbose)
{
	int i, n = 0;

	hs_lock(HS_LOCK_MALLOC);
	for (i = 0; i < KS_NMTYPES; i++) {
		if (ks_mtypes[i].mt_type == NULL)
			continue;
		if (verbose || ks_mtypes[i].mt_allocs != 0)
			printf("malloc type %s: %ld allocations, %ld bytes\n",
			    ks_mtypes[i].mt_type->ks_shortdesc,
			    ks_mtypes[i].mt_allocs, ks_mtypes[i].mt_bytes);
		if (ks_mtypes[i].mt_type != M_KSIM)
			n += ks_mtypes[i].mt_allocs != 0;
	}
	hs_unlock(HS_LOCK_MALLOC);
	return (n);
}
