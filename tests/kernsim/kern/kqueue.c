/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: kqueue(2)/kevent(2), knotes and knote lists
 * (kern/kern_event.c), for file descriptors of devices (EVFILT_READ and
 * EVFILT_WRITE through fo_kqfilter -> devfs_kqfilter_f -> d_kqfilter).
 *
 * Rules modelled (kern_event.c function in brackets):
 *  - a new knote is created detached and in flux, attached with the file's
 *    kqfilter, then its f_event is called under the knlist lock and it is
 *    queued if active [kqueue_register]; an attach error drops it
 *    [knote_drop_detached]; EV_RECEIPT/errors are reported as EV_ERROR
 *    with data = error [kqueue_kevent];
 *  - knlist_add needs a knote in flux and detached; knlist_remove one in
 *    flux and attached ("knote %p not in flux", "was already detached")
 *    [knlist_add, knlist_remove_kq];
 *  - knote() calls f_event under the list lock and the kq lock, skipping
 *    knotes in flux (unless a scan holds them), and activates [knote];
 *  - knlist_cleardel takes every knote not in flux off the list marked
 *    EV_EOF | EV_ONESHOT, without activating it, and waits for the others
 *    ("kqkclr") [knlist_cleardel]; knlist_destroy of a non-empty list
 *    fails [knlist_destroy];
 *  - kevent() with events: sleep (PCATCH, timeout) until a knote is
 *    queued; an EV_ONESHOT knote is reported as is and dropped, others get
 *    f_event again under the list lock: 0 dequeues it, else it is reported
 *    and, unless EV_CLEAR, requeued (level-triggered) [kqueue_scan];
 *  - dropping a knote calls f_detach unless it is detached, then releases
 *    its file [knote_drop]; close(fd) drops the knotes on fd
 *    [knote_fdclose]; closing the kqueue drops all of its knotes
 *    [kqueue_drain].
 */

#include "ks.h"

#include <sys/event.h>
#include <sys/limits.h>
#include <sys/malloc.h>
#include <sys/time.h>

_Static_assert(sizeof(struct kevent) == 64, "struct kevent (host side too)");

struct kqueue {
	struct mtx		 kq_lock;
	TAILQ_HEAD(, knote)	 kq_head;	/* queued (active) knotes */
	int			 kq_count;
	SLIST_HEAD(, knote)	 kq_knotes;	/* every knote (kn_link) */
	int			 kq_state;
	struct kqueue		*kq_next;	/* HS_LOCK_EVENT */
	int			 kq_walkers;	/* HS_LOCK_EVENT: fdclose walks */
};
#define	KQ_SLEEP	0x02
#define	KQ_FLUXWAIT	0x10

static struct kqueue *ks_kqueues;	/* HS_LOCK_EVENT */

#define	KQ_LOCK(kq)	ks_mtx_lock(&(kq)->kq_lock)
#define	KQ_UNLOCK(kq)	ks_mtx_unlock(&(kq)->kq_lock)

static int
kn_in_flux(struct knote *kn)
{

	return (kn->kn_influx > 0);
}

static void
kn_enter_flux(struct knote *kn)
{

	kn->kn_influx++;
}

static int
kn_leave_flux(struct knote *kn)
{

	if (kn->kn_influx <= 0)
		ks_failf("panic: kn_leave_flux: knote %p not in flux", kn);
	return (--kn->kn_influx == 0);
}

static void
kq_flux_wakeup(struct kqueue *kq)
{

	if ((kq->kq_state & KQ_FLUXWAIT) != 0) {
		kq->kq_state &= ~KQ_FLUXWAIT;
		wakeup(kq);
	}
}

static void
kqueue_wakeup(struct kqueue *kq)
{

	if ((kq->kq_state & KQ_SLEEP) != 0) {
		kq->kq_state &= ~KQ_SLEEP;
		wakeup(kq);
	}
}

/* knote_enqueue() and KNOTE_ACTIVATE(), kq lock held. */
static void
knote_enqueue(struct knote *kn)
{
	struct kqueue *kq = kn->kn_kq;

	TAILQ_INSERT_TAIL(&kq->kq_head, kn, kn_tqe);
	kn->kn_status |= KN_QUEUED;
	kq->kq_count++;
	kqueue_wakeup(kq);
}

static void
knote_activate(struct knote *kn)
{

	kn->kn_status |= KN_ACTIVE;
	if ((kn->kn_status & (KN_QUEUED | KN_DISABLED)) == 0)
		knote_enqueue(kn);
}

