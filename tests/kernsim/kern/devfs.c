/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: character devices and their files -- make_dev_s, destroy_dev,
 * cdevpriv (kern/kern_conf.c, fs/devfs/devfs_vnops.c, devfs_devs.c) and the
 * file side of open/close/ioctl/read/write/poll (kern/sys_generic.c,
 * kern/kern_descrip.c).  One "vnode" per cdev stands for devfs's, enough
 * for devvn_refthread() and revocation.
 */

#include "ks.h"

#include <sys/conf.h>
#include <sys/fcntl.h>
#include <sys/filio.h>
#include <sys/ioccom.h>
#include <sys/limits.h>
#include <sys/malloc.h>
#include <sys/poll.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <machine/stdarg.h>

struct ks_vnode;

/* fs/devfs/devfs_int.h: struct cdev_priv (kernsim's own). */
struct ks_cdev_priv {
	struct cdev		 cdp_c;
	struct ks_cdev_priv	*cdp_next;	/* all named cdevs */
	int			 cdp_active;	/* CDP_ACTIVE */
	struct ks_vnode		*cdp_vnode;
	struct ks_cdevpriv	*cdp_fdpriv;	/* cdp_fdpriv */
	u_int			 cdp_usecount;	/* opens (devfs_usecount) */
	u_int			 cdp_inode;	/* devfs_inos unit */
};
#define	cdev2priv(d)	__containerof(d, struct ks_cdev_priv, cdp_c)

/* fs/devfs/devfs_int.h: struct cdev_privdata */
struct ks_cdevpriv {
	struct ks_file		*cdpd_fp;
	void			*cdpd_data;
	void			(*cdpd_dtr)(void *);
	struct ks_cdevpriv	*cdpd_next;
};

/* The devfs vnode of a cdev: v_rdev is cleared when it is reclaimed. */
struct ks_vnode {
	struct cdev	*v_rdev;
	int		 v_eternal;	/* VV_ETERNALDEV */
	int		 v_doomed;	/* VN_IS_DOOMED */
	u_int		 v_refs;	/* files + the devfs entry */
	struct ks_vnode	*v_gonenext;	/* ks_devfs_gone, HS_LOCK_DEVFS */
};

/* struct file, the parts devfs uses. */
struct ks_file {
	/*
	 * What a module reads through td_fpop (devref's d_mmap_single:
	 * f_flag), at the kernel's offsets; ks_fp_check copies f_flag here
	 * before any driver method runs.
	 */
	char			 f_real[KS_STRUCT_FILE_SIZE] __aligned(8);
	volatile u_int		 f_count;
	u_int			 f_flag;
	struct cdev		*f_data;
	struct ks_vnode		*f_vnode;
	struct ks_cdevpriv	*f_cdevpriv;
};

static struct ks_cdev_priv *ks_cdevs;	/* HS_LOCK_DEVFS */
/* Vnodes of destroyed cdevs not yet reclaimed by a devfs_populate(). */
static struct ks_vnode *ks_devfs_gone;	/* HS_LOCK_DEVFS */

/*
 * kernsim -M dtor-before-close, -M si-devsw-kept (k_set_mutation in
 * smp.c): deliberate kernel bugs the suite must catch (self-* cases).
 */
int ks_mutate_dtor_before_close;
int ks_mutate_si_devsw_kept;
static struct mtx devmtx;		/* kern/kern_conf.c: devmtx */
static int ks_devfs_inited;

/*
 * fs/devfs/devfs_devs.c: devfs_inos, a unit number allocator from
 * DEVFS_ROOTINO + 1 (new_unrhdr in devfs_devs_init): devfs_create takes
 * the lowest free unit for a cdev (alloc_unrl: cdp_inode); devfs_free
 * gives it back (free_unr) only when the cdev's last reference goes, so a
 * cdev still referenced (an open file) keeps its number and a new cdev
 * gets another.  HS_LOCK_DEVFS.
 */
#define	KS_DEVFS_ROOTINO	2
#define	KS_DEVFS_NINOS		4096
static unsigned char ks_devfs_inos[KS_DEVFS_NINOS];

static u_int
ks_devfs_alloc_inode(void)
{
	u_int i;

	for (i = KS_DEVFS_ROOTINO + 1; i < KS_DEVFS_NINOS; i++)
		if (!ks_devfs_inos[i]) {
			ks_devfs_inos[i] = 1;
			return (i);
		}
	ks_failf("kernsim: devfs_inos exhausted");
}

static void
ks_devfs_init(void)
{

	hs_lock(HS_LOCK_DEVFS);
	if (!ks_devfs_inited) {
		_mtx_init(&devmtx.mtx_lock, "cdev", NULL, MTX_DEF);
		ks_devfs_inited = 1;
	}
	hs_unlock(HS_LOCK_DEVFS);
}

/* kern/kern_conf.c: dev_rel(): the last reference frees the cdev (it
 * left devfs and its cdevsw in destroy_devl). */
static void
ks_dev_rel(struct cdev *dev)
{

	if (atomic_fetchadd_int((volatile u_int *)&dev->si_refcount, -1) ==
	    1) {
		/* devfs_free: free_unr(devfs_inos, cdp_inode) */
		hs_lock(HS_LOCK_DEVFS);
		ks_devfs_inos[cdev2priv(dev)->cdp_inode] = 0;
		hs_unlock(HS_LOCK_DEVFS);
		ks_kfree(cdev2priv(dev));
	}
}

static void
ks_vrele(struct ks_vnode *vp)
{

	if (atomic_fetchadd_int(&vp->v_refs, -1) == 1)
		ks_kfree(vp);
}

