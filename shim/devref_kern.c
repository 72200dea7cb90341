/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * Kernel services for devref's Rust code: thin wrappers for KPI macros and
 * inlines (mtx(9), msleep(9), zpcpu, critical sections, the IPI barrier).  No logic lives here; see rust/kernel/devref-kmod/src/platform.rs
 * for how the gate uses them.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/limits.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mutex.h>
#include <sys/pcpu.h>
#include <sys/proc.h>
#include <sys/smp.h>
#include <sys/sysctl.h>
#include <sys/taskqueue.h>
#include <sys/time.h>
#include <vm/uma.h>

#include "devref_shim.h"

MALLOC_DEFINE(M_DEVREF, "devref", "devref device framework");

/* A day: far below sbintime_t's 2^31 s, far above any useful timeout. */
#define	DEVREF_SLEEP_MAX_NS	(86400ULL * 1000000000ULL)

struct devref_lock {
	struct mtx	dl_mtx;
};

/*
 * The module must see the kernel's configuration: a build without the
 * kernel's SMP option (an empty opt_global.h) has MAXCPU 1 and an 8-byte
 * cpuset_t, and every structure or by-value argument sized by them differs
 * from the kernel's.  cpuset_t's size is the detector.  mk/opt/ holds the
 * options kmod.mk would give.
 */
#ifndef DEVREF_KBI_NEGATIVE_TEST	/* make kbi-negative-check only */
_Static_assert(MAXCPU > 1 && sizeof(cpuset_t) == CPU_MAXSIZE / NBBY,
    "cpuset_t is not the kernel's: build with the SMP option (mk/opt/)");
#endif

void *
devref_shim_alloc(unsigned long size, unsigned long align)
{

	/*
	 * malloc_aligned(9) is the KPI that promises alignment: it rounds the
	 * size up to a power of two, whose malloc zone is aligned to it.  Its
	 * own checks are KASSERTs, absent from a release kernel: make them
	 * here.  Above a page plain malloc(9) is aligned to a page already
	 * (power-of-two zones, then page-aligned large allocations) and
	 * rounding would waste up to half.  An M_WAITOK request the kernel
	 * cannot satisfy sleeps for ever: refuse sizes past DEVREF_ALLOC_MAX.
	 */
	if (align == 0 || !powerof2(align) || align > PAGE_SIZE ||
	    size > DEVREF_ALLOC_MAX)
		return (NULL);
	if (size > PAGE_SIZE)
		return (malloc(size, M_DEVREF, M_WAITOK | M_ZERO));
	return (malloc_aligned(MAX(size, 1), align, M_DEVREF,
	    M_WAITOK | M_ZERO));
}

void
devref_shim_free(void *p)
{

	free(p, M_DEVREF);
}

void
devref_shim_log(const char *msg, unsigned long len)
{

	printf("%.*s\n", (int)MIN(len, 1024), msg);
}

void *
devref_shim_pcpu_alloc(void)
{

	return (uma_zalloc_pcpu(pcpu_zone_64, M_WAITOK | M_ZERO));
}

void
devref_shim_pcpu_free(void *base)
{

	uma_zfree_pcpu(pcpu_zone_64, base);
}

void
devref_shim_critical_enter(void)
{

	critical_enter();
}

void
devref_shim_critical_exit(void)
{

	critical_exit();
}

unsigned int
devref_shim_cpu_count(void)
{

	return (mp_maxid + 1);
}

void *
devref_shim_pcpu_slot(void *base, unsigned int cpu)
{

	if (cpu > mp_maxid)
		return (NULL);
	return (zpcpu_get_cpu(base, cpu));
}

/*
 * The gates' barrier (docs/design.md, section 6): an IPI to every CPU that
 * runs a seq_cst fence there.  Where it interrupts a CPU is that CPU's point
 * P: the fast path's one-instruction adds before it are visible to the
 * caller when this returns, and its loads of the closing flag after it see
 * the store the caller made before calling.  No per-CPU check, no retry.
 */
void
devref_shim_barrier(void)
{

	cpus_fence_seq_cst();
}

struct devref_lock *
devref_shim_lock_new(const char *name)
{
	struct devref_lock *l;

	l = malloc(sizeof(*l), M_DEVREF, M_WAITOK | M_ZERO);
	mtx_init(&l->dl_mtx, name, NULL, MTX_DEF);
	return (l);
}

