/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: CPUs, threads, critical sections, per-CPU (zpcpu) memory.
 */

#include "ks.h"

#include <sys/smp.h>
#include <vm/uma.h>

/*
 * amd64 keeps the pcpu areas in one array, each padded to a page
 * (sys/amd64/include/pcpu.h: PCPU_MD_FIELDS "pad to UMA_PCPU_ALLOC_SIZE";
 * sys/amd64/amd64/mp_machdep.c: __pcpu).  zpcpu offsets are relative to
 * &__pcpu[0] (amd64/include/pcpu.h: zpcpu_offset_cpu, zpcpu_base_to_offset).
 */
static struct pcpu ks_pcpu_area[KSIM_MAXCPU] __aligned(PAGE_SIZE);
struct pcpu *__pcpu = ks_pcpu_area;	/* amd64: a pointer since 2019 */
_Static_assert(sizeof(struct pcpu) == PAGE_SIZE, "pcpu is a page on amd64");

u_int mp_maxid;
int mp_ncpus;
cpuset_t all_cpus;
volatile int smp_started;
static int ks_osreldate;

/* The kernel's own DPCPU set bounds (sys/sys/pcpu.h imports them into
 * every object; the modules have no set_pcpu of their own). */
uintptr_t *__start_set_pcpu;
uintptr_t *__stop_set_pcpu;

static struct proc ks_proc0;
static struct ks_thread *ks_idle[KSIM_MAXCPU];

void
k_init(int ncpu, int osrel)
{
	int i;

	ks_osreldate = osrel;
	mp_ncpus = ncpu;
	mp_maxid = ncpu - 1;
	CPU_ZERO(&all_cpus);
	ks_proc0.p_pid = 0;
	strlcpy(ks_proc0.p_comm, "kernsim", sizeof(ks_proc0.p_comm));
	for (i = 0; i < ncpu; i++) {
		CPU_SET(i, &all_cpus);
		__pcpu[i].pc_cpuid = i;
		__pcpu[i].pc_prvspace = &__pcpu[i];
		/* amd64/include/pcpu.h: zpcpu_offset_cpu() */
		__pcpu[i].pc_zpcpu_offset = (uintptr_t)&__pcpu[0] +
		    UMA_PCPU_ALLOC_SIZE * i;
		ks_idle[i] = k_thread_new("idle", NULL, 0, NULL);
		ks_idle[i]->kt_td.td_oncpu = i;
		__pcpu[i].pc_idlethread = &ks_idle[i]->kt_td;
		__pcpu[i].pc_curthread = &ks_idle[i]->kt_td;
	}
	/* kern/subr_smp.c: release_aps() sets smp_started once APs run. */
	smp_started = ncpu > 1;
}

void *
k_pcpu(int cpu)
{

	return (&__pcpu[cpu]);
}

void *
k_idlethread(int cpu)
{

	return (ks_idle[cpu]);
}

void *
k_thread_new(const char *name, void *stack_lo, unsigned long stack_size,
    void *host)
{
	struct ks_thread *kt;
	struct thread *td;

	kt = hs_alloc(sizeof(*kt), 64);
	td = &kt->kt_td;
	kt->kt_host = host;
	strlcpy(kt->kt_name, name, sizeof(kt->kt_name));
	strlcpy(td->td_name, name, sizeof(td->td_name));
	td->td_proc = &ks_proc0;
	td->td_oncpu = NOCPU;
	/*
	 * The kernel stack (host/vcpu.c: KSTACK_PAGES pages above a guard
	 * page; system calls run on it), so a scan of "the current thread's
	 * kernel stack" (devref's call marks) sees the live frames.  No
	 * trapframe (td_frame NULL).
	 */
	td->td_kstack = (vm_offset_t)stack_lo;
	td->td_kstack_pages = stack_size / PAGE_SIZE;
	td->td_frame = NULL;
	ks_seltdinit(td);
	return (kt);
}

void
k_thread_free(void *p)
{

	hs_dealloc(p);
}

void
k_switch_in(int cpu, void *td)
{
	struct thread *t = td;

	t->td_oncpu = cpu;
	t->td_lastcpu = cpu;
	atomic_store_rel_ptr((volatile uintptr_t *)&__pcpu[cpu].pc_curthread,
	    (uintptr_t)t);
}

