/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: the sysctl tree (kern/kern_sysctl.c): static oids registered by
 * the linker from set_sysctl_set, dynamic oids with contexts, handler
 * accounting so that removal waits for running handlers, reads by name.
 */

#include "ks.h"

#include <sys/malloc.h>
#include <sys/smp.h>
#include <sys/sysctl.h>

RB_GENERATE(sysctl_oid_list, sysctl_oid, oid_link, cmp_sysctl_oid);

struct sysctl_oid_list sysctl__children = RB_INITIALIZER(&sysctl__children);
struct sysctl_oid sysctl___kern = {
	.oid_parent = &sysctl__children,
	.oid_children = RB_INITIALIZER(&sysctl___kern.oid_children),
	.oid_number = CTL_KERN,
	.oid_kind = CTLTYPE_NODE | CTLFLAG_RW | CTLFLAG_MPSAFE,
	.oid_name = "kern",
	.oid_descr = "High kernel, proc, limits &c",
	.oid_refcnt = 1,
};

/* hw.ncpu (kern/subr_smp.c: mp_ncpus), read by the tests. */
struct sysctl_oid sysctl___hw = {
	.oid_parent = &sysctl__children,
	.oid_children = RB_INITIALIZER(&sysctl___hw.oid_children),
	.oid_number = CTL_HW,
	.oid_kind = CTLTYPE_NODE | CTLFLAG_RW | CTLFLAG_MPSAFE,
	.oid_name = "hw",
	.oid_refcnt = 1,
};
static struct sysctl_oid ks_sysctl_hw_ncpu = {
	.oid_parent = &sysctl___hw.oid_children,
	.oid_children = RB_INITIALIZER(&ks_sysctl_hw_ncpu.oid_children),
	.oid_number = HW_NCPU,
	.oid_kind = CTLTYPE_INT | CTLFLAG_RD | CTLFLAG_MPSAFE,
	.oid_arg1 = &mp_ncpus,
	.oid_name = "ncpu",
	.oid_handler = sysctl_handle_int,
	.oid_fmt = "I",
};

/*
 * SYSCTL_XLOCK (an rmlock, sleepable): a kernsim mutex marked sleepable,
 * also the interlock of the "oidrm" sleep.
 */
static struct mtx ks_sysctl_lock;
static int ks_sysctl_inited;

static void
ks_sysctl_init(void)
{

	hs_lock(HS_LOCK_SYSCTL);
	if (!ks_sysctl_inited) {
		_mtx_init(&ks_sysctl_lock.mtx_lock, "sysctl lock", NULL,
		    MTX_DEF);
		ks_sysctl_lock.lock_object.lo_flags |= LO_SLEEPABLE;
		RB_INSERT(sysctl_oid_list, &sysctl__children, &sysctl___kern);
		RB_INSERT(sysctl_oid_list, &sysctl__children, &sysctl___hw);
		RB_INSERT(sysctl_oid_list, &sysctl___hw.oid_children,
		    &ks_sysctl_hw_ncpu);
		ks_sysctl_inited = 1;
	}
	hs_unlock(HS_LOCK_SYSCTL);
}

static struct sysctl_oid *
ks_find_oidname(const char *name, struct sysctl_oid_list *list)
{
	struct sysctl_oid *oidp;

	RB_FOREACH(oidp, sysctl_oid_list, list)
		if (strcmp(oidp->oid_name, name) == 0)
			return (oidp);
	return (NULL);
}

/*
 * sysctl_register_oid(): a node of the same name is shared (oid_refcnt);
 * a leaf of the same name is refused ("can't re-use a leaf"); OID_AUTO
 * gets a number counting down from 0x7fffffff (>= CTL_AUTO_START).
 */
static void
ks_register_oid(struct sysctl_oid *oidp)
{
	static int newoid = 0x7fffffff;
	struct sysctl_oid_list *parent = oidp->oid_parent;
	struct sysctl_oid *p;

	if (parent == NULL)
		ks_failf("sysctl_register_oid: %s has no parent",
		    oidp->oid_name);
	p = ks_find_oidname(oidp->oid_name, parent);
	if (p != NULL) {
		if ((p->oid_kind & CTLTYPE) == CTLTYPE_NODE &&
		    (oidp->oid_kind & CTLTYPE) == CTLTYPE_NODE) {
			p->oid_refcnt++;
			return;
		}
		printf("sysctl_register_oid: can't re-use a leaf (%s)!\n",
		    oidp->oid_name);
		return;
	}
	if (oidp->oid_number < 0)
		oidp->oid_number = newoid--;
	if ((oidp->oid_kind & CTLTYPE) == CTLTYPE_NODE &&
	    oidp->oid_refcnt == 0)
		oidp->oid_refcnt = 1;
	RB_INSERT(sysctl_oid_list, parent, oidp);
}