/* ---- knote lists ---- */

static void
ks_knlist_mtx_lock(void *arg)
{

	ks_mtx_lock(arg);
}

static void
ks_knlist_mtx_unlock(void *arg)
{

	ks_mtx_unlock(arg);
}

static void
ks_knlist_mtx_assert(void *arg, int what)
{

	if (what == LA_LOCKED && !ks_mtx_owned(arg))
		ks_failf("panic: knlist lock \"%s\" not owned",
		    ((struct mtx *)arg)->lock_object.lo_name);
	if (what == LA_UNLOCKED && ks_mtx_owned(arg))
		ks_failf("panic: knlist lock \"%s\" owned",
		    ((struct mtx *)arg)->lock_object.lo_name);
}

static struct mtx ks_knlist_lock;

/* knlist_init_mtx(): the list is protected by the mutex (the global
 * knlist_lock when NULL). */
void
knlist_init_mtx(struct knlist *knl, struct mtx *lock)
{

	if (lock == NULL) {
		hs_lock(HS_LOCK_EVENT);
		if ((ks_knlist_lock.lock_object.lo_flags & LO_INITIALIZED) == 0)
			_mtx_init(&ks_knlist_lock.mtx_lock, "knlist lock", NULL,
			    MTX_DEF);
		hs_unlock(HS_LOCK_EVENT);
		lock = &ks_knlist_lock;
	}
	knl->kl_lockarg = lock;
	knl->kl_lock = ks_knlist_mtx_lock;
	knl->kl_unlock = ks_knlist_mtx_unlock;
	knl->kl_assert_lock = ks_knlist_mtx_assert;
	knl->kl_autodestroy = 0;
	SLIST_INIT(&knl->kl_list);
}

void
knlist_add(struct knlist *knl, struct knote *kn, int islocked)
{

	knl->kl_assert_lock(knl->kl_lockarg, islocked ? LA_LOCKED :
	    LA_UNLOCKED);
	if (!kn_in_flux(kn))
		ks_failf("panic: knlist_add: knote %p not in flux", kn);
	if ((kn->kn_status & KN_DETACHED) == 0)
		ks_failf("panic: knlist_add: knote %p was not detached", kn);
	if (!islocked)
		knl->kl_lock(knl->kl_lockarg);
	SLIST_INSERT_HEAD(&knl->kl_list, kn, kn_selnext);
	if (!islocked)
		knl->kl_unlock(knl->kl_lockarg);
	KQ_LOCK(kn->kn_kq);
	kn->kn_knlist = knl;
	kn->kn_status &= ~KN_DETACHED;
	KQ_UNLOCK(kn->kn_kq);
}

static void
knlist_remove_kq(struct knlist *knl, struct knote *kn, int knlislocked,
    int kqislocked)
{

	knl->kl_assert_lock(knl->kl_lockarg, knlislocked ? LA_LOCKED :
	    LA_UNLOCKED);
	if (!kqislocked && !kn_in_flux(kn))
		ks_failf("panic: knlist_remove: knote %p not in flux", kn);
	if ((kn->kn_status & KN_DETACHED) != 0)
		ks_failf("panic: knlist_remove: knote %p was already detached",
		    kn);
	if (!knlislocked)
		knl->kl_lock(knl->kl_lockarg);
	SLIST_REMOVE(&knl->kl_list, kn, knote, kn_selnext);
	kn->kn_knlist = NULL;
	if (!knlislocked)
		knl->kl_unlock(knl->kl_lockarg);
	if (!kqislocked)
		KQ_LOCK(kn->kn_kq);
	kn->kn_status |= KN_DETACHED;
	if (!kqislocked)
		KQ_UNLOCK(kn->kn_kq);
}

void
knlist_remove(struct knlist *knl, struct knote *kn, int islocked)
{

	knlist_remove_kq(knl, kn, islocked, 0);
}

int
knlist_empty(struct knlist *knl)
{

	return (SLIST_EMPTY(&knl->kl_list));
}

void
knlist_destroy(struct knlist *knl)
{

	if (!SLIST_EMPTY(&knl->kl_list))
		ks_failf("panic: destroying knlist %p with knotes on it", knl);
}

