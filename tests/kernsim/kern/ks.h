/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim kernel side: common declarations.  Everything under kern/ is
 * compiled as the GENERIC kernel sees its own headers (no KLD_MODULE, the
 * kernel's opt_global.h), so the layouts are the kernel's.
 */

#ifndef _KSIM_KS_H_
#define	_KSIM_KS_H_

#define	KSIM_KERNEL_SIDE	1

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/mutex.h>
#include <sys/pcpu.h>
#include <sys/proc.h>

#include "../kern_intf.h"

#define	KS_MAXHELD	32

/*
 * A simulated thread: the kernel's struct thread first (modules see only
 * that), then kernsim's bookkeeping.
 */
struct ks_thread {
	struct thread		 kt_td;
	struct lock_object	*kt_held[KS_MAXHELD];	/* WITNESS-style list */
	int			 kt_nheld;
	void			*kt_host;
	char			 kt_name[32];
	/* select/poll (sys_generic.c: struct seltd) */
	volatile u_int		 kt_selwoken;
	struct ks_selfd		*kt_selfds;
};

static inline struct ks_thread *
ks_td(struct thread *td)
{

	return ((struct ks_thread *)td);
}

void	ks_failf(const char *fmt, ...) __dead2 __printflike(1, 2);
int	ks_snprintf(char *buf, size_t len, const char *fmt, ...)
	    __printflike(3, 4);

/* mutex.c */
void	ks_lock_acquired(struct lock_object *lo);
void	ks_lock_released(struct lock_object *lo);
int	ks_lock_held_others(struct lock_object *except, char *buf, size_t len);
int	ks_giant_drop(void);
void	ks_giant_pickup(int n);
void	ks_mtx_lock(struct mtx *m);
void	ks_mtx_unlock(struct mtx *m);
int	ks_mtx_owned(struct mtx *m);
void	ks_witness_init(struct lock_object *lo, const char *class);
void	ks_witness_order(struct lock_object *lo);

/* sleep.c */
int	ks_msleep(const void *ident, struct mtx *m, int pri, const char *wm,
	    long timo_ns);

/* devfs.c */
struct file;
struct knote;
int	ks_fo_kqfilter(struct file *fp, struct knote *kn);
void	ks_file_drop(struct file *fp);
struct cdev;
struct cdevsw;
int	ks_devfs_fp_check(struct file *fp, struct cdev **devp,
	    struct cdevsw **dswp, int *ref);
void	ks_devfs_relthread(struct cdev *dev, int ref);
u_int	ks_file_fflag(struct file *fp);
/* A kernsim file starts with room for the kernel's struct file (what a
 * module reads through td_fpop); kern/vm_map.c fills in its f_flag. */
#define	KS_STRUCT_FILE_SIZE	256
void	ks_file_mirror_fflag(void *real, u_int flag);

/* event.c */
void	ks_seltdclear(struct thread *td);
int	ks_seltdwait(struct thread *td, long timo_ms);
void	ks_seltdinit(struct thread *td);

/* malloc.c */
void	*ks_kmalloc(size_t size, int flags);
void	ks_kfree(void *p);

#endif /* !_KSIM_KS_H_ */