void
devref_shim_lock_free(struct devref_lock *l)
{

	mtx_destroy(&l->dl_mtx);
	free(l, M_DEVREF);
}

void
devref_shim_lock(struct devref_lock *l)
{

	mtx_lock(&l->dl_mtx);
}

void
devref_shim_unlock(struct devref_lock *l)
{

	mtx_unlock(&l->dl_mtx);
}

int
devref_shim_sleep(struct devref_lock *l, const void *chan,
    unsigned long timeout_ns)
{
	sbintime_t sbt;
	int error;

	/*
	 * 0 means "no timeout" to msleep_sbt(9), as to us.  sbintime_t holds
	 * 2^31 s; a longer timeout is as good as none but must not overflow.
	 */
	sbt = timeout_ns == 0 ? 0 :
	    nstosbt((int64_t)MIN(timeout_ns, DEVREF_SLEEP_MAX_NS));
	if (timeout_ns != 0 && sbt == 0)
		sbt = 1;
	/*
	 * ERESTART (a signal whose handler has SA_RESTART) goes up as it is:
	 * the client's sleep passes it on so that the system call restarts;
	 * devref's own waits (drain, unload) treat it as EINTR.
	 */
	error = msleep_sbt(chan, &l->dl_mtx, PCATCH, "devref", sbt, 0, 0);
	return (error);
}

void
devref_shim_wakeup(const void *chan)
{

	wakeup(chan);
}

unsigned long
devref_shim_uptime_ns(void)
{

	return ((unsigned long)sbttons(sbinuptime()));
}

unsigned long devref_call_mark_key;

/* MOD_LOAD, before any device exists: a fresh secret for the marks. */
void
devref_shim_call_mark_init(void)
{

	arc4random_buf(&devref_call_mark_key, sizeof(devref_call_mark_key));
}

void
devref_shim_call_mark(unsigned long *mark, unsigned long node)
{

	(void)devref_call_mark_set(mark, node);
}

int
devref_shim_in_call(const void *node)
{
	struct thread *td;
	const unsigned long *p, *top;

	td = curthread;
	/*
	 * Stop below the trapframe: above it lie the user's registers, which
	 * the user could fill with a mark.
	 */
	top = (const unsigned long *)(td->td_frame != NULL ?
	    (vm_offset_t)td->td_frame :
	    td->td_kstack + ptoa(td->td_kstack_pages));
	/* Live frames are above ours: the stack grows down. */
	p = __builtin_frame_address(0);
	if ((vm_offset_t)p < td->td_kstack || p >= top)
		return (0);
	for (; p + 1 < top; p++)
		if (p[0] == DEVREF_CALL_MAGIC && p[1] == ((unsigned long)node ^
		    (unsigned long)(uintptr_t)p ^ devref_call_mark_key))
			return (1);
	return (0);
}

/*
 * May the current thread sleep (and so take a sleep mutex, run an IPI
 * rendezvous, malloc with M_WAITOK)?  KASSERT, MPASS and WITNESS_WARN are
 * empty in a module build even on a debug kernel, so the KPI checks this
 * itself at each entry that may sleep and answers an error instead of
 * hanging or panicking later.
 */
int
devref_shim_context(void)
{
	struct thread *td;

	td = curthread;
	/* Spin locks and interrupt filters run in critical sections too. */
	if (td->td_critnest != 0)
		return (DEVREF_CTX_CRITICAL);
	/*
	 * Interrupt threads, callouts, epoch sections, rmlock read sections,
	 * devref's own kqueue filters: THREAD_NO_SLEEPING().  They may take
	 * sleep mutexes, not sleep.
	 */
	if (!THREAD_CAN_SLEEP())
		return (DEVREF_CTX_NO_SLEEPING);
	/* Counted on every kernel, unlike td_locks (INVARIANTS only). */
	if (td->td_rw_rlocks != 0)
		return (DEVREF_CTX_RW_RLOCKED);
	return (DEVREF_CTX_OK);
}

struct devref_deferred {
	struct task	dd_task;
	void		(*dd_fn)(void *);
	void		*dd_arg;
};

