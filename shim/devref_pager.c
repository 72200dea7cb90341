/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The managed device pager behind devref's revocable mmap: the VM calls
 * only (rust/core/src/pager has the bookkeeping and the order of things).
 *
 * devref owns the memory, not the client.  Each page comes from
 * vm_page_alloc_noobj() wired and zeroed, and devref, as its sole owner,
 * makes it a managed fictitious page (so that pmap keeps PV entries for it
 * and pmap_remove_all() can find every mapping) before it is inserted in
 * the region's OBJT_MGTDEVICE object.  Every page is inserted up front, so
 * the pager's fault method runs only for a page that was revoked: it
 * answers VM_PAGER_BAD, and the toucher gets SIGBUS (BUS_OBJERR).  Never
 * VM_PAGER_FAIL (the VM would zero-fill a pageable page into the device
 * object) and no populate method (a failing populate is SIGSEGV).
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/limits.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/mman.h>
#include <sys/rwlock.h>
#include <sys/smp.h>

#include <machine/cpu.h>
#include <sys/taskqueue.h>

#include <vm/vm.h>
#include <vm/pmap.h>
#include <vm/vm_extern.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <vm/vm_pager.h>
#include <vm/vm_radix.h>

#include "devref_shim.h"

MALLOC_DECLARE(M_DEVREF);

/*
 * The pager's handle: a devref-private address (the kernel keeps one list
 * of device pager objects, keyed by handle), which carries the region
 * bookkeeping's cookie back to it when the object dies.
 */
struct devref_pobj {
	struct task	 dp_task;	/* the destructor's work, deferred */
	void		*dp_owner;
	unsigned long long dp_id;
};

static int
devref_pg_ctor(void *handle __unused, vm_ooffset_t size __unused,
    vm_prot_t prot __unused, vm_ooffset_t foff __unused,
    struct ucred *cred __unused, u_short *color)
{

	*color = 0;
	return (0);
}

/*
 * The object's end, on devref's taskqueue: tell the bookkeeping (which
 * counts it gone last of all) and free the handle.  MOD_UNLOAD refuses
 * while any object is counted and then drains this taskqueue, so no
 * devref code can run after the module's text is gone.
 */
static void
devref_pobj_gone(void *arg, int pending __unused)
{
	struct devref_pobj *dp;
	unsigned long long id;
	void *owner;

	dp = arg;
	owner = dp->dp_owner;
	id = dp->dp_id;
	free(dp, M_DEVREF);
	devref_rs_object_gone(owner, id);
}

/*
 * The object lost its last reference: in whatever thread dropped it
 * (munmap, exit, devref's own release), with no VM lock held.  Only hand
 * the work to devref's taskqueue: the enqueue is the last thing this does
 * (a tail call into the kernel), so a kldunload racing this munmap cannot
 * free devref's text under it — the object is still counted until the
 * task has run, and unload waits for the task.
 */
static void
devref_pg_dtor(void *handle)
{
	struct devref_pobj *dp;

	dp = handle;
	TASK_INIT(&dp->dp_task, 0, devref_pobj_gone, dp);
	devref_shim_task_enqueue(&dp->dp_task);
}

/* Only a revoked page faults: SIGBUS. */
static int
devref_pg_fault(vm_object_t obj __unused, vm_ooffset_t offset __unused,
    int prot __unused, vm_page_t *mres __unused)
{

	return (VM_PAGER_BAD);
}

/*
 * Zero-tailed, as the other tables the kernel reads out of devref.ko:
 * 15.0 appended cdev_pg_path to struct cdev_pager_ops.
 */
static const struct {
	struct cdev_pager_ops	dpo_ops;
	char			dpo_zero[DEVREF_KTABLE_PAD];
} devref_pager_ops = {
	.dpo_ops = {
		.cdev_pg_ctor = devref_pg_ctor,
		.cdev_pg_dtor = devref_pg_dtor,
		.cdev_pg_fault = devref_pg_fault,
	},
};

struct vm_page *
devref_shim_page_alloc(void)
{
	vm_page_t m;

	m = vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO |
	    VM_ALLOC_WAITOK);
	if (m == NULL)
		return (NULL);
	/* Sole owner: the page is in no object and mapped nowhere yet. */
	m->oflags &= ~VPO_UNMANAGED;
	m->flags |= PG_FICTITIOUS;
	m->valid = VM_PAGE_BITS_ALL;
	return (m);
}

int
devref_shim_page_free(struct vm_page *m)
{

	/*
	 * After revocation the page is in no object and the only wirings
	 * left can fall, never rise: if ours is the last one, nobody else
	 * can take it now.  Otherwise someone (a pipe write, physio, mlock)
	 * still holds it: keep it for later.
	 */
	if (atomic_load_ptr(&m->object) != NULL ||
	    VPRC_WIRE_COUNT(atomic_load_int(&m->ref_count)) != 1)
		return (EBUSY);
	m->flags &= ~PG_FICTITIOUS;
	if (!vm_page_unwire_noq(m)) {
		/*
		 * Cannot happen: ours was the last wiring.  If it did, ours is
		 * gone now and the page is someone else's: never touch it
		 * again (ENOENT: forget it, as an abandoned page).
		 */
		printf("devref: page %p had another wiring after all; "
		    "abandoned\n", m);
		return (ENOENT);
	}
	vm_page_free(m);
	return (0);
}

