/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: smp_rendezvous_cpus(_retry) (kern/subr_smp.c).  The action runs
 * on each target CPU: the host delivers the IPI as a signal to the thread
 * that holds that vCPU, or runs it for an idle vCPU with %gs switched to
 * that CPU (host/vcpu.c).
 */

#include "ks.h"

#include <sys/smp.h>

_Static_assert(sizeof(cpuset_t) == 128,
    "kernsim's kernel side must be built with SMP (MAXCPU 1024)");

/*
 * kernsim -M MUTATION / `mutate MUTATION`: a deliberate kernel bug that
 * some case must catch (README "Can it fail?"):
 *   rendezvous-lies    smp_rendezvous(_cpus_retry) interrupts no CPU (here);
 *   dtor-before-close  the cdevpriv destructor runs before d_close at a
 *                      file's close (kern/devfs.c k_fdrop);
 *   si-devsw-kept      destroy_dev leaves si_devsw set (kern/devfs.c).
 */
int ks_mutate_rendezvous_lies;
extern int ks_mutate_dtor_before_close;
extern int ks_mutate_si_devsw_kept;
extern int ks_mutate_no_shootdown;

int
k_set_mutation(const char *name)
{

	if (strcmp(name, "rendezvous-lies") == 0) {
		ks_mutate_rendezvous_lies = 1;
		return (0);
	}
	if (strcmp(name, "dtor-before-close") == 0) {
		ks_mutate_dtor_before_close = 1;
		return (0);
	}
	if (strcmp(name, "si-devsw-kept") == 0) {
		ks_mutate_si_devsw_kept = 1;
		return (0);
	}
	if (strcmp(name, "client-no-shootdown") == 0) {
		ks_mutate_no_shootdown = 1;
		return (0);
	}
	return (-1);
}

static volatile u_int smp_ipi_lock;
static volatile u_int smp_rv_ncpus;
static void (*volatile smp_rv_setup_func)(void *);
static void (*volatile smp_rv_action_func)(void *);
static void (*volatile smp_rv_teardown_func)(void *);
static void *volatile smp_rv_func_arg;
static volatile u_int smp_rv_waiters[4];

/* kern/subr_smp.c: smp_no_rendezvous_barrier() is a marker. */
void
smp_no_rendezvous_barrier(void *dummy)
{

	/* subr_smp.c: KASSERT(!smp_started, "smp_no_rendezvous called and
	 * smp is started") */
	if (smp_started)
		ks_failf("panic: smp_no_rendezvous called and smp is started");
}

static int
ks_fn_ok(void (*fn)(void *), int marker_ok, int null_ok)
{

	if (fn == NULL)
		return (null_ok);
	if (fn == smp_no_rendezvous_barrier)
		return (marker_ok);
	return (hs_is_text((const void *)fn));
}

/*
 * Arguments that cannot be right fail by name instead of jumping to
 * garbage: a caller compiled with another cpuset_t (a module built
 * without SMP passes 8 bytes in a register where the kernel takes 128
 * bytes on the stack) shifts every argument by one.
 */
static void
ks_rv_check(const char *fn, const cpuset_t *map, void (*setup)(void *),
    void (*action)(void *), void (*teardown)(void *),
    void (*wait)(void *, int), void *arg, size_t argsize)
{
	char where[128];
	int i;

#define	KS_ABI	"(argument ABI mismatch? cpuset_t is 128 bytes, passed " \
	    "by value, in a kernel with options SMP)"
	if (!ks_fn_ok(setup, 1, 1))
		ks_failf("%s: setup_func %p is not code: %s " KS_ABI, fn,
		    setup, hs_describe_addr(setup, where, sizeof(where)));
	if (!ks_fn_ok(action, 0, 1))
		ks_failf("%s: action_func %p is not code: %s " KS_ABI, fn,
		    action, hs_describe_addr(action, where, sizeof(where)));
	if (!ks_fn_ok(teardown, 1, 1))
		ks_failf("%s: teardown_func %p is not code: %s " KS_ABI, fn,
		    teardown, hs_describe_addr(teardown, where,
		    sizeof(where)));
	if (wait != NULL && !hs_is_text((const void *)wait))
		ks_failf("%s: wait_func %p is not code: %s " KS_ABI, fn, wait,
		    hs_describe_addr(wait, where, sizeof(where)));
	if (argsize != 0 && !hs_is_writable(arg, argsize))
		ks_failf("%s: arg %p is not writable memory: %s " KS_ABI, fn,
		    arg, hs_describe_addr(arg, where, sizeof(where)));
	/*
	 * A CPU in the map that does not exist never acknowledges: the
	 * kernel's retry loop would spin forever.
	 */
	for (i = mp_maxid + 1; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, map))
			ks_failf("%s: map names CPU %d, absent (mp_maxid %u): "
			    "the rendezvous would never complete " KS_ABI, fn,
			    i, mp_maxid);