static void
devref_deferred_run(void *arg, int pending __unused)
{
	struct devref_deferred *dd;

	dd = arg;
	dd->dd_fn(dd->dd_arg);
	free(dd, M_DEVREF);
}

static struct taskqueue *devref_taskq;

int
devref_shim_taskq_init(void)
{

	devref_taskq = taskqueue_create("devref", M_WAITOK,
	    taskqueue_thread_enqueue, &devref_taskq);
	if (devref_taskq == NULL)
		return (ENOMEM);
	return (taskqueue_start_threads(&devref_taskq, 1, PWAIT,
	    "devref taskq"));
}

void
devref_shim_taskq_fini(void)
{

	if (devref_taskq == NULL)
		return;
	taskqueue_drain_all(devref_taskq);
	taskqueue_free(devref_taskq);
	devref_taskq = NULL;
}

struct taskqueue *
devref_shim_taskq(void)
{

	return (devref_taskq);
}

void
devref_shim_task_enqueue(struct task *task)
{

	taskqueue_enqueue(devref_taskq, task);
}

void
devref_shim_task_cancel_or_drain(struct task *task)
{

	if (taskqueue_cancel(devref_taskq, task, NULL) != 0)
		taskqueue_drain(devref_taskq, task);
}

void
devref_shim_defer(void (*fn)(void *), void *arg)
{
	struct devref_deferred *dd;

	dd = malloc(sizeof(*dd), M_DEVREF, M_WAITOK | M_ZERO);
	dd->dd_fn = fn;
	dd->dd_arg = arg;
	TASK_INIT(&dd->dd_task, 0, devref_deferred_run, dd);
	taskqueue_enqueue(devref_taskq, &dd->dd_task);
}

static SYSCTL_NODE(_kern, OID_AUTO, devref, CTLFLAG_RD | CTLFLAG_MPSAFE, 0,
    "devref device framework");

static int devref_kpi_version = DEVREF_KPI_VERSION;
SYSCTL_INT(_kern_devref, OID_AUTO, kpi_version, CTLFLAG_RD,
    &devref_kpi_version, 0, "Client KPI version");

static int
devref_sysctl_report(SYSCTL_HANDLER_ARGS)
{
	unsigned long len;
	char *buf;
	int error;

	buf = devref_rs_report(arg2, &len);
	if (buf == NULL)
		return (ENOMEM);
	error = SYSCTL_OUT(req, buf, len + 1);
	free(buf, M_DEVREF);
	return (error);
}

/*
 * The reports run devref code and use its registry, so they are dynamic
 * oids: sysctl counts their running handlers, and removing them at
 * MOD_UNLOAD waits for those (static oids are unregistered by the linker
 * without waiting).
 */
static struct sysctl_ctx_list devref_sysctl_ctx;
static bool devref_sysctl_inited;

void
devref_shim_sysctl_init(void)
{

	sysctl_ctx_init(&devref_sysctl_ctx);
	devref_sysctl_inited = true;
	SYSCTL_ADD_PROC(&devref_sysctl_ctx,
	    SYSCTL_STATIC_CHILDREN(_kern_devref), OID_AUTO, "devices",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, NULL,
	    DEVREF_REPORT_DEVICES, devref_sysctl_report, "A",
	    "Devices and tombstones: name mode client state incarnation calls "
	    "inside drains last_drain_us open_files");
	SYSCTL_ADD_PROC(&devref_sysctl_ctx,
	    SYSCTL_STATIC_CHILDREN(_kern_devref), OID_AUTO, "clients",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, NULL,
	    DEVREF_REPORT_CLIENTS, devref_sysctl_report, "A",
	    "Registered clients: id name devices registered_since_s");
	SYSCTL_ADD_PROC(&devref_sysctl_ctx,
	    SYSCTL_STATIC_CHILDREN(_kern_devref), OID_AUTO, "regions",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, NULL,
	    DEVREF_REPORT_REGIONS, devref_sysctl_report, "A",
	    "Revocable memory: regions pages_held graveyard objects_alive "
	    "revocations pages_freed");
}

/* Removes the report oids, waiting for handlers still running. */
int
devref_shim_sysctl_fini(void)
{
	int error;

	if (!devref_sysctl_inited)
		return (0);
	error = sysctl_ctx_free(&devref_sysctl_ctx);
	if (error == 0)
		devref_sysctl_inited = false;
	return (error);
}