/* kern/kern_conf.c: the defaults prep_cdevsw() fills in. */
static int
ks_null_open(struct cdev *dev, int flags, int fmt, struct thread *td)
{

	return (0);
}

static int
ks_null_close(struct cdev *dev, int flags, int fmt, struct thread *td)
{

	return (0);
}

static int
ks_enodev_rw(struct cdev *dev, struct uio *uio, int ioflag)
{

	return (ENODEV);
}

static int
ks_no_ioctl(struct cdev *dev, u_long cmd, caddr_t data, int fflag,
    struct thread *td)
{

	return (ENODEV);
}

/* kern/kern_conf.c: no_poll() -> poll_no_poll(events) */
static int
ks_no_poll(struct cdev *dev, int events, struct thread *td)
{

	if ((events & ~POLLSTANDARD) != 0)
		return (POLLNVAL);
	return (events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM));
}

static int
ks_no_kqfilter(struct cdev *dev, struct knote *kn)
{

	return (EOPNOTSUPP);
}

static int
ks_no_mmap(struct cdev *dev, vm_ooffset_t off, vm_paddr_t *paddr, int nprot,
    vm_memattr_t *memattr)
{

	return (ENODEV);
}

static int
ks_no_mmap_single(struct cdev *dev, vm_ooffset_t *off, vm_size_t size,
    struct vm_object **obj, int nprot)
{

	return (ENODEV);
}

/*
 * kern/kern_conf.c: prep_cdevsw(): a wrong d_version disables the driver
 * ("WARNING: Device driver \"%s\" has wrong version %s") and make_dev
 * fails EINVAL; NULL methods get the defaults; D_NEEDGIANT would wrap them
 * (not used by these modules: kernsim refuses it rather than pretend).
 */
static int
ks_prep_cdevsw(struct cdevsw *csw)
{

	if ((csw->d_flags & D_INIT) != 0)
		return (0);
	if (csw->d_version != D_VERSION) {
		printf("WARNING: Device driver \"%s\" has wrong version %s\n",
		    csw->d_name == NULL ? "???" : csw->d_name,
		    "and is disabled.  Recompile KLD module.");
		return (EINVAL);
	}
	if ((csw->d_flags & D_NEEDGIANT) != 0)
		ks_failf("kernsim: D_NEEDGIANT (%s) is not modelled",
		    csw->d_name);
	if (csw->d_open == NULL)
		csw->d_open = ks_null_open;
	if (csw->d_close == NULL)
		csw->d_close = ks_null_close;
	if (csw->d_read == NULL)
		csw->d_read = ks_enodev_rw;
	if (csw->d_write == NULL)
		csw->d_write = ks_enodev_rw;
	if (csw->d_ioctl == NULL)
		csw->d_ioctl = ks_no_ioctl;
	if (csw->d_poll == NULL)
		csw->d_poll = ks_no_poll;
	if (csw->d_kqfilter == NULL)
		csw->d_kqfilter = ks_no_kqfilter;
	if (csw->d_mmap == NULL)
		csw->d_mmap = ks_no_mmap;
	if (csw->d_mmap_single == NULL)
		csw->d_mmap_single = ks_no_mmap_single;
	LIST_INIT(&csw->d_devs);
	csw->d_flags |= D_INIT;
	return (0);
}

/* kern/kern_conf.c: make_dev_args_init_impl() */
void
make_dev_args_init_impl(struct make_dev_args *args, size_t sz)
{

	memset(args, 0, sz);
	args->mda_size = sz;
}

static struct ks_cdev_priv *
ks_dev_lookup(const char *name)
{
	struct ks_cdev_priv *cdp;

	for (cdp = ks_cdevs; cdp != NULL; cdp = cdp->cdp_next)
		if (cdp->cdp_active && strcmp(cdp->cdp_c.si_name, name) == 0)
			return (cdp);
	return (NULL);
}

/*
 * kern/kern_conf.c: prep_devname(): no empty name, no "." or ".."
 * component, no empty component; "//" collapses; a name in use is EEXIST
 * with MAKEDEV_CHECKNAME (else a panic).
 */
