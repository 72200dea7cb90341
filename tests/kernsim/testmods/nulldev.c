/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * /dev/ksimnull: a bare eternal cdev with no gate at all, whose ioctl
 * answers DEVRING_IOC_SYNC as devring does (tail = head).  The floor of
 * kernsim's benchmark (tests/kernsim/bench.sh): what an ioctl costs in
 * kernsim's devfs with nothing of devref's on the way, like null(4) in a
 * real kernel.  Eternal, so it never unloads; kernsim only.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/kernel.h>
#include <sys/module.h>

#include "devring_ioctl.h"

static d_ioctl_t nulldev_ioctl;

static struct cdevsw nulldev_cdevsw = {
	.d_version =	D_VERSION,
	.d_name =	"ksimnull",
	.d_ioctl =	nulldev_ioctl,
};

static int
nulldev_ioctl(struct cdev *dev __unused, u_long cmd, caddr_t data,
    int fflag __unused, struct thread *td __unused)
{
	struct devring_sync *s;

	if (cmd != DEVRING_IOC_SYNC)
		return (ENOTTY);
	s = (struct devring_sync *)data;
	if (s->head >= DEVRING_SLOTS)
		return (EINVAL);
	s->tail = s->head;
	return (0);
}

static int
nulldev_modevent(module_t mod __unused, int type, void *data __unused)
{
	struct make_dev_args args;
	struct cdev *cdev;

	switch (type) {
	case MOD_LOAD:
		make_dev_args_init(&args);
		/* The bit itself: MAKEDEV_ETERNAL_KLD is 0 in modules. */
		args.mda_flags = MAKEDEV_ETERNAL | MAKEDEV_WAITOK;
		args.mda_devsw = &nulldev_cdevsw;
		args.mda_uid = UID_ROOT;
		args.mda_gid = GID_WHEEL;
		args.mda_mode = 0666;
		return (make_dev_s(&args, &cdev, "ksimnull"));
	case MOD_UNLOAD:
		return (EBUSY);
	default:
		return (0);
	}
}

static moduledata_t nulldev_mod = {
	"ksimnull",
	nulldev_modevent,
	NULL
};

DECLARE_MODULE(ksimnull, nulldev_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
