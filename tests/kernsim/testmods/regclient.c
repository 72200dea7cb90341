/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim test client: a devref client in C with one counted node,
 * /dev/ksimreg, and devring's region ioctls (shim/devring_ioctl.h):
 * DEVRING_IOC_REGION (devref_region_alloc, device-wide) and
 * DEVRING_IOC_SUM (its words through the KVA devref gave).  Counted only,
 * so that devref itself can unload after it (cases/region-devref-unload.ks:
 * the graveyard abandoned at devref's unload).  KSIMREG_IOC_DESTROY_SELF
 * destroys the device from inside its own ioctl (cases/destroy-in-call.ks:
 * devref's stack scan sees the call and defers); KSIMREG_IOC_FORGE
 * creates a second device and destroys it with a forged, unkeyed mark of
 * it on the stack (cases/destroy-forged-mark.ks: the scan must not take it
 * for a call, so the destroy completes at once).  Never shipped.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/module.h>
#include <sys/mutex.h>

#include "devref_kpi.h"
#include "devring_ioctl.h"

#define	REG_MAX		8
/* Destroy /dev/ksimreg from inside this very ioctl. */
#define	KSIMREG_IOC_DESTROY_SELF	_IO('K', 1)
/* Destroy a fresh device with a forged mark of it on the stack. */
#define	KSIMREG_IOC_FORGE		_IO('K', 2)
/* shim/devref_shim.h's DEVREF_CALL_MAGIC: what a forger would know. */
#define	REG_CALL_MAGIC			0x6c63666572766564ULL

static struct devref_client *reg_client;
static struct devref_dev *reg_dev;
static struct mtx reg_mtx;
static struct {
	uint64_t	 cookie;
	uint32_t	*kva;
	unsigned long	 len;
} reg_regions[REG_MAX];

/*
 * What user data copied to the kernel stack could look like (sys_ioctl's
 * smalldata): the magic next to the node's address, without devref's
 * per-boot key.  The device is in no call, so devref must destroy it at
 * once (0), not defer (EINPROGRESS) as if this thread were inside it.
 */
static int
reg_forge(void)
{
	volatile unsigned long forged[2];
	struct devref_dev *dev;
	int error;

	error = devref_dev_create(reg_client, "ksimreg2", DEVREF_MODE_COUNTED,
	    UID_ROOT, GID_WHEEL, 0600, NULL, &dev);
	if (error != 0)
		return (error);
	forged[0] = REG_CALL_MAGIC;
	forged[1] = (unsigned long)dev;
	__asm __volatile("" : : "r" (forged) : "memory");
	error = devref_dev_destroy(dev, 1000);
	forged[0] = 0;
	return (error);
}

static int
reg_ioctl(void *softc __unused, void *priv __unused, unsigned long cmd,
    char *data, int fflag __unused, struct thread *td __unused)
{
	struct devring_region *r;
	struct devring_sum *s;
	unsigned long cookie, i;
	void *kva;
	int error, k;

	switch (cmd) {
	case KSIMREG_IOC_FORGE:
		return (reg_forge());
	case KSIMREG_IOC_DESTROY_SELF:
		/*
		 * devref must see that this thread is inside a call of the
		 * device (its mark on the stack) and defer instead of waiting
		 * for itself: EINPROGRESS, and reg_dev is not ours any more.
		 */
		return (devref_dev_destroy(reg_dev, 1000));
	case DEVRING_IOC_REGION:
		r = (struct devring_region *)data;
		if (r->pages == 0 || r->pages > DEVRING_REGION_MAX_PAGES)
			return (EINVAL);
		error = devref_region_alloc(reg_dev, NULL,
		    (unsigned long)r->pages * PAGE_SIZE,
		    (r->flags & DEVRING_REGION_WRITABLE) != 0 ?
		    DEVREF_REGION_WRITABLE : 0, &kva, &cookie);
		if (error != 0)
			return (error);
		mtx_lock(&reg_mtx);
		for (k = 0; k < REG_MAX && reg_regions[k].kva != NULL; k++)
			;
		if (k < REG_MAX) {
			reg_regions[k].cookie = cookie;
			reg_regions[k].kva = kva;
			reg_regions[k].len = (unsigned long)r->pages * PAGE_SIZE;
		}
		mtx_unlock(&reg_mtx);
		if (k == REG_MAX) {
			(void)devref_region_free(reg_dev, NULL, cookie);
			return (ENOSPC);
		}
		r->cookie = cookie;
		return (0);
	case DEVRING_IOC_SUM:
		s = (struct devring_sum *)data;
		s->sum = 0;
		for (k = 0; k < REG_MAX; k++)
			if (reg_regions[k].kva != NULL &&
			    reg_regions[k].cookie == s->cookie)
				break;
		if (k == REG_MAX)
			return (EINVAL);
		for (i = 0; i < reg_regions[k].len / 4; i++)
			s->sum += reg_regions[k].kva[i];
		return (0);
	default:
		return (ENOTTY);
	}
}

static const struct devref_ops reg_ops = {
	.dro_version = DEVREF_KPI_VERSION,
	.dro_size = sizeof(struct devref_ops),
	.dro_name = "regclient",
	.dro_ioctl = reg_ioctl,
};

static int
reg_modevent(module_t mod __unused, int type, void *data __unused)
{
	int error;

	switch (type) {
	case MOD_LOAD:
		mtx_init(&reg_mtx, "regclient", NULL, MTX_DEF);
		error = devref_client_register(&reg_ops, &reg_client);
		if (error == 0) {
			error = devref_dev_create(reg_client, "ksimreg",
			    DEVREF_MODE_COUNTED, UID_ROOT, GID_WHEEL, 0600,
			    NULL, &reg_dev);
			if (error != 0)
				(void)devref_client_unregister(reg_client, -1);
		}
		if (error != 0)
			mtx_destroy(&reg_mtx);
		return (error);
	case MOD_UNLOAD:
		/* Every region goes with the device (revoked). */
		if (devref_client_unregister(reg_client, 5000) != 0)
			return (EBUSY);
		mtx_destroy(&reg_mtx);
		return (0);
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t reg_mod = {
	"regclient",
	reg_modevent,
	NULL
};

DECLARE_MODULE(regclient, reg_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(regclient, 1);
MODULE_DEPEND(regclient, devref, DEVREF_KPI_VERSION, DEVREF_KPI_VERSION,
    DEVREF_KPI_VERSION);
