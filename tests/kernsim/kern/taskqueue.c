/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: taskqueue(9) with real kernel threads (kern/subr_taskqueue.c).
 */

#include "ks.h"

#include <sys/limits.h>
#include <sys/malloc.h>
#include <sys/taskqueue.h>

#define	KS_TQ_MAXTHREADS	4

struct taskqueue {
	STAILQ_HEAD(, task)	 tq_queue;
	taskqueue_enqueue_fn	 tq_enqueue;
	void			*tq_context;
	char			 tq_name[32];
	struct mtx		 tq_mutex;
	int			 tq_active;	/* tasks running */
	int			 tq_flags;
	int			 tq_tcount;	/* threads alive */
	int			 tq_nthreads;
	struct task		*tq_running[KS_TQ_MAXTHREADS];
};
#define	TQ_FLAGS_ACTIVE		0x01

/*
 * taskqueue_create(): a queue whose enqueue hook is called when a task is
 * queued (taskqueue_thread_enqueue wakes the queue's threads).
 */
struct taskqueue *
taskqueue_create(const char *name, int mflags, taskqueue_enqueue_fn enqueue,
    void *context)
{
	struct taskqueue *tq;

	tq = ks_kmalloc(sizeof(*tq), (mflags & (M_WAITOK | M_NOWAIT)) |
	    M_ZERO);
	if (tq == NULL)
		return (NULL);
	STAILQ_INIT(&tq->tq_queue);
	tq->tq_enqueue = enqueue;
	tq->tq_context = context;
	strlcpy(tq->tq_name, name, sizeof(tq->tq_name));
	tq->tq_flags = TQ_FLAGS_ACTIVE;
	_mtx_init(&tq->tq_mutex.mtx_lock, "taskqueue", NULL, MTX_DEF);
	return (tq);
}

/* taskqueue_thread_enqueue(): context is a struct taskqueue **. */
void
taskqueue_thread_enqueue(void *context)
{
	struct taskqueue **tqp = context;

	wakeup_one(*tqp);
}

/*
 * taskqueue_enqueue(): a task already queued only counts (ta_pending,
 * saturating at USHRT_MAX); otherwise it is inserted by priority (higher
 * first, FIFO among equals) and the enqueue hook runs.
 */
int
taskqueue_enqueue(struct taskqueue *tq, struct task *task)
{
	struct task *ins, *prev;

	ks_mtx_lock(&tq->tq_mutex);
	if (task->ta_pending != 0) {
		if (task->ta_pending < USHRT_MAX)
			task->ta_pending++;
		ks_mtx_unlock(&tq->tq_mutex);
		return (0);
	}
	prev = NULL;
	STAILQ_FOREACH(ins, &tq->tq_queue, ta_link) {
		if (ins->ta_priority < task->ta_priority)
			break;
		prev = ins;
	}
	if (prev == NULL)
		STAILQ_INSERT_HEAD(&tq->tq_queue, task, ta_link);
	else
		STAILQ_INSERT_AFTER(&tq->tq_queue, prev, task, ta_link);
	task->ta_pending = 1;
	tq->tq_enqueue(tq->tq_context);
	ks_mtx_unlock(&tq->tq_mutex);
	return (0);
}

/* taskqueue_run_locked(): each task runs without the queue lock, with its
 * pending count cleared first. */
