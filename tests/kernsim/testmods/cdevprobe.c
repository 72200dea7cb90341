/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * /dev/ksimprobe: a plain counted cdev in a module of its own, written to
 * rely on exactly two devfs guarantees, so that a kernel breaking either
 * shows (kernsim's mutation self-tests; kernsim only, never shipped):
 *
 *  - D_TRACKCLOSE d_close runs with the file's cdevpriv still in place:
 *    fs/devfs/devfs_vnops.c devfs_close_f() keeps td_fpop = fp across
 *    vnops.fo_close (-> devfs_close -> d_close) and only then runs
 *    devfs_fpdrop() (the destructor).  d_close here panics if
 *    devfs_get_cdevpriv() does not give back what d_open set.
 *    (-M dtor-before-close breaks it: cases/self-dtor-before-close.ks.)
 *  - after destroy_dev() returns, no call through a file still open on the
 *    cdev reaches the driver: kern/kern_conf.c destroy_devl() clears
 *    si_devsw, and devvn_refthread()/dev_refthread() refuse a NULL one,
 *    even before devfs_populate() reclaims the vnode.  MOD_UNLOAD destroys
 *    the cdev and the module's text goes with kldunload; a call that still
 *    reached d_ioctl would run unloaded text.
 *    (-M si-devsw-kept breaks it: cases/self-si-devsw-kept.ks.)
 *
 * The control (both rules kept) is cases/devfs-rules.ks.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/ioccom.h>
#include <sys/kernel.h>
#include <sys/malloc.h>
#include <sys/module.h>

static MALLOC_DEFINE(M_PROBE, "cdevprobe", "kernsim devfs probe");

#define	PROBE_MAGIC	0x70726f62u

struct probe_priv {
	u_int	magic;
};

static d_open_t		probe_open;
static d_close_t	probe_close;
static d_ioctl_t	probe_ioctl;

static struct cdevsw probe_cdevsw = {
	.d_version =	D_VERSION,
	.d_flags =	D_TRACKCLOSE,
	.d_name =	"ksimprobe",
	.d_open =	probe_open,
	.d_close =	probe_close,
	.d_ioctl =	probe_ioctl,
};

static struct cdev *probe_dev;

static void
probe_dtor(void *arg)
{
	struct probe_priv *p = arg;

	p->magic = 0;
	free(p, M_PROBE);
}

static int
probe_open(struct cdev *dev __unused, int oflags __unused,
    int devtype __unused, struct thread *td __unused)
{
	struct probe_priv *p;
	int error;

	p = malloc(sizeof(*p), M_PROBE, M_WAITOK | M_ZERO);
	p->magic = PROBE_MAGIC;
	error = devfs_set_cdevpriv(p, probe_dtor);
	if (error != 0)
		free(p, M_PROBE);
	return (error);
}

static int
probe_close(struct cdev *dev __unused, int fflag __unused,
    int devtype __unused, struct thread *td __unused)
{
	void *v;
	int error;

	error = devfs_get_cdevpriv(&v);
	if (error != 0)
		panic("cdevprobe: d_close without its cdevpriv (error %d)",
		    error);
	if (((struct probe_priv *)v)->magic != PROBE_MAGIC)
		panic("cdevprobe: d_close with a destroyed cdevpriv");
	return (0);
}

static int
probe_ioctl(struct cdev *dev __unused, u_long cmd, caddr_t data __unused,
    int fflag __unused, struct thread *td __unused)
{
	void *v;

	if (cmd != (u_long)_IO('p', 1))
		return (ENOTTY);
	return (devfs_get_cdevpriv(&v));
}

static int
probe_modevent(module_t mod __unused, int type, void *data __unused)
{
	struct make_dev_args args;

	switch (type) {
	case MOD_LOAD:
		make_dev_args_init(&args);
		args.mda_flags = MAKEDEV_WAITOK | MAKEDEV_CHECKNAME;
		args.mda_devsw = &probe_cdevsw;
		args.mda_mode = 0666;
		return (make_dev_s(&args, &probe_dev, "ksimprobe"));
	case MOD_UNLOAD:
		destroy_dev(probe_dev);
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t probe_mod = {
	"cdevprobe",
	probe_modevent,
	NULL
};

DECLARE_MODULE(cdevprobe, probe_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(cdevprobe, 1);