static int
ks_prep_devname(char *name, int flags)
{
	char *s, *d;

	for (s = d = name; *s != '\0'; s++) {
		if (*s == '/' && (d == name || d[-1] == '/'))
			continue;
		*d++ = *s;
	}
	while (d > name && d[-1] == '/')
		d--;
	*d = '\0';
	if (*name == '\0')
		return (EINVAL);
	for (s = name; s != NULL; s = strchr(s, '/') ? strchr(s, '/') + 1 :
	    NULL) {
		if (s[0] == '.' && (s[1] == '/' || s[1] == '\0'))
			return (EINVAL);
		if (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0'))
			return (EINVAL);
	}
	if (ks_dev_lookup(name) != NULL) {
		if ((flags & MAKEDEV_CHECKNAME) == 0)
			ks_failf("panic: make_dev_sv: dev %s already exists",
			    name);
		return (EEXIST);
	}
	return (0);
}

/*
 * kern/kern_conf.c: make_dev_sv() (make_dev_s): not both WAITOK and
 * NOWAIT; mda_size must be the kernel's struct make_dev_args;
 * prep_cdevsw; the name; MAKEDEV_ETERNAL -> SI_ETERNAL; MAKEDEV_REF takes
 * a reference; SI_NAMED; the cdev joins csw->d_devs and devfs.
 */
int
make_dev_s(struct make_dev_args *args, struct cdev **dres, const char *fmt,
    ...)
{
	struct ks_cdev_priv *cdp;
	struct cdev *dev;
	struct ks_vnode *vp;
	va_list ap;
	int error;

	ks_devfs_init();
	if (args->mda_size != sizeof(*args))
		ks_failf("make_dev_s: mda_size %zu != sizeof(struct "
		    "make_dev_args) %zu (layout mismatch)", args->mda_size,
		    sizeof(*args));
	if ((args->mda_flags & MAKEDEV_WAITOK) != 0 &&
	    (args->mda_flags & MAKEDEV_NOWAIT) != 0)
		ks_failf("panic: make_dev_sv: both WAITOK and NOWAIT "
		    "specified");
	cdp = ks_kmalloc(sizeof(*cdp), M_WAITOK | M_ZERO);
	vp = ks_kmalloc(sizeof(*vp), M_WAITOK | M_ZERO);
	dev = &cdp->cdp_c;
	va_start(ap, fmt);
	hs_vsnprintf(dev->si_name, sizeof(dev->si_name), fmt, ap);
	va_end(ap);
	ks_mtx_lock(&devmtx);
	hs_lock(HS_LOCK_DEVFS);
	error = ks_prep_cdevsw(args->mda_devsw);
	if (error == 0)
		error = ks_prep_devname(dev->si_name, args->mda_flags);
	if (error != 0) {
		hs_unlock(HS_LOCK_DEVFS);
		ks_mtx_unlock(&devmtx);
		ks_kfree(vp);
		ks_kfree(cdp);
		return (error);
	}
	dev->si_devsw = args->mda_devsw;
	dev->si_drv0 = args->mda_unit;
	dev->si_drv1 = args->mda_si_drv1;
	dev->si_drv2 = args->mda_si_drv2;
	dev->si_uid = args->mda_uid;
	dev->si_gid = args->mda_gid;
	dev->si_mode = args->mda_mode;
	dev->si_refcount = 1;		/* devfs's */
	if ((args->mda_flags & MAKEDEV_REF) != 0)
		dev->si_refcount++;
	if ((args->mda_flags & MAKEDEV_ETERNAL) != 0)
		dev->si_flags |= SI_ETERNAL;
	dev->si_flags |= SI_NAMED;
	LIST_INSERT_HEAD(&args->mda_devsw->d_devs, dev, si_list);
	/* fs/devfs/devfs_vnops.c: devfs_allocv sets VV_ETERNALDEV. */
	vp->v_rdev = dev;
	vp->v_eternal = (dev->si_flags & SI_ETERNAL) != 0;
	vp->v_refs = 1;
	cdp->cdp_vnode = vp;
	cdp->cdp_active = 1;
	cdp->cdp_inode = ks_devfs_alloc_inode();	/* devfs_create */
	cdp->cdp_next = ks_cdevs;
	ks_cdevs = cdp;
	hs_unlock(HS_LOCK_DEVFS);
	ks_mtx_unlock(&devmtx);
	*dres = dev;
	return (0);
}

/*
 * fs/devfs/devfs_vnops.c: devfs_destroy_cdevpriv(): the record leaves the
 * file and the cdev's list under cdevpriv_mtx (the caller did that, holding
 * HS_LOCK_DEVFS), so that destroy_dev and the file's last close cannot
 * both run its destructor; the destructor then runs unlocked.
 */
static void
ks_destroy_cdevpriv(struct ks_cdevpriv *p)
{

	p->cdpd_dtr(p->cdpd_data);
	ks_kfree(p);
}

/*
 * fs/devfs/devfs_devs.c: devfs_populate() -> devfs_populate_loop(): the
 * dirent of a cdev no longer CDP_ACTIVE is deleted and its vnode reclaimed
 * (devfs_delete -> vgone -> devfs_reclaim: v_rdev cleared).  It runs at
 * the next lookup or readdir on the mount (devfs_lookup, devfs_readdir),
 * not in destroy_dev: until then a file open on a destroyed cdev reaches
 * it through v_rdev, and only si_devsw == NULL keeps its calls out of the
 * driver (devvn_refthread).  kernsim populates at open(2) and at every
 * name check (dev-exists, test -c).
 */
static void
ks_devfs_populate(void)
{
	struct ks_vnode *vp;

	for (;;) {
		hs_lock(HS_LOCK_DEVFS);
		vp = ks_devfs_gone;
		if (vp != NULL) {
			ks_devfs_gone = vp->v_gonenext;
			vp->v_doomed = 1;
			atomic_store_rel_ptr((volatile uintptr_t *)&vp->v_rdev,
			    0);
		}
		hs_unlock(HS_LOCK_DEVFS);
		if (vp == NULL)
			break;
		ks_vrele(vp);
	}
}

/*
 * kern/kern_conf.c: destroy_devl().  Rules modelled: an eternal cdev is
 * never destroyed ("Destroying eternal cdev"); the name goes at once
 * (devfs_destroy clears CDP_ACTIVE; every lookup populates first), its
 * vnode at the next populate (ks_devfs_populate: then calls through an
 * open file get the doomed-vnode answers); si_devsw becomes NULL (so that
 * until then devvn_refthread refuses them); the caller sleeps,
 * polling si_threadcount every hz/10 without PCATCH ("devdrn"), calling
 * d_purge while threads remain ("devprg"); then the cdevpriv destructors
 * of every file still open on it run; the cdev leaves csw->d_devs (waking
 * destroy_dev_drain when the list empties); si_drv1/2 are cleared.
 * destroy_dev() itself: WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK).
 */
void
destroy_dev(struct cdev *dev)
{
	struct ks_cdev_priv *cdp = cdev2priv(dev), **pp;
	struct cdevsw *csw;
	struct ks_cdevpriv *p;
	struct ks_vnode *vp;
	char held[256];

	if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
		ks_failf("witness: destroy_dev with non-sleepable locks held: "
		    "%s", held);
	if ((dev->si_flags & SI_ETERNAL) != 0)
		ks_failf("panic: destroy_dev: Destroying eternal cdev %p (%s)",
		    dev, dev->si_name);
	ks_mtx_lock(&devmtx);
	if ((dev->si_flags & SI_NAMED) == 0)
		ks_failf("panic: WARNING: Driver mistake: destroy_dev on %s",
		    dev->si_name);
	hs_lock(HS_LOCK_DEVFS);
	cdp->cdp_active = 0;
	for (pp = &ks_cdevs; *pp != NULL; pp = &(*pp)->cdp_next)
		if (*pp == cdp) {
			*pp = cdp->cdp_next;
			break;
		}
	/* devfs_destroy: the vnode waits for the next devfs_populate. */
	vp = cdp->cdp_vnode;
	cdp->cdp_vnode = NULL;
	vp->v_gonenext = ks_devfs_gone;
	ks_devfs_gone = vp;
	hs_unlock(HS_LOCK_DEVFS);
	dev->si_flags &= ~SI_NAMED;
	csw = dev->si_devsw;
	/* The mutation si-devsw-kept forgets this store. */
	if (!ks_mutate_si_devsw_kept)
		atomic_store_rel_ptr((volatile uintptr_t *)&dev->si_devsw, 0);
	while (csw != NULL && csw->d_purge != NULL &&
	    atomic_load_acq_long(&dev->si_threadcount) != 0) {
		csw->d_purge(dev);
		ks_msleep(csw, &devmtx, PRIBIO, "devprg", 100000000L);
		if (dev->si_threadcount != 0)
			printf("Still %lu threads in %s\n", dev->si_threadcount,
			    dev->si_name);
	}
	while (atomic_load_acq_long(&dev->si_threadcount) != 0)
		ks_msleep(&csw, &devmtx, PRIBIO, "devdrn", 100000000L);
	ks_mtx_unlock(&devmtx);
	/* The cdevpriv of every file still open on it. */
	for (;;) {
		hs_lock(HS_LOCK_DEVFS);
		p = cdp->cdp_fdpriv;
		if (p != NULL) {
			cdp->cdp_fdpriv = p->cdpd_next;
			p->cdpd_fp->f_cdevpriv = NULL;
		}
		hs_unlock(HS_LOCK_DEVFS);
		if (p == NULL)
			break;
		ks_destroy_cdevpriv(p);
	}
	ks_mtx_lock(&devmtx);
	dev->si_drv1 = NULL;
	dev->si_drv2 = NULL;
	if (csw != NULL) {
		LIST_REMOVE(dev, si_list);
		if (LIST_EMPTY(&csw->d_devs))
			wakeup(&csw->d_devs);
	}
	ks_mtx_unlock(&devmtx);
	ks_dev_rel(dev);
}

/* kern/kern_conf.c: destroy_dev_drain(): until csw has no device. */
void
destroy_dev_drain(struct cdevsw *csw)
{

	ks_devfs_init();
	ks_mtx_lock(&devmtx);
	while ((csw->d_flags & D_INIT) != 0 && !LIST_EMPTY(&csw->d_devs))
		ks_msleep(&csw->d_devs, &devmtx, PRIBIO, "devscd", 100000000L);
	ks_mtx_unlock(&devmtx);
}

/*
 * kern/kern_conf.c: dev_refthread() -- eternal cdevs are not counted;
 * others count si_threadcount unless destroyed (si_devsw NULL).
 */
static struct cdevsw *
ks_dev_refthread(struct cdev *dev, int *ref)
{
	struct cdevsw *csw;

	if ((dev->si_flags & SI_ETERNAL) != 0) {
		*ref = 0;
		return (dev->si_devsw);
	}
	hs_lock(HS_LOCK_DEVFS);		/* cdp_threadlock */
	csw = dev->si_devsw;
	if (csw != NULL)
		atomic_add_long(&dev->si_threadcount, 1);
	hs_unlock(HS_LOCK_DEVFS);
	*ref = csw != NULL;
	return (csw);
}

/*
 * kern/kern_conf.c: devvn_refthread() -- for a VV_ETERNALDEV vnode the
 * cdev must still be SI_ETERNAL ("Not eternal cdev") with a non-NULL
 * si_devsw ("Eternal cdev is destroyed"); kernsim makes both KASSERTs
 * hard failures.
 */
static struct cdevsw *
ks_devvn_refthread(struct ks_vnode *vp, struct cdev **devp, int *ref)
{
	struct cdevsw *csw;
	struct cdev *dev;

	if (vp->v_eternal) {
		dev = (struct cdev *)atomic_load_acq_ptr(
		    (volatile uintptr_t *)&vp->v_rdev);
		if (dev == NULL)
			return (NULL);
		if ((dev->si_flags & SI_ETERNAL) == 0)
			ks_failf("panic: devvn_refthread: Not eternal cdev "
			    "(%s)", dev->si_name);
		*ref = 0;
		csw = dev->si_devsw;
		if (csw == NULL)
			ks_failf("panic: devvn_refthread: Eternal cdev is "
			    "destroyed (%s)", dev->si_name);
		*devp = dev;
		return (csw);
	}
	hs_lock(HS_LOCK_DEVFS);		/* VI_LOCK + cdp_threadlock */
	dev = vp->v_rdev;
	csw = NULL;
	if (dev != NULL) {
		csw = dev->si_devsw;
		if (csw != NULL)
			atomic_add_long(&dev->si_threadcount, 1);
	}
	hs_unlock(HS_LOCK_DEVFS);
	if (csw != NULL) {
		*devp = dev;
		*ref = 1;
	}
	return (csw);
}

/* kern/kern_conf.c: dev_relthread() */
static void
ks_dev_relthread(struct cdev *dev, int ref)
{

	if (!ref)
		return;
	if (dev->si_threadcount == 0)
		ks_failf("panic: dev_relthread: si_threadcount underflow (%s)",
		    dev->si_name);
	atomic_subtract_rel_long(&dev->si_threadcount, 1);
}

/*
 * fs/devfs/devfs_vnops.c: devfs_set_cdevpriv(): needs td_fpop (ENOENT
 * without), EBUSY if the file already has one; devfs_get_cdevpriv():
 * EBADF without td_fpop, ENOENT when none set.
 */
int
devfs_set_cdevpriv(void *priv, d_priv_dtor_t *dtr)
{
	struct ks_file *fp = (struct ks_file *)curthread->td_fpop;
	struct ks_cdev_priv *cdp;
	struct ks_cdevpriv *p;

	if (fp == NULL)
		return (ENOENT);
	cdp = cdev2priv(fp->f_data);
	if (fp->f_cdevpriv != NULL)
		return (EBUSY);
	p = ks_kmalloc(sizeof(*p), M_WAITOK | M_ZERO);
	p->cdpd_data = priv;
	p->cdpd_dtr = dtr;
	p->cdpd_fp = fp;
	hs_lock(HS_LOCK_DEVFS);
	if (fp->f_cdevpriv != NULL) {
		hs_unlock(HS_LOCK_DEVFS);
		ks_kfree(p);
		return (EBUSY);
	}
	p->cdpd_next = cdp->cdp_fdpriv;
	cdp->cdp_fdpriv = p;
	fp->f_cdevpriv = p;
	hs_unlock(HS_LOCK_DEVFS);
	return (0);
}

int
devfs_get_cdevpriv(void **datap)
{
	struct ks_file *fp = (struct ks_file *)curthread->td_fpop;
	struct ks_cdevpriv *p;

	if (fp == NULL)
		return (EBADF);
	p = fp->f_cdevpriv;
	if (p == NULL)
		return (ENOENT);
	*datap = p->cdpd_data;
	return (0);
}

/* fs/devfs/devfs_vnops.c: devfs_fpdrop(): run the file's destructor. */
static void
ks_fpdrop(struct ks_file *fp)
{
	struct ks_cdev_priv *cdp;
	struct ks_cdevpriv *p, **pp;

	hs_lock(HS_LOCK_DEVFS);
	p = fp->f_cdevpriv;
	if (p == NULL) {
		hs_unlock(HS_LOCK_DEVFS);
		return;
	}
	cdp = cdev2priv(fp->f_data);
	for (pp = &cdp->cdp_fdpriv; *pp != NULL; pp = &(*pp)->cdpd_next)
		if (*pp == p) {
			*pp = p->cdpd_next;
			break;
		}
	fp->f_cdevpriv = NULL;
	hs_unlock(HS_LOCK_DEVFS);
	ks_destroy_cdevpriv(p);
}

void
devfs_clear_cdevpriv(void)
{
	struct ks_file *fp = (struct ks_file *)curthread->td_fpop;

	if (fp != NULL)
		ks_fpdrop(fp);
}

int
k_dev_exists(const char *path)
{
	int r;

	if (strncmp(path, "/dev/", 5) != 0)
		return (0);
	ks_devfs_populate();		/* devfs_lookup */
	hs_lock(HS_LOCK_DEVFS);
	r = ks_dev_lookup(path + 5) != NULL;
	hs_unlock(HS_LOCK_DEVFS);
	return (r);
}

/*
 * stat(2) of a /dev name (fs/devfs/devfs_vnops.c devfs_getattr): a device
 * node's va_fileid is its dirent's de_inode, which devfs_populate_loop
 * set from the cdev's cdp_inode, and its va_rdev is cdp_inode too
 * (dev2udev); va_uid, va_gid and va_mode are the dirent's de_uid, de_gid
 * and de_mode, which devfs_populate_loop (fs/devfs/devfs_devs.c) copied
 * from the cdev's si_uid, si_gid and si_mode.  0, or ENOENT for a name
 * devfs does not show.
 */
int
k_dev_stat(const char *path, unsigned long *st)
{
	struct ks_cdev_priv *cdp;
	int error = ENOENT;

	if (strncmp(path, "/dev/", 5) != 0)
		return (ENOENT);
	ks_devfs_populate();		/* devfs_lookup */
	hs_lock(HS_LOCK_DEVFS);
	if ((cdp = ks_dev_lookup(path + 5)) != NULL) {
		st[0] = cdp->cdp_inode;
		st[1] = cdp->cdp_inode;
		st[2] = cdp->cdp_c.si_uid;
		st[3] = cdp->cdp_c.si_gid;
		st[4] = (unsigned long)cdp->cdp_c.si_mode & 07777;
		error = 0;
	}
	hs_unlock(HS_LOCK_DEVFS);
	return (error);
}

/*
 * open(2) of a device (fs/devfs/devfs_vnops.c: devfs_open): the name must
 * exist (ENOENT); dev_refthread (ENXIO when destroyed); td_fpop = fp
 * around d_open; a failed d_open clears the cdevpriv it may have set
 * (devfs_clear_cdevpriv) and ERESTART becomes EINTR.
 */
int
k_open(const char *path, int oflags, void **fpp)
{
	struct ks_cdev_priv *cdp;
	struct ks_vnode *vp;
	struct ks_file *fp;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	struct thread *td = curthread;
	int error, ref;

	if (strncmp(path, "/dev/", 5) != 0)
		return (ENOENT);
	ks_devfs_populate();		/* devfs_lookup */
	hs_lock(HS_LOCK_DEVFS);
	cdp = ks_dev_lookup(path + 5);
	if (cdp == NULL) {
		hs_unlock(HS_LOCK_DEVFS);
		return (ENOENT);
	}
	dev = &cdp->cdp_c;
	vp = cdp->cdp_vnode;
	atomic_add_int(&vp->v_refs, 1);
	atomic_add_int((volatile u_int *)&dev->si_refcount, 1);
	hs_unlock(HS_LOCK_DEVFS);
	fp = ks_kmalloc(sizeof(*fp), M_WAITOK | M_ZERO);
	fp->f_count = 1;
	/* kern/vfs_syscalls.c: FFLAGS(oflags) */
	fp->f_flag = (oflags + 1) & (FREAD | FWRITE | O_NONBLOCK | O_APPEND |
	    O_DIRECT | FASYNC);
	fp->f_data = dev;
	fp->f_vnode = vp;
	dsw = ks_dev_refthread(dev, &ref);
	if (dsw == NULL) {
		error = ENXIO;
		goto fail;
	}
	atomic_add_int(&cdp->cdp_usecount, 1);
	fpop = td->td_fpop;
	td->td_fpop = (struct file *)fp;
	error = dsw->d_open(dev, fp->f_flag, S_IFCHR, td);
	if (error != 0)
		ks_fpdrop(fp);
	td->td_fpop = fpop;
	if (error != 0)
		atomic_subtract_int(&cdp->cdp_usecount, 1);
	ks_dev_relthread(dev, ref);
	if (error == ERESTART)
		error = EINTR;
	if (error != 0)
		goto fail;
	*fpp = fp;
	return (0);
fail:
	ks_kfree(fp);
	ks_vrele(vp);
	ks_dev_rel(dev);
	return (error);
}

void
k_fhold(void *p)
{
	struct ks_file *fp = p;

	atomic_add_int(&fp->f_count, 1);
}

/*
 * The last reference to a file closes it (kern/kern_descrip.c: _fdrop ->
 * fo_close).  fs/devfs/devfs_vnops.c: devfs_close_f() sets td_fpop and
 * runs devfs_close(): d_close on the last close of the cdev, on every
 * close with D_TRACKCLOSE, with FREVOKE once the vnode is doomed (then no
 * d_close at all here: a reclaimed vnode has no cdev); then
 * devfs_fpdrop() runs the cdevpriv destructor -- after d_close, so that
 * d_close still finds the file's cdevpriv (devfs_close_f keeps td_fpop
 * = fp across vnops.fo_close; "The f_cdevpriv cannot be assigned non-NULL
 * value while we are destroying the file", then devfs_fpdrop).  The
 * mutation dtor-before-close runs the destructor first.
 */
int
k_fdrop(void *p)
{
	struct ks_file *fp = p;
	struct thread *td = curthread;
	struct ks_vnode *vp = fp->f_vnode;
	struct ks_cdev_priv *cdp;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	int error = 0, ref, flags, last;

	if (atomic_fetchadd_int(&fp->f_count, -1) != 1)
		return (0);
	fpop = td->td_fpop;
	td->td_fpop = (struct file *)fp;
	if (ks_mutate_dtor_before_close && fp->f_cdevpriv != NULL)
		ks_fpdrop(fp);
	dev = NULL;
	dsw = ks_devvn_refthread(vp, &dev, &ref);
	if (dsw != NULL) {
		cdp = cdev2priv(dev);
		last = atomic_fetchadd_int(&cdp->cdp_usecount, -1) == 1;
		flags = fp->f_flag;
		if (last)
			flags |= FLASTCLOSE;
		if ((dsw->d_flags & D_TRACKCLOSE) != 0 || last)
			error = dsw->d_close(dev, flags, S_IFCHR, td);
		ks_dev_relthread(dev, ref);
	}
	td->td_fpop = fpop;
	if (fp->f_cdevpriv != NULL)
		ks_fpdrop(fp);
	ks_dev_rel(fp->f_data);
	ks_vrele(vp);
	ks_kfree(fp);
	return (error);
}

/* fs/devfs/devfs_vnops.c: devfs_fp_check() */
static int
ks_fp_check(struct ks_file *fp, struct cdev **devp, struct cdevsw **dswp,
    int *ref)
{

	*dswp = ks_devvn_refthread(fp->f_vnode, devp, ref);
	if (*dswp == NULL || *devp != fp->f_data) {
		if (*dswp != NULL)
			ks_dev_relthread(*devp, *ref);
		return (ENXIO);
	}
	ks_file_mirror_fflag(fp->f_real, fp->f_flag);
	curthread->td_fpop = (struct file *)fp;
	return (0);
}

/*
 * fs/devfs/devfs_vnops.c devfs_ioctl_f() (fo_ioctl): devfs_fp_check,
 * td_fpop, d_ioctl, ENOIOCTL -> ENOTTY; a doomed vnode answers ENXIO.
 */
static int
ks_fo_ioctl(struct ks_file *fp, u_long com, caddr_t data)
{
	struct thread *td = curthread;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	int error, ref;

	fpop = td->td_fpop;
	error = ks_fp_check(fp, &dev, &dsw, &ref);
	if (error != 0)
		return (ENXIO);		/* vn_ioctl on the doomed vnode */
	error = dsw->d_ioctl(dev, com, data, fp->f_flag, td);
	td->td_fpop = fpop;
	ks_dev_relthread(dev, ref);
	if (error == ENOIOCTL)
		error = ENOTTY;
	return (error);
}

/*
 * ioctl(2): kern/sys_generic.c sys_ioctl(): the size in the command
 * (IOCPARM_LEN) must not exceed IOCPARM_MAX and an IOC_VOID command with a
 * size must carry an int (else ENOTTY); IOC_VOID with an int passes the
 * value; IOC_IN copies in, IOC_OUT zeroes the kernel buffer and copies out
 * on success.  kern_ioctl(): FIONBIO/FIOASYNC update f_flag first.
 */
int
k_ioctl(void *p, unsigned long com, void *udata)
{
	struct ks_file *fp = p;
	u_char smalldata[128] __aligned(8);
	caddr_t data;
	intptr_t arg;
	u_int size;
	int error, tmp;

	if (com > 0xffffffff) {
		printf("WARNING: ioctl sign-extension ioctl %lx\n", com);
		com &= 0xffffffff;
	}
	size = IOCPARM_LEN(com);
	if (size > IOCPARM_MAX ||
	    ((com & IOC_VOID) != 0 && size > 0 && size != sizeof(int)))
		return (ENOTTY);
	if (size > 0) {
		if ((com & IOC_VOID) != 0) {
			arg = (intptr_t)udata;
			data = (caddr_t)&arg;
			size = 0;
		} else if (size > sizeof(smalldata))
			data = ks_kmalloc(size, M_WAITOK);
		else
			data = (caddr_t)smalldata;
	} else
		data = (caddr_t)&udata;
	if ((com & IOC_IN) != 0 && size > 0) {
		if (udata == NULL) {
			error = EFAULT;
			goto out;
		}
		memcpy(data, udata, size);
	} else if ((com & IOC_OUT) != 0 && size > 0)
		memset(data, 0, size);
	switch (com) {
	case FIONBIO:
		if ((tmp = *(int *)data) != 0)
			atomic_set_int(&fp->f_flag, FNONBLOCK);
		else
			atomic_clear_int(&fp->f_flag, FNONBLOCK);
		break;
	case FIOASYNC:
		if ((tmp = *(int *)data) != 0)
			atomic_set_int(&fp->f_flag, FASYNC);
		else
			atomic_clear_int(&fp->f_flag, FASYNC);
		break;
	}
	error = ks_fo_ioctl(fp, com, data);
	if (error == 0 && (com & IOC_OUT) != 0 && size > 0) {
		if (udata == NULL)
			error = EFAULT;
		else
			memcpy(udata, data, size);
	}
out:
	if (size > sizeof(smalldata))
		ks_kfree(data);
	return (error);
}

/*
 * read(2)/write(2): fs/devfs/devfs_vnops.c devfs_read_f/devfs_write_f:
 * ioflag from f_flag (O_NONBLOCK | O_DIRECT), td_fpop, d_read/d_write on a
 * struct uio; a doomed vnode answers EIO (dead_read/dead_write).
 */
int
k_rw(void *p, void *buf, unsigned long len, int write, long *donep)
{
	struct ks_file *fp = p;
	struct thread *td = curthread;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	struct iovec iov;
	struct uio uio;
	int error, ref, ioflag;

	*donep = 0;
	if (len > INT_MAX)
		return (EINVAL);
	if ((fp->f_flag & (write ? FWRITE : FREAD)) == 0)
		return (EBADF);
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&uio, 0, sizeof(uio));
	uio.uio_iov = &iov;
	uio.uio_iovcnt = 1;
	uio.uio_resid = len;
	uio.uio_segflg = UIO_USERSPACE;
	uio.uio_rw = write ? UIO_WRITE : UIO_READ;
	uio.uio_td = td;
	fpop = td->td_fpop;
	error = ks_fp_check(fp, &dev, &dsw, &ref);
	if (error != 0)
		return (EIO);
	ioflag = fp->f_flag & (O_NONBLOCK | O_DIRECT);
	error = write ? dsw->d_write(dev, &uio, ioflag) :
	    dsw->d_read(dev, &uio, ioflag);
	td->td_fpop = fpop;
	ks_dev_relthread(dev, ref);
	*donep = len - uio.uio_resid;
	/* kern/sys_generic.c dofileread/dofilewrite: a partial transfer
	 * interrupted or refused for blocking counts as a transfer. */
	if (error != 0 && *donep != 0 && (error == ERESTART ||
	    error == EINTR || error == EWOULDBLOCK))
		error = 0;
	return (error);
}

