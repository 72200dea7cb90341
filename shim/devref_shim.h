/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The boundary between devref's C shim and its Rust glue, inside devref.ko.
 * Not a KPI: nothing here is exported to other modules.
 *
 * The shim holds no logic.  It exists because the kernel's interfaces are
 * macros, inlines and structures whose layout changes between releases;
 * Rust sees only opaque pointers and plain integers, so the same Rust
 * archive links against FreeBSD 14 and 15.
 */

#ifndef _DEVREF_SHIM_H_
#define	_DEVREF_SHIM_H_

#include "devref_kpi.h"

/*
 * Zero bytes after each table the kernel reads out of devref.ko by pointer
 * (filterops, cdevsw): members a later kernel appends read NULL.
 */
#define	DEVREF_KTABLE_PAD	128

struct cdev;
struct devref_events;
struct knote;
struct devref_lock;

/*
 * Memory (malloc_aligned(9), M_DEVREF, M_WAITOK | M_ZERO): NULL only for bad
 * arguments (align 0, not a power of two, over a page; size over
 * DEVREF_ALLOC_MAX).
 */
#define	DEVREF_ALLOC_MAX	(256UL << 20)	/* devref_malloc's limit */
void	*devref_shim_alloc(unsigned long size, unsigned long align);
void	 devref_shim_free(void *p);

/* Console. */
void	 devref_shim_log(const char *msg, unsigned long len);

/*
 * Per-CPU storage (zpcpu) for the gates' slots: one zeroed 64-byte item per
 * CPU.  On amd64 the value devref_shim_pcpu_alloc returns is what
 * uma_zalloc_pcpu returns, an offset from __pcpu[0]: Rust adds to the running
 * CPU's copy with one %gs-relative instruction, as zpcpu_add does.  The sum
 * reads each CPU's copy through devref_shim_pcpu_slot (zpcpu_get_cpu).
 */
void	*devref_shim_pcpu_alloc(void);
void	 devref_shim_pcpu_free(void *base);
unsigned int devref_shim_cpu_count(void);	/* mp_maxid + 1 */
void	*devref_shim_pcpu_slot(void *base, unsigned int cpu);
/* critical_enter/exit, for code that must not be preempted (not the gate). */
void	 devref_shim_critical_enter(void);
void	 devref_shim_critical_exit(void);
/*
 * The gates' barrier: a rendezvous IPI running a seq_cst fence on every CPU
 * (cpus_fence_seq_cst).  Sleeps; no lock of devref's spin kind held.
 */
void	 devref_shim_barrier(void);

/* Sleep mutex with a wait channel (mtx(9), msleep(9), wakeup(9)). */
struct devref_lock *devref_shim_lock_new(const char *name);
void	 devref_shim_lock_free(struct devref_lock *l);
void	 devref_shim_lock(struct devref_lock *l);
void	 devref_shim_unlock(struct devref_lock *l);
/*
 * msleep_sbt(chan, l, PCATCH, "devref", timeout_ns): 0, EWOULDBLOCK, EINTR,
 * or ERESTART (a signal whose handler has SA_RESTART).
 */
int	 devref_shim_sleep(struct devref_lock *l, const void *chan,
	    unsigned long timeout_ns);
void	 devref_shim_wakeup(const void *chan);
unsigned long devref_shim_uptime_ns(void);

/*
 * A call's mark on its thread's kernel stack: every cdevsw entry keeps one
 * in its frame while Rust and the client run, so that a destroy issued from
 * inside a device's own call can find it and defer instead of waiting for
 * itself.  devref_shim_in_call() scans the current thread's stack.  The
 * magic spells "devrefcl".
 *
 * The second word is the node keyed by the mark's own address and a
 * per-boot secret (devref_call_mark_key, from arc4random at MOD_LOAD):
 * user data copied to the kernel stack (sys_ioctl's smalldata, select's
 * bit sets) and registers spilled in a trapframe cannot pass for a mark
 * without the secret, and a false match is not harmless (a purge skipped,
 * EDEADLK, an unregister refused).
 *
 * devref_call_mark_set() takes the mark's address, which is also what
 * keeps it whole: an array whose address never escapes may be split by
 * clang into two unrelated stack slots (it was: magic and node 16 bytes
 * apart, so the scan never matched and a destroy from inside a call waited
 * for itself until it timed out).  The "memory" clobber orders both stores
 * before the call that follows.
 */
