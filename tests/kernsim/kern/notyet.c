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

/* The managed device pager: mmap(2) of devref regions (vm/, pmap). */
KS_NOTYET(cdev_pager_allocate, "the device pager")
KS_NOTYET(cdev_pager_free_page, "the device pager")
KS_NOTYET(vm_object_deallocate, "VM objects")
KS_NOTYET(vm_object_reference, "VM objects")
KS_NOTYET(vm_page_alloc_noobj, "VM pages")
KS_NOTYET(vm_page_busy_acquire, "VM pages")
KS_NOTYET(vm_page_free, "VM pages")
KS_NOTYET(vm_page_insert, "VM pages")
KS_NOTYET(vm_page_unwire_noq, "VM pages")
KS_NOTYET(vm_page_xunbusy_hard, "VM pages")
KS_NOTYET(vm_radix_wait, "VM pages")
KS_NOTYET(kva_alloc, "kernel virtual memory")
KS_NOTYET(kva_free, "kernel virtual memory")
KS_NOTYET(pmap_qenter, "pmap")
KS_NOTYET(pmap_qremove, "pmap")
/* rw(9): VM object locks only, so far. */
KS_NOTYET(_rw_wlock_cookie, "rw(9) locks")
KS_NOTYET(_rw_wunlock_cookie, "rw(9) locks")
/* Timeout tasks need callout(9). */
KS_NOTYET(_timeout_task_init, "callout(9) and timeout tasks")
KS_NOTYET(taskqueue_enqueue_timeout, "callout(9) and timeout tasks")
KS_NOTYET(taskqueue_cancel_timeout, "callout(9) and timeout tasks")
KS_NOTYET(taskqueue_drain_timeout, "callout(9) and timeout tasks")
