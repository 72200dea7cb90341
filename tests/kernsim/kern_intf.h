/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: the boundary between the simulated kernel ("kernel side",
 * the files in kern/, compiled for FreeBSD with the kernel's own headers and a GENERIC
 * configuration) and the host side (the files in host/, glibc and pthreads).
 *
 * Only plain C types cross it.  The kernel side is linked as one object
 * whose every global symbol gets the prefix "ksim_" (objcopy
 * --prefix-symbols), so that its malloc/free/printf/memcpy never meet
 * glibc's: kernel-side code writes hs_fail(), the host defines
 * ksim_hs_fail(); the host calls ksim_k_open(), the kernel side defines
 * k_open().  KSIM() spells the name for the side that includes this file.
 * Modules bind to kernel-side symbols only through the generated table
 * (build/kernsim/ksyms.c), never through the dynamic linker.
 */

#ifndef _KSIM_KERN_INTF_H_
#define	_KSIM_KERN_INTF_H_

#ifdef KSIM_KERNEL_SIDE
#define	KSIM(n)	n
#else
#define	KSIM(n)	ksim_##n
#endif

#define	KSIM_MAXCPU	64	/* vCPUs the host side can drive */
#define	KSIM_PAGE_SIZE	4096

/* Host-internal locks the kernel side may take (never across a sleep). */
#define	HS_LOCK_DEVFS	0
#define	HS_LOCK_SYSCTL	1
#define	HS_LOCK_MALLOC	2
#define	HS_LOCK_MODULE	3
#define	HS_LOCK_EVENT	4
#define	HS_LOCK_TASKQ	5
#define	HS_LOCK_WITNESS	6
#define	HS_LOCK_VM	7	/* simulated address spaces, PTEs */
#define	HS_NLOCKS	8

/* Errno values the host must return to the kernel side (FreeBSD's). */
#define	KS_EWOULDBLOCK	35
#define	KS_EINTR	4
#define	KS_ERESTART	(-1)

/* ---- Host services (host/), called by the kernel side ---- */
void	KSIM(hs_fail)(const char *msg) __attribute__((__noreturn__));
int	KSIM(hs_vsnprintf)(char *buf, unsigned long len, const char *fmt,
	    __builtin_va_list ap);
void	KSIM(hs_console)(const char *s, unsigned long len);
void	*KSIM(hs_alloc)(unsigned long size, unsigned long align);
void	KSIM(hs_dealloc)(void *p);
void	KSIM(hs_lock)(int which);
void	KSIM(hs_unlock)(int which);
unsigned long KSIM(hs_uptime_ns)(void);
/* Block until *word != expected (a turnstile); releases the vCPU. */
void	KSIM(hs_ts_wait)(volatile unsigned long *word, unsigned long expected);
void	KSIM(hs_ts_wake)(volatile unsigned long *word);
/* Sleep queues keyed by wait channel. */
void	KSIM(hs_sleepq_lock)(const void *ident);
void	KSIM(hs_sleepq_unlock)(const void *ident);
/* Called with the sleepq locked; returns unlocked.  0, KS_EWOULDBLOCK,
 * KS_EINTR or KS_ERESTART. */
int	KSIM(hs_sleepq_wait)(const void *ident, unsigned long timo_ns,
	    int catch);
int	KSIM(hs_sleepq_wakeup)(const void *ident, int one);
/* Preemption/migration injection point (only if td_critnest == 0). */
void	KSIM(hs_preempt_point)(void);
/* Send the rendezvous IPI to the CPUs in mask (not the caller's). */
void	KSIM(hs_ipi_rendezvous)(const unsigned long *mask, int nwords);
int	KSIM(hs_is_text)(const void *p);
int	KSIM(hs_is_writable)(const void *p, unsigned long len);
const char *KSIM(hs_describe_addr)(const void *p, char *buf, unsigned long len);
/* Kernel threads (taskqueue): run fn(arg) on a new thread in the kernel. */
void	*KSIM(hs_kthread_create)(const char *name, void (*fn)(void *),
	    void *arg);
void	KSIM(hs_kthread_join)(void *h);
/* Pending simulated signal of the current thread: 0, or 1 / 2 (with
 * SA_RESTART). */
int	KSIM(hs_signal_pending)(void);
/*
 * Guard-page allocations (kernsim -G, in the manner of memguard(9)): the
 * object starts a page, an inaccessible page follows it, and freed
 * objects become inaccessible for a long while, so that a use after free
 * faults by name.  hdrsize bytes before the object stay readable.
 */
int	KSIM(hs_memguard_enabled)(void);
void	*KSIM(hs_guard_alloc)(unsigned long size);
void	KSIM(hs_guard_free)(void *obj, unsigned long size, const char *type);
/* The file behind a device descriptor, with a reference (fget), or NULL. */
void	*KSIM(hs_fget)(int fd);
/*
 * Simulated physical memory (kern/vm.c): every vm_page is backed by one
 * page of a host memory file, so that its kernel mappings (pmap_qenter)
 * and the simulated user mappings share its bytes.  hs_vm_page_new()
 * returns the page's own (direct map) address and its offset in the file;
 * hs_vm_kva_reserve() reserves inaccessible kernel address space;
 * hs_vm_kva_set() maps the file page at memoff there (memoff < 0: none).
 */
void	*KSIM(hs_vm_page_new)(long *memoffp);
void	*KSIM(hs_vm_kva_reserve)(unsigned long npages);
void	KSIM(hs_vm_kva_set)(void *va, long memoff);
/*
 * The PTE of page idx of mapping mapid in address space vs is gone: if vs
 * is a `kernsim serve` client process, its own mapping of the page goes
 * too before this returns (host/server.c; a TLB shootdown).
 */
