/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: vCPUs, threads in the kernel, preemption/migration
 * injection, IPIs, kernel threads, and the small host services the kernel
 * side uses (memory, locks, clock).
 *
 * A vCPU is a struct pcpu of the kernel side.  A host thread runs kernel
 * code only while it holds one: its GS base then points at that pcpu, as
 * on amd64 (curthread is %gs:0, PCPU_GET reads %gs:offset).  Sleeping or
 * blocking releases the vCPU; without one the GS base points at a guard
 * page, so kernel code running without a CPU faults by name.
 */

#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "ksim.h"

#ifndef HWCAP2_FSGSBASE
#define	HWCAP2_FSGSBASE	(1 << 1)
#endif
#define	SIGIPI		SIGUSR2
#define	SIGPREEMPT	SIGURG

/* Counters, printed at exit (ksim_stats). */
static volatile unsigned long st_ipi_signal, st_ipi_idle, st_migrate_kpi,
    st_migrate_timer, st_ticks, st_stalls;
static uint64_t rnd(struct hthread *ht);
static void kstack_account(struct hthread *ht);
int ksim_tick_us = 200;		/* timer preemption period; 0: off */

int ksim_ncpu = 4;
/* sys/amd64/include/param.h: KSTACK_PAGES 4 (16 KiB), one guard page
 * below (KSTACK_GUARD_PAGES). */
int ksim_kstack_pages = 4;
static size_t kstack_max_used;
int ksim_preempt_permille = 100;	/* at each injection point */

struct vcpu {
	struct hthread	*owner;
	volatile int	 ipi_pending;
	int		 borrowed;
};

static struct vcpu vcpus[KSIM_MAXCPU];
static pthread_mutex_t vcpu_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t vcpu_cv = PTHREAD_COND_INITIALIZER;
static pthread_t vcpu_owner_tid[KSIM_MAXCPU];
static int have_wrgsbase;
static void *gs_guard;
static __thread struct hthread *self;
static pthread_mutex_t hs_locks[HS_NLOCKS];

/* The simulated threads' stacks, for "is this writable memory". */
#define	MAXTHREADS	256
static struct hthread *threads[MAXTHREADS];
static pthread_mutex_t threads_mtx = PTHREAD_MUTEX_INITIALIZER;

static void
set_gsbase(void *p)
{

	if (have_wrgsbase)
		__asm__ __volatile__("wrgsbase %0" : : "r"(p) : "memory");
	else if (syscall(SYS_arch_prctl, ARCH_SET_GS, p) != 0)
		ksim_failf("kernsim: arch_prctl(ARCH_SET_GS): %s",
		    strerror(errno));
}

static void *
get_gsbase(void)
{
	void *p;

	if (have_wrgsbase) {
		__asm__ __volatile__("rdgsbase %0" : "=r"(p));
		return (p);
	}
	if (syscall(SYS_arch_prctl, ARCH_GET_GS, &p) != 0)
		return (NULL);
	return (p);
}

static void
ipi_handler(int sig, siginfo_t *si, void *uc)
{
	struct hthread *ht = self;
	int cpu;

	if (ht == NULL || (cpu = ht->cpu) < 0)
		return;
	/* An interrupt drains the CPU's store buffer first. */
	ksim_storebuf_drain(ht);
	if (__atomic_exchange_n(&vcpus[cpu].ipi_pending, 0,
	    __ATOMIC_ACQ_REL) != 0)
		ksim_k_rendezvous_action();
}

static void
block_ipi(sigset_t *old)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGIPI);
	sigaddset(&s, SIGPREEMPT);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