static void
ks_taskqueue_run_locked(struct taskqueue *tq)
{
	struct task *task;
	int pending, slot;

	while ((task = STAILQ_FIRST(&tq->tq_queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&tq->tq_queue, ta_link);
		pending = task->ta_pending;
		task->ta_pending = 0;
		tq->tq_active++;
		for (slot = 0; slot < KS_TQ_MAXTHREADS; slot++)
			if (tq->tq_running[slot] == NULL) {
				tq->tq_running[slot] = task;
				break;
			}
		ks_mtx_unlock(&tq->tq_mutex);
		task->ta_func(task->ta_context, pending);
		k_userret("taskqueue task");
		ks_mtx_lock(&tq->tq_mutex);
		if (slot < KS_TQ_MAXTHREADS)
			tq->tq_running[slot] = NULL;
		wakeup(task);
		tq->tq_active--;
		if (tq->tq_active == 0)
			wakeup(&tq->tq_active);
	}
}

/* taskqueue_thread_loop(): run tasks until the queue is freed, then run
 * what is left and leave (waking taskqueue_terminate). */
static void
ks_taskqueue_thread_loop(void *arg)
{
	struct taskqueue *tq = arg;

	ks_mtx_lock(&tq->tq_mutex);
	while ((tq->tq_flags & TQ_FLAGS_ACTIVE) != 0) {
		ks_taskqueue_run_locked(tq);
		if ((tq->tq_flags & TQ_FLAGS_ACTIVE) == 0)
			break;
		ks_msleep(tq, &tq->tq_mutex, 0, "-", 0);
	}
	ks_taskqueue_run_locked(tq);
	tq->tq_tcount--;
	wakeup_one(&tq->tq_tcount);
	ks_mtx_unlock(&tq->tq_mutex);
}

int
taskqueue_start_threads(struct taskqueue **tqp, int count, int pri,
    const char *name, ...)
{
	struct taskqueue *tq = *tqp;
	int i;

	if (count <= 0 || count > KS_TQ_MAXTHREADS)
		ks_failf("kernsim: taskqueue_start_threads(%d) not modelled",
		    count);
	for (i = 0; i < count; i++) {
		ks_mtx_lock(&tq->tq_mutex);
		tq->tq_tcount++;
		tq->tq_nthreads++;
		ks_mtx_unlock(&tq->tq_mutex);
		hs_kthread_create(tq->tq_name, ks_taskqueue_thread_loop, tq);
	}
	return (0);
}

/*
 * taskqueue_drain_all(): WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK); wait
 * until nothing is queued or running.
 */
void
taskqueue_drain_all(struct taskqueue *tq)
{
	char held[256];

	if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
		ks_failf("witness: taskqueue_drain_all with non-sleepable "
		    "locks held: %s", held);
	ks_mtx_lock(&tq->tq_mutex);
	while (!STAILQ_EMPTY(&tq->tq_queue) || tq->tq_active != 0) {
		if (!STAILQ_EMPTY(&tq->tq_queue))
			tq->tq_enqueue(tq->tq_context);
		ks_msleep(&tq->tq_active, &tq->tq_mutex, 0, "tq_drain",
		    1000000L);
	}
	ks_mtx_unlock(&tq->tq_mutex);
}

static int
ks_task_is_running(struct taskqueue *tq, struct task *task)
{
	int i;

	for (i = 0; i < KS_TQ_MAXTHREADS; i++)
		if (tq->tq_running[i] == task)
			return (1);
	return (0);
}

/*
 * taskqueue_cancel(): a queued task is taken off (its pending count
 * reported and cleared); EBUSY if it is running now.
 */
int
taskqueue_cancel(struct taskqueue *tq, struct task *task, u_int *pendp)
{
	int error;

	ks_mtx_lock(&tq->tq_mutex);
	if (task->ta_pending > 0)
		STAILQ_REMOVE(&tq->tq_queue, task, task, ta_link);
	if (pendp != NULL)
		*pendp = task->ta_pending;
	task->ta_pending = 0;
	error = ks_task_is_running(tq, task) ? EBUSY : 0;
	ks_mtx_unlock(&tq->tq_mutex);
	return (error);
}

/*
 * taskqueue_drain(): WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK); sleep
 * until the task is neither queued nor running (the thread wakes the
 * task's channel after each run).
 */
void
taskqueue_drain(struct taskqueue *tq, struct task *task)
{
	char held[256];

	if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
		ks_failf("witness: taskqueue_drain with non-sleepable locks "
		    "held: %s", held);
	ks_mtx_lock(&tq->tq_mutex);
	while (task->ta_pending != 0 || ks_task_is_running(tq, task))
		ks_msleep(task, &tq->tq_mutex, 0, "tq_drain", 0);
	ks_mtx_unlock(&tq->tq_mutex);
}

/*
 * taskqueue_free(): deactivate, wake the threads and wait for them all to
 * leave (taskqueue_terminate, sleeping on the queue lock), then "Tasks
 * still running?" must not be.
 */
void
taskqueue_free(struct taskqueue *tq)
{

	ks_mtx_lock(&tq->tq_mutex);
	tq->tq_flags &= ~TQ_FLAGS_ACTIVE;
	while (tq->tq_tcount > 0) {
		wakeup(tq);
		ks_msleep(&tq->tq_tcount, &tq->tq_mutex, 0, "tq_destroy",
		    10000000L);
	}
	if (tq->tq_active != 0)
		ks_failf("panic: taskqueue_free: Tasks still running?");
	ks_mtx_unlock(&tq->tq_mutex);
	_mtx_destroy(&tq->tq_mutex.mtx_lock);
	ks_kfree(tq);
}
