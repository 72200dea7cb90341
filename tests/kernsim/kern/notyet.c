/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: KPI the modules import that kernsim does not model yet.  Each
 * resolves (so the module loads and everything else runs) and fails by
 * name when called: a test that reaches one reports what to model next.
 * Deliberately no FreeBSD header here: these definitions do not pretend
 * to the real prototypes.
 */

void	ks_failf(const char *fmt, ...) __attribute__((__noreturn__));

#define	KS_NOTYET(name, area)						\
	void name(void);						\
	void								\
	name(void)							\
	{								\
		ks_failf("kernsim: %s is not modelled yet (%s)", #name,	\
		    area);						\
	}

/*
 * Nothing at the moment: the managed device pager's calls (vm_page_*,
 * vm_object_*, cdev_pager_*, kva_*, pmap_q*), rw(9) write locks and
 * timeout tasks are modelled in kern/vm.c, kern/vm_map.c and
 * kern/vm_timeout.c.  Add KS_NOTYET(name, area) lines here for the next
 * KPI a module imports before it is modelled.
 */
