/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: simulated user address spaces over the VM of kern/vm.c.  A
 * process (numbered; 0 is the script's) has mappings of device objects
 * made by mmap(2) (fs/devfs/devfs_vnops.c devfs_mmap_f, vm/vm_mmap.c
 * vm_mmap_cdev), each with a page table: a user touch goes through the
 * PTE, or faults through the object (vm/vm_fault.c vm_fault): a resident
 * page is entered (pmap_enter: a PV entry for a managed page), otherwise
 * the pager's fault method runs and VM_PAGER_BAD (or ERROR) is SIGBUS
 * with BUS_OBJERR (amd64/amd64/trap.c trap_pfault: KERN_OUT_OF_BOUNDS).
 * munmap/exit drop the mapping's object reference; fork shares the
 * object (MAP_SHARED: VM_INHERIT_SHARE; the child's page table starts
 * empty); mlock wires every page (vm_map_wire -> vm_fault(VM_FAULT_WIRE)),
 * and the wiring is never dropped for a fictitious object
 * (vm/vm_object.c vm_object_unwire returns at once for OBJ_FICTITIOUS);
 * a kernel hold (vm_fault_quick_hold_pages, as a pipe direct write does)
 * wires the pages until released (vm_page_unwire).
 *
 * Invariants, checked after every step (k_vm_check) and failing by name:
 * no PTE to a freed page or to a page its object no longer holds at that
 * index; each page's PV count matches the page tables; plus the page
 * invariants of kern/vm.c.
 */

#include "ks.h"

#include <sys/conf.h>
#include <sys/fcntl.h>
#include <sys/file.h>
#include <sys/malloc.h>
#include <sys/mman.h>
#include <sys/rwlock.h>

#include <vm/vm.h>
#include <vm/pmap.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <vm/vm_pager.h>

#include "vm_ks.h"

#define	KS_MAXVS	16
#define	KS_MAXMAPS	64
#define	KS_MAXHOLDS	64

struct ks_map {
	int		 km_used;
	vm_object_t	 km_obj;
	vm_ooffset_t	 km_foff;	/* object offset of the first page */
	unsigned long	 km_pageoff;	/* the user's offset in that page */
	unsigned long	 km_len;	/* the user's length */
	unsigned long	 km_npages;
	vm_prot_t	 km_prot, km_maxprot;
	int		 km_wired;	/* mlock(2) */
	vm_page_t	*km_pte;	/* by page */
};

struct ks_vmspace {
	int		 vs_used;
	struct ks_map	 vs_maps[KS_MAXMAPS];
};

struct ks_hold {
	int		 kh_used;
	unsigned long	 kh_n;
	vm_page_t	*kh_pages;
};

_Static_assert(sizeof(struct file) <= KS_STRUCT_FILE_SIZE,
    "room for struct file in a kernsim file");

void
ks_file_mirror_fflag(void *real, u_int flag)
{

	((struct file *)real)->f_flag = flag;
}

static struct ks_vmspace ks_vs[KS_MAXVS];	/* HS_LOCK_VM */
static struct ks_hold ks_holds[KS_MAXHOLDS];

static struct ks_map *
ks_map_get(int vs, int mapid)
{
	struct ks_map *km;

	if (vs < 0 || vs >= KS_MAXVS || mapid < 1 || mapid > KS_MAXMAPS)
		return (NULL);
	km = &ks_vs[vs].vs_maps[mapid - 1];
	return (km->km_used ? km : NULL);
}

/*
 * kernsim -M client-no-shootdown (k_set_mutation in smp.c): pmap_remove_all
 * clears the simulated PTE but leaves a `kernsim serve` client's own
 * mapping of the page in place (no TLB shootdown).  The self-test
 * self-no-shootdown must see a revoked mapping case fail.
 */
int ks_mutate_no_shootdown;

/*
 * amd64/amd64/pmap.c pmap_remove_all(): every PTE of m in every address
 * space (the page's PV list), each followed by pmap_invalidate_page(),
 * whose TLB shootdown (x86/x86/mp_x86.c smp_targeted_tlb_shootdown) waits
 * until every CPU that may cache the translation has dropped it: when
 * pmap_remove_all returns, no CPU can reach the page through the old
 * mapping.  For an address space that is a `kernsim serve` client process
 * the "TLB" is the client's own mapping of the page: hs_vm_shootdown()
 * has the client replace it with an inaccessible page and waits for its
 * acknowledgement.  HS_LOCK_VM is held.
 */
void
ks_pmap_remove_all_locked(vm_page_t m)
{
	struct ks_map *km;
	unsigned long i;
	int v, k;

	for (v = 0; v < KS_MAXVS; v++)
		for (k = 0; k < KS_MAXMAPS; k++) {
			km = &ks_vs[v].vs_maps[k];
			if (!km->km_used)
				continue;
			for (i = 0; i < km->km_npages; i++)
				if (km->km_pte[i] == m) {
					km->km_pte[i] = NULL;
					ks_page(m)->kp_ptes--;
					if (v != 0 && !ks_mutate_no_shootdown)
						hs_vm_shootdown(v, k + 1, i);
				}
		}
}

/* A new, empty address space for a client process: its number. */
int
k_vm_vs_new(void)
{
	int v;

	hs_lock(HS_LOCK_VM);
	ks_vs[0].vs_used = 1;
	for (v = 1; v < KS_MAXVS; v++)
		if (!ks_vs[v].vs_used) {
			ks_vs[v].vs_used = 1;
			break;
		}
	hs_unlock(HS_LOCK_VM);
	if (v == KS_MAXVS)
		ks_failf("kernsim: more than %d address spaces", KS_MAXVS - 1);
	return (v);
}

/*
 * fs/devfs/devfs_vnops.c devfs_mmap_f() and vm/vm_mmap.c vm_mmap_cdev()
 * (kern_mmap: length 0 is EINVAL; the offset's page part moves into the
 * length).  maxprot: PROT_EXEC (devfs is not mounted noexec here), READ
 * with FREAD (else PROT_READ is EACCES), WRITE with FWRITE for a shared
 * mapping (else PROT_WRITE is EACCES); PROT_WRITE beyond maxprot EACCES;
 * MAP_PRIVATE EINVAL; then d_mmap_single with td_fpop set (a dead node:
 * devfs_fp_check's ENXIO); any error but ENODEV is returned as is; ENODEV
 * falls back to OBJT_DEVICE, whose ctor asks d_mmap for every page
 * (vm/device_pager.c old_dev_pager_ctor: EINVAL on an error; a working
 * d_mmap is not modelled).  vm_mmap_object: an unaligned object offset
 * is EINVAL and the object reference goes back.
 */
int
k_vm_mmap(int vs, void *fpv, unsigned long len, int prot, int flags,
    long off, int *mapidp)
{
	struct file *fp = fpv;
	struct thread *td = curthread;
	struct vm_object *obj = NULL;
	struct cdevsw *dsw;
	struct cdev *dev;
	struct file *fpop;
	struct ks_map *km;
	vm_ooffset_t foff;
	vm_prot_t maxprot;
	vm_paddr_t paddr;
	vm_memattr_t attr;
	unsigned long pageoff, size, i;
	u_int fflag;
	int error, ref, k;

	ks_vs[0].vs_used = 1;
	if (vs < 0 || vs >= KS_MAXVS || !ks_vs[vs].vs_used)
		return (ESRCH);
	if (len == 0)
		return (EINVAL);
	pageoff = (unsigned long)off & PAGE_MASK;
	foff = (vm_ooffset_t)off - pageoff;
	size = round_page(len + pageoff);
	if (size < len)
		return (ENOMEM);
	fflag = ks_file_fflag(fp);
	maxprot = VM_PROT_EXECUTE;
	if ((fflag & FREAD) != 0)
		maxprot |= VM_PROT_READ;
	else if ((prot & PROT_READ) != 0)
		return (EACCES);
	if ((flags & MAP_SHARED) != 0) {
		if ((fflag & FWRITE) != 0)
			maxprot |= VM_PROT_WRITE;
		else if ((prot & PROT_WRITE) != 0)
			return (EACCES);
	}
	fpop = td->td_fpop;
	error = ks_devfs_fp_check(fp, &dev, &dsw, &ref);
	if (error != 0)
		return (error);
	/* vm_mmap_cdev */
	if ((maxprot & VM_PROT_WRITE) == 0 && (prot & PROT_WRITE) != 0)
		error = EACCES;
	else if ((flags & (MAP_PRIVATE | MAP_COPY)) != 0)
		error = EINVAL;
	else {
		if (td->td_fpop != fp)
			ks_failf("kernsim: d_mmap_single without td_fpop");
		error = dsw->d_mmap_single(dev, &foff, size, &obj, prot);
		if (error == ENODEV) {
			error = 0;
			for (i = 0; i < atop(size) && error == 0; i++)
				error = dsw->d_mmap(dev, foff + ptoa(i), &paddr,
				    prot, &attr);
			if (error != 0)
				error = EINVAL;
			else
				ks_failf("kernsim: mmap of %s: OBJT_DEVICE "
				    "mappings are not modelled", dev->si_name);
		} else if (error == 0 && obj == NULL)
			ks_failf("kernsim: %s: d_mmap_single returned 0 "
			    "without an object", dev->si_name);
	}
	td->td_fpop = fpop;
	ks_devfs_relthread(dev, ref);
	if (error != 0)
		return (error);
	if (obj->type != OBJT_MGTDEVICE || obj->ref_count < 1)
		ks_failf("kernsim: d_mmap_single returned object %p (type %d, "
		    "%d references)", obj, obj->type, obj->ref_count);
	if ((foff & PAGE_MASK) != 0) {
		vm_object_deallocate(obj);
		return (EINVAL);
	}
	hs_lock(HS_LOCK_VM);
	for (k = 0; k < KS_MAXMAPS; k++)
		if (!ks_vs[vs].vs_maps[k].km_used)
			break;
	if (k == KS_MAXMAPS) {
		hs_unlock(HS_LOCK_VM);
		vm_object_deallocate(obj);
		return (ENOMEM);
	}
	km = &ks_vs[vs].vs_maps[k];
	memset(km, 0, sizeof(*km));
	km->km_obj = obj;
	km->km_foff = foff;
	km->km_pageoff = pageoff;
	km->km_len = len;
	km->km_npages = atop(size);
	km->km_prot = prot & VM_PROT_ALL;
	km->km_maxprot = maxprot;
	km->km_pte = hs_alloc(km->km_npages * sizeof(vm_page_t), 16);
	memset(km->km_pte, 0, km->km_npages * sizeof(vm_page_t));
	km->km_used = 1;
	hs_unlock(HS_LOCK_VM);
	*mapidp = k + 1;
	return (0);
}

/*
 * vm/vm_fault.c vm_fault() for page idx of the mapping: the object
 * referenced and write-locked; past the object's size: SIGBUS
 * (vm_fault_object: FAULT_OUT_OF_BOUNDS); a resident, valid page is
 * busied and entered (with VM_FAULT_WIRE or a hold: wired too); else a
 * page is allocated for the pager (vm_fault_allocate), the object
 * unlocked, and dev_pager_getpages() calls cdev_pg_fault with the object
 * write-locked (and still so after: VM_OBJECT_ASSERT_WLOCKED);
 * VM_PAGER_BAD/ERROR free the page: SIGBUS, BUS_OBJERR.  kernsim:
 * VM_PAGER_FAIL fails by name (the VM would go on to zero-fill a pageable
 * page into the device object), as does a populate method.
 */
static int
ks_vm_fault(struct ks_map *km, unsigned long idx, int wire)
{
	const struct cdev_pager_ops *ops;
	vm_object_t obj = km->km_obj;
	vm_pindex_t pindex;
	vm_page_t m, ma;
	int rv, locks;

	vm_object_reference(obj);
	pindex = OFF_TO_IDX(km->km_foff) + idx;
	ks_obj_wlock(obj);
	for (;;) {
		if (pindex >= obj->size) {
			ks_obj_wunlock(obj);
			vm_object_deallocate(obj);
			return (KS_TOUCH_SIGBUS_OBJERR);
		}
		m = ks_obj_lookup(obj, pindex);
		if (m == NULL)
			break;
		if (!atomic_cmpset_acq_int(&m->busy_lock, VPB_UNBUSIED,
		    VPB_CURTHREAD_EXCLUSIVE)) {
			/* vm_page_busy_sleep: the object lock dropped. */
			ks_obj_wunlock(obj);
			(void)ks_msleep(m, NULL, 0, "vmpfw", 1000000);
			ks_obj_wlock(obj);
			continue;
		}
		if (m->valid != VM_PAGE_BITS_ALL)
			ks_failf("kernsim: fault on resident page %p of object "
			    "%p that is not all valid (valid %#x): the pager "
			    "path for it is not modelled", m, obj, m->valid);
		/* pmap_enter (PMAP_ENTER_WIRED with a wiring fault) */
		hs_lock(HS_LOCK_VM);
		if (km->km_pte[idx] == NULL) {
			km->km_pte[idx] = m;
			ks_page(m)->kp_ptes++;
		}
		hs_unlock(HS_LOCK_VM);
		if (wire)
			ks_page_wire(m);
		vm_page_xunbusy_hard(m);
		ks_obj_wunlock(obj);
		vm_object_deallocate(obj);
		return (KS_TOUCH_OK);
	}
	ops = obj->un_pager.devp.ops;
	if (ops->cdev_pg_populate != NULL)
		ks_failf("kernsim: fault on object %p: cdev_pg_populate is not "
		    "modelled", obj);
	ma = ks_page_alloc_obj(obj, pindex);
	ks_obj_wunlock(obj);
	ks_obj_wlock(obj);
	locks = curthread->td_locks;
	rv = ops->cdev_pg_fault(obj, IDX_TO_OFF(pindex), PROT_READ, &ma);
	if (!ks_obj_wowned(obj))
		ks_failf("panic: dev_pager_getpages: cdev_pg_fault returned "
		    "with object %p not write-locked", obj);
	if (curthread->td_locks != locks || curthread->td_critnest != 0)
		ks_failf("kernsim: cdev_pg_fault returned with %d locks held "
		    "(%d before) or in a critical section", curthread->td_locks,
		    locks);
	switch (rv) {
	case VM_PAGER_BAD:
	case VM_PAGER_ERROR:
		if (ma->object == obj)
			ks_page_remove_free(ma);
		ks_obj_wunlock(obj);
		vm_object_deallocate(obj);
		return (KS_TOUCH_SIGBUS_OBJERR);
	case VM_PAGER_FAIL:
		ks_failf("kernsim: cdev_pg_fault of object %p returned "
		    "VM_PAGER_FAIL: the VM would zero-fill a pageable page "
		    "into the device object", obj);
	case VM_PAGER_OK:
		ks_failf("kernsim: cdev_pg_fault of object %p returned "
		    "VM_PAGER_OK: a pager-supplied page is not modelled (devref "
		    "inserts every page up front)", obj);
	default:
		ks_failf("kernsim: cdev_pg_fault returned %d", rv);
	}
}

/*
 * A 32-bit user load or store (trap_pfault): no mapping SIGSEGV
 * SEGV_MAPERR; beyond the mapping's protection SIGSEGV SEGV_ACCERR;
 * through the PTE, or the fault path first.
 */
int
k_vm_touch(int vs, int mapid, unsigned long off, int write,
    unsigned int *valp)
{
	struct ks_map *km;
	unsigned long va, idx;
	vm_page_t m;
	unsigned int *p;
	int rv, tries;

	hs_lock(HS_LOCK_VM);
	km = ks_map_get(vs, mapid);
	/* The mapping covers whole pages (kern_mmap rounds the length). */
	if (km == NULL || (off & 3) != 0 ||
	    off + 4 > ptoa(km->km_npages) - km->km_pageoff) {
		hs_unlock(HS_LOCK_VM);
		return (KS_TOUCH_SIGSEGV_MAPERR);
	}
	if ((km->km_prot & (write ? VM_PROT_WRITE : VM_PROT_READ)) == 0) {
		hs_unlock(HS_LOCK_VM);
		return (KS_TOUCH_SIGSEGV_ACCERR);
	}
	va = km->km_pageoff + off;
	idx = va / PAGE_SIZE;
	for (tries = 0; tries < 100; tries++) {
		if ((m = km->km_pte[idx]) != NULL) {
			p = (unsigned int *)((char *)ks_page_addr(m) +
			    (va & PAGE_MASK));
			if (write)
				*p = *valp;
			else
				*valp = *p;
			hs_unlock(HS_LOCK_VM);
			return (KS_TOUCH_OK);
		}
		hs_unlock(HS_LOCK_VM);
		rv = ks_vm_fault(km, idx, 0);
		if (rv != KS_TOUCH_OK)
			return (rv);
		hs_lock(HS_LOCK_VM);
	}
	hs_unlock(HS_LOCK_VM);
	ks_failf("kernsim: a touch faulted 100 times without a PTE");
}

/*
 * A user page fault of a `kernsim serve` client (client/ksim_client.c: its
 * SIGSEGV handler on a page of a kernsim mapping that it has no access
 * to): amd64/amd64/trap.c trap_pfault() -> vm/vm_fault.c vm_fault(), as
 * k_vm_touch: no mapping there SIGSEGV SEGV_MAPERR, beyond the entry's
 * protection SEGV_ACCERR, a PTE already there (another thread's fault, or
 * mlock) or one the fault path enters; a failing pager SIGBUS BUS_OBJERR.
 * off is the byte offset from the mapping's first page.  On KS_TOUCH_OK,
 * *memoffp is where the PTE's page lives in simulated physical memory,
 * for the client to map.  The client maps it after this returns, so a
 * pmap_remove_all() in between would be missed: its shootdown (above)
 * reaches the client first, and the client does not map a page whose
 * shootdown arrived after it asked (ksim_client.c: the page's epoch).
 */
int
k_vm_user_fault(int vs, int mapid, unsigned long off, int write,
    long *memoffp)
{
	struct ks_map *km;
	unsigned long idx;
	vm_page_t m;
	int rv, tries;

	*memoffp = -1;
	hs_lock(HS_LOCK_VM);
	km = ks_map_get(vs, mapid);
	if (km == NULL || off >= ptoa(km->km_npages)) {
		hs_unlock(HS_LOCK_VM);
		return (KS_TOUCH_SIGSEGV_MAPERR);
	}
	if ((km->km_prot & (write ? VM_PROT_WRITE : VM_PROT_READ)) == 0) {
		hs_unlock(HS_LOCK_VM);
		return (KS_TOUCH_SIGSEGV_ACCERR);
	}
	idx = off / PAGE_SIZE;
	for (tries = 0; tries < 100; tries++) {
		if ((m = km->km_pte[idx]) != NULL) {
			*memoffp = ks_page(m)->kp_memoff;
			hs_unlock(HS_LOCK_VM);
			return (KS_TOUCH_OK);
		}
		hs_unlock(HS_LOCK_VM);
		rv = ks_vm_fault(km, idx, 0);
		if (rv != KS_TOUCH_OK)
			return (rv);
		hs_lock(HS_LOCK_VM);
	}
	hs_unlock(HS_LOCK_VM);
	ks_failf("kernsim: a client fault faulted 100 times without a PTE");
}

/* vm_map_delete: the PTEs (pmap_remove), then the object reference. */
static void
ks_map_delete(struct ks_map *km)
{
	vm_object_t obj;
	unsigned long i;

	hs_lock(HS_LOCK_VM);
	for (i = 0; i < km->km_npages; i++)
		if (km->km_pte[i] != NULL) {
			ks_page(km->km_pte[i])->kp_ptes--;
			km->km_pte[i] = NULL;
		}
	obj = km->km_obj;
	km->km_used = 0;
	hs_unlock(HS_LOCK_VM);
	/* An mlock'ed entry: vm_map_entry_unwire -> vm_object_unwire, which
	 * leaves an OBJ_FICTITIOUS object's page wirings as they are. */
	vm_object_deallocate(obj);
}

int
k_vm_munmap(int vs, int mapid)
{
	struct ks_map *km;

	hs_lock(HS_LOCK_VM);
	km = ks_map_get(vs, mapid);
	hs_unlock(HS_LOCK_VM);
	if (km == NULL)
		return (EINVAL);
	ks_map_delete(km);
	return (0);
}

/*
 * vm/vm_map.c vmspace_fork(): a shared entry is shared by the child (the
 * object referenced again); the child's page table starts empty (pmap_copy
 * is an optimisation kernsim leaves out) and its entries are not wired.
 * child < 0: a new address space (k_vm_vs_new), its number in *childp.
 */
int
k_vm_fork_vs(int parent, int child, int *childp)
{
	struct ks_map *pm, *cm;
	int k;

	if (child < 0)
		child = k_vm_vs_new();
	else if (parent < 0 || parent >= KS_MAXVS || child >= KS_MAXVS ||
	    ks_vs[child].vs_used)
		return (EINVAL);
	if (childp != NULL)
		*childp = child;
	ks_vs[child].vs_used = 1;
	for (k = 0; k < KS_MAXMAPS; k++) {
		pm = &ks_vs[parent].vs_maps[k];
		if (!pm->km_used)
			continue;
		vm_object_reference(pm->km_obj);
		cm = &ks_vs[child].vs_maps[k];
		hs_lock(HS_LOCK_VM);
		*cm = *pm;
		cm->km_wired = 0;
		cm->km_pte = hs_alloc(cm->km_npages * sizeof(vm_page_t), 16);
		memset(cm->km_pte, 0, cm->km_npages * sizeof(vm_page_t));
		hs_unlock(HS_LOCK_VM);
	}
	return (0);
}

int
k_vm_fork(int parent, int child)
{

	if (child < 0)
		return (EINVAL);
	return (k_vm_fork_vs(parent, child, NULL));
}

/* exit1 -> vmspace_exit: every mapping goes. */
void
k_vm_exit(int vs)
{
	int k;

	if (vs < 0 || vs >= KS_MAXVS)
		return;
	for (k = 0; k < KS_MAXMAPS; k++)
		if (ks_vs[vs].vs_maps[k].km_used)
			ks_map_delete(&ks_vs[vs].vs_maps[k]);
	if (vs != 0)
		ks_vs[vs].vs_used = 0;
}

/*
 * mlock(2): vm_map_wire() faults every page with VM_FAULT_WIRE (the page
 * wired once); an entry already wired only counts; a fault that fails is
 * ENOMEM (vm_mlock: KERN_FAILURE).
 */
int
k_vm_mlock(int vs, int mapid)
{
	struct ks_map *km;
	unsigned long i;

	hs_lock(HS_LOCK_VM);
	km = ks_map_get(vs, mapid);
	hs_unlock(HS_LOCK_VM);
	if (km == NULL)
		return (ENOMEM);
	if (km->km_wired)
		return (0);
	for (i = 0; i < km->km_npages; i++)
		if (ks_vm_fault(km, i, 1) != KS_TOUCH_OK)
			return (ENOMEM);
	km->km_wired = 1;
	return (0);
}

/*
 * vm/vm_fault.c vm_fault_quick_hold_pages() (a pipe direct write, physio):
 * each page of the range wired through its PTE (pmap_extract_and_hold) or
 * by a fault; any failure lets go of what it held: EFAULT.
 */
int
k_vm_hold(int vs, int mapid, unsigned long off, unsigned long len,
    int *holdidp)
{
	struct ks_hold *kh;
	struct ks_map *km;
	unsigned long first, last, i, n;
	vm_page_t m;
	int h;

	hs_lock(HS_LOCK_VM);
	km = ks_map_get(vs, mapid);
	hs_unlock(HS_LOCK_VM);
	if (km == NULL || len == 0 ||
	    off + len > ptoa(km->km_npages) - km->km_pageoff ||
	    (km->km_prot & VM_PROT_READ) == 0)
		return (EFAULT);
	for (h = 0; h < KS_MAXHOLDS; h++)
		if (!ks_holds[h].kh_used)
			break;
	if (h == KS_MAXHOLDS)
		return (ENOMEM);
	kh = &ks_holds[h];
	first = (km->km_pageoff + off) / PAGE_SIZE;
	last = (km->km_pageoff + off + len - 1) / PAGE_SIZE;
	kh->kh_pages = hs_alloc((last - first + 1) * sizeof(vm_page_t), 16);
	n = 0;
	for (i = first; i <= last; i++) {
		hs_lock(HS_LOCK_VM);
		m = km->km_pte[i];
		if (m != NULL)
			ks_page_wire(m);
		hs_unlock(HS_LOCK_VM);
		if (m == NULL) {
			if (ks_vm_fault(km, i, 1) != KS_TOUCH_OK)
				goto fail;
			m = km->km_pte[i];
		}
		kh->kh_pages[n++] = m;
	}
	kh->kh_n = n;
	kh->kh_used = 1;
	*holdidp = h;
	return (0);
fail:
	while (n > 0)
		ks_page_unwire(kh->kh_pages[--n]);
	return (EFAULT);
}

/* The held pages' 32-bit words, added: what a pipe write would copy. */
int
k_vm_hold_sum(int holdid, unsigned long long *sump)
{
	struct ks_hold *kh;
	unsigned long i, j;
	unsigned int *w;

	if (holdid < 0 || holdid >= KS_MAXHOLDS || !ks_holds[holdid].kh_used)
		return (EINVAL);
	kh = &ks_holds[holdid];
	*sump = 0;
	for (i = 0; i < kh->kh_n; i++) {
		if (ks_page(kh->kh_pages[i])->kp_freed)
			ks_failf("kernsim: a held page %p was freed",
			    kh->kh_pages[i]);
		w = ks_page_addr(kh->kh_pages[i]);
		for (j = 0; j < PAGE_SIZE / 4; j++)
			*sump += w[j];
	}
	return (0);
}

int
k_vm_unhold(int holdid)
{
	struct ks_hold *kh;
	unsigned long i;

	if (holdid < 0 || holdid >= KS_MAXHOLDS || !ks_holds[holdid].kh_used)
		return (EINVAL);
	kh = &ks_holds[holdid];
	for (i = 0; i < kh->kh_n; i++)
		ks_page_unwire(kh->kh_pages[i]);
	kh->kh_used = 0;
	return (0);
}

void
k_vm_check(const char *when)
{
	struct ks_page *kp;
	struct ks_map *km;
	unsigned long i;
	vm_page_t m;
	int v, k;

	hs_lock(HS_LOCK_VM);
	ks_vs[0].vs_used = 1;
	ks_vm_check_pages(when);
	for (kp = ks_all_pages; kp != NULL; kp = kp->kp_next)
		kp->kp_m.plinks.memguard.v = 0;	/* PTE count, below */
	for (v = 0; v < KS_MAXVS; v++)
		for (k = 0; k < KS_MAXMAPS; k++) {
			km = &ks_vs[v].vs_maps[k];
			if (!km->km_used)
				continue;
			for (i = 0; i < km->km_npages; i++) {
				if ((m = km->km_pte[i]) == NULL)
					continue;
				if (ks_page(m)->kp_freed)
					ks_failf("kernsim vm (%s): process %d "
					    "mapping %d page %lu: PTE to freed "
					    "page %p", when, v, k + 1, i, m);
				if (m->object != km->km_obj ||
				    m->pindex != OFF_TO_IDX(km->km_foff) + i)
					ks_failf("kernsim vm (%s): process %d "
					    "mapping %d page %lu: PTE to page "
					    "%p that object %p no longer holds "
					    "(page's object %p)", when, v,
					    k + 1, i, m, km->km_obj, m->object);
				m->plinks.memguard.v++;
			}
		}
	for (kp = ks_all_pages; kp != NULL; kp = kp->kp_next)
		if (kp->kp_m.plinks.memguard.v != (u_long)kp->kp_ptes)
			ks_failf("kernsim vm (%s): page %p: %lu PTEs, %d PV "
			    "entries", when, &kp->kp_m,
			    kp->kp_m.plinks.memguard.v, kp->kp_ptes);
	hs_unlock(HS_LOCK_VM);
}

void
k_vm_stat(char *buf, unsigned long len)
{
	struct ks_page *kp;
	struct ks_object *ko;
	int live = 0, freed = 0, wired = 0, objs = 0, ptes = 0;

	hs_lock(HS_LOCK_VM);
	for (kp = ks_all_pages; kp != NULL; kp = kp->kp_next) {
		if (kp->kp_freed) {
			freed++;
			continue;
		}
		live++;
		ptes += kp->kp_ptes;
		if (VPRC_WIRE_COUNT(kp->kp_m.ref_count) > 1)
			wired++;
	}
	for (ko = ks_all_objects; ko != NULL; ko = ko->ko_next)
		objs += ko->ko_o.ref_count != 0;
	hs_unlock(HS_LOCK_VM);
	ks_snprintf(buf, len, "vm: pages live=%d freed=%d held=%d objects=%d "
	    "ptes=%d\n", live, freed, wired, objs, ptes);
}