void
knlist_cleardel(struct knlist *knl, struct thread *td, int islocked,
    int killkn)
{
	struct knote *kn, *kn2;
	struct kqueue *kq;

	if (killkn)
		ks_failf("kernsim: knlist_delete is not modelled");
	knl->kl_assert_lock(knl->kl_lockarg, islocked ? LA_LOCKED :
	    LA_UNLOCKED);
again:
	if (!islocked)
		knl->kl_lock(knl->kl_lockarg);
	SLIST_FOREACH_SAFE(kn, &knl->kl_list, kn_selnext, kn2) {
		kq = kn->kn_kq;
		KQ_LOCK(kq);
		if (kn_in_flux(kn)) {
			KQ_UNLOCK(kq);
			continue;
		}
		knlist_remove_kq(knl, kn, 1, 1);
		/* "Make sure cleared knotes disappear soon" */
		kn->kn_flags |= EV_EOF | EV_ONESHOT;
		KQ_UNLOCK(kq);
	}
	if (!SLIST_EMPTY(&knl->kl_list)) {
		/* Knotes in flux remain: wait for them to settle. */
		if (islocked)
			ks_failf("kernsim: knlist_clear(islocked) with knotes in "
			    "flux is not modelled");
		kn = SLIST_FIRST(&knl->kl_list);
		kq = kn->kn_kq;
		KQ_LOCK(kq);
		knl->kl_unlock(knl->kl_lockarg);
		kq->kq_state |= KQ_FLUXWAIT;
		_sleep(kq, &kq->kq_lock.lock_object, PSOCK | PDROP, "kqkclr",
		    0, 0, 0);
		goto again;
	}
	if (!islocked)
		knl->kl_unlock(knl->kl_lockarg);
}

void
knote(struct knlist *list, long hint, int lockflags)
{
	struct knote *kn, *tkn;
	struct kqueue *kq;

	if (list == NULL)
		return;
	list->kl_assert_lock(list->kl_lockarg, (lockflags & KNF_LISTLOCKED) ?
	    LA_LOCKED : LA_UNLOCKED);
	if ((lockflags & KNF_LISTLOCKED) == 0)
		list->kl_lock(list->kl_lockarg);
	SLIST_FOREACH_SAFE(kn, &list->kl_list, kn_selnext, tkn) {
		kq = kn->kn_kq;
		KQ_LOCK(kq);
		if (kn_in_flux(kn) && (kn->kn_status & KN_SCAN) == 0) {
			KQ_UNLOCK(kq);
			continue;
		}
		if (kn->kn_fop->f_event(kn, hint))
			knote_activate(kn);
		KQ_UNLOCK(kq);
	}
	if ((lockflags & KNF_LISTLOCKED) == 0)
		list->kl_unlock(list->kl_lockarg);
}

/* kn_list_lock(): the knote's list lock, if it is on a list. */
static struct knlist *
kn_list_lock(struct knote *kn)
{
	struct knlist *knl = kn->kn_knlist;

	if (knl != NULL)
		knl->kl_lock(knl->kl_lockarg);
	return (knl);
}

static void
kn_list_unlock(struct knlist *knl)
{

	if (knl != NULL)
		knl->kl_unlock(knl->kl_lockarg);
}

/* ---- kqueue ---- */

/* fs/devfs/devfs_vnops.c devfs_kqfilter_f via kern_event.c
 * filt_fileattach: the file's kqfilter. */
static int
filt_fileattach(struct knote *kn)
{

	return (ks_fo_kqfilter(kn->kn_fp, kn));
}

static const struct filterops file_filtops = {
	.f_isfd = 1,
	.f_attach = filt_fileattach,
};

/* knote_drop_detached(): off the kq, release the file, free. */
static void
knote_drop_detached(struct knote *kn)
{
	struct kqueue *kq = kn->kn_kq;

	if ((kn->kn_status & KN_DETACHED) == 0)
		ks_failf("panic: knote_drop_detached: knote %p still "
		    "attached", kn);
	KQ_LOCK(kq);
	if (kn->kn_influx != 1)
		ks_failf("panic: knote_drop_detached: knote %p influx %d",
		    kn, kn->kn_influx);
	SLIST_REMOVE(&kq->kq_knotes, kn, knote, kn_link);
	if ((kn->kn_status & KN_QUEUED) != 0) {
		TAILQ_REMOVE(&kq->kq_head, kn, kn_tqe);
		kn->kn_status &= ~KN_QUEUED;
		kq->kq_count--;
	}
	kn_leave_flux(kn);
	kq_flux_wakeup(kq);
	KQ_UNLOCK(kq);
	if (kn->kn_fp != NULL)
		ks_file_drop(kn->kn_fp);
	ks_kfree(kn);
}