#define	DEVREF_CALL_MAGIC	0x6c63666572766564ULL
extern unsigned long devref_call_mark_key;

static __inline int
devref_call_mark_set(volatile unsigned long *mark, unsigned long node)
{
	mark[0] = DEVREF_CALL_MAGIC;
	mark[1] = node ^ (unsigned long)mark ^ devref_call_mark_key;
	__asm __volatile("" : : "r" (mark) : "memory");
	return (0);
}
/* Declarations only, so that it may open a function's block. */
#define	DEVREF_CALL_MARK(node)						\
	volatile unsigned long _devref_mark[2];				\
	int _devref_mark_set __unused =					\
	    devref_call_mark_set(_devref_mark, (unsigned long)(node))
#define	DEVREF_CALL_UNMARK()	(_devref_mark[0] = 0)
/*
 * Marks of calls that are not ordinary entries carry the node's address
 * with a low bit set (rust/core: Node::purge_cookie, Node::filter_cookie).
 */
#define	DEVREF_MARK_PURGE	1	/* the client's purge hook */
#define	DEVREF_MARK_FILTER	2	/* dro_poll as kqueue's filter */
/* Rust's marks: the same, in a two-word array in the caller's frame. */
void	 devref_shim_call_mark(unsigned long *mark, unsigned long node);
void	 devref_shim_call_mark_init(void);
int	 devref_shim_in_call(const void *node);

/*
 * Whether the current thread may sleep: DEVREF_CTX_OK, or why not.
 */
#define	DEVREF_CTX_OK		0
#define	DEVREF_CTX_CRITICAL	1	/* critical section, spin lock, filter */
#define	DEVREF_CTX_NO_SLEEPING	2	/* ithread, callout, epoch, filter */
#define	DEVREF_CTX_RW_RLOCKED	3	/* an rwlock held for read */
int	 devref_shim_context(void);

/*
 * devref's own taskqueue, for destroys deferred from inside a device's
 * call: made at load, drained and freed at unload (never the shared
 * taskqueue_thread, whose other users an untimed drain could block).
 */
int	 devref_shim_taskq_init(void);
void	 devref_shim_taskq_fini(void);
/* Run fn(arg) later on devref's taskqueue. */
void	 devref_shim_defer(void (*fn)(void *), void *arg);
/* C only: a task of the shim's own on devref's taskqueue. */
struct task;
struct taskqueue;
struct taskqueue *devref_shim_taskq(void);
void	 devref_shim_task_enqueue(struct task *task);
void	 devref_shim_task_cancel_or_drain(struct task *task);

/* A device's poll and kqueue waiters: a selinfo and its knlist. */
struct devref_events *devref_shim_events_new(void);
void	 devref_shim_events_wake(struct devref_events *ev);
void	 devref_shim_events_drain(struct devref_events *ev);
void	 devref_shim_events_record(struct devref_events *ev,
	    struct thread *td);
int	 devref_shim_kn_attach(struct devref_events *ev, struct knote *kn,
	    void *handle);
#define	DEVREF_EVFILT_READ	(-1)	/* EVFILT_READ */
#define	DEVREF_EVFILT_WRITE	(-2)	/* EVFILT_WRITE */

/* sysctl kern.devref.dev.<name>.*: published per node, read through
 * devref_rs_node_stat(node, DEVREF_STAT_*). */
#define	DEVREF_STAT_MODE		0
#define	DEVREF_STAT_CALLS		1
#define	DEVREF_STAT_INSIDE		2
#define	DEVREF_STAT_DRAINS		3
#define	DEVREF_STAT_FAILED_DRAINS	4
#define	DEVREF_STAT_LAST_DRAIN_US	5
#define	DEVREF_STAT_INCARNATION		6
#define	DEVREF_STAT_OPEN_FILES		7
#define	DEVREF_STAT_ALIVE		8
#define	DEVREF_STAT_REGIONS		9
#define	DEVREF_STAT_PAGES_HELD		10
struct devref_stats;
struct devref_stats *devref_shim_stats_publish(const char *name, void *node);
void	 devref_shim_stats_unpublish(struct devref_stats *ds);
unsigned long devref_rs_node_stat(void *node, int which);