static void
restore_ipi(const sigset_t *old)
{

	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * Timer preemption (kern/sched_ule.c: a clock interrupt may preempt a
 * thread anywhere outside a critical section): the ticker signals the
 * thread on a random vCPU; if it is executing module text with
 * td_critnest == 0 it gives up its CPU and resumes on another.  Only
 * module text: the kernel side and the host may hold host locks.
 */
static void
preempt_handler(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	struct hthread *ht = self;
	int old, e = errno;

	if (ht == NULL || ht->cpu < 0 || ht->nopreempt != 0)
		return;
	if (!ksim_pc_in_module_text((void *)uc->uc_mcontext.gregs[REG_RIP]))
		return;
	if (ksim_k_td_critnest(ht->td) != 0) {
		/*
		 * In a critical section an interrupt still runs, and may be
		 * long: stall the CPU here (without giving it up), which
		 * widens every window a critical section protects -- the
		 * IPI barrier must still see through it.
		 */
		struct timespec st;

		st.tv_sec = 0;
		st.tv_nsec = (long)(50 + rnd(ht) % 950) * 1000;
		while (nanosleep(&st, &st) != 0 && errno == EINTR)
			;
		__atomic_add_fetch(&st_stalls, 1, __ATOMIC_RELAXED);
		errno = e;
		return;
	}
	old = ht->cpu;
	ksim_vcpu_release(ht);
	sched_yield();
	ksim_vcpu_acquire(ht, old);
	__atomic_add_fetch(&st_migrate_timer, 1, __ATOMIC_RELAXED);
	errno = e;
}

static void *
ticker_main(void *arg)
{
	struct timespec ts;
	uint64_t r = 88172645463325252ULL;
	int cpu;

	ts.tv_sec = 0;
	ts.tv_nsec = ksim_tick_us * 1000L;
	for (;;) {
		nanosleep(&ts, NULL);
		r ^= r << 13;
		r ^= r >> 7;
		r ^= r << 17;
		cpu = (int)(r % (uint64_t)ksim_ncpu);
		pthread_mutex_lock(&vcpu_mtx);
		if (vcpus[cpu].owner != NULL) {
			pthread_kill(vcpu_owner_tid[cpu], SIGPREEMPT);
			st_ticks++;
		}
		pthread_mutex_unlock(&vcpu_mtx);
	}
	return (NULL);
}

void
ksim_stats(void)
{
	int i;

	ksim_storebuf_stats();
	pthread_mutex_lock(&threads_mtx);
	for (i = 0; i < MAXTHREADS; i++)
		if (threads[i] != NULL) {
			pthread_mutex_unlock(&threads_mtx);
			kstack_account(threads[i]);
			pthread_mutex_lock(&threads_mtx);
		}
	pthread_mutex_unlock(&threads_mtx);

	printf("kernsim: stats: %d vCPUs, IPIs by signal %lu, to idle vCPUs "
	    "%lu, migrations at KPI calls %lu, timer ticks %lu, timer "
	    "migrations %lu, stalls in critical sections %lu, deepest kernel "
	    "stack %zu of %d bytes\n", ksim_ncpu, st_ipi_signal, st_ipi_idle,
	    st_migrate_kpi, st_ticks, st_migrate_timer, st_stalls,
	    kstack_max_used, ksim_kstack_pages * KSIM_PAGE_SIZE);
}

void
ksim_vcpu_init(int ncpu)
{
	struct sigaction sa;
	int i;

	ksim_ncpu = ncpu;
	have_wrgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) != 0;
	gs_guard = mmap(NULL, 4 * KSIM_PAGE_SIZE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (gs_guard == MAP_FAILED)
		ksim_failf("kernsim: mmap of the GS guard failed");
	for (i = 0; i < HS_NLOCKS; i++)
		pthread_mutex_init(&hs_locks[i], NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = ipi_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGIPI, &sa, NULL);
	sa.sa_sigaction = preempt_handler;
	sigaction(SIGPREEMPT, &sa, NULL);
	ksim_k_init(ncpu, KSIM_KERNEL_RELEASE);
	if (ksim_tick_us > 0 && ksim_preempt_permille > 0) {
		pthread_t t;
		sigset_t all, old;

		/* The ticker takes no signal of ours. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pthread_create(&t, NULL, ticker_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_detach(t);
	}
}

int
ksim_gs_is_guard(const void *p)
{

	return ((const char *)p >= (const char *)gs_guard &&
	    (const char *)p < (const char *)gs_guard + 4 * KSIM_PAGE_SIZE);
}

struct hthread *
ksim_self(void)
{

	return (self);
}

/* Make the calling host thread a simulated thread (its stack stands for
 * the kernel stack). */
struct hthread *
ksim_thread_attach(const char *name)
{
	struct hthread *ht;
	pthread_attr_t attr;
	stack_t ss;
	int i;

	if (self != NULL)
		return (self);
	ht = calloc(1, sizeof(*ht));
	ht->cpu = -1;
	snprintf(ht->name, sizeof(ht->name), "%s", name);
	ht->rng = (uint64_t)(uintptr_t)ht * 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)time(NULL);
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &ht->stack_lo, &ht->stack_size);
		pthread_attr_destroy(&attr);
	}
	ht->altstack = malloc(64 * 1024);
	ss.ss_sp = ht->altstack;
	ss.ss_size = 64 * 1024;
	ss.ss_flags = 0;
	sigaltstack(&ss, NULL);
	/* vm/vm_glue.c vm_thread_stack_create: the stack with an
	 * inaccessible guard page below it. */
	ht->kstack_map = mmap(NULL, (ksim_kstack_pages + 1) * KSIM_PAGE_SIZE,
	    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ht->kstack_map == MAP_FAILED)
		ksim_failf("kernsim: no memory for a kernel stack");
	mprotect(ht->kstack_map, KSIM_PAGE_SIZE, PROT_NONE);
	ht->kstack = ht->kstack_map + KSIM_PAGE_SIZE;
	ht->td = ksim_k_thread_new(name, ht->kstack,
	    (unsigned long)ksim_kstack_pages * KSIM_PAGE_SIZE, ht);
	pthread_mutex_lock(&threads_mtx);
	for (i = 0; i < MAXTHREADS; i++)
		if (threads[i] == NULL) {
			threads[i] = ht;
			break;
		}
	pthread_mutex_unlock(&threads_mtx);
	set_gsbase(gs_guard);
	self = ht;
	return (ht);
}

