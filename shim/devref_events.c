/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Per-incarnation poll/kqueue waiter lists.  devref owns them, not the
 * client: a selinfo or knote left in a client module would be touched after
 * the client is gone.  A fresh set is made for each incarnation of a node
 * and drained for good (seldrain + knlist_clear) when it is destroyed.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/event.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mutex.h>
#include <sys/proc.h>
#include <sys/selinfo.h>
#include <sys/taskqueue.h>

#include "devref_shim.h"

MALLOC_DECLARE(M_DEVREF);

struct devref_events {
	struct selinfo	de_sel;
	struct mtx	de_mtx;		/* the knlist's lock */
	struct task	de_knote_task;	/* a KNOTE posted from a filter */
	struct thread	*de_knote_td;	/* the taskqueue thread running it */
};

static void
devref_events_knote_task(void *arg, int pending __unused)
{
	struct devref_events *ev;

	ev = arg;
	/*
	 * The filters this runs may notify the same device again: that is
	 * this very pass (see devref_shim_events_wake), not a new one.
	 */
	ev->de_knote_td = curthread;
	KNOTE_UNLOCKED(&ev->de_sel.si_note, 0);
	ev->de_knote_td = NULL;
}

struct devref_events *
devref_shim_events_new(void)
{
	struct devref_events *ev;

	ev = malloc(sizeof(*ev), M_DEVREF, M_WAITOK | M_ZERO);
	mtx_init(&ev->de_mtx, "devref knlist", NULL, MTX_DEF);
	knlist_init_mtx(&ev->de_sel.si_note, &ev->de_mtx);
	TASK_INIT(&ev->de_knote_task, 0, devref_events_knote_task, ev);
	return (ev);
}

void
devref_shim_events_wake(struct devref_events *ev)
{

	selwakeup(&ev->de_sel);
	/*
	 * A client's poll op is also kqueue's filter, run with a knlist mutex
	 * and the kqueue's mutex held (and marked THREAD_NO_SLEEPING by
	 * devref_kn_event_live): a KNOTE from there would recurse on them, or
	 * take another device's list lock in either order.  Post it on
	 * devref's taskqueue instead, as from any context that may not sleep;
	 * the filter being evaluated reports its own answer.  A notify from a
	 * filter that the posted KNOTE itself runs is part of that pass.
	 */
	if (ev->de_knote_td == curthread)
		return;
	if (mtx_owned(&ev->de_mtx) || !THREAD_CAN_SLEEP())
		devref_shim_task_enqueue(&ev->de_knote_task);
	else
		KNOTE_UNLOCKED(&ev->de_sel.si_note, 0);
}

void
devref_shim_events_record(struct devref_events *ev, struct thread *td)
{

	selrecord(td, &ev->de_sel);
}

/*
 * kqueue.  The filterops live here, in resident devref.ko: a knote keeps
 * its kn_fop after the device and the client are gone.  kn_hook is the
 * file's devref handle, valid while the knote is on the list (closing the
 * file detaches its knotes first); once the list has been cleared the
 * knote carries EV_EOF and f_event answers without touching the hook.
 */
/*
 * f_event on a knote still on its list: kn_hook is a live handle.  It runs
 * with the knlist mutex held: the mark tells a destroy or unregister issued
 * from the client's poll op that it must not wait (or take the node's locks
 * in the other order).
 */
static int
devref_kn_event_live(struct knote *kn)
{
	DEVREF_CALL_MARK((uintptr_t)devref_rs_handle_node(kn->kn_hook) |
	    DEVREF_MARK_FILTER);
	int ready;

	/*
	 * Nothing the client calls from here may sleep or wait: the devref
	 * KPI refuses what would (EDEADLK), and a notify is posted.
	 */
	THREAD_NO_SLEEPING();
	ready = devref_rs_kn_event(kn->kn_hook, kn->kn_filter);
	THREAD_SLEEPING_OK();
	DEVREF_CALL_UNMARK();
	if (ready < 0) {
		kn->kn_flags |= EV_EOF;
		return (1);
	}
	return (ready);
}

/*
 * f_detach runs only while the knote is still on its list (knlist_clear
 * marks the knotes it takes off as detached, and kqueue then skips
 * f_detach), and knlist_clear waits for knotes in flux: kn_knlist and its
 * lock are valid here.  Touch neither the hook nor the node.
 */
static void
devref_kn_detach(struct knote *kn)
{

	knlist_remove(kn->kn_knlist, kn, 0);
}

static int
devref_kn_event(struct knote *kn, long hint __unused)
{

	/*
	 * A knote taken off a cleared list carries EV_EOF, and its file's
	 * handle may be gone (a counted node's destructors run in destroy_dev):
	 * answer before touching the hook.
	 */
	if ((kn->kn_flags & EV_EOF) != 0)
		return (1);
	return (devref_kn_event_live(kn));
}

/*
 * The kernel reads a knote's filterops out of devref.ko, by pointer, for as
 * long as the knote lives.  struct filterops grows at its end (15.0 added
 * f_userdump; main added f_copy, called when non-NULL): a kernel newer than
 * the headers devref was built with reads members past ours.  Each table
 * therefore sits in a container whose tail is zero, so that a member added
 * later reads NULL ("not provided").
 */
struct devref_filterops {
	struct filterops	dfo_ops;
	char			dfo_zero[DEVREF_KTABLE_PAD];
};

static const struct devref_filterops devref_read_filtops = {
	.dfo_ops = {
		.f_isfd = 1,
		.f_detach = devref_kn_detach,
		.f_event = devref_kn_event,
	},
};

static const struct devref_filterops devref_write_filtops = {
	.dfo_ops = {
		.f_isfd = 1,
		.f_detach = devref_kn_detach,
		.f_event = devref_kn_event,
	},
};

int
devref_shim_kn_attach(struct devref_events *ev, struct knote *kn,
    void *handle)
{

	switch (kn->kn_filter) {
	case EVFILT_READ:
		kn->kn_fop = &devref_read_filtops.dfo_ops;
		break;
	case EVFILT_WRITE:
		kn->kn_fop = &devref_write_filtops.dfo_ops;
		break;
	default:
		return (EINVAL);
	}
	kn->kn_hook = handle;
	knlist_add(&ev->de_sel.si_note, kn, 0);
	return (0);
}

void
devref_shim_events_drain(struct devref_events *ev)
{

	/*
	 * A KNOTE posted from a filter must not run on a freed list.  Cancel
	 * rather than wait when it is only pending: this may run on devref's
	 * taskqueue thread itself (a deferred destroy), where a pending task
	 * behind us would never run.  It cannot be running there then.
	 */
	devref_shim_task_cancel_or_drain(&ev->de_knote_task);
	seldrain(&ev->de_sel);
	knlist_clear(&ev->de_sel.si_note, 0);
	knlist_destroy(&ev->de_sel.si_note);
	mtx_destroy(&ev->de_mtx);
	free(ev, M_DEVREF);
}

_Static_assert(DEVREF_EVFILT_READ == EVFILT_READ, "EVFILT_READ");
_Static_assert(DEVREF_EVFILT_WRITE == EVFILT_WRITE, "EVFILT_WRITE");
