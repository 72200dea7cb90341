/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: mtx(9) sleep mutexes, Giant, and a WITNESS-style lock order
 * graph.  The lock word has the kernel's encoding (owner thread pointer |
 * MTX_RECURSED | MTX_CONTESTED, MTX_UNOWNED, MTX_DESTROYED: sys/sys/mutex.h)
 * so that a module's inline mtx_owned()/mtx_assert() read it right.
 */

#include "ks.h"

struct mtx Giant;

#define	mtxlock2mtx(c)	(__containerof(c, struct mtx, mtx_lock))

/*
 * WITNESS (kern/subr_witness.c): locks are grouped into classes by their
 * type name, or their name when the type is NULL (witness_init via
 * lock_init); acquiring B while holding A records A -> B; acquiring A while
 * holding B once A -> B (transitively) exists is a lock order reversal;
 * acquiring a second lock of a class already held is a duplicate unless
 * LO_DUPOK (witness_checkorder: "acquiring duplicate lock of same type").
 * WITNESS only prints; kernsim makes both a test failure.
 */
#define	KS_NWITNESS	128
struct witness {
	char	w_name[64];
	int	w_index;
};
static struct witness ks_witness[KS_NWITNESS];
static int ks_nwitness;
static unsigned char ks_before[KS_NWITNESS][KS_NWITNESS];

static struct witness *
ks_witness_get(const char *name)
{
	struct witness *w;
	int i;

	hs_lock(HS_LOCK_WITNESS);
	for (i = 0; i < ks_nwitness; i++)
		if (strcmp(ks_witness[i].w_name, name) == 0) {
			hs_unlock(HS_LOCK_WITNESS);
			return (&ks_witness[i]);
		}
	if (ks_nwitness == KS_NWITNESS)
		ks_failf("kernsim: more than %d lock classes", KS_NWITNESS);
	w = &ks_witness[ks_nwitness];
	strlcpy(w->w_name, name, sizeof(w->w_name));
	w->w_index = ks_nwitness++;
	hs_unlock(HS_LOCK_WITNESS);
	return (w);
}

static void
ks_witness_checkorder(struct lock_object *lo)
{
	struct ks_thread *kt = ks_td(curthread);
	struct witness *w = lo->lo_witness, *h;
	int i, x, y, c, p;

	if (w == NULL)
		return;
	c = w->w_index;
	hs_lock(HS_LOCK_WITNESS);
	for (i = 0; i < kt->kt_nheld; i++) {
		h = kt->kt_held[i]->lo_witness;
		if (h == NULL)
			continue;
		p = h->w_index;
		if (p == c) {
			if ((lo->lo_flags & LO_DUPOK) != 0)
				continue;
			hs_unlock(HS_LOCK_WITNESS);
			ks_failf("witness: acquiring duplicate lock of same "
			    "type: \"%s\" (%s held, %s wanted)", w->w_name,
			    kt->kt_held[i]->lo_name, lo->lo_name);
		}
		if (ks_before[c][p]) {
			hs_unlock(HS_LOCK_WITNESS);
			ks_failf("witness: lock order reversal: 1st %s (%s) "
			    "held, 2nd %s (%s) wanted; established order is "
			    "%s before %s", kt->kt_held[i]->lo_name, h->w_name,
			    lo->lo_name, w->w_name, w->w_name, h->w_name);
		}
		if (!ks_before[p][c]) {
			/* p -> c, with the transitive closure. */
			for (x = 0; x < ks_nwitness; x++) {
				if (x != p && !ks_before[x][p])
					continue;
				for (y = 0; y < ks_nwitness; y++)
					if (y == c || ks_before[c][y])
						ks_before[x][y] = 1;
			}
		}
	}
	hs_unlock(HS_LOCK_WITNESS);
}

void
ks_lock_acquired(struct lock_object *lo)
{
	struct ks_thread *kt = ks_td(curthread);

	if (kt->kt_nheld == KS_MAXHELD)
		ks_failf("kernsim: thread holds more than %d locks", KS_MAXHELD);
	kt->kt_held[kt->kt_nheld++] = lo;
	curthread->td_locks++;		/* sys/sys/proc.h: TD_LOCKS_INC */
}

void
ks_lock_released(struct lock_object *lo)
{
	struct ks_thread *kt = ks_td(curthread);
	int i;

	for (i = kt->kt_nheld - 1; i >= 0; i--)
		if (kt->kt_held[i] == lo) {
			kt->kt_held[i] = kt->kt_held[--kt->kt_nheld];
			curthread->td_locks--;
			return;
		}
	ks_failf("kernsim: releasing lock \"%s\" not on the held list",
	    lo->lo_name);
}

