/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devref.ko module glue: the event handler hands over to Rust.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>

#include "devref_shim.h"

static int
devref_modevent(module_t mod __unused, int type, void *data __unused)
{

	switch (type) {
	case MOD_LOAD:
		devref_shim_call_mark_init();
		return (devref_rs_load());
	case MOD_UNLOAD:
		return (devref_rs_unload());
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t devref_mod = {
	"devref",
	devref_modevent,
	NULL
};

/*
 * SI_ORDER_FIRST within SI_SUB_DRIVERS: preloaded modules are initialised
 * by (subsystem, order), not by dependency, and clients use SI_ORDER_MIDDLE
 * or later.
 */
/*
 * The KPI's layout, as rust/kernel/devref-sys asserts it on the Rust side:
 * a header change that moves a field fails on whichever side lags.
 */
_Static_assert(sizeof(struct devref_ops) == 72, "devref_ops size");
_Static_assert(__offsetof(struct devref_ops, dro_name) == 8, "dro_name");
_Static_assert(__offsetof(struct devref_ops, dro_open) == 16, "dro_open");
_Static_assert(__offsetof(struct devref_ops, dro_purge) == 64, "dro_purge");
_Static_assert(DEVREF_KPI_VERSION == 1, "KPI version");

DECLARE_MODULE(devref, devref_mod, SI_SUB_DRIVERS, SI_ORDER_FIRST);
MODULE_VERSION(devref, DEVREF_KPI_VERSION);
