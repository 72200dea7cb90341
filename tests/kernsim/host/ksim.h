/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host side: shared declarations (glibc world; kernel-side objects
 * are opaque pointers, reached through kern_intf.h).
 */

#ifndef _KSIM_HOST_H_
#define	_KSIM_HOST_H_

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "kern_intf.h"

/* FreeBSD errno values the simulator returns (sys/sys/errno.h). */
#define	FB_EPERM	1
#define	FB_ENOENT	2
#define	FB_EINTR	4
#define	FB_EIO		5
#define	FB_ENXIO	6
#define	FB_ENOEXEC	8
#define	FB_EBADF	9
#define	FB_ENOMEM	12
#define	FB_EFAULT	14
#define	FB_EBUSY	16
#define	FB_EEXIST	17
#define	FB_ENODEV	19
#define	FB_EINVAL	22
#define	FB_ENOTTY	25
#define	FB_EAGAIN	35
#define	FB_EOPNOTSUPP	45
const char *ksim_errname(int e);
int	ksim_errno_byname(const char *name);

/* sys/sys/module.h metadata types (an ABI constant). */
#define	MDT_DEPEND_TYPE		1
#define	MDT_MODULE_TYPE		2
#define	MDT_VERSION_TYPE	3

struct ksim_ksym {
	const char	*name;
	void		*addr;
};
extern const struct ksim_ksym ksim_ksyms[];

/* A host thread that enters the simulated kernel. */
struct hthread {
	void		*td;		/* kernel-side struct thread */
	int		 cpu;		/* vCPU held, or -1 */
	int		 nopreempt;	/* host locks held */
	int		 sigpending;	/* 0, 1 (EINTR), 2 (SA_RESTART) */
	pthread_cond_t	*waitcv;	/* while asleep */
	pthread_mutex_t	*waitmtx;
	uint64_t	 rng;
	char		 name[32];
	void		*stack_lo;	/* the host thread's stack */
	size_t		 stack_size;
	void		*altstack;
	struct {
		volatile long	*ea;
		long		 delta;
	}		 sb[4];		/* storebuf.c: buffered stores */
	int		 sb_n;
	int		 sb_steps;
	char		*kstack_map;	/* guard page + kernel stack */
	char		*kstack;	/* td_kstack */
	int		 on_kstack;
};

/* vcpu.c */
extern int ksim_ncpu;
extern int ksim_preempt_permille;
extern int ksim_tick_us;
void	ksim_stats(void);
void	ksim_vcpu_init(int ncpu);
struct hthread *ksim_self(void);
struct hthread *ksim_thread_attach(const char *name);
void	ksim_thread_detach(void);
void	ksim_enter(void);
void	ksim_leave(const char *what);
/* Run fn(arg) as a system call: on the thread's kernel stack, holding a
 * vCPU, with the userret checks at the end. */
void	ksim_syscall(const char *what, void (*fn)(void *), void *arg);
extern int ksim_kstack_pages;
int	ksim_kstack_guard_owner(const void *addr, char *name, size_t len);
void	ksim_vcpu_release(struct hthread *ht);
void	ksim_vcpu_acquire(struct hthread *ht, int avoid);
int	ksim_in_stack(const void *p, size_t len);

/* console.c */
extern int ksim_verbose;
void	ksim_console_mark(void);
int	ksim_console_contains(const char *s, int since_mark);
void	ksim_expect_failure(const char *pattern);
const char *ksim_expected_failure(void);
void	ksim_failf(const char *fmt, ...) __attribute__((__noreturn__,
	    __format__(__printf__, 1, 2)));
void	ksim_out(const char *fmt, ...) __attribute__((__format__(__printf__,
	    1, 2)));
const char *ksim_last_output(void);
void	ksim_capture_begin(void);
char	*ksim_capture_end(void);
char	*ksim_console_dump(void);
char	*ksim_console_since(size_t *pos, int advance);
void	ksim_clear_output(void);

/* sleepq.c */
void	ksim_sleepq_init(void);
void	ksim_signal_thread(struct hthread *ht, int restart);