void	KSIM(hs_vm_shootdown)(int vs, int mapid, unsigned long idx);

/* ---- Kernel side (kern/), called by the host ---- */
void	KSIM(k_init)(int ncpu, int osreldate);
void	*KSIM(k_pcpu)(int cpu);
void	*KSIM(k_thread_new)(const char *name, void *stack_lo,
	    unsigned long stack_size, void *host);
void	KSIM(k_thread_free)(void *td);
void	*KSIM(k_idlethread)(int cpu);
void	KSIM(k_switch_in)(int cpu, void *td);
void	KSIM(k_switch_out)(int cpu);
int	KSIM(k_td_critnest)(void *td);
void	KSIM(k_rendezvous_action)(void);
/* Invariants on return to user mode (what: the syscall's name). */
void	KSIM(k_userret)(const char *what);
/* malloc(9) statistics: fails on leaks of types still registered. */
int	KSIM(k_malloc_report)(int verbose);
int	KSIM(k_malloc_baseline)(int mode);
/* Deliberate kernel bugs, to prove the suite can fail (-M NAME). */
int	KSIM(k_set_mutation)(const char *name);

/* Linker support: module metadata, sysinit, sysctl sets. */
int	KSIM(k_mdt_get)(void *const *entry, int *type, const char **name,
	    int *ver, int *vmin, int *vmax, void **data);
int	KSIM(k_module_register)(void *moduledata, void *lf);
void	KSIM(k_sysinit_run)(void **start, void **stop, int reverse);
void	KSIM(k_sysctl_set_register)(void **start, void **stop, int reg);
int	KSIM(k_modules_count)(void *lf);
/* Unload every module of lf: 0 or an errno; force skips the veto. */
int	KSIM(k_modules_unload)(void *lf, int force);
void	KSIM(k_giant_lock)(void);
void	KSIM(k_giant_unlock)(void);

/* System calls on device files.  fp is an opaque struct file *. */
int	KSIM(k_open)(const char *path, int oflags, void **fpp);
void	KSIM(k_fhold)(void *fp);
int	KSIM(k_fdrop)(void *fp);
int	KSIM(k_ioctl)(void *fp, unsigned long cmd, void *udata);
int	KSIM(k_rw)(void *fp, void *buf, unsigned long len, int write,
	    long *donep);
int	KSIM(k_poll)(void **fps, const short *events, short *revents, int n,
	    long timo_ms, int *nready);
int	KSIM(k_dev_exists)(const char *path);
/*
 * stat(2) of a /dev name (devfs_getattr): st[0] inode, st[1] rdev, st[2]
 * uid, st[3] gid, st[4] mode; 0 or ENOENT.
 */
int	KSIM(k_dev_stat)(const char *path, unsigned long *st);
int	KSIM(k_fcntl)(void *fp, int cmd, long arg, int *retp);
void	*KSIM(k_kqueue_create)(void);
void	KSIM(k_kqueue_close)(void *kq);
void	KSIM(k_knote_fdclose)(int fd);
/* kevent(2): struct kevent arrays in FreeBSD's layout; timo_ns < 0 waits
 * forever, 0 polls. */
int	KSIM(k_kevent)(void *kq, void *changes, int nchanges, void *events,
	    int nevents, long timo_ns, int *nout);
/*
 * The simulated VM (kern/vm_map.c): address spaces by number (0: the
 * script's process), mappings by number within them.
 */
#define	KS_TOUCH_OK		0
#define	KS_TOUCH_SIGBUS_OBJERR	1	/* SIGBUS, BUS_OBJERR */
#define	KS_TOUCH_SIGSEGV_ACCERR	2	/* SIGSEGV, SEGV_ACCERR */
#define	KS_TOUCH_SIGSEGV_MAPERR	3	/* SIGSEGV, SEGV_MAPERR */
int	KSIM(k_vm_mmap)(int vs, void *fp, unsigned long len, int prot,
	    int flags, long off, int *mapidp);
int	KSIM(k_vm_munmap)(int vs, int mapid);
/* A 32-bit load or store at byte off of the mapping. */
int	KSIM(k_vm_touch)(int vs, int mapid, unsigned long off, int write,
	    unsigned int *valp);
int	KSIM(k_vm_fork)(int parent, int child);
/* A client process's address space: new and empty, or its fork. */
int	KSIM(k_vm_vs_new)(void);
int	KSIM(k_vm_fork_vs)(int parent, int child, int *childp);
/* A client's page fault at byte off of its mapping: KS_TOUCH_*, and
 * where the page lives (hs_vm_page_new's memoff) on KS_TOUCH_OK. */
int	KSIM(k_vm_user_fault)(int vs, int mapid, unsigned long off, int write,
	    long *memoffp);
void	KSIM(k_vm_exit)(int vs);
/* mlock(2) of the whole mapping; a kernel hold (a pipe write) of
 * [off, off + len): its id; its release. */
int	KSIM(k_vm_mlock)(int vs, int mapid);
int	KSIM(k_vm_hold)(int vs, int mapid, unsigned long off,
	    unsigned long len, int *holdidp);
int	KSIM(k_vm_unhold)(int holdid);
int	KSIM(k_vm_hold_sum)(int holdid, unsigned long long *sump);
/* Every VM invariant; fails by name.  Returns live pages (stats). */
void	KSIM(k_vm_check)(const char *when);
void	KSIM(k_vm_stat)(char *buf, unsigned long len);
int	KSIM(k_sysctl_read)(const char *name, char *buf, unsigned long *lenp,
	    int *kind);

#endif /* !_KSIM_KERN_INTF_H_ */
