/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: select/poll waiter lists (kern/sys_generic.c: selrecord,
 * selwakeup, seldrain, seltdwait).  Knote lists and kqueue: kqueue.c.
 */

#include "ks.h"

#include <sys/event.h>
#include <sys/malloc.h>
#include <sys/selinfo.h>

/* kern/sys_generic.c: struct selfd -- one per (thread, selinfo) record. */
struct selfd {
	TAILQ_ENTRY(selfd)	 sf_threads;	/* on the selinfo */
	struct selfd		*sf_tdnext;	/* on the thread */
	struct selinfo		*sf_si;		/* NULL once woken */
	struct ks_thread	*sf_td;
};
struct ks_selfd;	/* the thread's list is of struct selfd */

static struct mtx ks_select_mtx;	/* mtxpool_select stand-in */

void
ks_seltdinit(struct thread *td)
{

	ks_td(td)->kt_selwoken = 0;
	ks_td(td)->kt_selfds = NULL;
}

/*
 * selrecord(): remember that the thread polling waits on sip; the selinfo
 * gets its si_mtx the first time.
 */
void
selrecord(struct thread *selector, struct selinfo *sip)
{
	struct ks_thread *kt = ks_td(selector);
	struct selfd *sfp;

	sfp = ks_kmalloc(sizeof(*sfp), M_NOWAIT | M_ZERO);
	if (sfp == NULL)
		ks_failf("kernsim: selrecord: no memory");
	hs_lock(HS_LOCK_EVENT);
	if (sip->si_mtx == NULL) {
		sip->si_mtx = &ks_select_mtx;
		TAILQ_INIT(&sip->si_tdlist);
	}
	sfp->sf_si = sip;
	sfp->sf_td = kt;
	TAILQ_INSERT_TAIL(&sip->si_tdlist, sfp, sf_threads);
	sfp->sf_tdnext = (struct selfd *)kt->kt_selfds;
	kt->kt_selfds = (struct ks_selfd *)sfp;
	hs_unlock(HS_LOCK_EVENT);
}

/*
 * doselwakeup(): nothing if no one ever recorded (si_mtx NULL); else mark
 * every recorded thread's seltd pending, wake it, and detach the records.
 */
static void
ks_doselwakeup(struct selinfo *sip)
{
	struct selfd *sfp, *tmp;
	struct ks_thread *kt;

	if (sip->si_mtx == NULL)
		return;
	hs_lock(HS_LOCK_EVENT);
	TAILQ_FOREACH_SAFE(sfp, &sip->si_tdlist, sf_threads, tmp) {
		kt = sfp->sf_td;
		TAILQ_REMOVE(&sip->si_tdlist, sfp, sf_threads);
		sfp->sf_si = NULL;
		atomic_store_rel_int(&kt->kt_selwoken, 1);
		hs_sleepq_wakeup(__DEVOLATILE(void *, &kt->kt_selwoken), 0);
	}
	hs_unlock(HS_LOCK_EVENT);
}

void
selwakeup(struct selinfo *sip)
{

	ks_doselwakeup(sip);
}

void
selwakeuppri(struct selinfo *sip, int pri)
{

	ks_doselwakeup(sip);
}

/* kern/sys_generic.c: seldrain(): a final doselwakeup(). */
void
seldrain(struct selinfo *sip)
{

	ks_doselwakeup(sip);
}

/* seltdclear(): drop every record the thread still has. */
void
ks_seltdclear(struct thread *td)
{
	struct ks_thread *kt = ks_td(td);
	struct selfd *sfp, *next, *dead;

	hs_lock(HS_LOCK_EVENT);
	sfp = (struct selfd *)kt->kt_selfds;
	kt->kt_selfds = NULL;
	dead = sfp;
	for (; sfp != NULL; sfp = sfp->sf_tdnext)
		if (sfp->sf_si != NULL) {
			TAILQ_REMOVE(&sfp->sf_si->si_tdlist, sfp, sf_threads);
			sfp->sf_si = NULL;
		}
	hs_unlock(HS_LOCK_EVENT);
	for (sfp = dead; sfp != NULL; sfp = next) {
		next = sfp->sf_tdnext;
		ks_kfree(sfp);
	}
	atomic_store_rel_int(&kt->kt_selwoken, 0);
}

/* seltdwait(): sleep until a selwakeup, the timeout, or a signal. */
int
ks_seltdwait(struct thread *td, long timo_ms)
{
	struct ks_thread *kt = ks_td(td);
	const void *chan = __DEVOLATILE(void *, &kt->kt_selwoken);
	int error;

	hs_sleepq_lock(chan);
	if (atomic_load_acq_int(&kt->kt_selwoken) != 0) {
		hs_sleepq_unlock(chan);
		return (0);
	}
	error = hs_sleepq_wait(chan, timo_ms < 0 ? 0 :
	    (unsigned long)timo_ms * 1000000UL, 1);
	if (error == KS_ERESTART)
		error = ERESTART;
	return (error);
}
