/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devring.ko module glue.  devring is a devref client written in Rust; this
 * file only declares the module and its dependency on devref.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>

#include "devref_kpi.h"

int	devring_rs_load(void);
int	devring_rs_unload(void);

static int
devring_modevent(module_t mod __unused, int type, void *data __unused)
{

	switch (type) {
	case MOD_LOAD:
		return (devring_rs_load());
	case MOD_UNLOAD:
		/* Not MOD_QUIESCE: kldunload -f skips that veto. */
		return (devring_rs_unload());
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t devring_mod = {
	"devring",
	devring_modevent,
	NULL
};

DECLARE_MODULE(devring, devring_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(devring, 1);
MODULE_DEPEND(devring, devref, DEVREF_KPI_VERSION, DEVREF_KPI_VERSION,
    DEVREF_KPI_VERSION);
