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

#include "devref_shim.h"

MALLOC_DECLARE(M_DEVREF);

struct devref_events {
	struct selinfo	de_sel;
	struct mtx	de_mtx;		/* the knlist's lock */
};

struct devref_events *
devref_shim_events_new(void)
{
	struct devref_events *ev;

	ev = malloc(sizeof(*ev), M_DEVREF, M_WAITOK | M_ZERO);
	mtx_init(&ev->de_mtx, "devref knlist", NULL, MTX_DEF);
	knlist_init_mtx(&ev->de_sel.si_note, &ev->de_mtx);
	return (ev);
}

void
devref_shim_events_wake(struct devref_events *ev)
{

	selwakeup(&ev->de_sel);
	KNOTE_UNLOCKED(&ev->de_sel.si_note, 0);
}

void
devref_shim_events_record(struct devref_events *ev, struct thread *td)
{

	selrecord(td, &ev->de_sel);
}

void
devref_shim_events_drain(struct devref_events *ev)
{

	seldrain(&ev->de_sel);
	knlist_clear(&ev->de_sel.si_note, 0);
	knlist_destroy(&ev->de_sel.si_note);
	mtx_destroy(&ev->de_mtx);
	free(ev, M_DEVREF);
}
