/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim: modules and their events (kern/kern_module.c), the kernel
 * linker's per-file steps that need kernel layouts (kern/kern_linker.c:
 * metadata, SYSINIT/SYSUNINIT).  The ELF side is host/loader.c.
 */

#include "ks.h"

#include <sys/linker.h>
#include <sys/module.h>

struct module {
	struct module	*mod_next;	/* all modules */
	void		*mod_file;	/* container (host linker file) */
	const char	*mod_name;
	modeventhand_t	 mod_handler;
	void		*mod_arg;
	int		 mod_id;
};

static struct module *ks_modules;	/* newest first; HS_LOCK_MODULE */
static int ks_nextid = 1;

/* kern/kern_linker.c: the metadata of one set_modmetadata_set entry. */
int
k_mdt_get(void *const *entry, int *type, const char **name, int *ver,
    int *vmin, int *vmax, void **data)
{
	const struct mod_metadata *md = *entry;
	const struct mod_depend *dep;
	const struct mod_version *mv;

	if (md->md_version != MDT_STRUCT_VERSION)
		return (EINVAL);
	*type = md->md_type;
	*name = md->md_cval;
	*data = __DECONST(void *, md->md_data);
	*ver = *vmin = *vmax = 0;
	switch (md->md_type) {
	case MDT_DEPEND:
		dep = md->md_data;
		*vmin = dep->md_ver_minimum;
		*ver = dep->md_ver_preferred;
		*vmax = dep->md_ver_maximum;
		break;
	case MDT_VERSION:
		mv = md->md_data;
		*ver = mv->mv_version;
		break;
	case MDT_MODULE:
		*name = ((const moduledata_t *)md->md_data)->name;
		break;
	}
	return (0);
}

static struct module *
ks_module_lookupbyname(const char *name)
{
	struct module *mod;

	for (mod = ks_modules; mod != NULL; mod = mod->mod_next)
		if (strcmp(mod->mod_name, name) == 0)
			return (mod);
	return (NULL);
}

/*
 * kern/kern_module.c: module_register(): a name already registered is
 * EEXIST ("cannot register %s from %s; already loaded").
 */
int
k_module_register(void *moduledata, void *lf)
{
	const moduledata_t *data = moduledata;
	struct module *mod;

	hs_lock(HS_LOCK_MODULE);
	if (ks_module_lookupbyname(data->name) != NULL) {
		hs_unlock(HS_LOCK_MODULE);
		printf("module_register: cannot register %s: already "
		    "loaded\n", data->name);
		return (EEXIST);
	}
	mod = hs_alloc(sizeof(*mod), 16);
	mod->mod_name = data->name;
	mod->mod_handler = data->evhand;
	mod->mod_arg = data->priv;
	mod->mod_file = lf;
	mod->mod_id = ks_nextid++;
	mod->mod_next = ks_modules;
	ks_modules = mod;
	hs_unlock(HS_LOCK_MODULE);
	return (0);
}

static void
ks_module_release(struct module *mod)
{
	struct module **mp;

	hs_lock(HS_LOCK_MODULE);
	for (mp = &ks_modules; *mp != NULL; mp = &(*mp)->mod_next)
		if (*mp == mod) {
			*mp = mod->mod_next;
			break;
		}
	hs_unlock(HS_LOCK_MODULE);
	hs_dealloc(mod);
}

/*
 * A module event returns like a system call: no lock held but the Giant
 * its caller took, not in a critical section, no td_fpop.
 */
static int
ks_mod_event(struct module *mod, int type)
{
	static const char *names[] = { "MOD_LOAD", "MOD_UNLOAD",
	    "MOD_SHUTDOWN", "MOD_QUIESCE" };
	struct thread *td = curthread;
	char held[256], what[96];
	int error;

	error = mod->mod_handler(mod, type, mod->mod_arg);
	ks_snprintf(what, sizeof(what), "%s of %s",
	    type >= 0 && type < 4 ? names[type] : "event", mod->mod_name);
	if (td->td_critnest != 0)
		ks_failf("%s returned in a critical section (td_critnest %d)",
		    what, td->td_critnest);
	if (ks_lock_held_others(NULL, held, sizeof(held)) != 0)
		ks_failf("%s returned with locks held: %s", what, held);
	if (!ks_mtx_owned(&Giant))
		ks_failf("%s returned without Giant", what);
	if (td->td_fpop != NULL)
		ks_failf("%s returned with td_fpop set", what);
	return (error);
}

