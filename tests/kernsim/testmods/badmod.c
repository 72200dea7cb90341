/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim self-test modules: each build (-DBAD_<what>) makes MOD_LOAD
 * break one rule kernsim must catch.  Built by mk/kernsim.mk with the
 * modules' own flags (KMOD_CFLAGS); never shipped.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/module.h>
#include <sys/mutex.h>
#include <sys/proc.h>
#include <sys/smp.h>

MALLOC_DEFINE(M_BADMOD, "badmod", "kernsim self-test");

static struct mtx bad_a __unused, bad_b __unused;
static int bad_chan __unused;
static struct cdevsw bad_cdevsw = {
	.d_version = D_VERSION,
	.d_name = "badmod",
};

#ifdef BAD_STACK
/*
 * A 15 KB frame below the MOD_LOAD path's own use of the 16 KiB kernel
 * stack: its low end lies in the guard page (C has no stack probes here,
 * so a frame much larger could jump the guard, as in a real kernel).
 */
static int __noinline
bad_deep(int n)
{
	char frame[15000];

	memset(frame, n, sizeof(frame));
	__asm __volatile("" : : "r" (frame) : "memory");
	return (frame[n % 100]);
}
#endif

#ifdef BAD_RENDEZVOUS
/*
 * The ABI bug the cross build once had: smp_rendezvous_cpus_retry() takes
 * a cpuset_t by value.  Built with the right opt_global.h (SMP) this loads;
 * built with an empty one (MAXCPU 1, an 8-byte cpuset_t passed in a
 * register: emptyopt_RENDEZVOUS.ko) every argument the kernel reads is
 * shifted, and kernsim must say so by name.
 */
static void
bad_rv_action(void *arg)
{

	smp_rendezvous_cpus_done(arg);
}

static void
bad_rv_wait(void *arg __unused, int cpu __unused)
{
}
#endif

static int
bad_load(void)
{
	void *p;

#if defined(BAD_LOR)
	mtx_init(&bad_a, "bad a", NULL, MTX_DEF);
	mtx_init(&bad_b, "bad b", NULL, MTX_DEF);
	mtx_lock(&bad_a);
	mtx_lock(&bad_b);
	mtx_unlock(&bad_b);
	mtx_unlock(&bad_a);
	mtx_lock(&bad_b);
	mtx_lock(&bad_a);		/* reversal */
#elif defined(BAD_SLEEP_LOCKED)
	mtx_init(&bad_a, "bad a", NULL, MTX_DEF);
	mtx_init(&bad_b, "bad b", NULL, MTX_DEF);
	mtx_lock(&bad_a);
	mtx_lock(&bad_b);
	msleep(&bad_chan, &bad_b, 0, "bad", hz / 100);	/* bad_a held */
#elif defined(BAD_SLEEP_CRIT)
	critical_enter();
	pause("bad", 1);
#elif defined(BAD_CRIT_UNDERFLOW)
	critical_exit();
#elif defined(BAD_RETURN_LOCKED)
	mtx_init(&bad_a, "bad a", NULL, MTX_DEF);
	mtx_lock(&bad_a);
#elif defined(BAD_RETURN_CRIT)
	critical_enter();
#elif defined(BAD_DOUBLE_FREE)
	p = malloc(32, M_BADMOD, M_WAITOK);
	free(p, M_BADMOD);
	free(p, M_BADMOD);
#elif defined(BAD_FOREIGN_FREE)
	free(&bad_chan, M_BADMOD);
#elif defined(BAD_LEAK)
	p = malloc(48, M_BADMOD, M_WAITOK | M_ZERO);
	(void)p;
#elif defined(BAD_DOUBLE_INIT)
	mtx_init(&bad_a, "bad a", NULL, MTX_DEF);
	mtx_init(&bad_a, "bad a", NULL, MTX_DEF);
#elif defined(BAD_UNLOCK_NOT_OWNED)
	mtx_init(&bad_a, "bad a", NULL, MTX_DEF);
	mtx_unlock(&bad_a);
#elif defined(BAD_DESTROY_ETERNAL)
	struct make_dev_args args;
	struct cdev *dev;

	make_dev_args_init(&args);
	args.mda_flags = MAKEDEV_WAITOK | MAKEDEV_ETERNAL;
	args.mda_devsw = &bad_cdevsw;
	args.mda_mode = 0600;
	if (make_dev_s(&args, &dev, "badmod") == 0)
		destroy_dev(dev);
#elif defined(BAD_NOWAIT_WAITOK)
	p = malloc(32, M_BADMOD, M_WAITOK | M_NOWAIT);
	free(p, M_BADMOD);
#elif defined(BAD_STACK)
	printf("badmod: %d\n", bad_deep(32));
#elif defined(BAD_USE_AFTER_FREE)
	p = malloc(64, M_BADMOD, M_WAITOK | M_ZERO);
	free(p, M_BADMOD);
	((volatile char *)p)[8] = 1;
#elif defined(BAD_RENDEZVOUS)
	{
		struct smp_rendezvous_cpus_retry_arg rv;

		memset(&rv, 0, sizeof(rv));
		smp_rendezvous_cpus_retry(all_cpus, smp_no_rendezvous_barrier,
		    bad_rv_action, smp_no_rendezvous_barrier, bad_rv_wait, &rv);
	}
#elif defined(BAD_FAIL_LOAD)
	return (ENXIO);		/* not a bug: kldload must answer ENOEXEC */
#elif defined(BAD_NONE) || defined(BAD_VETO)
	p = malloc(32, M_BADMOD, M_WAITOK);
	free(p, M_BADMOD);
#else
#error "which BAD_ test?"
#endif
	(void)p;
	(void)bad_cdevsw;
	return (0);
}

static int
badmod_modevent(module_t mod __unused, int type, void *data __unused)
{

	switch (type) {
	case MOD_LOAD:
		return (bad_load());
	case MOD_UNLOAD:
		return (0);
#ifdef BAD_VETO
	case MOD_QUIESCE:
		return (EBUSY);		/* kldunload -f overrides it */
#endif
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t badmod_mod = {
	"badmod",
	badmod_modevent,
	NULL
};

DECLARE_MODULE(badmod, badmod_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(badmod, 1);
