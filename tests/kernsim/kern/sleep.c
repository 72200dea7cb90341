/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: _sleep()/msleep_sbt()/wakeup() (kern/kern_synch.c) over the
 * host's sleep queues (host/sleepq.c).
 */

#include "ks.h"

#include <sys/callout.h>

int hz = 1000;
sbintime_t tick_sbt = SBT_1S / 1000;
volatile int ticks;

/*
 * kern/kern_synch.c: _sleep().  Rules modelled:
 *  - WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK, lock, "Sleeping on ..."):
 *    no non-sleepable lock other than the interlock (and Giant) held;
 *  - not in a critical section (mi_switch: "switch in a critical
 *    section");
 *  - "PDROP requires a non-Giant lock"; a recursed interlock cannot be
 *    released (unlock_mtx asserts MA_NOTRECURSED);
 *  - the sleep queue is locked before the interlock is released, so a
 *    wakeup() in between is not lost (sleepq_lock/sleepq_add);
 *  - Giant is dropped entirely across the sleep (DROP_GIANT/PICKUP_GIANT);
 *  - PCATCH: a pending signal returns EINTR, or ERESTART when its handler
 *    has SA_RESTART (sleepq_catch_signals), before or during the sleep;
 *  - sbt != 0: EWOULDBLOCK once the timeout expires (sleepq_timedwait);
 *    C_ABSOLUTE makes sbt an absolute uptime;
 *  - the interlock is taken back unless PDROP.
 */
int
_sleep(const void *ident, struct lock_object *lock, int priority,
    const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags)
{
	struct thread *td = curthread;
	struct mtx *m = NULL;
	char held[256];
	long timo_ns = 0;
	int error, giant;

	if (ident == NULL)
		ks_failf("panic: _sleep: NULL ident");
	if (td->td_critnest != 0)
		ks_failf("panic: _sleep(\"%s\"): sleeping in a critical section "
		    "(td_critnest %d)", wmesg, td->td_critnest);
	if (ks_lock_held_others(lock, held, sizeof(held)) != 0)
		ks_failf("witness: Sleeping on \"%s\" with the following "
		    "non-sleepable locks held: %s", wmesg, held);
	if ((priority & PDROP) != 0 &&
	    (lock == NULL || lock == &Giant.lock_object))
		ks_failf("panic: PDROP requires a non-Giant lock");
	if (lock != NULL && lock != &Giant.lock_object) {
		m = __containerof(lock, struct mtx, lock_object);
		if (!ks_mtx_owned(m))
			ks_failf("panic: _sleep(\"%s\"): interlock \"%s\" not "
			    "owned", wmesg, lock->lo_name);
		if (m->mtx_recurse != 0)
			ks_failf("panic: _sleep(\"%s\"): interlock \"%s\" is "
			    "recursed", wmesg, lock->lo_name);
	}
	if (sbt != 0) {
		if ((flags & C_ABSOLUTE) != 0) {
			sbintime_t now = sbinuptime();

			sbt = sbt > now ? sbt - now : 1;
		}
		timo_ns = sbttons(sbt);
		if (timo_ns <= 0)
			timo_ns = 1;
	}
	/* Giant first: its release must not happen under the sleepq lock
	 * (it may block or preempt). */
	giant = ks_giant_drop();
	hs_sleepq_lock(ident);
	if (m != NULL) {
		/* Release the interlock without a preemption point. */
		ks_lock_released(&m->lock_object);
		if (!atomic_cmpset_rel_ptr(&m->mtx_lock, (uintptr_t)td,
		    MTX_UNOWNED)) {
			atomic_store_rel_ptr(&m->mtx_lock, MTX_UNOWNED);
			hs_ts_wake((volatile unsigned long *)&m->mtx_lock);
		}
	}
	td->td_wmesg = wmesg;
	error = hs_sleepq_wait(ident, (unsigned long)timo_ns,
	    (priority & PCATCH) != 0);
	td->td_wmesg = NULL;
	if (error == KS_ERESTART)
		error = ERESTART;
	ks_giant_pickup(giant);
	if (m != NULL && (priority & PDROP) == 0)
		ks_mtx_lock(m);
	return (error);
}

int
ks_msleep(const void *ident, struct mtx *m, int pri, const char *wm,
    long timo_ns)
{

	return (_sleep(ident, m != NULL ? &m->lock_object : NULL, pri, wm,
	    nstosbt(timo_ns), 0, 0));
}

/* kern/kern_synch.c: wakeup() makes every thread asleep on ident run. */
void
wakeup(const void *ident)
{

	hs_sleepq_wakeup(ident, 0);
	hs_preempt_point();
}

/* kern/kern_synch.c: wakeup_one(): one of them. */
void
wakeup_one(const void *ident)
{

	hs_sleepq_wakeup(ident, 1);
	hs_preempt_point();
}

/* kern/kern_synch.c: pause_sbt() */
int
pause_sbt(const char *wmesg, sbintime_t sbt, sbintime_t pr, int flags)
{
	static int pause_chan;

	return (_sleep(&pause_chan, NULL, 0, wmesg, sbt == 0 ? 1 : sbt, pr,
	    flags));
}
