/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: sleep queues (kern/subr_sleepqueue.c) and turnstiles
 * (kern/subr_turnstile.c) as hashed host condition variables.  A thread
 * gives up its vCPU while it waits and takes one (any) back after.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ksim.h"

#define	NBUCKETS	256

struct waiter {
	struct waiter	*next;
	const volatile void *ident;
	pthread_cond_t	 cv;
	int		 woken;
};

struct bucket {
	pthread_mutex_t	 mtx;
	struct waiter	*head;
};

static struct bucket sq[NBUCKETS];	/* sleep queues */
static struct bucket ts[NBUCKETS];	/* turnstiles */

static struct bucket *
hash(struct bucket *tab, const volatile void *p)
{
	uintptr_t v = (uintptr_t)p;

	return (&tab[((v >> 3) ^ (v >> 11)) % NBUCKETS]);
}

void
ksim_sleepq_init(void)
{
	int i;

	for (i = 0; i < NBUCKETS; i++) {
		pthread_mutex_init(&sq[i].mtx, NULL);
		pthread_mutex_init(&ts[i].mtx, NULL);
	}
}

static void
wait_add(struct bucket *b, struct waiter *w, const volatile void *ident)
{
	pthread_condattr_t ca;

	memset(w, 0, sizeof(*w));
	w->ident = ident;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->next = b->head;
	b->head = w;
}

static void
wait_remove(struct bucket *b, struct waiter *w)
{
	struct waiter **wp;

	for (wp = &b->head; *wp != NULL; wp = &(*wp)->next)
		if (*wp == w) {
			*wp = w->next;
			break;
		}
	pthread_cond_destroy(&w->cv);
}

/* sleepq_lock(): the chain of ident; no preemption while held. */
void
ksim_hs_sleepq_lock(const void *ident)
{
	struct hthread *ht = ksim_self();

	pthread_mutex_lock(&hash(sq, ident)->mtx);
	if (ht != NULL)
		ht->nopreempt++;
}

void
ksim_hs_sleepq_unlock(const void *ident)
{
	struct hthread *ht = ksim_self();

	if (ht != NULL)
		ht->nopreempt--;
	pthread_mutex_unlock(&hash(sq, ident)->mtx);
}

/*
 * sleepq_wait / sleepq_timedwait / the _sig variants: called with the
 * chain locked.  PCATCH: a signal already pending returns at once
 * (sleepq_catch_signals), one arriving wakes the sleeper; EINTR, or
 * ERESTART when the handler has SA_RESTART.  Timeout: EWOULDBLOCK.
 */
int
ksim_hs_sleepq_wait(const void *ident, unsigned long timo_ns, int catch)
{
	struct hthread *ht = ksim_self();
	struct bucket *b = hash(sq, ident);
	struct timespec dl;
	struct waiter w;
	int error = 0, r;

	if (catch && ht->sigpending) {
		error = ht->sigpending == 2 ? KS_ERESTART : KS_EINTR;
		ht->sigpending = 0;
		ht->nopreempt--;
		pthread_mutex_unlock(&b->mtx);
		return (error);
	}
	if (timo_ns != 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timo_ns / 1000000000UL;
		dl.tv_nsec += timo_ns % 1000000000UL;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
	}
	wait_add(b, &w, ident);
	ksim_vcpu_release(ht);
	if (catch) {
		ht->waitcv = &w.cv;
		ht->waitmtx = &b->mtx;
	}
	for (;;) {
		if (w.woken)
			break;
		if (catch && ht->sigpending) {
			error = ht->sigpending == 2 ? KS_ERESTART : KS_EINTR;
			ht->sigpending = 0;
			break;
		}
		if (timo_ns != 0) {
			r = pthread_cond_timedwait(&w.cv, &b->mtx, &dl);
			if (r == ETIMEDOUT && !w.woken) {
				error = KS_EWOULDBLOCK;
				break;
			}
		} else
			pthread_cond_wait(&w.cv, &b->mtx);
	}
	ht->waitcv = NULL;
	ht->waitmtx = NULL;
	wait_remove(b, &w);
	ht->nopreempt--;
	pthread_mutex_unlock(&b->mtx);
	ksim_vcpu_acquire(ht, -1);
	return (error);
}

/* sleepq_broadcast / sleepq_signal: wake all, or one, on ident. */
int
ksim_hs_sleepq_wakeup(const void *ident, int one)
{
	struct bucket *b = hash(sq, ident);
	struct waiter *w;
	int n = 0;

	pthread_mutex_lock(&b->mtx);
	for (w = b->head; w != NULL; w = w->next) {
		if (w->ident != ident || w->woken)
			continue;
		w->woken = 1;
		pthread_cond_signal(&w->cv);
		n++;
		if (one)
			break;
	}
	pthread_mutex_unlock(&b->mtx);
	return (n);
}

/* A simulated signal to a thread: wakes it from an interruptible sleep. */
void
ksim_signal_thread(struct hthread *ht, int restart)
{
	pthread_mutex_t *m;

	ht->sigpending = restart ? 2 : 1;
	for (;;) {
		m = __atomic_load_n(&ht->waitmtx, __ATOMIC_ACQUIRE);
		if (m == NULL)
			return;
		pthread_mutex_lock(m);
		if (ht->waitmtx == m) {
			pthread_cond_signal(ht->waitcv);
			pthread_mutex_unlock(m);
			return;
		}
		pthread_mutex_unlock(m);
	}
}

/* turnstile_wait(): block until the lock word changes. */
void
ksim_hs_ts_wait(volatile unsigned long *word, unsigned long expected)
{
	struct hthread *ht = ksim_self();
	struct bucket *b = hash(ts, word);
	struct waiter w;

	if (ht->nopreempt != 0)
		ksim_failf("kernsim: blocking on a mutex with a host lock held");
	pthread_mutex_lock(&b->mtx);
	if (*word != expected) {
		pthread_mutex_unlock(&b->mtx);
		return;
	}
	wait_add(b, &w, word);
	ksim_vcpu_release(ht);
	while (!w.woken)
		pthread_cond_wait(&w.cv, &b->mtx);
	wait_remove(b, &w);
	pthread_mutex_unlock(&b->mtx);
	ksim_vcpu_acquire(ht, -1);
}

/* turnstile_broadcast(): every waiter on the word retries. */
void
ksim_hs_ts_wake(volatile unsigned long *word)
{
	struct bucket *b = hash(ts, word);
	struct waiter *w;

	pthread_mutex_lock(&b->mtx);
	for (w = b->head; w != NULL; w = w->next)
		if (w->ident == word && !w->woken) {
			w->woken = 1;
			pthread_cond_signal(&w->cv);
		}
	pthread_mutex_unlock(&b->mtx);
}