/*
 * kern/kern_module.c: module_register_init() (each DECLARE_MODULE's
 * SYSINIT): MOD_LOAD under Giant; on error MOD_UNLOAD at once, the module
 * is released and the error printed
 * ("module_register_init: MOD_LOAD (%s, %p, %p) error %d").
 */
void
module_register_init(const void *arg)
{
	const moduledata_t *data = arg;
	struct module *mod;
	int error;

	k_giant_lock();
	hs_lock(HS_LOCK_MODULE);
	mod = ks_module_lookupbyname(data->name);
	hs_unlock(HS_LOCK_MODULE);
	if (mod == NULL)
		panic("module_register_init: module named %s not found\n",
		    data->name);
	error = ks_mod_event(mod, MOD_LOAD);
	if (error != 0) {
		ks_mod_event(mod, MOD_UNLOAD);
		ks_module_release(mod);
		printf("module_register_init: MOD_LOAD (%s, %p, %p) error "
		    "%d\n", data->name, (void *)data->evhand, data->priv,
		    error);
	}
	k_giant_unlock();
}

int
k_modules_count(void *lf)
{
	struct module *mod;
	int n = 0;

	hs_lock(HS_LOCK_MODULE);
	for (mod = ks_modules; mod != NULL; mod = mod->mod_next)
		if (mod->mod_file == lf)
			n++;
	hs_unlock(HS_LOCK_MODULE);
	return (n);
}

/*
 * kern/kern_linker.c: linker_file_unload(), the module part: for each
 * module of the file, newest first: MOD_QUIESCE may veto (EOPNOTSUPP and
 * EINVAL mean yes; skipped by kldunload -f), then MOD_UNLOAD whose error
 * always aborts; both with Giant held (kern_module.c: module_quiesce,
 * module_unload); then the module is released.
 */
int
k_modules_unload(void *lf, int force)
{
	struct module *mod;
	int error;

	for (;;) {
		hs_lock(HS_LOCK_MODULE);
		for (mod = ks_modules; mod != NULL; mod = mod->mod_next)
			if (mod->mod_file == lf)
				break;
		hs_unlock(HS_LOCK_MODULE);
		if (mod == NULL)
			return (0);
		k_giant_lock();
		if (!force) {
			error = ks_mod_event(mod, MOD_QUIESCE);
			if (error == EOPNOTSUPP || error == EINVAL)
				error = 0;
			if (error != 0) {
				k_giant_unlock();
				return (error);
			}
		}
		error = ks_mod_event(mod, MOD_UNLOAD);
		k_giant_unlock();
		if (error != 0)
			return (error);
		ks_module_release(mod);
	}
}

/*
 * kern/kern_linker.c: linker_file_sysinit() / linker_file_sysuninit():
 * sort by subsystem, then order (ascending for SYSINIT, descending for
 * SYSUNINIT), skip SI_SUB_DUMMY, call each with Giant held.
 */
void
k_sysinit_run(void **start, void **stop, int reverse)
{
	struct sysinit **sipp, **xipp, *save;
	size_t n = (struct sysinit **)stop - (struct sysinit **)start, i;
	struct sysinit **v;

	if (n == 0)
		return;
	v = hs_alloc(n * sizeof(*v), 16);
	memcpy(v, start, n * sizeof(*v));
	for (sipp = v; sipp < v + n; sipp++)
		for (xipp = sipp + 1; xipp < v + n; xipp++) {
			int swap;

			if (!reverse)
				swap = (*sipp)->subsystem > (*xipp)->subsystem ||
				    ((*sipp)->subsystem == (*xipp)->subsystem &&
				    (*sipp)->order > (*xipp)->order);
			else
				swap = (*sipp)->subsystem < (*xipp)->subsystem ||
				    ((*sipp)->subsystem == (*xipp)->subsystem &&
				    (*sipp)->order < (*xipp)->order);
			if (swap) {
				save = *sipp;
				*sipp = *xipp;
				*xipp = save;
			}
		}
	k_giant_lock();
	for (i = 0; i < n; i++) {
		if (v[i]->subsystem == SI_SUB_DUMMY)
			continue;
		v[i]->func(v[i]->udata);
		if (curthread->td_critnest != 0)
			ks_failf("SYSINIT function %p returned in a critical "
			    "section", (void *)v[i]->func);
	}
	k_giant_unlock();
	hs_dealloc(v);
}