struct vm_object *
devref_shim_object_new(void *owner, unsigned long long id,
    struct vm_page **pages,
    unsigned long n, int writable)
{
	struct devref_pobj *dp;
	vm_object_t obj;
	unsigned long i;
	vm_prot_t prot;

	if (n == 0 || n > OBJ_MAX_SIZE)
		return (NULL);
	dp = malloc(sizeof(*dp), M_DEVREF, M_WAITOK | M_ZERO);
	dp->dp_owner = owner;
	dp->dp_id = id;
	prot = VM_PROT_READ | (writable ? VM_PROT_WRITE : 0);
	obj = cdev_pager_allocate(dp, OBJT_MGTDEVICE, &devref_pager_ops.dpo_ops,
	    ptoa(n), prot, 0, NULL);
	if (obj == NULL) {
		/* The ctor succeeded but no object: no dtor will run. */
		free(dp, M_DEVREF);
		return (NULL);
	}
	VM_OBJECT_WLOCK(obj);
	for (i = 0; i < n; i++) {
		while (vm_page_insert(pages[i], obj, i) != 0) {
			VM_OBJECT_WUNLOCK(obj);
			vm_radix_wait();
			VM_OBJECT_WLOCK(obj);
		}
	}
	VM_OBJECT_WUNLOCK(obj);
	return (obj);
}

void
devref_shim_object_ref(struct vm_object *obj)
{

	vm_object_reference(obj);
}

void
devref_shim_object_release(struct vm_object *obj)
{

	vm_object_deallocate(obj);
}

/*
 * Take a page out of its object and out of every page table (every process,
 * fork children too).  The object lock and the page's busy lock wait out a
 * fault in progress on it.
 */
void
devref_shim_revoke_page(struct vm_object *obj, struct vm_page *m)
{

	VM_OBJECT_WLOCK(obj);
	if (m->object == obj) {
		/* May sleep with the object lock dropped. */
		(void)vm_page_busy_acquire(m, 0);
		if (m->object == obj)
			cdev_pager_free_page(obj, m);	/* unbusies it */
		else
			vm_page_xunbusy(m);
	}
	VM_OBJECT_WUNLOCK(obj);
}

unsigned long
devref_shim_kva_map(struct vm_page **pages, unsigned long n)
{
	vm_offset_t kva;

	if (n == 0 || n > INT_MAX)
		return (0);
	kva = kva_alloc(ptoa(n));
	if (kva == 0)
		return (0);
	pmap_qenter(kva, pages, (int)n);
	return (kva);
}

void
devref_shim_kva_unmap(unsigned long kva, unsigned long n)
{

	pmap_qremove(kva, (int)n);
	kva_free(kva, ptoa(n));
}

/*
 * The graveyard's retry: pages still held by someone else when their region
 * was revoked (a pipe write, physio; mlock never lets go) are tried again on
 * devref's taskqueue, after a second, then backing off to a minute while
 * nothing comes free; devref_shim_graveyard_stop() (at unload) waits for a
 * running retry and cancels the next.  The timeout task is set up once, by
 * whichever arm comes first (two closes may race to it).
 */
static struct timeout_task devref_graveyard_task;
static volatile u_int devref_graveyard_state;	/* 0 none, 1 setting up, 2 set */
static int devref_graveyard_delay;		/* ticks; only the task writes */

#define	DEVREF_GRAVEYARD_MAX_DELAY	(60 * hz)

static void
devref_graveyard_run(void *arg __unused, int pending __unused)
{
	unsigned long before, left;

	before = devref_rs_graveyard_len();
	left = devref_rs_graveyard_retry();
	if (left == 0) {
		devref_graveyard_delay = hz;
		return;
	}
	if (left >= before)
		devref_graveyard_delay = MIN(devref_graveyard_delay * 2,
		    DEVREF_GRAVEYARD_MAX_DELAY);
	taskqueue_enqueue_timeout(devref_shim_taskq(), &devref_graveyard_task,
	    devref_graveyard_delay);
}

void
devref_shim_graveyard_arm(void)
{

	if (atomic_cmpset_int(&devref_graveyard_state, 0, 1)) {
		TIMEOUT_TASK_INIT(devref_shim_taskq(), &devref_graveyard_task, 0,
		    devref_graveyard_run, NULL);
		devref_graveyard_delay = hz;
		atomic_store_rel_int(&devref_graveyard_state, 2);
	}
	while (atomic_load_acq_int(&devref_graveyard_state) != 2)
		cpu_spinwait();
	/* Not pending already: a retry soon.  Pending: it keeps its time. */
	taskqueue_enqueue_timeout(devref_shim_taskq(), &devref_graveyard_task,
	    hz);
}

void
devref_shim_graveyard_stop(void)
{

	if (atomic_load_acq_int(&devref_graveyard_state) != 2)
		return;
	while (taskqueue_cancel_timeout(devref_shim_taskq(),
	    &devref_graveyard_task, NULL) != 0)
		taskqueue_drain_timeout(devref_shim_taskq(),
		    &devref_graveyard_task);
	atomic_store_rel_int(&devref_graveyard_state, 0);
}
