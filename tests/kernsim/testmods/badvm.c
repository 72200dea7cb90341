/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim self-test modules for the simulated VM (kern/vm.c): each build
 * (-DBADVM_<what>) makes MOD_LOAD misuse the managed pager's KPI in one
 * way a FreeBSD kernel with INVARIANTS (or kernsim, stricter) catches.
 * Built by mk/kernsim.mk with the modules' own flags; never shipped.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/module.h>
#include <sys/mman.h>
#include <sys/rwlock.h>

#include <vm/vm.h>
#include <vm/pmap.h>
#include <vm/vm_extern.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <vm/vm_pager.h>
#include <vm/vm_radix.h>

static int
badvm_ctor(void *handle __unused, vm_ooffset_t size __unused,
    vm_prot_t prot __unused, vm_ooffset_t foff __unused,
    struct ucred *cred __unused, u_short *color)
{

	*color = 0;
	return (0);
}

static void
badvm_dtor(void *handle __unused)
{
}

static int
badvm_fault(vm_object_t obj __unused, vm_ooffset_t offset __unused,
    int prot __unused, vm_page_t *mres __unused)
{

	return (VM_PAGER_BAD);
}

static struct cdev_pager_ops badvm_ops = {
	.cdev_pg_ctor = badvm_ctor,
	.cdev_pg_dtor = badvm_dtor,
	.cdev_pg_fault = badvm_fault,
};
static int badvm_handle;

/* A page as devref makes it: wired, managed, fictitious, valid. */
static vm_page_t __unused
badvm_page(void)
{
	vm_page_t m;

	m = vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO |
	    VM_ALLOC_WAITOK);
	m->oflags &= ~VPO_UNMANAGED;
	m->flags |= PG_FICTITIOUS;
	m->valid = VM_PAGE_BITS_ALL;
	return (m);
}

static vm_object_t __unused
badvm_object(void)
{

	return (cdev_pager_allocate(&badvm_handle, OBJT_MGTDEVICE, &badvm_ops,
	    PAGE_SIZE, VM_PROT_READ | VM_PROT_WRITE, 0, NULL));
}

static void
badvm_run(void)
{
	vm_page_t m __unused;
	vm_object_t obj __unused;
	vm_offset_t kva __unused;

#if defined(BADVM_FREE_FICTITIOUS)
	/* Freed while still fictitious (and wired): never freed at all. */
	m = badvm_page();
	vm_page_free(m);
#elif defined(BADVM_UNWIRE_PROBE)
	/* vm_page_unwire_noq as a probe on devref's last wiring. */
	m = badvm_page();
	(void)vm_page_unwire_noq(m);
#elif defined(BADVM_FREE_WIRED)
	/* Flags right, but the wiring never dropped. */
	m = badvm_page();
	m->flags &= ~PG_FICTITIOUS;
	vm_page_free(m);
#elif defined(BADVM_INSERT_UNMANAGED)
	/* VPO_UNMANAGED left set: no PV entries, no revocation. */
	m = vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_WAITOK);
	obj = badvm_object();
	VM_OBJECT_WLOCK(obj);
	while (vm_page_insert(m, obj, 0) != 0)
		;
	VM_OBJECT_WUNLOCK(obj);
#elif defined(BADVM_INSERT_UNLOCKED)
	m = badvm_page();
	obj = badvm_object();
	(void)vm_page_insert(m, obj, 0);
#elif defined(BADVM_REVOKE_UNBUSIED)
	/* cdev_pager_free_page without the page's busy lock. */
	m = badvm_page();
	obj = badvm_object();
	VM_OBJECT_WLOCK(obj);
	while (vm_page_insert(m, obj, 0) != 0)
		;
	cdev_pager_free_page(obj, m);
	VM_OBJECT_WUNLOCK(obj);
#elif defined(BADVM_KVA_LEFT)
	/* Freed with the client's kernel mapping still in place. */
	m = badvm_page();
	kva = kva_alloc(PAGE_SIZE);
	pmap_qenter(kva, &m, 1);
	*(volatile int *)kva = 1;
	m->flags &= ~PG_FICTITIOUS;
	(void)vm_page_unwire_noq(m);
	vm_page_free(m);
#elif defined(BADVM_FREE_IN_OBJECT)
	/* Freed while its object still holds it. */
	m = badvm_page();
	obj = badvm_object();
	VM_OBJECT_WLOCK(obj);
	while (vm_page_insert(m, obj, 0) != 0)
		;
	VM_OBJECT_WUNLOCK(obj);
	m->flags &= ~PG_FICTITIOUS;
	(void)vm_page_unwire_noq(m);
	vm_page_free(m);
#elif defined(BADVM_NONE)
	/* The control: devref's order, every step right. */
	m = badvm_page();
	obj = badvm_object();
	VM_OBJECT_WLOCK(obj);
	while (vm_page_insert(m, obj, 0) != 0) {
		VM_OBJECT_WUNLOCK(obj);
		vm_radix_wait();
		VM_OBJECT_WLOCK(obj);
	}
	VM_OBJECT_WUNLOCK(obj);
	kva = kva_alloc(PAGE_SIZE);
	pmap_qenter(kva, &m, 1);
	*(volatile int *)kva = 1;
	VM_OBJECT_WLOCK(obj);
	(void)vm_page_busy_acquire(m, 0);
	cdev_pager_free_page(obj, m);
	VM_OBJECT_WUNLOCK(obj);
	vm_object_deallocate(obj);
	pmap_qremove(kva, 1);
	kva_free(kva, PAGE_SIZE);
	m->flags &= ~PG_FICTITIOUS;
	if (vm_page_unwire_noq(m))
		vm_page_free(m);
#endif
}

static int
badvm_modevent(module_t mod __unused, int what, void *arg __unused)
{

	switch (what) {
	case MOD_LOAD:
		badvm_run();
		return (0);
	case MOD_UNLOAD:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t badvm_mod = {
	"badvm",
	badvm_modevent,
	NULL
};
DECLARE_MODULE(badvm, badvm_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