/*
 * Per-device counters: kern.devref.dev.<name>.{mode,calls,inside,drains,
 * last_drain_us,incarnation,open_files,alive}.  Each reads one value from
 * the node through devref_rs_node_stat().
 */
static SYSCTL_NODE(_kern_devref, OID_AUTO, dev, CTLFLAG_RD | CTLFLAG_MPSAFE,
    0, "Per-device counters, by device name");

struct devref_stats {
	struct sysctl_ctx_list	ds_ctx;
};

static int
devref_sysctl_node_stat(SYSCTL_HANDLER_ARGS)
{
	uint64_t v;

	v = devref_rs_node_stat(arg1, arg2);
	return (sysctl_handle_64(oidp, &v, 0, req));
}

static int
devref_sysctl_node_mode(SYSCTL_HANDLER_ARGS)
{
	const char *mode;

	mode = devref_rs_node_stat(arg1, DEVREF_STAT_MODE) ==
	    DEVREF_MODE_PCPU ? "pcpu" : "counted";
	return (SYSCTL_OUT(req, mode, strlen(mode) + 1));
}

static const struct {
	const char	*name;
	int		 stat;
	const char	*descr;
} devref_stat_oids[] = {
	{ "calls", DEVREF_STAT_CALLS, "Calls that entered the device" },
	{ "inside", DEVREF_STAT_INSIDE, "Calls inside now" },
	{ "drains", DEVREF_STAT_DRAINS, "Completed drains" },
	{ "failed_drains", DEVREF_STAT_FAILED_DRAINS,
	    "Drains that timed out or were interrupted" },
	{ "last_drain_us", DEVREF_STAT_LAST_DRAIN_US,
	    "Duration of the last completed drain (us)" },
	{ "incarnation", DEVREF_STAT_INCARNATION, "Current incarnation" },
	{ "open_files", DEVREF_STAT_OPEN_FILES,
	    "Open files holding client state" },
	{ "alive", DEVREF_STAT_ALIVE, "1 while the device takes calls" },
	{ "regions", DEVREF_STAT_REGIONS,
	    "Regions of revocable memory the device has" },
	{ "pages_held", DEVREF_STAT_PAGES_HELD, "Pages in those regions" },
};

struct devref_stats *
devref_shim_stats_publish(const char *name, void *node)
{
	struct devref_stats *ds;
	struct sysctl_oid *oid;
	size_t i;

	ds = malloc(sizeof(*ds), M_DEVREF, M_WAITOK | M_ZERO);
	sysctl_ctx_init(&ds->ds_ctx);
	oid = SYSCTL_ADD_NODE(&ds->ds_ctx,
	    SYSCTL_STATIC_CHILDREN(_kern_devref_dev), OID_AUTO, name,
	    CTLFLAG_RD | CTLFLAG_MPSAFE, NULL, "devref device");
	if (oid == NULL) {
		sysctl_ctx_free(&ds->ds_ctx);
		free(ds, M_DEVREF);
		return (NULL);
	}
	SYSCTL_ADD_PROC(&ds->ds_ctx, SYSCTL_CHILDREN(oid), OID_AUTO, "mode",
	    CTLTYPE_STRING | CTLFLAG_RD | CTLFLAG_MPSAFE, node, 0,
	    devref_sysctl_node_mode, "A", "pcpu or counted");
	for (i = 0; i < nitems(devref_stat_oids); i++)
		SYSCTL_ADD_PROC(&ds->ds_ctx, SYSCTL_CHILDREN(oid), OID_AUTO,
		    devref_stat_oids[i].name,
		    CTLTYPE_U64 | CTLFLAG_RD | CTLFLAG_MPSAFE, node,
		    devref_stat_oids[i].stat, devref_sysctl_node_stat, "QU",
		    devref_stat_oids[i].descr);
	return (ds);
}

/* Waits for handlers running on these oids (they are dynamic). */
void
devref_shim_stats_unpublish(struct devref_stats *ds)
{

	if (sysctl_ctx_free(&ds->ds_ctx) != 0) {
		/* Cannot happen (nothing else holds these oids): keep them. */
		printf("devref: cannot remove a device's sysctl counters\n");
		return;
	}
	free(ds, M_DEVREF);
}