static void
ks_unregister_oid(struct sysctl_oid *oidp)
{
	struct sysctl_oid *p;

	p = RB_FIND(sysctl_oid_list, oidp->oid_parent, oidp);
	if (p != oidp) {
		printf("sysctl_unregister_oid: failed(%d) to unregister "
		    "sysctl(%s)\n", ENOENT, oidp->oid_name);
		return;
	}
	RB_REMOVE(sysctl_oid_list, oidp->oid_parent, oidp);
}

/*
 * kern/kern_linker.c: linker_file_register_sysctls() /
 * linker_file_unregister_sysctls(), with the sysctl lock held.  A static
 * node shared with another file only loses a reference.
 */
void
k_sysctl_set_register(void **start, void **stop, int reg)
{
	struct sysctl_oid **oidp, *p;

	ks_sysctl_init();
	ks_mtx_lock(&ks_sysctl_lock);
	for (oidp = (struct sysctl_oid **)start;
	    oidp < (struct sysctl_oid **)stop; oidp++) {
		if (reg) {
			ks_register_oid(*oidp);
			continue;
		}
		p = *oidp;
		if ((p->oid_kind & CTLTYPE) == CTLTYPE_NODE &&
		    p->oid_refcnt > 1) {
			p->oid_refcnt--;
			continue;
		}
		/* A static node goes with its children still linked to it:
		 * they are in the same set (sysctl_unregister_oid does not
		 * look). */
		ks_unregister_oid(p);
	}
	ks_mtx_unlock(&ks_sysctl_lock);
}

void
sysctl_register_oid(struct sysctl_oid *oidp)
{

	ks_sysctl_init();
	ks_mtx_lock(&ks_sysctl_lock);
	ks_register_oid(oidp);
	ks_mtx_unlock(&ks_sysctl_lock);
}

void
sysctl_unregister_oid(struct sysctl_oid *oidp)
{

	ks_mtx_lock(&ks_sysctl_lock);
	ks_unregister_oid(oidp);
	ks_mtx_unlock(&ks_sysctl_lock);
}

/* sysctl_ctx_init(): an empty list. */
int
sysctl_ctx_init(struct sysctl_ctx_list *c)
{

	if (c == NULL)
		return (EINVAL);
	TAILQ_INIT(c);
	return (0);
}

static char *
ks_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ks_kmalloc(n, M_WAITOK);

	memcpy(d, s, n);
	return (d);
}

static void
ks_ctx_entry_add(struct sysctl_ctx_list *clist, struct sysctl_oid *oidp)
{
	struct sysctl_ctx_entry *e;

	e = ks_kmalloc(sizeof(*e), M_WAITOK);
	e->entry = oidp;
	TAILQ_INSERT_HEAD(clist, e, link);
}

/*
 * sysctl_add_oid(): NULL without a parent; an existing node of the name is
 * shared (refcount, added to the context); an existing leaf refuses
 * (NULL, "can't re-use a leaf"); else a new CTLFLAG_DYN oid, recorded in
 * the context and registered.
 */
struct sysctl_oid *
sysctl_add_oid(struct sysctl_ctx_list *clist, struct sysctl_oid_list *parent,
    int number, const char *name, int kind, void *arg1, intmax_t arg2,
    int (*handler)(SYSCTL_HANDLER_ARGS), const char *fmt, const char *descr,
    const char *label)
{
	struct sysctl_oid *oidp;

	if (parent == NULL)
		return (NULL);
	ks_sysctl_init();
	ks_mtx_lock(&ks_sysctl_lock);
	oidp = ks_find_oidname(name, parent);
	if (oidp != NULL) {
		if ((oidp->oid_kind & CTLTYPE) == CTLTYPE_NODE) {
			oidp->oid_refcnt++;
			if (clist != NULL)
				ks_ctx_entry_add(clist, oidp);
			ks_mtx_unlock(&ks_sysctl_lock);
			return (oidp);
		}
		printf("sysctl_add_oid: can't re-use a leaf (%s)!\n", name);
		ks_mtx_unlock(&ks_sysctl_lock);
		return (NULL);
	}
	oidp = ks_kmalloc(sizeof(*oidp), M_WAITOK | M_ZERO);
	oidp->oid_parent = parent;
	RB_INIT(&oidp->oid_children);
	oidp->oid_number = number;
	oidp->oid_refcnt = 1;
	oidp->oid_name = ks_strdup(name);
	oidp->oid_handler = handler;
	oidp->oid_kind = CTLFLAG_DYN | kind;
	oidp->oid_arg1 = arg1;
	oidp->oid_arg2 = arg2;
	oidp->oid_fmt = fmt;
	if (descr != NULL)
		oidp->oid_descr = ks_strdup(descr);
	if (label != NULL)
		oidp->oid_label = ks_strdup(label);
	if (clist != NULL)
		ks_ctx_entry_add(clist, oidp);
	ks_register_oid(oidp);
	ks_mtx_unlock(&ks_sysctl_lock);
	return (oidp);
}