/* Device nodes. */
int	 devref_shim_make_dev(const char *name, int mode, unsigned int uid,
	    unsigned int gid, int perms, void *drv1, struct cdev **cdevp);
void	 devref_shim_destroy_dev(struct cdev *cdev);
void	 devref_shim_cdevsw_drain(void);
int	 devref_shim_set_cdevpriv(void *priv);

/* Entry points: the shim's cdevsw calls these with si_drv1 and the
 * cdevpriv of the file (NULL when none was set). */
int	 devref_rs_open(void *node, int oflags, struct thread *td);
int	 devref_rs_read(void *node, void *handle, struct uio *uio,
	    int ioflag);
int	 devref_rs_write(void *node, void *handle, struct uio *uio,
	    int ioflag);
int	 devref_rs_ioctl(void *node, void *handle, unsigned long cmd,
	    char *data, int fflag, struct thread *td);
int	 devref_rs_poll(void *node, void *handle, int events,
	    struct thread *td);
int	 devref_rs_kqfilter(void *node, void *handle, struct knote *kn);
/*
 * d_mmap_single: *objp a referenced pager object, *offset the offset inside
 * it.  file_writable: the file was opened for writing (FWRITE).
 */
int	 devref_rs_mmap_single(void *node, void *handle, unsigned long *offset,
	    unsigned long size, int nprot, int file_writable, void **objp);
/* 1 ready, 0 not, -1 the device is gone (EV_EOF). */
int	 devref_rs_kn_event(void *handle, int filter);
void	 devref_rs_handle_dtor(void *handle);
void	*devref_rs_handle_node(void *handle);

/*
 * The managed pager (devref_pager.c): pages devref owns, one OBJT_MGTDEVICE
 * object per region, revocation, the client's kernel mapping.
 */
struct vm_page;
struct vm_object;
struct vm_page	*devref_shim_page_alloc(void);
/* 0 freed; EBUSY still held (keep it); ENOENT not ours any more (forget) */
int	 devref_shim_page_free(struct vm_page *m);
struct vm_object *devref_shim_object_new(void *owner, unsigned long long id,
	    struct vm_page **pages, unsigned long n, int writable);
void	 devref_shim_object_ref(struct vm_object *obj);
void	 devref_shim_object_release(struct vm_object *obj);
void	 devref_shim_revoke_page(struct vm_object *obj, struct vm_page *m);
unsigned long devref_shim_kva_map(struct vm_page **pages, unsigned long n);
void	 devref_shim_kva_unmap(unsigned long kva, unsigned long n);
/* The object made for (owner, id) is gone (its last reference dropped). */
void	 devref_rs_object_gone(void *owner, unsigned long long id);
/* Retry the graveyard every second until it is empty; stop (unload). */
void	 devref_shim_graveyard_arm(void);
void	 devref_shim_graveyard_stop(void);
/* Free what can be freed; the pages still held. */
unsigned long devref_rs_graveyard_retry(void);
/* Pages waiting in the graveyard. */
unsigned long devref_rs_graveyard_len(void);

/* Module events, called with Giant held. */
int	 devref_rs_load(void);
int	 devref_rs_unload(void);

/* sysctl kern.devref.{devices,clients}: a NUL-terminated report allocated
 * with M_DEVREF (the caller frees it with devref_shim_free). */
#define	DEVREF_REPORT_DEVICES	0
#define	DEVREF_REPORT_CLIENTS	1
#define	DEVREF_REPORT_REGIONS	2
char	*devref_rs_report(int which, unsigned long *lenp);
void	 devref_shim_sysctl_init(void);
int	 devref_shim_sysctl_fini(void);

#endif /* !_DEVREF_SHIM_H_ */