void
ksim_thread_detach(void)
{
	struct hthread *ht = self;
	stack_t ss;
	int i;

	if (ht == NULL)
		return;
	if (ht->cpu >= 0)
		ksim_failf("kernsim: thread %s leaves holding vCPU %d",
		    ht->name, ht->cpu);
	pthread_mutex_lock(&threads_mtx);
	for (i = 0; i < MAXTHREADS; i++)
		if (threads[i] == ht)
			threads[i] = NULL;
	pthread_mutex_unlock(&threads_mtx);
	memset(&ss, 0, sizeof(ss));
	ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, NULL);
	self = NULL;
	kstack_account(ht);
	munmap(ht->kstack_map, (ksim_kstack_pages + 1) * KSIM_PAGE_SIZE);
	ksim_k_thread_free(ht->td);
	free(ht->altstack);
	free(ht);
}

int
ksim_in_stack(const void *p, size_t len)
{
	size_t ks = (size_t)ksim_kstack_pages * KSIM_PAGE_SIZE;
	int i, r = 0;

	pthread_mutex_lock(&threads_mtx);
	for (i = 0; i < MAXTHREADS && !r; i++) {
		struct hthread *ht = threads[i];

		if (ht == NULL)
			continue;
		if ((const char *)p >= (char *)ht->stack_lo &&
		    (const char *)p + len <= (char *)ht->stack_lo +
		    ht->stack_size)
			r = 1;
		if ((const char *)p >= ht->kstack &&
		    (const char *)p + len <= ht->kstack + ks)
			r = 1;
	}
	pthread_mutex_unlock(&threads_mtx);
	return (r);
}

/* The thread whose kernel stack guard page holds addr (a stack overflow). */
int
ksim_kstack_guard_owner(const void *addr, char *name, size_t len)
{
	int i, r = 0;

	for (i = 0; i < MAXTHREADS && !r; i++) {
		struct hthread *ht = threads[i];

		if (ht != NULL && (const char *)addr >= ht->kstack_map &&
		    (const char *)addr < ht->kstack) {
			snprintf(name, len, "%s", ht->name);
			r = 1;
		}
	}
	return (r);
}

/* How deep the kernel stack went: the lowest byte no longer zero. */
static void
kstack_account(struct hthread *ht)
{
	size_t ks = (size_t)ksim_kstack_pages * KSIM_PAGE_SIZE, i;

	for (i = 0; i < ks && ht->kstack[i] == 0; i++)
		;
	pthread_mutex_lock(&threads_mtx);
	if (ks - i > kstack_max_used)
		kstack_max_used = ks - i;
	pthread_mutex_unlock(&threads_mtx);
}

/*
 * Switch to the kernel stack for fn(arg) and back (the frame pointer
 * keeps the way home; CFI lets backtraces cross it).
 */
void	ksim_kstack_call(void (*fn)(void *), void *arg, void *top);
__asm__(
	".text\n"
	".globl ksim_kstack_call\n"
	".type ksim_kstack_call,@function\n"
	"ksim_kstack_call:\n"
	".cfi_startproc\n"
	"	pushq %rbp\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset %rbp, -16\n"
	"	movq %rsp, %rbp\n"
	".cfi_def_cfa_register %rbp\n"
	"	movq %rdx, %rsp\n"
	"	movq %rdi, %rax\n"
	"	movq %rsi, %rdi\n"
	"	callq *%rax\n"
	"	movq %rbp, %rsp\n"
	"	popq %rbp\n"
	".cfi_def_cfa %rsp, 8\n"
	"	retq\n"
	".cfi_endproc\n"
	".size ksim_kstack_call, .-ksim_kstack_call\n");