/* knote_drop(): f_detach unless detached; the knote is in flux. */
static void
knote_drop(struct knote *kn)
{

	if ((kn->kn_status & KN_DETACHED) == 0)
		kn->kn_fop->f_detach(kn);
	knote_drop_detached(kn);
}

void *
k_kqueue_create(void)
{
	struct kqueue *kq;

	kq = ks_kmalloc(sizeof(*kq), M_WAITOK | M_ZERO);
	_mtx_init(&kq->kq_lock.mtx_lock, "kqueue", NULL, MTX_DEF | MTX_DUPOK);
	TAILQ_INIT(&kq->kq_head);
	SLIST_INIT(&kq->kq_knotes);
	hs_lock(HS_LOCK_EVENT);
	kq->kq_next = ks_kqueues;
	ks_kqueues = kq;
	hs_unlock(HS_LOCK_EVENT);
	return (kq);
}

/* Drop the knotes of kq (all, or those on fd >= 0), waiting for flux. */
static void
ks_kqueue_drop(struct kqueue *kq, long fd)
{
	struct knote *kn;

	KQ_LOCK(kq);
	for (;;) {
		SLIST_FOREACH(kn, &kq->kq_knotes, kn_link)
			if (fd < 0 || (kn->kn_fop->f_isfd &&
			    (long)kn->kn_id == fd))
				break;
		if (kn == NULL)
			break;
		if (kn_in_flux(kn)) {
			kq->kq_state |= KQ_FLUXWAIT;
			ks_msleep(kq, &kq->kq_lock, PSOCK, "kqclo1", 0);
			continue;
		}
		kn_enter_flux(kn);
		KQ_UNLOCK(kq);
		knote_drop(kn);
		KQ_LOCK(kq);
	}
	KQ_UNLOCK(kq);
}

/*
 * kqueue_close (kern/kern_event.c): the kqueue leaves the list first, then
 * waits until nobody walks it any more (kqueue_close sleeps while
 * kq_refcnt > 1, the references kqueue_acquire took), then drops its
 * knotes and goes.
 */
void
k_kqueue_close(void *p)
{
	struct kqueue *kq = p, **kqp;
	int walkers;

	hs_lock(HS_LOCK_EVENT);
	for (kqp = &ks_kqueues; *kqp != NULL; kqp = &(*kqp)->kq_next)
		if (*kqp == kq) {
			*kqp = kq->kq_next;
			break;
		}
	hs_unlock(HS_LOCK_EVENT);
	for (;;) {
		hs_lock(HS_LOCK_EVENT);
		walkers = kq->kq_walkers;
		hs_unlock(HS_LOCK_EVENT);
		if (walkers == 0)
			break;
		pause_sbt("kqclose", SBT_1MS, 0, 0);
	}
	ks_kqueue_drop(kq, -1);
	_mtx_destroy(&kq->kq_lock.mtx_lock);
	ks_kfree(kq);
}

/*
 * knote_fdclose(): close(fd) drops every knote on fd (kern/kern_event.c:
 * it walks the process's kqueues, each held by kqueue_acquire).  kernsim's
 * descriptor numbers are global, so it walks every kqueue; each is held
 * (kq_walkers: every kqueue on the list, taken under the list's lock)
 * while its knotes are dropped, so that another process's close of a
 * kqueue waits instead of freeing it under the walk (found by a kernsim
 * serve case: a knote_fdclose raced a kqueue close).
 */
void
k_knote_fdclose(int fd)
{
	struct kqueue *kq, **held;
	int i, n, cap = 16;

	for (;;) {
		held = ks_kmalloc(cap * sizeof(*held), M_WAITOK);
		n = 0;
		hs_lock(HS_LOCK_EVENT);
		for (kq = ks_kqueues; kq != NULL && n < cap; kq = kq->kq_next)
			held[n++] = kq;
		if (kq == NULL) {
			for (i = 0; i < n; i++)
				held[i]->kq_walkers++;
			hs_unlock(HS_LOCK_EVENT);
			break;
		}
		hs_unlock(HS_LOCK_EVENT);
		ks_kfree(held);
		cap *= 2;
	}
	for (i = 0; i < n; i++)
		ks_kqueue_drop(held[i], fd);
	hs_lock(HS_LOCK_EVENT);
	for (i = 0; i < n; i++)
		held[i]->kq_walkers--;
	hs_unlock(HS_LOCK_EVENT);
	ks_kfree(held);
}

