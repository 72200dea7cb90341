/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devref's resident cdevsw.  Every device devref creates, for any client,
 * uses this table: its entry points live in devref.ko, which never unloads
 * while such a node exists, so devfs can always call them.  Each one only
 * fetches the file's cdevpriv and hands over to the Rust dispatch, which
 * enters the device's gate before calling the client.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/fcntl.h>
#include <sys/file.h>
#include <sys/filio.h>
#include <sys/kernel.h>
#include <sys/limits.h>
#include <sys/malloc.h>
#include <sys/proc.h>
#include <sys/uio.h>

#include <vm/vm.h>

#include "devref_shim.h"

static d_open_t		devref_cdev_open;
static d_close_t	devref_cdev_close;
static d_read_t		devref_cdev_read;
static d_write_t	devref_cdev_write;
static d_ioctl_t	devref_cdev_ioctl;
static d_poll_t		devref_cdev_poll;
static d_kqfilter_t	devref_cdev_kqfilter;
static d_mmap_single_t	devref_cdev_mmap_single;

/*
 * The cdevsw devfs reads for every node, in a zero-tailed container (see
 * DEVREF_KTABLE_PAD): D_VERSION guards its layout, the padding anything a
 * later kernel might append.
 */
static struct {
	struct cdevsw	dcs_sw;
	char		dcs_zero[DEVREF_KTABLE_PAD];
} devref_cdevsw = {
	.dcs_sw = {
		.d_version =	D_VERSION,
		.d_flags =	D_TRACKCLOSE,
		.d_name =	"devref",
		.d_open =	devref_cdev_open,
		.d_close =	devref_cdev_close,
		.d_read =	devref_cdev_read,
		.d_write =	devref_cdev_write,
		.d_ioctl =	devref_cdev_ioctl,
		.d_poll =	devref_cdev_poll,
		.d_kqfilter =	devref_cdev_kqfilter,
		.d_mmap_single = devref_cdev_mmap_single,
	},
};

static void *
devref_cdev_handle(void)
{
	void *handle;

	if (devfs_get_cdevpriv(&handle) != 0)
		return (NULL);
	return (handle);
}

/*
 * Each entry keeps a call mark in its frame while Rust and the client run
 * (see devref_shim.h), so that a destroy issued from inside the call can
 * tell and defer.
 */
static int
devref_cdev_open(struct cdev *cdev, int oflags, int devtype __unused,
    struct thread *td)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	int error;

	error = devref_rs_open(cdev->si_drv1, oflags, td);
	DEVREF_CALL_UNMARK();
	return (error);
}

/*
 * Per-open state is released by the cdevpriv destructor, which devfs runs
 * once per file; close has nothing of its own to do.
 */
static int
devref_cdev_close(struct cdev *cdev __unused, int fflag __unused,
    int devtype __unused, struct thread *td __unused)
{

	return (0);
}

static int
devref_cdev_read(struct cdev *cdev, struct uio *uio, int ioflag)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	int error;

	error = devref_rs_read(cdev->si_drv1, devref_cdev_handle(), uio,
	    ioflag);
	DEVREF_CALL_UNMARK();
	return (error);
}

static int
devref_cdev_write(struct cdev *cdev, struct uio *uio, int ioflag)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	int error;

	error = devref_rs_write(cdev->si_drv1, devref_cdev_handle(), uio,
	    ioflag);
	DEVREF_CALL_UNMARK();
	return (error);
}

/* devref_kpi.h: uiomove(9), which takes an int, for clients in Rust. */
int
devref_uio_move(void *cp, unsigned long n, struct uio *uio)
{

	if (n > INT_MAX)
		return (EINVAL);
	return (uiomove(cp, (int)n, uio));
}

unsigned long
devref_uio_resid(const struct uio *uio)
{

	return (uio->uio_resid > 0 ? (unsigned long)uio->uio_resid : 0);
}