/* Names of held locks other than except and Giant; their count. */
int
ks_lock_held_others(struct lock_object *except, char *buf, size_t len)
{
	struct ks_thread *kt = ks_td(curthread);
	size_t off = 0;
	int i, n = 0;

	if (len > 0)
		buf[0] = '\0';
	for (i = 0; i < kt->kt_nheld; i++) {
		if (kt->kt_held[i] == except ||
		    kt->kt_held[i] == &Giant.lock_object ||
		    (kt->kt_held[i]->lo_flags & LO_SLEEPABLE) != 0)
			continue;
		n++;
		if (off < len)
			off += ks_snprintf(buf + off, len - off, "%s\"%s\"",
			    n > 1 ? ", " : "", kt->kt_held[i]->lo_name);
	}
	return (n);
}

/* kern/kern_mutex.c: _mtx_init() and lock_init() (kern/subr_lock.c). */
void
_mtx_init(volatile uintptr_t *c, const char *name, const char *type, int opts)
{
	struct mtx *m = mtxlock2mtx(c);
	int flags;

	if ((opts & MTX_SPIN) != 0)
		ks_failf("kernsim: MTX_SPIN mutex \"%s\" not modelled", name);
	/* subr_lock.c:lock_init: "lock \"%s\" %p already initialized" */
	if ((opts & MTX_NEW) == 0 &&
	    (m->lock_object.lo_flags & LO_INITIALIZED) != 0)
		ks_failf("panic: lock \"%s\" %p already initialized", name, m);
	flags = LO_INITIALIZED;
	if ((opts & MTX_RECURSE) != 0)
		flags |= LO_RECURSABLE;
	if ((opts & MTX_DUPOK) != 0)
		flags |= LO_DUPOK;
	if ((opts & MTX_NOWITNESS) == 0)
		flags |= LO_WITNESS;
	m->lock_object.lo_name = name;
	m->lock_object.lo_flags = flags;
	m->lock_object.lo_data = 0;
	m->lock_object.lo_witness = (opts & MTX_NOWITNESS) != 0 ? NULL :
	    ks_witness_get(type != NULL ? type : name);
	m->mtx_lock = MTX_UNOWNED;
}

/* kern/kern_mutex.c: _mtx_destroy(): unowned, or owned by the caller. */
void
_mtx_destroy(volatile uintptr_t *c)
{
	struct mtx *m = mtxlock2mtx(c);
	uintptr_t v = m->mtx_lock;

	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0)
		ks_failf("panic: lock %p is not initialized (mtx_destroy)", m);
	if (v != MTX_UNOWNED) {
		if ((struct thread *)(v & ~MTX_FLAGMASK) != curthread)
			ks_failf("panic: mtx_destroy of mutex \"%s\" held by "
			    "another thread", m->lock_object.lo_name);
		if ((v & (MTX_RECURSED | MTX_CONTESTED)) != 0)
			ks_failf("panic: mtx_destroy of mutex \"%s\" that is "
			    "recursed or has waiters", m->lock_object.lo_name);
		ks_lock_released(&m->lock_object);
	}
	m->mtx_lock = MTX_DESTROYED;
	m->lock_object.lo_flags &= ~LO_INITIALIZED;
}

int
ks_mtx_owned(struct mtx *m)
{

	return ((struct thread *)(m->mtx_lock & ~MTX_FLAGMASK) == curthread);
}

/*
 * kern/kern_mutex.c: __mtx_lock_flags() and __mtx_lock_sleep(): a
 * contested sleep mutex blocks the thread on a turnstile (it gives up the
 * CPU); recursion only on MTX_RECURSE mutexes.
 */
void
__mtx_lock_flags(volatile uintptr_t *c, int opts, const char *file, int line)
{
	struct mtx *m = mtxlock2mtx(c);
	struct thread *td = curthread;
	uintptr_t v, tid = (uintptr_t)td;

	if (m->mtx_lock == MTX_DESTROYED)
		ks_failf("panic: mtx_lock() of destroyed mutex @ %s:%d", file,
		    line);
	if ((m->lock_object.lo_flags & LO_INITIALIZED) == 0)
		ks_failf("panic: mtx_lock() of uninitialized mutex %p @ %s:%d",
		    m, file, line);
	if ((struct thread *)(m->mtx_lock & ~MTX_FLAGMASK) == td) {
		if ((m->lock_object.lo_flags & LO_RECURSABLE) == 0 &&
		    (opts & MTX_RECURSE) == 0)
			ks_failf("panic: _mtx_lock_sleep: recursed on "
			    "non-recursive mutex %s @ %s:%d",
			    m->lock_object.lo_name, file, line);
		m->mtx_recurse++;
		atomic_set_ptr(&m->mtx_lock, MTX_RECURSED);
		return;
	}
	ks_witness_checkorder(&m->lock_object);
	for (;;) {
		v = MTX_UNOWNED;
		if (atomic_fcmpset_acq_ptr(&m->mtx_lock, &v, tid))
			break;
		if (v == MTX_DESTROYED)
			ks_failf("panic: mtx_lock() of destroyed mutex @ %s:%d",
			    file, line);
		/* Mark it contested, then wait for the word to change. */
		if ((v & MTX_CONTESTED) == 0 &&
		    !atomic_cmpset_ptr(&m->mtx_lock, v, v | MTX_CONTESTED))
			continue;
		if (td->td_critnest != 0)
			ks_failf("kern_switch: blocking on sleep mutex \"%s\" "
			    "in a critical section (mi_switch)",
			    m->lock_object.lo_name);
		hs_ts_wait((volatile unsigned long *)&m->mtx_lock,
		    v | MTX_CONTESTED);
	}
	/*
	 * Unlock of a contested word wakes every waiter, which all retry:
	 * none is lost when the winner's word no longer says CONTESTED.
	 */
	ks_lock_acquired(&m->lock_object);
}