static int
kqueue_register(struct kqueue *kq, struct kevent *kev)
{
	struct knote *kn;
	struct knlist *knl;
	void *fp;
	int error, event;

	if ((kev->flags & (EV_ENABLE | EV_DISABLE)) == (EV_ENABLE | EV_DISABLE))
		return (EINVAL);
	if (kev->filter != EVFILT_READ && kev->filter != EVFILT_WRITE)
		return (EINVAL);	/* kernsim: file filters only */
	if (kev->ident > INT_MAX)
		return (EBADF);
	fp = hs_fget((int)kev->ident);
	if (fp == NULL)
		return (EBADF);
findkn:
	KQ_LOCK(kq);
	SLIST_FOREACH(kn, &kq->kq_knotes, kn_link)
		if (kn->kn_id == kev->ident && kn->kn_filter == kev->filter)
			break;
	if (kn != NULL && kn_in_flux(kn)) {
		kq->kq_state |= KQ_FLUXWAIT;
		_sleep(kq, &kq->kq_lock.lock_object, PSOCK | PDROP, "kqflxwt",
		    0, 0, 0);
		goto findkn;
	}
	if (kn == NULL) {
		if ((kev->flags & EV_ADD) == 0) {
			KQ_UNLOCK(kq);
			ks_file_drop(fp);
			return (ENOENT);
		}
		KQ_UNLOCK(kq);
		kn = ks_kmalloc(sizeof(*kn), M_WAITOK | M_ZERO);
		KQ_LOCK(kq);
		kn->kn_fp = fp;		/* the knote keeps the reference */
		kn->kn_kq = kq;
		kn->kn_fop = &file_filtops;
		kn->kn_sfflags = kev->fflags;
		kn->kn_sdata = kev->data;
		kev->fflags = 0;
		kev->data = 0;
		kn->kn_kevent = *kev;
		kn->kn_kevent.flags &= ~(EV_ADD | EV_DELETE | EV_ENABLE |
		    EV_DISABLE | EV_FORCEONESHOT);
		kn->kn_status = KN_DETACHED;
		if ((kev->flags & EV_DISABLE) != 0)
			kn->kn_status |= KN_DISABLED;
		kn_enter_flux(kn);
		SLIST_INSERT_HEAD(&kq->kq_knotes, kn, kn_link);
		KQ_UNLOCK(kq);
		if ((error = kn->kn_fop->f_attach(kn)) != 0) {
			knote_drop_detached(kn);
			return (error);
		}
		knl = kn_list_lock(kn);
		goto done_ev_add;
	}
	ks_file_drop(fp);
	if ((kev->flags & EV_DELETE) != 0) {
		kn_enter_flux(kn);
		KQ_UNLOCK(kq);
		knote_drop(kn);
		return (0);
	}
	if ((kev->flags & EV_ENABLE) != 0)
		kn->kn_status &= ~KN_DISABLED;
	else if ((kev->flags & EV_DISABLE) != 0)
		kn->kn_status |= KN_DISABLED;
	kn->kn_status |= KN_SCAN;
	kn_enter_flux(kn);
	KQ_UNLOCK(kq);
	knl = kn_list_lock(kn);
	kn->kn_kevent.udata = kev->udata;
	kn->kn_sfflags = kev->fflags;
	kn->kn_sdata = kev->data;
done_ev_add:
	event = (kn->kn_status & KN_DISABLED) == 0 ?
	    kn->kn_fop->f_event(kn, 0) : 0;
	KQ_LOCK(kq);
	if (event)
		kn->kn_status |= KN_ACTIVE;
	if ((kn->kn_status & (KN_ACTIVE | KN_DISABLED | KN_QUEUED)) ==
	    KN_ACTIVE)
		knote_enqueue(kn);
	kn->kn_status &= ~KN_SCAN;
	kn_leave_flux(kn);
	kn_list_unlock(knl);
	kq_flux_wakeup(kq);
	KQ_UNLOCK(kq);
	return (0);
}

/*
 * kevent(2) on kq (kqueue_kevent + kqueue_scan).  changes/events in
 * FreeBSD's struct kevent layout; timo_ns < 0: wait forever, 0: poll.
 */
