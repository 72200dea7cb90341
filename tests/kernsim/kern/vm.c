/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: the VM calls devref's managed pager makes (shim/devref_pager.c),
 * with the assertions the kernel carries, as failures: pages
 * (vm_page_alloc_noobj, vm_page_insert, busy, wire/unwire, free), VM
 * objects and the device pager (cdev_pager_allocate, cdev_pager_free_page,
 * vm_object_reference/deallocate with the pager's dtor), rw(9) write locks
 * (VM_OBJECT_WLOCK), and kernel mappings (kva_alloc, pmap_qenter).
 *
 * Every page is backed by a real host page (a memory file: see
 * hs_vm_page_new), so that the client's KVA and the simulated user
 * mappings (kern/vm_map.c) share its bytes.  Nothing is ever reused: a
 * freed page's memory and a freed KVA range become inaccessible.
 *
 * Rules marked "kernsim:" are stricter than the kernel, where it would go
 * on silently into a corruption; every other message is the kernel's.
 */

#include "ks.h"

#include <sys/limits.h>
#include <sys/malloc.h>
#include <sys/mman.h>
#include <sys/rwlock.h>

#include <vm/vm.h>
#include <vm/pmap.h>
#include <vm/vm_extern.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <vm/vm_pager.h>
#include <vm/vm_radix.h>

#include "vm_ks.h"

struct ks_page *ks_all_pages;		/* HS_LOCK_VM */
struct ks_object *ks_all_objects;	/* HS_LOCK_VM */
static unsigned ks_page_serial, ks_obj_serial;
static unsigned ks_rand_state = 0x2545f491;

static unsigned
ks_vm_rand(void)
{

	ks_rand_state = ks_rand_state * 1103515245 + 12345;
	return (ks_rand_state >> 16);
}

/* Non-sleepable locks held (WITNESS_WARN(WARN_SLEEPOK, ...)). */
static void
ks_vm_may_sleep(const char *what, struct lock_object *except)
{
	char held[256];

	if (curthread->td_critnest != 0)
		ks_failf("%s: sleeping in a critical section", what);
	if (ks_lock_held_others(except, held, sizeof(held)) != 0)
		ks_failf("witness: %s may sleep with non-sleepable locks "
		    "held: %s", what, held);
}

/* ---- rw(9) write locks: kern/kern_rwlock.c ---- */

#define	rwlock2rw(c)	(__containerof(c, struct rwlock, rw_lock))

/*
 * vm/vm_object.c vm_object_zinit(): rw_init_flags(&object->lock,
 * "vm object", RW_DUPOK | RW_NEW).
 */
static void
ks_rw_init_vmobject(struct rwlock *rw)
{

	rw->lock_object.lo_name = "vm object";
	rw->lock_object.lo_flags = LO_INITIALIZED | LO_WITNESS | LO_DUPOK;
	ks_witness_init(&rw->lock_object, "vm object");
	rw->rw_lock = RW_UNLOCKED;
}

/*
 * kern/kern_rwlock.c _rw_wlock_cookie(): "rw_wlock() of destroyed
 * rwlock", recursion only on RW_RECURSE locks ("recursing on non
 * recursive rwlock"); a contested lock blocks on a turnstile (no critical
 * section).  Read locks are not modelled (no caller yet).
 */
void
_rw_wlock_cookie(volatile uintptr_t *c, const char *file, int line)
{
	struct rwlock *rw = rwlock2rw(c);
	struct thread *td = curthread;
	uintptr_t v, tid = (uintptr_t)td;

	if (rw->rw_lock == RW_DESTROYED)
		ks_failf("panic: rw_wlock() of destroyed rwlock @ %s:%d", file,
		    line);
	if ((rw->lock_object.lo_flags & LO_INITIALIZED) == 0)
		ks_failf("panic: rw_wlock() of uninitialized rwlock %p @ %s:%d",
		    rw, file, line);
	if (RW_OWNER(rw->rw_lock) == tid)
		ks_failf("panic: _rw_wlock_hard: recursing on non recursive "
		    "rwlock %s @ %s:%d", rw->lock_object.lo_name, file, line);
	ks_witness_order(&rw->lock_object);
	for (;;) {
		v = RW_UNLOCKED;
		if (atomic_fcmpset_acq_ptr(&rw->rw_lock, &v, tid))
			break;
		if (v == RW_DESTROYED)
			ks_failf("panic: rw_wlock() of destroyed rwlock @ %s:%d",
			    file, line);
		if ((v & RW_LOCK_WRITE_WAITERS) == 0 &&
		    !atomic_cmpset_ptr(&rw->rw_lock, v,
		    v | RW_LOCK_WRITE_WAITERS))
			continue;
		if (td->td_critnest != 0)
			ks_failf("kern_switch: blocking on rwlock \"%s\" in a "
			    "critical section (mi_switch)",
			    rw->lock_object.lo_name);
		hs_ts_wait((volatile unsigned long *)&rw->rw_lock,
		    v | RW_LOCK_WRITE_WAITERS);
	}
	ks_lock_acquired(&rw->lock_object);
}

/* kern/kern_rwlock.c _rw_wunlock_cookie(): __rw_assert(RA_WLOCKED). */
void
_rw_wunlock_cookie(volatile uintptr_t *c, const char *file, int line)
{
	struct rwlock *rw = rwlock2rw(c);
	uintptr_t tid = (uintptr_t)curthread;

	if (rw->rw_lock == RW_DESTROYED)
		ks_failf("panic: rw_wunlock() of destroyed rwlock @ %s:%d",
		    file, line);
	if (RW_OWNER(rw->rw_lock) != tid)
		ks_failf("panic: Lock %s not exclusively locked @ %s:%d",
		    rw->lock_object.lo_name, file, line);
	ks_lock_released(&rw->lock_object);
	if (!atomic_cmpset_rel_ptr(&rw->rw_lock, tid, RW_UNLOCKED)) {
		atomic_store_rel_ptr(&rw->rw_lock, RW_UNLOCKED);
		hs_ts_wake((volatile unsigned long *)&rw->rw_lock);
	}
	hs_preempt_point();
}

void
ks_obj_wlock(vm_object_t obj)
{

	_rw_wlock_cookie(&obj->lock.rw_lock, "kernsim vm", 0);
}

void
ks_obj_wunlock(vm_object_t obj)
{

	_rw_wunlock_cookie(&obj->lock.rw_lock, "kernsim vm", 0);
}

int
ks_obj_wowned(vm_object_t obj)
{

	return (RW_OWNER(obj->lock.rw_lock) == (uintptr_t)curthread);
}

/* VM_OBJECT_ASSERT_WLOCKED(): rw_assert(RA_WLOCKED). */
static void
ks_obj_assert_wlocked(vm_object_t obj, const char *fn)
{

	if (!ks_obj_wowned(obj))
		ks_failf("panic: Lock vm object not exclusively locked "
		    "(%s, object %p)", fn, obj);
}

/* ---- pages ---- */

static void
ks_page_live(vm_page_t m, const char *fn)
{

	if (ks_page(m)->kp_freed)
		ks_failf("kernsim: %s of page %p #%u, which was freed", fn, m,
		    ks_page(m)->kp_serial);
}

static vm_page_t
ks_page_new(void)
{
	struct ks_page *kp;
	long memoff;
	void *addr;

	kp = hs_alloc(sizeof(*kp), 64);
	memset(kp, 0, sizeof(*kp));
	addr = hs_vm_page_new(&memoff);
	kp->kp_memoff = memoff;
	kp->kp_m.phys_addr = (vm_paddr_t)(uintptr_t)addr;
	kp->kp_m.busy_lock = VPB_UNBUSIED;
	kp->kp_m.a.queue = PQ_NONE;
	kp->kp_m.order = VM_NFREEORDER;
	hs_lock(HS_LOCK_VM);
	kp->kp_serial = ++ks_page_serial;
	kp->kp_next = ks_all_pages;
	ks_all_pages = kp;
	hs_unlock(HS_LOCK_VM);
	return (&kp->kp_m);
}

/*
 * vm/vm_page.c vm_page_alloc_noobj(_domain)(): "invalid request" for the
 * busy flags; VM_ALLOC_WAITOK may sleep (never NULL); the page comes back
 * unmanaged (VPO_UNMANAGED), unbusied, in no object, valid 0, zeroed
 * with VM_ALLOC_ZERO, with one wiring with VM_ALLOC_WIRED.
 */
vm_page_t
vm_page_alloc_noobj(int req)
{
	vm_page_t m;

	if ((req & (VM_ALLOC_SBUSY | VM_ALLOC_IGN_SBUSY |
	    VM_ALLOC_NOBUSY)) != 0)
		ks_failf("panic: vm_page_alloc_noobj: invalid request %#x",
		    req);
	if ((req & VM_ALLOC_WAITOK) != 0)
		ks_vm_may_sleep("vm_page_alloc_noobj(VM_ALLOC_WAITOK)", NULL);
	m = ks_page_new();
	m->oflags = VPO_UNMANAGED;
	m->flags = 0;
	m->valid = 0;
	m->dirty = 0;
	m->ref_count = (req & VM_ALLOC_WIRED) != 0 ? 1 : 0;
	if ((req & VM_ALLOC_ZERO) != 0)
		memset(ks_page_addr(m), 0, PAGE_SIZE);
	else
		memset(ks_page_addr(m), 0xa5, PAGE_SIZE);	/* junk */
	hs_preempt_point();
	return (m);
}

/*
 * vm_page_alloc(object, pindex, VM_ALLOC_NORMAL) as vm_fault_allocate()
 * does for a page the pager is to fill: managed, exclusive busy, inserted.
 */
vm_page_t
ks_page_alloc_obj(vm_object_t obj, vm_pindex_t pindex)
{
	vm_page_t m;

	m = ks_page_new();
	m->oflags = 0;
	m->busy_lock = VPB_CURTHREAD_EXCLUSIVE;
	if (vm_page_insert(m, obj, pindex) != 0) {
		/* An injected radix failure: the kernel would wait, too. */
		while (vm_page_insert(m, obj, pindex) != 0)
			;
	}
	return (m);
}

vm_page_t
ks_obj_lookup(vm_object_t obj, vm_pindex_t pindex)
{
	struct ks_object *ko = ks_obj(obj);

	return (pindex < ko->ko_cap ? ko->ko_pages[pindex] : NULL);
}

/*
 * vm/vm_page.c vm_page_insert() -> vm_page_insert_after(): the object
 * write-locked, "page already inserted", VPRC_OBJREF set; the radix
 * insertion (vm_radix_insert) can fail for want of a node (its allocation
 * is M_NOWAIT, vm/vm_radix.c): kernsim makes it fail one time in eight,
 * so that the caller's vm_radix_wait() loop runs; a key already present
 * panics (subr_pctrie.c: "key ... is already present").
 * kernsim: an unmanaged page in a managed (OBJT_MGTDEVICE) object fails:
 * pmap keeps no PV entries for it, so cdev_pager_free_page() could not
 * find its mappings (it asserts "unmanaged %p" only then).
 */
int
vm_page_insert(vm_page_t m, vm_object_t object, vm_pindex_t pindex)
{
	struct ks_object *ko = ks_obj(object);
	vm_page_t *np;
	vm_pindex_t cap;

	ks_obj_assert_wlocked(object, "vm_page_insert");
	ks_page_live(m, "vm_page_insert");
	if (m->object != NULL)
		ks_failf("panic: vm_page_insert_after: page %p already "
		    "inserted (in object %p)", m, m->object);
	if ((m->ref_count & VPRC_OBJREF) != 0)
		ks_failf("panic: vm_page_insert_after: page %p has an object "
		    "reference", m);
	if (object->type == OBJT_MGTDEVICE && (m->oflags & VPO_UNMANAGED) != 0)
		ks_failf("kernsim: vm_page_insert: unmanaged page %p into a "
		    "managed device object %p (no PV entries: "
		    "cdev_pager_free_page: \"unmanaged %p\")", m, object, m);
	if (ks_obj_lookup(object, pindex) != NULL)
		ks_failf("panic: vm_radix_insert: key %jx is already present",
		    (uintmax_t)pindex);
	if (ks_vm_rand() % 8 == 0)
		return (1);
	if (pindex >= ko->ko_cap) {
		cap = MAX(pindex + 1, ko->ko_cap * 2);
		np = hs_alloc(cap * sizeof(*np), 16);
		memset(np, 0, cap * sizeof(*np));
		if (ko->ko_cap != 0)
			memcpy(np, ko->ko_pages, ko->ko_cap * sizeof(*np));
		/* The old array is left behind (nothing is reused). */
		ko->ko_pages = np;
		ko->ko_cap = cap;
	}
	hs_lock(HS_LOCK_VM);
	m->object = object;
	m->pindex = pindex;
	atomic_set_int(&m->ref_count, VPRC_OBJREF);
	ko->ko_pages[pindex] = m;
	object->resident_page_count++;
	hs_unlock(HS_LOCK_VM);
	return (0);
}

/* vm/vm_radix.c vm_radix_wait(): uma_zwait() for a node; may sleep. */
void
vm_radix_wait(void)
{

	ks_vm_may_sleep("vm_radix_wait", NULL);
	hs_preempt_point();
}

/*
 * vm/vm_page.c vm_page_object_remove() + vm_page_drop(VPRC_OBJREF): the
 * object write-locked, the page exclusive busy (vm_page_remove_xbusy:
 * vm_page_assert_xbusied).  True when that was the last reference.
 */
static int
ks_page_object_remove(vm_page_t m, const char *fn)
{
	vm_object_t object = m->object;
	struct ks_object *ko = ks_obj(object);
	u_int old;

	ks_obj_assert_wlocked(object, fn);
	if ((m->busy_lock & VPB_BIT_EXCLUSIVE) == 0)
		ks_failf("panic: vm_page_assert_xbusied: page %p not "
		    "exclusive busy (%s)", m, fn);
	if (ks_obj_lookup(object, m->pindex) != m)
		ks_failf("panic: %s: page %p not in its object's radix tree",
		    fn, m);
	hs_lock(HS_LOCK_VM);
	ko->ko_pages[m->pindex] = NULL;
	object->resident_page_count--;
	m->object = NULL;
	hs_unlock(HS_LOCK_VM);
	old = atomic_fetchadd_int(&m->ref_count, -VPRC_OBJREF);
	return (old == VPRC_OBJREF);
}

/*
 * vm/vm_page.c vm_page_busy_acquire(): try, else sleep until the busy
 * holder lets go ("vmpba"), with the object lock dropped while asleep and
 * taken again after; the page may have left the object meanwhile.
 */
bool
vm_page_busy_acquire(vm_page_t m, int allocflags)
{
	vm_object_t obj = m->object;
	int locked;

	ks_page_live(m, "vm_page_busy_acquire");
	for (;;) {
		if (atomic_cmpset_acq_int(&m->busy_lock, VPB_UNBUSIED,
		    VPB_CURTHREAD_EXCLUSIVE))
			return (true);
		if ((allocflags & VM_ALLOC_NOWAIT) != 0)
			return (false);
		locked = obj != NULL && ks_obj_wowned(obj);
		ks_vm_may_sleep("vm_page_busy_acquire",
		    locked ? &obj->lock.lock_object : NULL);
		if (locked)
			ks_obj_wunlock(obj);
		(void)ks_msleep(m, NULL, 0, "vmpba", 1000000);
		if ((allocflags & VM_ALLOC_WAITFAIL) != 0)
			return (false);
		if (locked)
			ks_obj_wlock(obj);
	}
}

/*
 * vm/vm_page.c vm_page_xunbusy_hard(): vm_page_assert_xbusied ("not
 * exclusive busy"), then unbusied and its waiters woken.
 */
void
vm_page_xunbusy_hard(vm_page_t m)
{

	ks_page_live(m, "vm_page_xunbusy_hard");
	if ((m->busy_lock & VPB_BIT_EXCLUSIVE) == 0)
		ks_failf("panic: vm_page_assert_xbusied: page %p not "
		    "exclusive busy (busy_lock %#x)", m, m->busy_lock);
	atomic_store_rel_int(&m->busy_lock, VPB_UNBUSIED);
	wakeup(m);
}

/*
 * vm/vm_page.c vm_page_wire(): "fictitious page %p has zero wirings";
 * vm_page_unwire() (a holder letting go): "wire count underflow", and the
 * last reference frees the page (vm_page_free).  kernsim: a holder that
 * drops the last wiring of a fictitious page fails (devref keeps one
 * until it frees the page; vm_page_free would refuse it).
 */
void
ks_page_wire(vm_page_t m)
{

	ks_page_live(m, "vm_page_wire");
	if ((m->flags & PG_FICTITIOUS) != 0 &&
	    VPRC_WIRE_COUNT(m->ref_count) == 0)
		ks_failf("panic: vm_page_wire: fictitious page %p has zero "
		    "wirings", m);
	atomic_add_int(&m->ref_count, 1);
}

void
ks_page_unwire(vm_page_t m)
{
	u_int old;

	ks_page_live(m, "vm_page_unwire");
	old = atomic_fetchadd_int(&m->ref_count, -1);
	if (VPRC_WIRE_COUNT(old) == 0)
		ks_failf("panic: vm_page_unwire: wire count underflow for "
		    "page %p", m);
	if ((m->flags & PG_FICTITIOUS) != 0 && VPRC_WIRE_COUNT(old) == 1)
		ks_failf("kernsim: vm_page_unwire: the last wiring of "
		    "fictitious page %p dropped by a holder (its owner "
		    "should still hold one)", m);
	if (old == 1)
		vm_page_free(m);
}

/*
 * vm/vm_page.c vm_page_unwire_noq(): "counter underflow", "missing ref
 * on fictitious page"; true when the last wiring went.
 */
bool
vm_page_unwire_noq(vm_page_t m)
{
	u_int old;

	ks_page_live(m, "vm_page_unwire_noq");
	old = atomic_fetchadd_int(&m->ref_count, -1);
	if (VPRC_WIRE_COUNT(old) == 0)
		ks_failf("panic: vm_page_unwire_noq: counter underflow for "
		    "page %p", m);
	if ((m->flags & PG_FICTITIOUS) != 0 && VPRC_WIRE_COUNT(old) <= 1)
		ks_failf("panic: vm_page_unwire_noq: missing ref on "
		    "fictitious page %p", m);
	return (VPRC_WIRE_COUNT(old) == 1);
}

/*
 * vm/vm_page.c vm_page_free() -> vm_page_free_toq() ->
 * vm_page_free_prep(): a managed page must not be mapped ("freeing
 * mapped page"); in an object it must be exclusive busy and hold only the
 * object's reference; otherwise unbusied; a fictitious page is not freed
 * at all (kernsim: a failure, the page would leak); any reference left
 * panics ("page %p has references").  kernsim: a page still entered in
 * KVA (pmap_qenter without pmap_qremove) fails.
 */
void
vm_page_free(vm_page_t m)
{
	struct ks_page *kp = ks_page(m);

	if (kp->kp_freed)
		ks_failf("kernsim: vm_page_free of page %p #%u, already freed",
		    m, kp->kp_serial);
	if ((m->oflags & VPO_UNMANAGED) == 0 && kp->kp_ptes != 0)
		ks_failf("panic: vm_page_free_prep: freeing mapped page %p "
		    "(%d PTEs)", m, kp->kp_ptes);
	if (m->object != NULL) {
		if ((m->busy_lock & VPB_BIT_EXCLUSIVE) == 0)
			ks_failf("panic: vm_page_assert_xbusied: page %p not "
			    "exclusive busy (vm_page_free_prep: in object %p)",
			    m, m->object);
		if ((m->flags & PG_FICTITIOUS) == 0 &&
		    m->ref_count != VPRC_OBJREF)
			ks_failf("panic: vm_page_free_prep: page %p has "
			    "unexpected ref_count %#x", m, m->ref_count);
		(void)ks_page_object_remove(m, "vm_page_free_prep");
	} else if (m->busy_lock != VPB_UNBUSIED)
		ks_failf("panic: vm_page_assert_unbusied: page %p busy_lock "
		    "%#x (vm_page_free_prep)", m, m->busy_lock);
	if ((m->flags & PG_FICTITIOUS) != 0)
		ks_failf("kernsim: vm_page_free of fictitious page %p: "
		    "vm_page_free_prep returns without freeing it (ref_count "
		    "%#x)", m, m->ref_count);
	if (m->ref_count != 0)
		ks_failf("panic: vm_page_free_prep: page %p has references "
		    "(ref_count %#x)", m, m->ref_count);
	if (kp->kp_kva != 0)
		ks_failf("kernsim: vm_page_free of page %p still entered in "
		    "KVA %d time(s) (pmap_qremove first)", m, kp->kp_kva);
	hs_lock(HS_LOCK_VM);
	kp->kp_freed = 1;
	m->busy_lock = VPB_FREED;
	hs_unlock(HS_LOCK_VM);
	hs_vm_kva_set(ks_page_addr(m), -1);
	hs_preempt_point();
}

/* Take m out of its object and free it (vm_fault_page_free). */
void
ks_page_remove_free(vm_page_t m)
{

	if (ks_page_object_remove(m, "vm_page_remove"))
		;
	atomic_store_rel_int(&m->busy_lock, VPB_UNBUSIED);
	vm_page_free(m);
}

/* ---- objects and the device pager ---- */

/*
 * vm/vm_object.c _vm_object_allocate(): one reference; OBJT_MGTDEVICE
 * objects are OBJ_FICTITIOUS (and managed, unlike OBJT_DEVICE's
 * OBJ_FICTITIOUS | OBJ_UNMANAGED).
 */
static vm_object_t
ks_object_allocate(objtype_t type, vm_pindex_t size)
{
	struct ks_object *ko;
	vm_object_t obj;

	ko = hs_alloc(sizeof(*ko), 64);
	memset(ko, 0, sizeof(*ko));
	obj = &ko->ko_o;
	ks_rw_init_vmobject(&obj->lock);
	obj->type = type;
	obj->size = size;
	obj->ref_count = 1;
	obj->flags = type == OBJT_MGTDEVICE ? OBJ_FICTITIOUS :
	    OBJ_FICTITIOUS | OBJ_UNMANAGED;
	obj->memattr = VM_MEMATTR_DEFAULT;
	hs_lock(HS_LOCK_VM);
	ko->ko_serial = ++ks_obj_serial;
	ko->ko_next = ks_all_objects;
	ks_all_objects = ko;
	hs_unlock(HS_LOCK_VM);
	return (obj);
}

/* vm/device_pager.c: dev_pager_object_list under dev_pager_mtx. */
static struct ks_object *ks_devp_list[256];
static int ks_devp_n;

static vm_object_t
ks_devp_lookup(void *handle)
{
	int i;

	for (i = 0; i < ks_devp_n; i++)
		if (ks_devp_list[i] != NULL &&
		    ks_devp_list[i]->ko_o.handle == handle)
			return (&ks_devp_list[i]->ko_o);
	return (NULL);
}

/*
 * vm/device_pager.c cdev_pager_allocate(): only OBJT_DEVICE and
 * OBJT_MGTDEVICE; "populate on unmanaged device pager"; NULL for an
 * unaligned foff or a size that wraps or passes OBJ_MAX_SIZE, or when
 * the ctor fails (called on every allocation, as in the tree kernsim
 * follows); one object per handle on the pager list: a second allocation
 * with the same handle returns it with another reference, grown to the
 * new size ("Inconsistent device pager type").  kernsim: only
 * OBJT_MGTDEVICE is modelled (an OBJT_DEVICE object fails by name).
 */
vm_object_t
cdev_pager_allocate(void *handle, enum obj_type tp,
    const struct cdev_pager_ops *ops, vm_ooffset_t size, vm_prot_t prot,
    vm_ooffset_t foff, struct ucred *cred)
{
	vm_object_t object;
	vm_pindex_t pindex;
	u_short color;

	if (tp != OBJT_DEVICE && tp != OBJT_MGTDEVICE)
		return (NULL);
	if (tp != OBJT_MGTDEVICE && ops->cdev_pg_populate != NULL)
		ks_failf("panic: cdev_pager_allocate: populate on unmanaged "
		    "device pager");
	if (tp == OBJT_DEVICE)
		ks_failf("kernsim: cdev_pager_allocate: OBJT_DEVICE objects "
		    "are not modelled");
	if (!hs_is_text(ops->cdev_pg_ctor) || !hs_is_text(ops->cdev_pg_dtor) ||
	    !hs_is_text(ops->cdev_pg_fault))
		ks_failf("kernsim: cdev_pager_allocate: ops %p: ctor/dtor/"
		    "fault must be code", ops);
	if ((foff & PAGE_MASK) != 0)
		return (NULL);
	size = round_page(size);
	pindex = OFF_TO_IDX(foff) + OFF_TO_IDX(size);
	if (pindex > OBJ_MAX_SIZE || pindex < OFF_TO_IDX(foff) ||
	    pindex < OFF_TO_IDX(size))
		return (NULL);
	color = 0xffff;
	if (ops->cdev_pg_ctor(handle, size, prot, foff, cred, &color) != 0)
		return (NULL);
	if (color == 0xffff)
		ks_failf("kernsim: cdev_pager_allocate: the ctor left *color "
		    "unset");
	hs_lock(HS_LOCK_VM);
	object = ks_devp_lookup(handle);
	if (object != NULL) {
		if (pindex > object->size)
			object->size = pindex;
		if (object->type != tp)
			ks_failf("panic: Inconsistent device pager type %p %d",
			    object, tp);
		object->ref_count++;
		hs_unlock(HS_LOCK_VM);
		return (object);
	}
	hs_unlock(HS_LOCK_VM);
	object = ks_object_allocate(tp, pindex);
	object->flags |= OBJ_COLORED;
	object->pg_color = color;
	object->handle = handle;
	object->un_pager.devp.ops = ops;
	object->un_pager.devp.handle = handle;
	TAILQ_INIT(&object->un_pager.devp.devp_pglist);
	hs_lock(HS_LOCK_VM);
	if (ks_devp_n == nitems(ks_devp_list))
		ks_failf("kernsim: more than %d device pager objects",
		    (int)nitems(ks_devp_list));
	ks_devp_list[ks_devp_n++] = ks_obj(object);
	hs_unlock(HS_LOCK_VM);
	return (object);
}

/*
 * vm/device_pager.c cdev_pager_free_page() (15: through
 * cdev_mgtdev_pager_free_page()): the object write-locked; an
 * OBJT_MGTDEVICE page must be managed ("unmanaged %p"); pmap_remove_all()
 * takes it out of every page table (amd64 pmap.c: "pmap_remove_all: page
 * %p is not managed"), then vm_page_remove() out of the object
 * (exclusive busy required) and unbusies it.
 */
void
cdev_pager_free_page(vm_object_t object, vm_page_t m)
{

	ks_obj_assert_wlocked(object, "cdev_pager_free_page");
	ks_page_live(m, "cdev_pager_free_page");
	if (object->type != OBJT_MGTDEVICE)
		ks_failf("kernsim: cdev_pager_free_page: object %p type %d is "
		    "not modelled", object, object->type);
	if ((m->oflags & VPO_UNMANAGED) != 0)
		ks_failf("panic: cdev_pager_free_page: unmanaged %p", m);
	if (m->object != object)
		ks_failf("panic: cdev_pager_free_page: page %p is not in "
		    "object %p", m, object);
	hs_lock(HS_LOCK_VM);
	ks_pmap_remove_all_locked(m);
	hs_unlock(HS_LOCK_VM);
	(void)ks_page_object_remove(m, "vm_page_remove");
	vm_page_xunbusy_hard(m);
}

/* vm/vm_object.c vm_object_reference(): of a live object only. */
void
vm_object_reference(vm_object_t object)
{

	if (object == NULL)
		return;
	hs_lock(HS_LOCK_VM);
	if (object->ref_count == 0 || (object->flags & OBJ_DEAD) != 0)
		ks_failf("kernsim: vm_object_reference of dead object %p",
		    object);
	object->ref_count++;
	hs_unlock(HS_LOCK_VM);
}

/*
 * vm/vm_object.c vm_object_deallocate(): the last reference terminates
 * the object (OBJ_DEAD, vm_object_terminate): its resident pages leave it
 * (vm_object_terminate_pages: VPRC_OBJREF dropped, a page with no other
 * reference freed), then the pager lets go (vm/device_pager.c
 * dev_pager_dealloc: the object lock dropped around the driver's
 * cdev_pg_dtor, the object off the pager list, OBJT_DEAD).  The object's
 * memory is poisoned and never reused.
 */
void
vm_object_deallocate(vm_object_t object)
{
	struct ks_object *ko;
	vm_pindex_t i;
	vm_page_t m;
	int last, k, locks, critnest;

	if (object == NULL)
		return;
	ko = ks_obj(object);
	hs_lock(HS_LOCK_VM);
	if (object->ref_count == 0)
		ks_failf("panic: vm_object_deallocate: object %p #%u has no "
		    "references", object, ko->ko_serial);
	last = --object->ref_count == 0;
	hs_unlock(HS_LOCK_VM);
	if (!last) {
		hs_preempt_point();
		return;
	}
	ks_vm_may_sleep("vm_object_deallocate (the last reference)", NULL);
	ks_obj_wlock(object);
	object->flags |= OBJ_DEAD;
	for (i = 0; i < ko->ko_cap; i++) {
		if ((m = ko->ko_pages[i]) == NULL)
			continue;
		m->busy_lock = VPB_CURTHREAD_EXCLUSIVE;
		if (ks_page_object_remove(m, "vm_object_terminate_pages"))
			vm_page_free(m);
		else
			m->busy_lock = VPB_UNBUSIED;
	}
	ks_obj_wunlock(object);
	locks = curthread->td_locks;
	critnest = curthread->td_critnest;
	object->un_pager.devp.ops->cdev_pg_dtor(object->un_pager.devp.handle);
	if (curthread->td_locks != locks || curthread->td_critnest != critnest)
		ks_failf("kernsim: cdev_pg_dtor returned with %d locks held "
		    "(%d before), critnest %d (%d before)", curthread->td_locks,
		    locks, curthread->td_critnest, critnest);
	hs_lock(HS_LOCK_VM);
	for (k = 0; k < ks_devp_n; k++)
		if (ks_devp_list[k] == ko)
			ks_devp_list[k] = ks_devp_list[--ks_devp_n];
	object->handle = NULL;
	object->type = OBJT_DEAD;
	object->lock.rw_lock = RW_DESTROYED;
	object->lock.lock_object.lo_flags &= ~LO_INITIALIZED;
	hs_unlock(HS_LOCK_VM);
}

/* ---- kernel virtual memory and its mappings ---- */

struct ks_kva {
	vm_offset_t	 kk_va;
	unsigned long	 kk_npages;
	vm_page_t	*kk_pages;	/* entered, by page */
	int		 kk_freed;
	struct ks_kva	*kk_next;
};
static struct ks_kva *ks_kvas;		/* HS_LOCK_VM */

/* vm/vm_kern.c kva_alloc(): page-rounded kernel address space. */
vm_offset_t
kva_alloc(vm_size_t size)
{
	struct ks_kva *kk;

	size = round_page(size);
	if (size == 0)
		return (0);
	kk = hs_alloc(sizeof(*kk), 16);
	memset(kk, 0, sizeof(*kk));
	kk->kk_npages = atop(size);
	kk->kk_pages = hs_alloc(kk->kk_npages * sizeof(vm_page_t), 16);
	memset(kk->kk_pages, 0, kk->kk_npages * sizeof(vm_page_t));
	kk->kk_va = (vm_offset_t)hs_vm_kva_reserve(kk->kk_npages);
	hs_lock(HS_LOCK_VM);
	kk->kk_next = ks_kvas;
	ks_kvas = kk;
	hs_unlock(HS_LOCK_VM);
	return (kk->kk_va);
}

static struct ks_kva *
ks_kva_find(vm_offset_t va, unsigned long npages, const char *fn)
{
	struct ks_kva *kk;

	for (kk = ks_kvas; kk != NULL; kk = kk->kk_next)
		if (!kk->kk_freed && va >= kk->kk_va &&
		    va + ptoa(npages) <= kk->kk_va + ptoa(kk->kk_npages))
			return (kk);
	ks_failf("kernsim: %s(%#lx, %lu pages): not inside a kva_alloc "
	    "range", fn, (unsigned long)va, npages);
}

/*
 * amd64/amd64/pmap.c pmap_qenter()/pmap_qremove(): kernel PTEs for the
 * pages, replacing what was there.  kernsim: the range must come from
 * kva_alloc, and a freed page cannot be entered.
 */
void
pmap_qenter(vm_offset_t sva, vm_page_t *ma, int count)
{
	struct ks_kva *kk;
	unsigned long i, idx;
	vm_page_t old;

	if ((sva & PAGE_MASK) != 0)
		ks_failf("panic: pmap_qenter: unaligned va %#lx",
		    (unsigned long)sva);
	hs_lock(HS_LOCK_VM);
	kk = ks_kva_find(sva, count, "pmap_qenter");
	for (i = 0; i < (unsigned long)count; i++) {
		if (ks_page(ma[i])->kp_freed)
			ks_failf("kernsim: pmap_qenter of freed page %p",
			    ma[i]);
		idx = atop(sva - kk->kk_va) + i;
		if ((old = kk->kk_pages[idx]) != NULL)
			ks_page(old)->kp_kva--;
		kk->kk_pages[idx] = ma[i];
		ks_page(ma[i])->kp_kva++;
		hs_vm_kva_set((void *)(sva + ptoa(i)),
		    ks_page(ma[i])->kp_memoff);
	}
	hs_unlock(HS_LOCK_VM);
}

void
pmap_qremove(vm_offset_t sva, int count)
{
	struct ks_kva *kk;
	unsigned long i, idx;
	vm_page_t old;

	hs_lock(HS_LOCK_VM);
	kk = ks_kva_find(sva, count, "pmap_qremove");
	for (i = 0; i < (unsigned long)count; i++) {
		idx = atop(sva - kk->kk_va) + i;
		if ((old = kk->kk_pages[idx]) != NULL)
			ks_page(old)->kp_kva--;
		kk->kk_pages[idx] = NULL;
		hs_vm_kva_set((void *)(sva + ptoa(i)), -1);
	}
	hs_unlock(HS_LOCK_VM);
}

/*
 * vm/vm_kern.c kva_free().  kernsim: the whole range kva_alloc gave, with
 * no page still entered (it would leave live kernel PTEs behind).
 */
void
kva_free(vm_offset_t addr, vm_size_t size)
{
	struct ks_kva *kk;
	unsigned long i;

	size = round_page(size);
	hs_lock(HS_LOCK_VM);
	for (kk = ks_kvas; kk != NULL; kk = kk->kk_next)
		if (!kk->kk_freed && kk->kk_va == addr)
			break;
	if (kk == NULL || ptoa(kk->kk_npages) != size)
		ks_failf("kernsim: kva_free(%#lx, %#lx): not a range kva_alloc "
		    "returned", (unsigned long)addr, (unsigned long)size);
	for (i = 0; i < kk->kk_npages; i++)
		if (kk->kk_pages[i] != NULL)
			ks_failf("kernsim: kva_free(%#lx): page %p still "
			    "entered at +%#lx (pmap_qremove first)",
			    (unsigned long)addr, kk->kk_pages[i],
			    (unsigned long)ptoa(i));
	kk->kk_freed = 1;
	hs_unlock(HS_LOCK_VM);
}

/*
 * The page invariants (HS_LOCK_VM held): a freed page is in no object,
 * mapped nowhere, in no KVA; a page in an object is the one its object
 * holds at its index (so in at most one object); KVA ranges point at live
 * pages only.
 */
void
ks_vm_check_pages(const char *when)
{
	struct ks_page *kp;
	struct ks_kva *kk;
	unsigned long i;
	vm_page_t m;

	for (kp = ks_all_pages; kp != NULL; kp = kp->kp_next) {
		m = &kp->kp_m;
		if (kp->kp_freed && (m->object != NULL || kp->kp_ptes != 0 ||
		    kp->kp_kva != 0))
			ks_failf("kernsim vm (%s): freed page %p #%u: object "
			    "%p, %d PTEs, %d KVA", when, m, kp->kp_serial,
			    m->object, kp->kp_ptes, kp->kp_kva);
		if (m->object != NULL &&
		    ks_obj_lookup(m->object, m->pindex) != m)
			ks_failf("kernsim vm (%s): page %p #%u says object %p "
			    "index %ju, which holds %p", when, m,
			    kp->kp_serial, m->object, (uintmax_t)m->pindex,
			    ks_obj_lookup(m->object, m->pindex));
		if ((m->object != NULL) != ((m->ref_count & VPRC_OBJREF) != 0))
			ks_failf("kernsim vm (%s): page %p #%u: object %p but "
			    "ref_count %#x", when, m, kp->kp_serial, m->object,
			    m->ref_count);
	}
	for (kk = ks_kvas; kk != NULL; kk = kk->kk_next)
		for (i = 0; i < kk->kk_npages; i++)
			if (kk->kk_pages[i] != NULL &&
			    ks_page(kk->kk_pages[i])->kp_freed)
				ks_failf("kernsim vm (%s): KVA %#lx maps freed "
				    "page %p", when,
				    (unsigned long)(kk->kk_va + ptoa(i)),
				    kk->kk_pages[i]);
}