void
k_switch_out(int cpu)
{
	struct thread *t = __pcpu[cpu].pc_curthread;

	t->td_oncpu = NOCPU;
	atomic_store_rel_ptr((volatile uintptr_t *)&__pcpu[cpu].pc_curthread,
	    (uintptr_t)__pcpu[cpu].pc_idlethread);
}

int
k_td_critnest(void *td)
{

	return (((struct thread *)td)->td_critnest);
}

/*
 * sys/sys/systm.h: critical_enter()/critical_exit() are inlines in the
 * kernel and calls (critical_enter_KBI) in modules; kern/kern_switch.c.
 * A critical section forbids preemption and migration; critical_exit at
 * nesting 0 is where a deferred preemption happens -- kernsim injects one
 * there (hs_preempt_point) to exercise code that relies on the section.
 */
void
critical_enter_KBI(void)
{

	curthread->td_critnest++;
	__compiler_membar();
}

void
critical_exit_KBI(void)
{
	struct thread *td = curthread;

	/* sys/sys/systm.h: KASSERT "critical_exit: td_critnest == 0" */
	if (td->td_critnest == 0)
		ks_failf("critical_exit: td_critnest == 0 (underflow)");
	__compiler_membar();
	td->td_critnest--;
	__compiler_membar();
	if (td->td_critnest == 0)
		hs_preempt_point();
}

void
critical_exit_preempt(void)
{
}

/*
 * UMA per-CPU zones (vm/uma_core.c: uma_zalloc_pcpu_arg,
 * uma_zfree_pcpu_arg): an item has one copy per CPU, UMA_PCPU_ALLOC_SIZE
 * apart; the caller gets zpcpu_base_to_offset(item), and M_ZERO zeroes
 * every CPU's copy.  pcpu_zone_64 (kern/subr_pcpu.c... vm/uma_core.c)
 * hands out 64-byte items.
 */
struct ks_pcpu_zone {
	size_t		size;
	const char	*name;
	u_long		allocated;
};
static struct ks_pcpu_zone ks_pcpu_zone_64 = { 64, "64 pcpu", 0 };
uma_zone_t pcpu_zone_64 = (uma_zone_t)&ks_pcpu_zone_64;

void *
uma_zalloc_pcpu_arg(uma_zone_t zone, void *udata, int flags)
{
	struct ks_pcpu_zone *z = (struct ks_pcpu_zone *)zone;
	char *item;
	u_int i;

	if (zone != pcpu_zone_64)
		ks_failf("uma_zalloc_pcpu_arg: unknown zone %p", zone);
	if ((flags & M_WAITOK) != 0 && curthread->td_critnest != 0)
		ks_failf("uma_zalloc_pcpu_arg: M_WAITOK in a critical section");
	/* One run of mp_maxid + 1 pages per item keeps it simple. */
	item = hs_alloc((mp_maxid + 1) * UMA_PCPU_ALLOC_SIZE, PAGE_SIZE);
	if ((flags & M_ZERO) == 0)
		for (i = 0; i <= mp_maxid; i++)
			memset(item + i * UMA_PCPU_ALLOC_SIZE, 0xde, z->size);
	atomic_add_long(&z->allocated, 1);
	hs_preempt_point();
	return (zpcpu_base_to_offset(item));
}

void
uma_zfree_pcpu_arg(uma_zone_t zone, void *pcpu_item, void *udata)
{
	struct ks_pcpu_zone *z = (struct ks_pcpu_zone *)zone;

	if (pcpu_item == NULL)
		return;
	if (zone != pcpu_zone_64)
		ks_failf("uma_zfree_pcpu_arg: unknown zone %p", zone);
	atomic_subtract_long(&z->allocated, 1);
	hs_dealloc(zpcpu_offset_to_base(pcpu_item));
}

long
ks_pcpu_zone_outstanding(void)
{

	return ((long)ks_pcpu_zone_64.allocated);
}

/* kern/kern_tc.c: binuptime(); kernsim's clock is the host's monotonic. */
void
binuptime(struct bintime *bt)
{
	unsigned long ns = hs_uptime_ns();

	bt->sec = ns / 1000000000UL;
	bt->frac = (uint64_t)(ns % 1000000000UL) * (uint64_t)18446744073ULL;
}

void
getbinuptime(struct bintime *bt)
{

	binuptime(bt);
}