int
k_kevent(void *p, void *chp, int nchanges, void *evp, int nevents,
    long timo_ns, int *nout)
{
	struct kqueue *kq = p;
	struct kevent *changes = chp, *events = evp, kev;
	struct knlist *knl;
	struct knote *kn, *marker;
	unsigned long deadline = 0;
	int error, i, n = 0, nerrors = 0;

	*nout = 0;
	for (i = 0; i < nchanges; i++) {
		kev = changes[i];
		if (kev.filter == 0)
			continue;
		kev.flags &= ~EV_SYSFLAGS;
		error = kqueue_register(kq, &kev);
		if (error != 0 || (kev.flags & EV_RECEIPT) != 0) {
			if (nevents == 0)
				return (error);
			kev = changes[i];
			kev.flags = EV_ERROR;
			kev.data = error;
			events[nerrors++] = kev;
			nevents--;
		}
	}
	if (nerrors != 0) {
		*nout = nerrors;
		return (0);
	}
	if (nevents <= 0)
		return (0);
	if (timo_ns > 0)
		deadline = hs_uptime_ns() + timo_ns;
	marker = ks_kmalloc(sizeof(*marker), M_WAITOK | M_ZERO);
	marker->kn_status = KN_MARKER;
	KQ_LOCK(kq);
retry:
	if (kq->kq_count == 0) {
		error = 0;
		if (timo_ns != 0) {
			unsigned long now = hs_uptime_ns();

			kq->kq_state |= KQ_SLEEP;
			if (timo_ns < 0)
				error = ks_msleep(kq, &kq->kq_lock,
				    PSOCK | PCATCH, "kqread", 0);
			else if (now < deadline)
				error = ks_msleep(kq, &kq->kq_lock,
				    PSOCK | PCATCH, "kqread", deadline - now);
			else
				error = EWOULDBLOCK;
			if (error == 0)
				goto retry;
		}
		/* "don't restart after signals..." */
		if (error == ERESTART)
			error = EINTR;
		else if (error == EWOULDBLOCK)
			error = 0;
		KQ_UNLOCK(kq);
		ks_kfree(marker);
		return (error);
	}
	TAILQ_INSERT_TAIL(&kq->kq_head, marker, kn_tqe);
	while (n < nevents) {
		kn = TAILQ_FIRST(&kq->kq_head);
		if ((kn->kn_status == KN_MARKER && kn != marker) ||
		    kn_in_flux(kn)) {
			kq->kq_state |= KQ_FLUXWAIT;
			ks_msleep(kq, &kq->kq_lock, PSOCK, "kqflxwt", 0);
			continue;
		}
		TAILQ_REMOVE(&kq->kq_head, kn, kn_tqe);
		if (kn == marker) {
			kq_flux_wakeup(kq);
			if (n == 0)
				goto retry;
			break;
		}
		if ((kn->kn_status & KN_DISABLED) != 0) {
			kn->kn_status &= ~KN_QUEUED;
			kq->kq_count--;
			continue;
		}
		if ((kn->kn_flags & EV_ONESHOT) != 0) {
			kn->kn_status &= ~KN_QUEUED;
			kn_enter_flux(kn);
			kq->kq_count--;
			KQ_UNLOCK(kq);
			events[n++] = kn->kn_kevent;
			knote_drop(kn);
			KQ_LOCK(kq);
			continue;
		}
		kn->kn_status |= KN_SCAN;
		kn_enter_flux(kn);
		KQ_UNLOCK(kq);
		knl = kn_list_lock(kn);
		if (kn->kn_fop->f_event(kn, 0) == 0) {
			KQ_LOCK(kq);
			kn->kn_status &= ~(KN_QUEUED | KN_ACTIVE | KN_SCAN);
			kn_leave_flux(kn);
			kq->kq_count--;
			kn_list_unlock(knl);
			kq_flux_wakeup(kq);
			continue;
		}
		events[n++] = kn->kn_kevent;
		KQ_LOCK(kq);
		if ((kn->kn_flags & EV_CLEAR) != 0) {
			kn->kn_data = 0;
			kn->kn_fflags = 0;
			kn->kn_status &= ~(KN_QUEUED | KN_ACTIVE);
			kq->kq_count--;
		} else
			TAILQ_INSERT_TAIL(&kq->kq_head, kn, kn_tqe);
		kn->kn_status &= ~KN_SCAN;
		kn_leave_flux(kn);
		kn_list_unlock(knl);
		kq_flux_wakeup(kq);
	}
	if (n == nevents)	/* the marker is still queued */
		TAILQ_REMOVE(&kq->kq_head, marker, kn_tqe);
	kq_flux_wakeup(kq);
	KQ_UNLOCK(kq);
	ks_kfree(marker);
	*nout = n;
	return (0);
}