#undef KS_ABI
}

/* kern/subr_smp.c: smp_rendezvous_action(), on each target CPU. */
void
k_rendezvous_action(void)
{
	struct thread *td = curthread;
	void *arg = smp_rv_func_arg;
	void (*setup)(void *) = smp_rv_setup_func;
	void (*action)(void *) = smp_rv_action_func;
	void (*teardown)(void *) = smp_rv_teardown_func;

	/* Wrapped in a critical section (subr_smp.c: "wrap all of the
	 * rendezvous action handlers in a critical section"). */
	td->td_critnest++;
	if (setup != smp_no_rendezvous_barrier) {
		if (setup != NULL)
			setup(arg);
		atomic_add_int(&smp_rv_waiters[1], 1);
		while (smp_rv_waiters[1] < smp_rv_ncpus)
			cpu_spinwait();
	}
	if (action != NULL)
		action(arg);
	if (teardown != smp_no_rendezvous_barrier) {
		atomic_add_int(&smp_rv_waiters[2], 1);
		while (smp_rv_waiters[2] < smp_rv_ncpus)
			cpu_spinwait();
		if (teardown != NULL)
			teardown(arg);
	}
	atomic_add_rel_int(&smp_rv_waiters[3], 1);
	td->td_critnest--;
}

/*
 * kern/subr_smp.c: smp_rendezvous_cpus(): serialised by smp_ipi_mtx (a
 * spin lock: the waiter spins with interrupts enabled, so it still takes
 * IPIs), parameters in globals, IPIs to the other CPUs of the map, the
 * action run locally if the current CPU is in it, then a wait until every
 * target has finished (smp_rv_waiters[3]).
 */
void
smp_rendezvous_cpus(cpuset_t map, void (*setup_func)(void *),
    void (*action_func)(void *), void (*teardown_func)(void *), void *arg)
{
	struct thread *td = curthread;
	u_int ncpus = 0;
	int curcpumap, i;

	ks_rv_check("smp_rendezvous_cpus", &map, setup_func, action_func,
	    teardown_func, NULL, arg, 0);
	if (ks_mutate_rendezvous_lies)
		return;		/* self-test: no CPU is interrupted */
	if (!smp_started) {
		td->td_critnest++;
		if (setup_func != NULL)
			setup_func(arg);
		if (action_func != NULL)
			action_func(arg);
		if (teardown_func != NULL)
			teardown_func(arg);
		td->td_critnest--;
		return;
	}
	CPU_FOREACH(i) {
		if (CPU_ISSET(i, &map))
			ncpus++;
	}
	if (ncpus == 0)
		panic("ncpus is 0 with non-zero map");
	/* mtx_lock_spin(&smp_ipi_mtx) */
	td->td_critnest++;
	while (!atomic_cmpset_acq_int(&smp_ipi_lock, 0, 1))
		cpu_spinwait();
	smp_rv_ncpus = ncpus;
	smp_rv_setup_func = setup_func;
	smp_rv_action_func = action_func;
	smp_rv_teardown_func = teardown_func;
	smp_rv_func_arg = arg;
	smp_rv_waiters[1] = 0;
	smp_rv_waiters[2] = 0;
	smp_rv_waiters[3] = 0;
	atomic_store_rel_int(&smp_rv_waiters[0], 0);
	curcpumap = CPU_ISSET(curcpu, &map);
	CPU_CLR(curcpu, &map);
	if (!CPU_EMPTY(&map) &&
	    ((setup_func != smp_no_rendezvous_barrier) ||
	    (teardown_func != smp_no_rendezvous_barrier)))
		ks_failf("kernsim: rendezvous with setup/teardown barriers is "
		    "not modelled yet");
	hs_ipi_rendezvous((const unsigned long *)map.__bits,
	    (int)nitems(map.__bits));
	if (curcpumap != 0)
		k_rendezvous_action();
	while (atomic_load_acq_int(&smp_rv_waiters[3]) < ncpus)
		cpu_spinwait();
	atomic_store_rel_int(&smp_ipi_lock, 0);
	td->td_critnest--;
}