/*
 * sysctl_remove_oid_locked(): only dynamic oids; a node with children
 * refuses unless recursing ("failed attempt to remove oid %s with child
 * %s", ENOTEMPTY); a shared node loses a reference; the last one is
 * unregistered and, with del, freed once no handler runs on it -- the
 * remover sleeps on oid_running with CTLFLAG_DYING set ("oidrm").
 */
static int
ks_remove_oid_locked(struct sysctl_oid *oidp, int del, int recurse)
{
	struct sysctl_oid *p, *tmp;
	int error;

	if (oidp == NULL)
		return (EINVAL);
	if ((oidp->oid_kind & CTLFLAG_DYN) == 0) {
		printf("Warning: can't remove non-dynamic nodes (%s)!\n",
		    oidp->oid_name);
		return (EINVAL);
	}
	if ((oidp->oid_kind & CTLTYPE) == CTLTYPE_NODE &&
	    oidp->oid_refcnt == 1) {
		for (p = RB_MIN(sysctl_oid_list, &oidp->oid_children);
		    p != NULL; p = tmp) {
			if (!recurse) {
				printf("Warning: failed attempt to remove oid "
				    "%s with child %s\n", oidp->oid_name,
				    p->oid_name);
				return (ENOTEMPTY);
			}
			tmp = RB_NEXT(sysctl_oid_list, &oidp->oid_children, p);
			error = ks_remove_oid_locked(p, del, recurse);
			if (error != 0)
				return (error);
		}
	}
	if (oidp->oid_refcnt > 1) {
		oidp->oid_refcnt--;
		return (0);
	}
	if (oidp->oid_refcnt == 0) {
		printf("Warning: bad oid_refcnt=%u (%s)!\n", oidp->oid_refcnt,
		    oidp->oid_name);
		return (EINVAL);
	}
	ks_unregister_oid(oidp);
	if (del) {
		while (oidp->oid_running > 0) {
			oidp->oid_kind |= CTLFLAG_DYING;
			ks_msleep(&oidp->oid_running, &ks_sysctl_lock, 0,
			    "oidrm", 0);
		}
		if (oidp->oid_descr != NULL)
			ks_kfree(__DECONST(char *, oidp->oid_descr));
		if (oidp->oid_label != NULL)
			ks_kfree(__DECONST(char *, oidp->oid_label));
		ks_kfree(__DECONST(char *, oidp->oid_name));
		ks_kfree(oidp);
	}
	return (0);
}

/*
 * sysctl_ctx_free(): a dry run unregisters every entry (from the head); if
 * one refuses, re-register those done and answer EBUSY; else really
 * delete them all.
 */
int
sysctl_ctx_free(struct sysctl_ctx_list *clist)
{
	struct sysctl_ctx_entry *e, *e1;
	int error = 0;

	if (clist == NULL)
		return (EINVAL);
	ks_mtx_lock(&ks_sysctl_lock);
	TAILQ_FOREACH(e, clist, link) {
		error = ks_remove_oid_locked(e->entry, 0, 0);
		if (error != 0)
			break;
	}
	if (error != 0)
		e1 = TAILQ_PREV(e, sysctl_ctx_list, link);
	else
		e1 = TAILQ_LAST(clist, sysctl_ctx_list);
	while (e1 != NULL) {
		ks_register_oid(e1->entry);
		e1 = TAILQ_PREV(e1, sysctl_ctx_list, link);
	}
	if (error != 0) {
		ks_mtx_unlock(&ks_sysctl_lock);
		return (EBUSY);
	}
	e = TAILQ_FIRST(clist);
	while (e != NULL) {
		e1 = TAILQ_NEXT(e, link);
		error = ks_remove_oid_locked(e->entry, 1, 0);
		if (error != 0)
			panic("sysctl_remove_oid: corrupt tree, entry: %s",
			    e->entry->oid_name);
		ks_kfree(e);
		e = e1;
	}
	ks_mtx_unlock(&ks_sysctl_lock);
	return (error);
}