struct sc_frame {
	const char	*what;
	void		(*fn)(void *);
	void		*arg;
};

static void
syscall_on_kstack(void *p)
{
	struct sc_frame *f = p;

	ksim_enter();
	f->fn(f->arg);
	ksim_leave(f->what);
}

void
ksim_syscall(const char *what, void (*fn)(void *), void *arg)
{
	struct hthread *ht = self;
	struct sc_frame f = { what, fn, arg };

	if (ht == NULL)
		ht = ksim_thread_attach("user");
	if (ht->on_kstack)
		ksim_failf("kernsim: nested system call (%s) on %s", what,
		    ht->name);
	ht->on_kstack = 1;
	ksim_kstack_call(syscall_on_kstack, &f,
	    ht->kstack + (size_t)ksim_kstack_pages * KSIM_PAGE_SIZE);
	ht->on_kstack = 0;
}

static uint64_t
rnd(struct hthread *ht)
{

	ht->rng ^= ht->rng << 13;
	ht->rng ^= ht->rng >> 7;
	ht->rng ^= ht->rng << 17;
	return (ht->rng);
}

/* Run the rendezvous IPIs pending on the vCPU this thread holds. */
static void
run_pending_ipi(struct hthread *ht)
{

	while (ht->cpu >= 0 && __atomic_exchange_n(
	    &vcpus[ht->cpu].ipi_pending, 0, __ATOMIC_ACQ_REL) != 0)
		ksim_k_rendezvous_action();
}

void
ksim_vcpu_acquire(struct hthread *ht, int avoid)
{
	sigset_t old;
	int i, n, cand[KSIM_MAXCPU], nc;

	block_ipi(&old);
	pthread_mutex_lock(&vcpu_mtx);
	for (;;) {
		nc = 0;
		for (i = 0; i < ksim_ncpu; i++)
			if (vcpus[i].owner == NULL && !vcpus[i].borrowed &&
			    i != avoid)
				cand[nc++] = i;
		if (nc == 0 && avoid >= 0 && vcpus[avoid].owner == NULL &&
		    !vcpus[avoid].borrowed)
			cand[nc++] = avoid;
		if (nc > 0)
			break;
		pthread_cond_wait(&vcpu_cv, &vcpu_mtx);
	}
	n = cand[rnd(ht) % nc];
	vcpus[n].owner = ht;
	vcpu_owner_tid[n] = pthread_self();
	ht->cpu = n;
	ksim_k_switch_in(n, ht->td);
	set_gsbase(ksim_k_pcpu(n));
	pthread_mutex_unlock(&vcpu_mtx);
	restore_ipi(&old);
}

void
ksim_vcpu_release(struct hthread *ht)
{
	sigset_t old;
	int n = ht->cpu;

	if (n < 0)
		ksim_failf("kernsim: releasing no vCPU");
	block_ipi(&old);
	ksim_storebuf_drain(ht);
	run_pending_ipi(ht);
	pthread_mutex_lock(&vcpu_mtx);
	while (vcpus[n].ipi_pending) {
		pthread_mutex_unlock(&vcpu_mtx);
		run_pending_ipi(ht);
		pthread_mutex_lock(&vcpu_mtx);
	}
	ksim_k_switch_out(n);
	vcpus[n].owner = NULL;
	ht->cpu = -1;
	set_gsbase(gs_guard);
	pthread_cond_broadcast(&vcpu_cv);
	pthread_mutex_unlock(&vcpu_mtx);
	restore_ipi(&old);
}

/* A system call or kernel thread enters the kernel. */
void
ksim_enter(void)
{
	struct hthread *ht = self;

	if (ht == NULL)
		ht = ksim_thread_attach("user");
	if (ht->cpu >= 0)
		ksim_failf("kernsim: nested kernel entry on %s", ht->name);
	ksim_vcpu_acquire(ht, -1);
}

void
ksim_leave(const char *what)
{
	struct hthread *ht = self;

	ksim_k_userret(what);
	ksim_vcpu_release(ht);
}

/*
 * Preemption and migration, injected where the kernel could preempt: the
 * thread is not in a critical section (td_critnest == 0) and holds no
 * host lock.  A preempted thread gives up its vCPU and may come back on
 * another one (kern/sched_ule.c: a thread not pinned and not in a critical
 * section may run on any CPU after a switch).
 */