static int
devref_cdev_ioctl(struct cdev *cdev, u_long cmd, caddr_t data, int fflag,
    struct thread *td)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	int error;

	error = devref_rs_ioctl(cdev->si_drv1, devref_cdev_handle(), cmd,
	    data, fflag, td);
	DEVREF_CALL_UNMARK();
	/*
	 * fcntl(F_SETFL) sends FIONBIO and FIOASYNC and undoes the change on
	 * any error; devfs passes them to the driver.  When the client does not
	 * know them, answer as null(4) does: FIONBIO is accepted, and FIOASYNC
	 * only to turn it off, since nobody would send the SIGIO (a dead device
	 * still says ENXIO).
	 */
	if (error == ENOTTY || error == ENODEV) {
		if (cmd == FIONBIO)
			error = 0;
		else if (cmd == FIOASYNC)
			error = *(int *)data != 0 ? EINVAL : 0;
	}
	return (error);
}

static int
devref_cdev_poll(struct cdev *cdev, int events, struct thread *td)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	int revents;

	revents = devref_rs_poll(cdev->si_drv1, devref_cdev_handle(), events,
	    td);
	DEVREF_CALL_UNMARK();
	return (revents);
}

static int
devref_cdev_kqfilter(struct cdev *cdev, struct knote *kn)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	int error;

	error = devref_rs_kqfilter(cdev->si_drv1, devref_cdev_handle(), kn);
	DEVREF_CALL_UNMARK();
	return (error);
}

/*
 * mmap(2): a region of the device's revocable memory (devref's managed
 * pager).  Never ENODEV: the kernel would fall back to an unmanaged
 * d_mmap object that nobody could revoke.  Runs with td_fpop set to the
 * file, whose FWRITE decides how far mprotect(2) may raise the mapping.
 */
static int
devref_cdev_mmap_single(struct cdev *cdev, vm_ooffset_t *offset,
    vm_size_t size, struct vm_object **object, int nprot)
{
	DEVREF_CALL_MARK(cdev->si_drv1);
	struct file *fp;
	unsigned long off;
	void *obj;
	int error;

	fp = curthread->td_fpop;
	off = (unsigned long)*offset;
	obj = NULL;
	error = devref_rs_mmap_single(cdev->si_drv1, devref_cdev_handle(), &off,
	    size, nprot, fp != NULL && (fp->f_flag & FWRITE) != 0, &obj);
	DEVREF_CALL_UNMARK();
	if (error == 0) {
		*offset = off;
		*object = obj;
	}
	return (error);
}

static void
devref_cdev_dtor(void *handle)
{
	DEVREF_CALL_MARK(devref_rs_handle_node(handle));

	devref_rs_handle_dtor(handle);
	DEVREF_CALL_UNMARK();
}

int
devref_shim_set_cdevpriv(void *handle)
{

	return (devfs_set_cdevpriv(handle, devref_cdev_dtor));
}

int
devref_shim_make_dev(const char *name, int mode, unsigned int uid,
    unsigned int gid, int perms, void *drv1, struct cdev **cdevp)
{
	struct make_dev_args args;

	make_dev_args_init(&args);
	args.mda_flags = MAKEDEV_CHECKNAME | MAKEDEV_WAITOK;
	if (mode == DEVREF_MODE_PCPU)
		args.mda_flags |= MAKEDEV_ETERNAL;
	args.mda_devsw = &devref_cdevsw.dcs_sw;
	args.mda_uid = uid;
	args.mda_gid = gid;
	args.mda_mode = perms;
	args.mda_si_drv1 = drv1;
	return (make_dev_s(&args, cdevp, "%s", name));
}

void
devref_shim_destroy_dev(struct cdev *cdev)
{

	destroy_dev(cdev);
}

/* Called once devref has no counted device left, before it unloads. */
void
devref_shim_cdevsw_drain(void)
{

	destroy_dev_drain(&devref_cdevsw.dcs_sw);
}