void
__mtx_unlock_flags(volatile uintptr_t *c, int opts, const char *file,
    int line)
{
	struct mtx *m = mtxlock2mtx(c);
	uintptr_t tid = (uintptr_t)curthread;

	if (m->mtx_lock == MTX_DESTROYED)
		ks_failf("panic: mtx_unlock() of destroyed mutex @ %s:%d",
		    file, line);
	/* kern/kern_mutex.c: __mtx_assert(MA_OWNED) */
	if ((m->mtx_lock & ~MTX_FLAGMASK) != tid)
		ks_failf("panic: mutex %s not owned at %s:%d",
		    m->lock_object.lo_name, file, line);
	if (m->mtx_recurse != 0) {
		if (--m->mtx_recurse == 0)
			atomic_clear_ptr(&m->mtx_lock, MTX_RECURSED);
		return;
	}
	ks_lock_released(&m->lock_object);
	if (!atomic_cmpset_rel_ptr(&m->mtx_lock, tid, MTX_UNOWNED)) {
		/* Contested: release and wake every waiter. */
		atomic_store_rel_ptr(&m->mtx_lock, MTX_UNOWNED);
		hs_ts_wake((volatile unsigned long *)&m->mtx_lock);
	}
	hs_preempt_point();
}

void
ks_mtx_lock(struct mtx *m)
{

	__mtx_lock_flags(&m->mtx_lock, 0, "kernsim", 0);
}

void
ks_mtx_unlock(struct mtx *m)
{

	__mtx_unlock_flags(&m->mtx_lock, 0, "kernsim", 0);
}

/*
 * kern/kern_synch.c: DROP_GIANT()/PICKUP_GIANT() (sys/sys/mutex.h) release
 * every recursion level of Giant across a sleep and take them back after.
 */
int
ks_giant_drop(void)
{
	int n = 0;

	if (!ks_mtx_owned(&Giant))
		return (0);
	while (ks_mtx_owned(&Giant)) {
		ks_mtx_unlock(&Giant);
		n++;
	}
	return (n);
}

void
ks_giant_pickup(int n)
{

	while (n-- > 0)
		ks_mtx_lock(&Giant);
}

void
k_giant_lock(void)
{

	if ((Giant.lock_object.lo_flags & LO_INITIALIZED) == 0)
		_mtx_init(&Giant.mtx_lock, "Giant", NULL, MTX_DEF | MTX_RECURSE);
	ks_mtx_lock(&Giant);
}

void
k_giant_unlock(void)
{

	ks_mtx_unlock(&Giant);
}

/*
 * kern/subr_trap.c: userret(): no locks held ("userret: Returning with %d
 * locks held"), not in a critical section ("userret: Returning in a
 * critical section"), WITNESS_WARN "userret: returning".  kernsim adds
 * td_fpop, which devfs restores after every d_* call.
 */
void
k_userret(const char *what)
{
	struct thread *td = curthread;
	char buf[256];

	if (td->td_critnest != 0)
		ks_failf("userret: Returning in a critical section (%s, "
		    "td_critnest %d)", what, td->td_critnest);
	if (ks_td(td)->kt_nheld != 0 || td->td_locks != 0) {
		ks_lock_held_others(NULL, buf, sizeof(buf));
		ks_failf("userret: Returning with %d locks held (%s): %s",
		    td->td_locks, what, buf);
	}
	if (td->td_fpop != NULL)
		ks_failf("userret: Returning with td_fpop set (%s)", what);
}

/*
 * For the other lock classes (kern/vm.c: rw(9) object locks): the same
 * WITNESS class lookup and order check as for mutexes.
 */
void
ks_witness_init(struct lock_object *lo, const char *class)
{

	lo->lo_witness = ks_witness_get(class);
}

void
ks_witness_order(struct lock_object *lo)
{

	ks_witness_checkorder(lo);
}