/*
 * kern/subr_uio.c uiomove(): mode READ or WRITE ("uiomove: mode"); a
 * user-space uio belongs to curthread ("uiomove proc") and may fault, so
 * WITNESS_WARN(WARN_GIANTOK | WARN_SLEEPOK) and no critical section; the
 * iovecs advance as bytes move; kernsim's user memory is the host's, so
 * copyin/copyout are plain copies.
 */
int
uiomove(void *cp, int n, struct uio *uio)
{
	struct iovec *iov;
	char held[256];
	size_t cnt;

	if (uio->uio_rw != UIO_READ && uio->uio_rw != UIO_WRITE)
		ks_failf("panic: uiomove: mode");
	if (uio->uio_segflg == UIO_USERSPACE) {
		if (uio->uio_td != curthread)
			ks_failf("panic: uiomove proc");
		if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
			ks_failf("witness: Calling uiomove() with the following "
			    "non-sleepable locks held: %s", held);
		if (curthread->td_critnest != 0)
			ks_failf("panic: uiomove: in a critical section");
	}
	while (n > 0 && uio->uio_resid > 0) {
		iov = uio->uio_iov;
		cnt = iov->iov_len;
		if (cnt == 0) {
			uio->uio_iov++;
			uio->uio_iovcnt--;
			continue;
		}
		if (cnt > (size_t)n)
			cnt = n;
		if (uio->uio_rw == UIO_READ)
			memcpy(iov->iov_base, cp, cnt);
		else
			memcpy(cp, iov->iov_base, cnt);
		iov->iov_base = (char *)iov->iov_base + cnt;
		iov->iov_len -= cnt;
		uio->uio_resid -= cnt;
		uio->uio_offset += cnt;
		cp = (char *)cp + cnt;
		n -= cnt;
	}
	hs_preempt_point();
	return (0);
}