void
smp_rendezvous(void (*setup_func)(void *), void (*action_func)(void *),
    void (*teardown_func)(void *), void *arg)
{

	smp_rendezvous_cpus(all_cpus, setup_func, action_func, teardown_func,
	    arg);
}

/*
 * kern/subr_smp.c: smp_rendezvous_cpus_retry(): copy the map into
 * arg->cpus, rendezvous on the CPUs still in it, call wait_func(arg, cpu)
 * for each CPU whose action did not call smp_rendezvous_cpus_done(), and
 * repeat until the set is empty.
 */
void
smp_rendezvous_cpus_retry(cpuset_t map, void (*setup_func)(void *),
    void (*action_func)(void *), void (*teardown_func)(void *),
    void (*wait_func)(void *, int), struct smp_rendezvous_cpus_retry_arg *arg)
{
	int cpu;

	ks_rv_check("smp_rendezvous_cpus_retry", &map, setup_func,
	    action_func, teardown_func, wait_func, arg, sizeof(*arg));
	CPU_COPY(&map, &arg->cpus);
	if (ks_mutate_rendezvous_lies) {
		/* Self-test of the suite (-M rendezvous-lies): a barrier that
		 * says every CPU is done without asking any. */
		CPU_ZERO(&arg->cpus);
		return;
	}
	if (!smp_started) {
		curthread->td_critnest++;
		if (setup_func != NULL)
			setup_func(arg);
		if (action_func != NULL)
			action_func(arg);
		if (teardown_func != NULL)
			teardown_func(arg);
		curthread->td_critnest--;
		return;
	}
	for (;;) {
		smp_rendezvous_cpus(arg->cpus, setup_func, action_func,
		    teardown_func, arg);
		if (CPU_EMPTY(&arg->cpus))
			break;
		CPU_FOREACH(cpu) {
			if (!CPU_ISSET(cpu, &arg->cpus))
				continue;
			wait_func(arg, cpu);
		}
	}
}

/* kern/subr_smp.c: smp_rendezvous_cpus_done(): clear curcpu atomically. */
void
smp_rendezvous_cpus_done(struct smp_rendezvous_cpus_retry_arg *arg)
{

	u_int cpu = curcpu;

	/* CPU_CLR_ATOMIC; spelled out: 14's bitset words are signed. */
	atomic_clear_long((volatile u_long *)&arg->cpus.__bits[cpu /
	    (sizeof(long) * NBBY)], 1UL << (cpu % (sizeof(long) * NBBY)));
}

static void
ks_fence_seq_cst_issue(void *arg __unused)
{

	atomic_thread_fence_seq_cst();
}

/*
 * kern/subr_smp.c cpus_fence_seq_cst(): a sequentially consistent fence
 * on every CPU, by an IPI rendezvous (what lets a fast path use a compiler
 * barrier instead).
 */
void
cpus_fence_seq_cst(void)
{

	smp_rendezvous(smp_no_rendezvous_barrier, ks_fence_seq_cst_issue,
	    smp_no_rendezvous_barrier, NULL);
}