/* kern/kern_sysctl.c: sysctl_old_kernel() */
static int
ks_sysctl_old_kernel(struct sysctl_req *req, const void *p, size_t l)
{
	size_t i = 0;

	if (req->oldptr != NULL) {
		i = l;
		if (req->oldlen <= req->oldidx)
			i = 0;
		else if (i > req->oldlen - req->oldidx)
			i = req->oldlen - req->oldidx;
		if (i > 0)
			memcpy((char *)req->oldptr + req->oldidx, p, i);
	}
	req->oldidx += l;
	if (req->oldptr != NULL && i != l)
		return (ENOMEM);
	return (0);
}

static int
ks_sysctl_new_kernel(struct sysctl_req *req, void *p, size_t l)
{

	if (req->newptr == NULL)
		return (0);
	if (req->newlen - req->newidx < l)
		return (EINVAL);
	memcpy(p, (const char *)req->newptr + req->newidx, l);
	req->newidx += l;
	return (0);
}

/* kern/kern_sysctl.c: sysctl_handle_int(): arg1's value, or arg2. */
int
sysctl_handle_int(SYSCTL_HANDLER_ARGS)
{
	int tmpout, error;

	tmpout = arg1 != NULL ? *(int *)arg1 : (int)arg2;
	error = SYSCTL_OUT(req, &tmpout, sizeof(int));
	if (error != 0 || req->newptr == NULL)
		return (error);
	if (arg1 == NULL)
		return (EPERM);
	return (SYSCTL_IN(req, arg1, sizeof(int)));
}

/* kern/kern_sysctl.c: sysctl_handle_64() */
int
sysctl_handle_64(SYSCTL_HANDLER_ARGS)
{
	uint64_t tmpout;
	int error;

	tmpout = arg1 != NULL ? *(uint64_t *)arg1 : (uint64_t)arg2;
	error = SYSCTL_OUT(req, &tmpout, sizeof(uint64_t));
	if (error != 0 || req->newptr == NULL)
		return (error);
	if (arg1 == NULL)
		return (EPERM);
	return (SYSCTL_IN(req, arg1, sizeof(uint64_t)));
}

/*
 * A read by name (sysctlbyname(3) -> sysctl_root()): walk the tree under
 * the lock, count the handler as running (oid_running) and call it
 * without the lock; the last handler out of a dying oid wakes its
 * remover (sysctl_root_handler_locked).
 */
int
k_sysctl_read(const char *name, char *buf, unsigned long *lenp, int *kind)
{
	struct sysctl_oid_list *list = &sysctl__children;
	struct sysctl_oid *oidp = NULL;
	struct sysctl_req req;
	char comp[128];
	const char *s = name, *e;
	int error;

	ks_sysctl_init();
	ks_mtx_lock(&ks_sysctl_lock);
	for (;;) {
		e = strchr(s, '.');
		if (e == NULL)
			e = s + strlen(s);
		if ((size_t)(e - s) >= sizeof(comp)) {
			ks_mtx_unlock(&ks_sysctl_lock);
			return (ENOENT);
		}
		memcpy(comp, s, e - s);
		comp[e - s] = '\0';
		oidp = ks_find_oidname(comp, list);
		if (oidp == NULL) {
			ks_mtx_unlock(&ks_sysctl_lock);
			return (ENOENT);
		}
		if (*e == '\0')
			break;
		if ((oidp->oid_kind & CTLTYPE) != CTLTYPE_NODE ||
		    oidp->oid_handler != NULL) {
			ks_mtx_unlock(&ks_sysctl_lock);
			return (ENOENT);
		}
		list = &oidp->oid_children;
		s = e + 1;
	}
	if (oidp->oid_handler == NULL) {
		ks_mtx_unlock(&ks_sysctl_lock);
		return (EISDIR);
	}
	oidp->oid_running++;
	ks_mtx_unlock(&ks_sysctl_lock);
	memset(&req, 0, sizeof(req));
	req.td = curthread;
	req.oldptr = buf;
	req.oldlen = *lenp;
	req.oldfunc = ks_sysctl_old_kernel;
	req.newfunc = ks_sysctl_new_kernel;
	req.lock = REQ_UNWIRED;
	*kind = oidp->oid_kind & CTLTYPE;
	error = oidp->oid_handler(oidp, oidp->oid_arg1, oidp->oid_arg2, &req);
	ks_mtx_lock(&ks_sysctl_lock);
	oidp->oid_running--;
	if (oidp->oid_running == 0 && (oidp->oid_kind & CTLFLAG_DYING) != 0)
		wakeup(&oidp->oid_running);
	ks_mtx_unlock(&ks_sysctl_lock);
	*lenp = req.oldidx;
	return (error);
}