/* fs/devfs/devfs_vnops.c: devfs_poll_f(); a doomed vnode: dead_poll. */
static int
ks_fo_poll(struct ks_file *fp, int events)
{
	struct thread *td = curthread;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	int error, ref, revents;

	fpop = td->td_fpop;
	error = ks_fp_check(fp, &dev, &dsw, &ref);
	if (error != 0)
		return (POLLHUP | ((POLLIN | POLLRDNORM) & events));
	revents = dsw->d_poll(dev, events, td);
	td->td_fpop = fpop;
	ks_dev_relthread(dev, ref);
	return (revents);
}

/*
 * poll(2): kern/sys_generic.c kern_poll_kfds()/pollscan(): scan, and if
 * nothing is ready sleep in seltdwait() until a selwakeup(), the timeout
 * or a signal, then scan again; POLLHUP clears POLLOUT; ERESTART -> EINTR,
 * EWOULDBLOCK (timeout) -> 0.
 */
int
k_poll(void **fps, const short *events, short *revents, int n, long timo_ms,
    int *nready)
{
	struct thread *td = curthread;
	unsigned long deadline = 0, now;
	int error = 0, i, cnt;

	if (timo_ms > 0)
		deadline = hs_uptime_ns() + timo_ms * 1000000UL;
	for (;;) {
		cnt = 0;
		for (i = 0; i < n; i++) {
			if (fps[i] == NULL) {
				revents[i] = POLLNVAL;
				cnt++;
				continue;
			}
			revents[i] = ks_fo_poll(fps[i], events[i]);
			if ((revents[i] & POLLHUP) != 0)
				revents[i] &= ~POLLOUT;
			if (revents[i] != 0)
				cnt++;
		}
		if (cnt != 0 || timo_ms == 0)
			break;
		if (timo_ms > 0) {
			now = hs_uptime_ns();
			if (now >= deadline)
				break;
			error = ks_seltdwait(td, (deadline - now) / 1000000 + 1);
		} else
			error = ks_seltdwait(td, -1);
		ks_seltdclear(td);
		if (error != 0)
			break;
	}
	ks_seltdclear(td);
	if (error == ERESTART)
		error = EINTR;
	if (error == EWOULDBLOCK)
		error = 0;
	*nready = cnt;
	return (error);
}

