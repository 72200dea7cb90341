/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: the simulated VM's private declarations (kern/vm.c: pages,
 * objects, the device pager, rw locks, KVA; kern/vm_map.c: address
 * spaces, mmap, faults, wirings; kern/vm_timeout.c: timeout tasks).
 */

#ifndef _KSIM_VM_KS_H_
#define	_KSIM_VM_KS_H_

#include <sys/rwlock.h>
#include <vm/vm.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <vm/vm_pager.h>

/*
 * A page: the kernel's struct vm_page first (the modules read and write
 * its fields), then kernsim's accounting.  phys_addr is the page's
 * address in the host's direct map of simulated physical memory.
 */
struct ks_page {
	struct vm_page	 kp_m;
	struct ks_page	*kp_next;	/* every page ever allocated */
	long		 kp_memoff;	/* in the host memory file */
	int		 kp_ptes;	/* user PTEs (PV entries) */
	int		 kp_kva;	/* pmap_qenter mappings */
	int		 kp_freed;
	unsigned	 kp_serial;
};

static inline struct ks_page *
ks_page(vm_page_t m)
{

	return ((struct ks_page *)m);
}

static inline void *
ks_page_addr(vm_page_t m)
{

	return ((void *)(uintptr_t)m->phys_addr);
}

/* An object: the kernel's struct vm_object, then its pages by index. */
struct ks_object {
	struct vm_object  ko_o;
	vm_page_t	 *ko_pages;	/* ko_cap entries, by pindex */
	vm_pindex_t	  ko_cap;
	struct ks_object *ko_next;	/* every live object */
	unsigned	  ko_serial;
};

static inline struct ks_object *
ks_obj(vm_object_t o)
{

	return ((struct ks_object *)o);
}

/* vm.c */
void	ks_obj_wlock(vm_object_t obj);
void	ks_obj_wunlock(vm_object_t obj);
int	ks_obj_wowned(vm_object_t obj);
vm_page_t ks_obj_lookup(vm_object_t obj, vm_pindex_t pindex);
vm_page_t ks_page_alloc_obj(vm_object_t obj, vm_pindex_t pindex);
void	ks_page_remove_free(vm_page_t m);
void	ks_page_wire(vm_page_t m);
void	ks_page_unwire(vm_page_t m);
void	ks_vm_check_pages(const char *when);
extern struct ks_page *ks_all_pages;	/* HS_LOCK_VM */
extern struct ks_object *ks_all_objects; /* HS_LOCK_VM */

/* vm_map.c: remove every user PTE of m (HS_LOCK_VM held). */
void	ks_pmap_remove_all_locked(vm_page_t m);

#endif /* !_KSIM_VM_KS_H_ */
