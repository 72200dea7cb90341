/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: timeout tasks (kern/subr_taskqueue.c _timeout_task_init,
 * taskqueue_enqueue_timeout(_sbt), taskqueue_cancel_timeout,
 * taskqueue_drain_timeout), which devref's graveyard retry uses.  The
 * callout is modelled by a kernel thread per armed timeout task that
 * sleeps until the deadline and then enqueues the task; the kernel runs
 * the callout under the queue's lock (callout_init_mtx(&c, &tq_mutex)),
 * so a cancel is atomic with it: here a cancel waits out a firing in
 * progress.  After a drain no thread touches the timeout task again (it
 * lives in the module's memory).  The callout's own fields hold kernsim's
 * state: c_time the deadline (ns of uptime), c_iflags the state bits.
 */

#include "ks.h"

#include <sys/malloc.h>
#include <sys/taskqueue.h>

#define	KT_ARMED	0x01	/* DT_CALLOUT_ARMED */
#define	KT_DRAINING	0x02	/* DT_DRAIN_IN_PROGRESS */
#define	KT_THREAD	0x04	/* a callout thread serves it */
#define	KT_FIRING	0x08	/* the thread is enqueueing the task */

static struct mtx ks_callout_mtx;
static int ks_callout_inited;

static void
ks_callout_init(void)
{

	hs_lock(HS_LOCK_TASKQ);
	if (!ks_callout_inited) {
		_mtx_init(&ks_callout_mtx.mtx_lock, "kernsim callout", NULL,
		    MTX_DEF);
		ks_callout_inited = 1;
	}
	hs_unlock(HS_LOCK_TASKQ);
}

/* subr_taskqueue.c _timeout_task_init(): the task, the callout, f = 0. */
void
_timeout_task_init(struct taskqueue *queue, struct timeout_task *tt,
    int priority, task_fn_t func, void *context)
{

	ks_callout_init();
	TASK_INIT(&tt->t, priority, func, context);
	memset(&tt->c, 0, sizeof(tt->c));
	tt->q = queue;
	tt->f = 0;
}

static void
ks_callout_thread(void *arg)
{
	struct timeout_task *tt = arg;
	unsigned long now;

	ks_mtx_lock(&ks_callout_mtx);
	while ((tt->c.c_iflags & KT_ARMED) != 0) {
		now = hs_uptime_ns();
		if (now < (unsigned long)tt->c.c_time) {
			(void)ks_msleep(&tt->c, &ks_callout_mtx, 0, "callout",
			    (long)(tt->c.c_time - now));
			continue;
		}
		/* taskqueue_timeout_func(): disarmed, then enqueued. */
		tt->c.c_iflags &= ~KT_ARMED;
		tt->c.c_iflags |= KT_FIRING;
		ks_mtx_unlock(&ks_callout_mtx);
		(void)taskqueue_enqueue(tt->q, &tt->t);
		ks_mtx_lock(&ks_callout_mtx);
		tt->c.c_iflags &= ~KT_FIRING;
		wakeup(&tt->c);
	}
	tt->c.c_iflags &= ~KT_THREAD;
	wakeup(&tt->c);
	ks_mtx_unlock(&ks_callout_mtx);
}

/*
 * taskqueue_enqueue_timeout(_sbt)(): "Migrated queue"; -1 while a drain
 * is in progress; 0 ticks enqueues now; otherwise the callout is (re)set
 * and the result is the task's pending count, plus one if it was armed.
 */
int
taskqueue_enqueue_timeout(struct taskqueue *queue, struct timeout_task *tt,
    int ticks)
{
	int res, start = 0;

	if (tt->q != NULL && tt->q != queue)
		ks_failf("panic: taskqueue_enqueue_timeout: Migrated queue");
	if (ticks == 0) {
		res = tt->t.ta_pending;
		(void)taskqueue_enqueue(queue, &tt->t);
		return (res);
	}
	if (ticks < 0)
		ticks = -ticks;
	ks_mtx_lock(&ks_callout_mtx);
	tt->q = queue;
	res = tt->t.ta_pending;
	if ((tt->c.c_iflags & KT_DRAINING) != 0) {
		ks_mtx_unlock(&ks_callout_mtx);
		return (-1);
	}
	if ((tt->c.c_iflags & KT_ARMED) != 0)
		res++;
	tt->c.c_iflags |= KT_ARMED;
	tt->c.c_time = (sbintime_t)(hs_uptime_ns() +
	    (unsigned long)ticks * (1000000000UL / hz));
	if ((tt->c.c_iflags & KT_THREAD) == 0) {
		tt->c.c_iflags |= KT_THREAD;
		start = 1;
	} else
		wakeup(&tt->c);
	ks_mtx_unlock(&ks_callout_mtx);
	if (start)
		hs_kthread_create("callout", ks_callout_thread, tt);
	return (res);
}

/*
 * callout_stop() as the queue lock makes it: a firing completes first;
 * and the callout thread is gone when it returns (softclock never looks
 * at a stopped callout again, and it may be in a module about to go).
 */
static int
ks_callout_stop(struct timeout_task *tt)
{
	int was;

	ks_mtx_lock(&ks_callout_mtx);
	was = (tt->c.c_iflags & KT_ARMED) != 0;
	tt->c.c_iflags &= ~KT_ARMED;
	wakeup(&tt->c);
	while ((tt->c.c_iflags & (KT_FIRING | KT_THREAD)) != 0 &&
	    (tt->c.c_iflags & KT_ARMED) == 0)
		(void)ks_msleep(&tt->c, &ks_callout_mtx, 0, "callstop", 0);
	ks_mtx_unlock(&ks_callout_mtx);
	return (was);
}

/*
 * taskqueue_cancel_timeout(): the callout stopped (pending 1 if it was
 * armed), then taskqueue_cancel (EBUSY while the task runs).
 */
int
taskqueue_cancel_timeout(struct taskqueue *queue, struct timeout_task *tt,
    u_int *pendp)
{
	u_int pending, pending1;
	int error;

	pending = ks_callout_stop(tt);
	pending1 = 0;
	error = taskqueue_cancel(queue, &tt->t, &pending1);
	if (pendp != NULL)
		*pendp = pending + pending1;
	return (error);
}

/*
 * taskqueue_drain_timeout(): DT_DRAIN_IN_PROGRESS (re-arming refused),
 * callout_drain (here: stopped and its thread gone), taskqueue_drain,
 * then the flag cleared.  It may sleep.
 */
void
taskqueue_drain_timeout(struct taskqueue *queue, struct timeout_task *tt)
{
	char held[256];

	if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
		ks_failf("witness: taskqueue_drain_timeout may sleep with "
		    "non-sleepable locks held: %s", held);
	ks_mtx_lock(&ks_callout_mtx);
	tt->c.c_iflags |= KT_DRAINING;
	ks_mtx_unlock(&ks_callout_mtx);
	(void)ks_callout_stop(tt);
	taskqueue_drain(queue, &tt->t);
	ks_mtx_lock(&ks_callout_mtx);
	tt->c.c_iflags &= ~KT_DRAINING;
	ks_mtx_unlock(&ks_callout_mtx);
}