/*
 * fcntl(2) (kern/kern_descrip.c kern_fcntl): F_GETFL answers
 * OFLAGS(f_flag); F_SETFL replaces the FCNTLFLAGS, then tells the file
 * through fo_ioctl FIONBIO and FIOASYNC; if either fails the flags are put
 * back (and a FIOASYNC failure also turns FIONBIO off again).
 */
int
k_fcntl(void *p, int cmd, long arg, int *retp)
{
	struct ks_file *fp = p;
	u_int flg, tmp, got_set, got_cleared;
	int error, itmp;

	switch (cmd) {
	case F_GETFL:
		*retp = OFLAGS(fp->f_flag);
		return (0);
	case F_SETFL:
		do {
			tmp = flg = fp->f_flag;
			tmp &= ~FCNTLFLAGS;
			tmp |= FFLAGS(arg & ~O_ACCMODE) & FCNTLFLAGS;
		} while (atomic_cmpset_int(&fp->f_flag, flg, tmp) == 0);
		got_set = tmp & ~flg;
		got_cleared = flg & ~tmp;
		itmp = fp->f_flag & FNONBLOCK;
		error = ks_fo_ioctl(fp, FIONBIO, (caddr_t)&itmp);
		if (error == 0) {
			itmp = fp->f_flag & FASYNC;
			error = ks_fo_ioctl(fp, FIOASYNC, (caddr_t)&itmp);
			if (error == 0) {
				*retp = 0;
				return (0);
			}
			atomic_clear_int(&fp->f_flag, FNONBLOCK);
			itmp = 0;
			(void)ks_fo_ioctl(fp, FIONBIO, (caddr_t)&itmp);
		}
		do {
			tmp = flg = fp->f_flag;
			tmp &= ~FCNTLFLAGS;
			tmp |= got_cleared;
			tmp &= ~got_set;
		} while (atomic_cmpset_int(&fp->f_flag, flg, tmp) == 0);
		return (error);
	default:
		return (EINVAL);
	}
}