/* storebuf.c */
extern int ksim_storebuf;
extern int ksim_storebuf_permille;
void	ksim_storebuf_init(void);
void	ksim_storebuf_patch(unsigned char *text, size_t len);
void	ksim_storebuf_forget(unsigned char *text, size_t len);
void	ksim_storebuf_drain(struct hthread *ht);
void	ksim_storebuf_stats(void);

/* loader.c */
struct linker_file;
void	ksim_loader_init(void);
int	ksim_kldload(const char *path, int *idp);
int	ksim_kldunload(const char *name, int force);
int	ksim_kldfind(const char *name);
void	ksim_kldstat(void);
void	*ksim_module_symbol(const char *file, const char *sym);
int	ksim_loaded_count(void);
void	ksim_segv_install(void);
void	ksim_kld_lock(void);
void	ksim_kld_unlock(void);
int	ksim_gs_is_guard(const void *p);
extern int ksim_memguard;
int	ksim_memguard_describe(const void *addr, char *buf, size_t len);
int	ksim_pc_in_module_text(const void *pc);

/* syscalls.c: the user-space face, FreeBSD errno in *errp. */
int	ksys_open(const char *path, int oflags, int *errp);
int	ksys_close(int fd, int *errp);
int	ksys_ioctl(int fd, unsigned long cmd, void *arg, int *errp);
long	ksys_read(int fd, void *buf, size_t len, int *errp);
long	ksys_write(int fd, const void *buf, size_t len, int *errp);
int	ksys_poll(const int *fds, const short *events, short *revents, int n,
	    int timo_ms, int *errp);
int	ksys_kldload(const char *path, int *errp);
int	ksys_kldunload(int fileid, int force, int *errp);
int	ksys_kldfind(const char *name, int *errp);
int	ksys_sysctl(const char *name, void *buf, size_t *lenp, int *kindp,
	    int *errp);
int	ksys_dev_exists(const char *path);
int	ksys_dev_stat(const char *path, unsigned long *st, int *errp);
int	ksys_open_files(void);
/* FreeBSD's struct kevent (sys/event.h, 12+). */
struct ksim_kevent {
	uintptr_t	ident;
	short		filter;
	unsigned short	flags;
	unsigned int	fflags;
	int64_t		data;
	void		*udata;
	uint64_t	ext[4];
};
_Static_assert(sizeof(struct ksim_kevent) == 64, "FreeBSD struct kevent");
int	ksys_kqueue(int *errp);
int	ksys_kevent(int kqfd, const void *changes, int nchanges, void *events,
	    int nevents, long timo_ns, int *errp);
int	ksys_fcntl(int fd, int cmd, long arg, int *retp, int *errp);
int	ksys_mmap(int fd, unsigned long len, int prot, int shared, long off,
	    int *errp);
int	ksys_mmap_vs(int vs, int fd, unsigned long len, int prot, int flags,
	    long off, int *errp);
/* vmhost.c: the VM script commands (1 when av[0] is one); the checks. */
int	ksim_vm_command(int ac, char **av, int *(*fdslot)(const char *, int),
	    int *errp);
void	ksim_vm_check(const char *when);
int	ksys_mmap_client(int vs, int fd, unsigned long len, int prot,
	    int shared, long off, int64_t *out, int *errp);
int	ksys_vm_user_fault(int vs, int mapid, unsigned long off, int write,
	    long *memoffp);
int	ksys_vm_mlock(int vs, int mapid, int *errp);
int	ksys_vm_hold(int vs, int mapid, unsigned long off, unsigned long len,
	    int *errp);
int	ksys_vm_unhold(int id, int *errp);
int	ksys_vm_vs_new(int parent);
void	ksys_vm_exit(int vs);
int	ksys_munmap_vs(int vs, int mapid, int *errp);

/* main.c, server.c */
int	ksim_script_command(const char *line, char **outp);
int	ksim_serve(const char *path);
int	ksim_ctl(const char *path, int argc, char **argv);

#endif /* !_KSIM_HOST_H_ */