void
ksim_hs_preempt_point(void)
{
	struct hthread *ht = self;
	int old;

	if (ht == NULL || ht->cpu < 0 || ht->nopreempt != 0 ||
	    ksim_preempt_permille == 0)
		return;
	if (ksim_k_td_critnest(ht->td) != 0)
		return;
	if ((int)(rnd(ht) % 1000) >= ksim_preempt_permille)
		return;
	old = ht->cpu;
	ksim_vcpu_release(ht);
	sched_yield();
	ksim_vcpu_acquire(ht, old);
	__atomic_add_fetch(&st_migrate_kpi, 1, __ATOMIC_RELAXED);
}

/*
 * The rendezvous IPI (kern/subr_smp.c: ipi_selected(IPI_RENDEZVOUS)): to a
 * vCPU held by a thread, a signal that interrupts it wherever it is
 * (critical sections block preemption, not interrupts); an idle vCPU runs
 * the action at once on the sender's host thread with %gs switched to it
 * (its curthread is its idle thread).
 */
void
ksim_hs_ipi_rendezvous(const unsigned long *mask, int nwords)
{
	struct hthread *ht = self;
	sigset_t old;
	void *mygs;
	int cpu;

	for (cpu = 0; cpu < ksim_ncpu && cpu / 64 < nwords; cpu++) {
		if ((mask[cpu / 64] & (1UL << (cpu % 64))) == 0)
			continue;
		pthread_mutex_lock(&vcpu_mtx);
		if (vcpus[cpu].owner != NULL) {
			if (vcpus[cpu].owner == ht)
				ksim_failf("kernsim: IPI to the sender's CPU");
			__atomic_store_n(&vcpus[cpu].ipi_pending, 1,
			    __ATOMIC_RELEASE);
			pthread_kill(vcpu_owner_tid[cpu], SIGIPI);
			pthread_mutex_unlock(&vcpu_mtx);
			__atomic_add_fetch(&st_ipi_signal, 1, __ATOMIC_RELAXED);
			continue;
		}
		vcpus[cpu].borrowed = 1;
		pthread_mutex_unlock(&vcpu_mtx);
		__atomic_add_fetch(&st_ipi_idle, 1, __ATOMIC_RELAXED);
		block_ipi(&old);
		mygs = get_gsbase();
		set_gsbase(ksim_k_pcpu(cpu));
		ksim_k_rendezvous_action();
		set_gsbase(mygs);
		restore_ipi(&old);
		pthread_mutex_lock(&vcpu_mtx);
		vcpus[cpu].borrowed = 0;
		pthread_cond_broadcast(&vcpu_cv);
		pthread_mutex_unlock(&vcpu_mtx);
	}
}

/* ---- kernel threads ---- */

struct kthread_start {
	char	 name[32];
	void	 (*fn)(void *);
	void	*arg;
};

static void *
kthread_main(void *p)
{
	struct kthread_start ks = *(struct kthread_start *)p;

	free(p);
	ksim_thread_attach(ks.name);
	ksim_syscall("kthread_exit", ks.fn, ks.arg);
	ksim_thread_detach();
	return (NULL);
}

void *
ksim_hs_kthread_create(const char *name, void (*fn)(void *), void *arg)
{
	struct kthread_start *ks;
	pthread_attr_t attr;
	pthread_t t;

	ks = calloc(1, sizeof(*ks));
	snprintf(ks->name, sizeof(ks->name), "%s", name);
	ks->fn = fn;
	ks->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&t, &attr, kthread_main, ks) != 0)
		ksim_failf("kernsim: cannot create kernel thread %s", name);
	pthread_attr_destroy(&attr);
	return (NULL);
}

void
ksim_hs_kthread_join(void *h)
{
}

/* ---- small services ---- */

void *
ksim_hs_alloc(unsigned long size, unsigned long align)
{
	void *p;

	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&p, align, size == 0 ? 1 : size) != 0)
		ksim_failf("kernsim: out of memory (%lu bytes)", size);
	memset(p, 0, size);
	return (p);
}

void
ksim_hs_dealloc(void *p)
{

	free(p);
}

void
ksim_hs_lock(int which)
{

	pthread_mutex_lock(&hs_locks[which]);
	if (self != NULL)
		self->nopreempt++;
}

void
ksim_hs_unlock(int which)
{

	if (self != NULL)
		self->nopreempt--;
	pthread_mutex_unlock(&hs_locks[which]);
}

unsigned long
ksim_hs_uptime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((unsigned long)ts.tv_sec * 1000000000UL + ts.tv_nsec);
}

int
ksim_hs_signal_pending(void)
{

	return (self != NULL ? self->sigpending : 0);
}