/*
 * mmap(2) is in kern/vm_map.c (devfs_mmap_f, vm_mmap_cdev): these give it
 * devfs_fp_check(), dev_relthread() and the file's flags.
 */
int
ks_devfs_fp_check(struct file *fp, struct cdev **devp, struct cdevsw **dswp,
    int *ref)
{

	return (ks_fp_check((struct ks_file *)fp, devp, dswp, ref));
}

void
ks_devfs_relthread(struct cdev *dev, int ref)
{

	ks_dev_relthread(dev, ref);
}

u_int
ks_file_fflag(struct file *fp)
{

	return (((struct ks_file *)fp)->f_flag);
}

/*
 * fs/devfs/devfs_vnops.c devfs_kqfilter_f(): devfs_fp_check (a doomed
 * vnode: its error), td_fpop, d_kqfilter.
 */
int
ks_fo_kqfilter(struct file *f, struct knote *kn)
{
	struct ks_file *fp = (struct ks_file *)f;
	struct thread *td = curthread;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	int error, ref;

	fpop = td->td_fpop;
	error = ks_fp_check(fp, &dev, &dsw, &ref);
	if (error != 0)
		return (error);
	error = dsw->d_kqfilter(dev, kn);
	td->td_fpop = fpop;
	ks_dev_relthread(dev, ref);
	return (error);
}

void
ks_file_drop(struct file *f)
{

	(void)k_fdrop(f);
}
