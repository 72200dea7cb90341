/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: the kernel linker for ET_REL amd64 modules, in the manner
 * of sys/kern/link_elf_obj.c and sys/kern/kern_linker.c.
 *
 *  - the file must be ELF64, little-endian, x86-64, ET_REL, with exactly
 *    one symbol table (link_elf_load_file: "Unsupported file type",
 *    "file has no symbol table"/"multiple symbol tables");
 *  - SHF_ALLOC PROGBITS/NOBITS/INIT_ARRAY/FINI_ARRAY/X86_64_UNWIND sections
 *    are laid out with their alignment in one mapping below 2 GiB
 *    (MAP_32BIT: the modules use the kernel code model, R_X86_64_32S);
 *    text is mapped read+exec, the rest read+write;
 *  - __start_set_X/__stop_set_X of a set_X section the file has are the
 *    bounds of that section (link_elf_fix_link_set); others resolve
 *    against the kernel, weak ones to 0;
 *  - relocation order: local symbols first (link_elf_reloc_local), then
 *    the dependencies (linker_load_dependencies: "module %s already
 *    present!", MDT_DEPEND version ranges, "KLD %s: depends on %s - not
 *    available or version mismatch"), then the rest
 *    (relocate_file: "symbol %s undefined");
 *  - undefined globals resolve in the file, then its dependencies
 *    (kernel first), exported only if STB_GLOBAL (weak symbols of another
 *    module are not seen); never through the dynamic linker;
 *  - relocation types: what sys/amd64/amd64/elf_machdep.c elf_reloc_internal
 *    accepts for an object: NONE, 64, PC32, PLT32, 32S ("kldload:
 *    unexpected relocation type %ld"); kernsim also checks that 32S/PC32
 *    values fit;
 *  - then modules are registered (MDT_MODULE), static sysctls, SYSINITs
 *    (by subsystem, order) with Giant; a file whose every module failed
 *    MOD_LOAD is unloaded and kldload answers ENOEXEC
 *    (linker_load_file);
 *  - unload (kern_kldunload, linker_file_unload): a file loaded by the
 *    kernel (userrefs 0) or still referenced (refs > 1) is EBUSY; modules
 *    quiesce/unload (kldunload -f skips the veto); SYSUNINITs, sysctls;
 *    the dependencies lose a reference.  The memory then becomes
 *    inaccessible (PROT_NONE, never reused), so a late call into it is a
 *    named fault, not silent success.
 */

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "ksim.h"

#ifndef R_X86_64_PLT32
#define	R_X86_64_PLT32	4
#endif
#define	MAXDEPS		16
#define	PAGE		4096UL
#define	ROUNDUP(x, a)	(((x) + (a) - 1) & ~((a) - 1))

struct linker_file {
	struct linker_file *next;
	char		 name[64];	/* "devring.ko" */
	char		 path[512];
	int		 id;
	int		 refs;
	int		 userrefs;
	int		 unloaded;
	int		 is_kernel;
	struct linker_file *deps[MAXDEPS];
	int		 ndeps;
	/* ELF */
	char		*image;		/* the file */
	size_t		 imagesz;
	Elf64_Ehdr	*eh;
	Elf64_Shdr	*sh;
	char		*shstr;
	Elf64_Sym	*sym;
	size_t		 nsym;
	char		*str;
	uintptr_t	*secaddr;	/* per section, 0 if not loaded */
	char		*base;
	size_t		 size;
	size_t		 textsz;	/* [base, base + textsz) is text */
	void		*mdt_start, *mdt_stop;
	void		*sysinit_start, *sysinit_stop;
	void		*sysuninit_start, *sysuninit_stop;
	void		*sysctl_start, *sysctl_stop;
};

/* The modules and their versions (kern_linker.c modlist). */
struct modlist {
	struct modlist	*next;
	struct linker_file *container;
	char		 name[64];
	int		 version;
};

static struct linker_file *files;
static struct linker_file kernel_file;
static struct modlist *modlist;
static int next_fileid = 1;
static pthread_mutex_t kld_sx = PTHREAD_MUTEX_INITIALIZER;
extern char __executable_start[], etext[];

void
ksim_loader_init(void)
{
	struct modlist *ml;

	snprintf(kernel_file.name, sizeof(kernel_file.name), "kernel");
	kernel_file.id = next_fileid++;
	kernel_file.refs = 1;
	kernel_file.is_kernel = 1;
	files = &kernel_file;
	/* kern/kern_mib.c: MODULE_VERSION(kernel, __FreeBSD_version) */
	ml = calloc(1, sizeof(*ml));
	snprintf(ml->name, sizeof(ml->name), "kernel");
	ml->version = KSIM_KERNEL_RELEASE;
	ml->container = &kernel_file;
	modlist = ml;
}

static void *
kernel_lookup(const char *name)
{
	const struct ksim_ksym *k;

	for (k = ksim_ksyms; k->name != NULL; k++)
		if (strcmp(k->name, name) == 0)
			return (k->addr);
	return (NULL);
}

static uintptr_t
sym_value(struct linker_file *lf, const Elf64_Sym *s)
{

	if (s->st_shndx == SHN_ABS)
		return (s->st_value);
	if (s->st_shndx == SHN_UNDEF || s->st_shndx >= lf->eh->e_shnum)
		return (0);
	if (lf->secaddr[s->st_shndx] == 0)
		return (0);
	return (lf->secaddr[s->st_shndx] + s->st_value);
}

/* A symbol a file exports: defined and STB_GLOBAL. */
static void *
file_lookup(struct linker_file *lf, const char *name)
{
	size_t i;

	if (lf->is_kernel)
		return (kernel_lookup(name));
	for (i = 1; i < lf->nsym; i++) {
		const Elf64_Sym *s = &lf->sym[i];

		if (s->st_shndx == SHN_UNDEF ||
		    ELF64_ST_BIND(s->st_info) != STB_GLOBAL)
			continue;
		if (strcmp(lf->str + s->st_name, name) == 0)
			return ((void *)sym_value(lf, s));
	}
	return (NULL);
}

/* Any symbol, local included (for kcall and fault reports). */
void *
ksim_module_symbol(const char *file, const char *symname)
{
	struct linker_file *lf;
	size_t i;

	for (lf = files; lf != NULL; lf = lf->next) {
		if (lf->is_kernel || strcmp(lf->name, file) != 0)
			continue;
		for (i = 1; i < lf->nsym; i++)
			if (lf->sym[i].st_shndx != SHN_UNDEF &&
			    strcmp(lf->str + lf->sym[i].st_name, symname) == 0)
				return ((void *)sym_value(lf, &lf->sym[i]));
	}
	return (NULL);
}

static const char *
nearest_symbol(struct linker_file *lf, uintptr_t a, uintptr_t *offp)
{
	const char *best = NULL;
	uintptr_t bv = 0, v;
	size_t i;

	for (i = 1; i < lf->nsym; i++) {
		const Elf64_Sym *s = &lf->sym[i];

		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC &&
		    ELF64_ST_TYPE(s->st_info) != STT_OBJECT)
			continue;
		v = sym_value(lf, s);
		if (v != 0 && v <= a && v >= bv) {
			bv = v;
			best = lf->str + s->st_name;
		}
	}
	*offp = a - bv;
	return (best);
}

static struct linker_file *
file_containing(const void *p)
{
	struct linker_file *lf;

	for (lf = files; lf != NULL; lf = lf->next)
		if (!lf->is_kernel && lf->base != NULL &&
		    (const char *)p >= lf->base &&
		    (const char *)p < lf->base + lf->size)
			return (lf);
	return (NULL);
}

/* For the preemption handler: no lock (files are only prepended and
 * never freed). */
int
ksim_pc_in_module_text(const void *pc)
{
	struct linker_file *lf;

	for (lf = __atomic_load_n(&files, __ATOMIC_ACQUIRE); lf != NULL;
	    lf = lf->next)
		if (!lf->is_kernel && lf->base != NULL && !lf->unloaded &&
		    (const char *)pc >= lf->base &&
		    (const char *)pc < lf->base + lf->textsz)
			return (1);
	return (0);
}

int
ksim_hs_is_text(const void *p)
{
	struct linker_file *lf;

	if ((const char *)p >= __executable_start && (const char *)p < etext)
		return (1);
	lf = file_containing(p);
	return (lf != NULL && !lf->unloaded &&
	    (const char *)p < lf->base + lf->textsz);
}

/* Writable: a mapping with write permission (/proc/self/maps). */
int
ksim_hs_is_writable(const void *p, unsigned long len)
{
	char line[512], perms[8];
	unsigned long lo, hi;
	FILE *f;
	int r = 0;

	f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return (0);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if ((unsigned long)p >= lo && (unsigned long)p + len <= hi) {
			r = perms[1] == 'w';
			break;
		}
	}
	fclose(f);
	return (r);
}

const char *
ksim_hs_describe_addr(const void *p, char *buf, unsigned long len)
{
	struct linker_file *lf;
	const struct ksim_ksym *k;
	const char *sym;
	uintptr_t off;

	lf = file_containing(p);
	if (lf != NULL) {
		sym = nearest_symbol(lf, (uintptr_t)p, &off);
		snprintf(buf, len, "%s%s %s+0x%lx (%s+0x%lx)",
		    lf->unloaded ? "unloaded " : "", lf->name,
		    (const char *)p < lf->base + lf->textsz ? "text" : "data",
		    (unsigned long)((const char *)p - lf->base),
		    sym != NULL ? sym : "?", (unsigned long)off);
		return (buf);
	}
	for (k = ksim_ksyms; k->name != NULL; k++)
		if (k->addr == p) {
			snprintf(buf, len, "kernel symbol %s", k->name);
			return (buf);
		}
	if ((const char *)p >= __executable_start && (const char *)p < etext)
		snprintf(buf, len, "kernel text");
	else if ((uintptr_t)p < 65536)
		snprintf(buf, len, "a small integer, not an address");
	else if (ksim_in_stack(p, 1))
		snprintf(buf, len, "a thread's stack");
	else
		snprintf(buf, len, "no code or data kernsim knows");
	return (buf);
}

static int
load_image(struct linker_file *lf, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	fd = open(lf->path, O_RDONLY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", lf->path, strerror(errno));
		return (FB_ENOENT);
	}
	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		snprintf(err, errlen, "%s: too short", lf->path);
		return (FB_ENOEXEC);
	}
	lf->imagesz = st.st_size;
	lf->image = malloc(lf->imagesz);
	if (read(fd, lf->image, lf->imagesz) != (ssize_t)lf->imagesz) {
		close(fd);
		snprintf(err, errlen, "%s: short read", lf->path);
		return (FB_ENOEXEC);
	}
	close(fd);
	return (0);
}

/* link_elf_load_file(): header checks and section layout. */
static int
map_file(struct linker_file *lf, char *err, size_t errlen)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)lf->image;
	Elf64_Shdr *sh;
	size_t off, i, nsymtab = 0;
	int pass;

	lf->eh = eh;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT || eh->e_machine != EM_X86_64) {
		snprintf(err, errlen, "%s: Unsupported file type", lf->name);
		return (FB_ENOEXEC);
	}
	if (eh->e_type != ET_REL) {
		snprintf(err, errlen, "%s: not ET_REL (kernsim loads only "
		    "link_elf_obj modules)", lf->name);
		return (FB_ENOEXEC);
	}
	if (eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) >
	    lf->imagesz) {
		snprintf(err, errlen, "%s: truncated", lf->name);
		return (FB_ENOEXEC);
	}
	sh = lf->sh = (Elf64_Shdr *)(lf->image + eh->e_shoff);
	lf->shstr = lf->image + sh[eh->e_shstrndx].sh_offset;
	lf->secaddr = calloc(eh->e_shnum, sizeof(uintptr_t));
	for (i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB) {
			nsymtab++;
			lf->sym = (Elf64_Sym *)(lf->image + sh[i].sh_offset);
			lf->nsym = sh[i].sh_size / sizeof(Elf64_Sym);
			lf->str = lf->image + sh[sh[i].sh_link].sh_offset;
		}
	if (nsymtab != 1) {
		snprintf(err, errlen, "%s: file has %s symbol table", lf->name,
		    nsymtab == 0 ? "no" : "multiple");
		return (FB_ENOEXEC);
	}
	/* Pass 0: executable sections; pass 1: the rest. */
	off = 0;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < eh->e_shnum; i++) {
			size_t al = sh[i].sh_addralign ? sh[i].sh_addralign : 1;

			switch (sh[i].sh_type) {
			case SHT_PROGBITS:
			case SHT_NOBITS:
			case SHT_INIT_ARRAY:
			case SHT_FINI_ARRAY:
			case SHT_X86_64_UNWIND:
				break;
			default:
				continue;
			}
			if ((sh[i].sh_flags & SHF_ALLOC) == 0)
				continue;
			if (((sh[i].sh_flags & SHF_EXECINSTR) != 0) != (pass == 0))
				continue;
			off = ROUNDUP(off, al);
			lf->secaddr[i] = off;	/* relative for now */
			off += sh[i].sh_size;
		}
		if (pass == 0) {
			off = ROUNDUP(off, PAGE);
			lf->textsz = off;
		}
	}
	lf->size = ROUNDUP(off, PAGE);
	if (lf->size == 0)
		lf->size = PAGE;
	lf->base = mmap(NULL, lf->size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (lf->base == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap below 2 GiB failed", lf->name);
		return (FB_ENOMEM);
	}
	for (i = 0; i < eh->e_shnum; i++) {
		const char *name = lf->shstr + sh[i].sh_name;
		uintptr_t a;

		if ((sh[i].sh_flags & SHF_ALLOC) == 0 ||
		    (sh[i].sh_type != SHT_PROGBITS &&
		    sh[i].sh_type != SHT_NOBITS &&
		    sh[i].sh_type != SHT_INIT_ARRAY &&
		    sh[i].sh_type != SHT_FINI_ARRAY &&
		    sh[i].sh_type != SHT_X86_64_UNWIND))
			continue;
		a = (uintptr_t)lf->base + lf->secaddr[i];
		lf->secaddr[i] = a;
		if (sh[i].sh_type != SHT_NOBITS)
			memcpy((void *)a, lf->image + sh[i].sh_offset,
			    sh[i].sh_size);
		if (strcmp(name, "set_modmetadata_set") == 0) {
			lf->mdt_start = (void *)a;
			lf->mdt_stop = (void *)(a + sh[i].sh_size);
		} else if (strcmp(name, "set_sysinit_set") == 0) {
			lf->sysinit_start = (void *)a;
			lf->sysinit_stop = (void *)(a + sh[i].sh_size);
		} else if (strcmp(name, "set_sysuninit_set") == 0) {
			lf->sysuninit_start = (void *)a;
			lf->sysuninit_stop = (void *)(a + sh[i].sh_size);
		} else if (strcmp(name, "set_sysctl_set") == 0) {
			lf->sysctl_start = (void *)a;
			lf->sysctl_stop = (void *)(a + sh[i].sh_size);
		} else if (strcmp(name, "set_pcpu") == 0 ||
		    strcmp(name, "set_vnet") == 0) {
			snprintf(err, errlen, "%s: %s sections (DPCPU/VNET) are "
			    "not modelled", lf->name, name);
			return (FB_ENOEXEC);
		}
	}
	return (0);
}

/* link_elf_fix_link_set(): the file's own set bounds. */
static uintptr_t
set_bound(struct linker_file *lf, const char *name)
{
	const char *set;
	int stop;
	size_t i;

	if (strncmp(name, "__start_set_", 12) == 0) {
		set = name + 8;
		stop = 0;
	} else if (strncmp(name, "__stop_set_", 11) == 0) {
		set = name + 7;
		stop = 1;
	} else
		return (0);
	for (i = 0; i < lf->eh->e_shnum; i++)
		if (lf->secaddr[i] != 0 &&
		    strcmp(lf->shstr + lf->sh[i].sh_name, set) == 0)
			return (lf->secaddr[i] + (stop ? lf->sh[i].sh_size : 0));
	return (0);
}

/* elf_obj_lookup() + linker_file_lookup_symbol(): 0 and *found = 0 when
 * undefined. */
static uintptr_t
resolve(struct linker_file *lf, size_t symidx, int *found)
{
	const Elf64_Sym *s = &lf->sym[symidx];
	const char *name = lf->str + s->st_name;
	uintptr_t v;
	void *a;
	int i;

	*found = 1;
	if (symidx == 0)
		return (0);
	if (s->st_shndx == SHN_COMMON) {
		*found = 0;
		return (0);
	}
	if (s->st_shndx != SHN_UNDEF)
		return (sym_value(lf, s));
	if (ELF64_ST_BIND(s->st_info) == STB_LOCAL || *name == '\0') {
		*found = 0;
		return (0);
	}
	if ((v = set_bound(lf, name)) != 0)
		return (v);
	for (i = 0; i < lf->ndeps; i++)
		if ((a = file_lookup(lf->deps[i], name)) != NULL)
			return ((uintptr_t)a);
	if (ELF64_ST_BIND(s->st_info) == STB_WEAK)
		return (0);
	*found = 0;
	return (0);
}

static int
relocate(struct linker_file *lf, int locals, char *err, size_t errlen)
{
	Elf64_Shdr *sh = lf->sh;
	size_t i, j, n;

	for (i = 0; i < lf->eh->e_shnum; i++) {
		Elf64_Rela *r;
		uintptr_t base;

		if (sh[i].sh_type == SHT_REL) {
			snprintf(err, errlen, "%s: SHT_REL sections are not "
			    "modelled", lf->name);
			return (FB_ENOEXEC);
		}
		if (sh[i].sh_type != SHT_RELA)
			continue;
		base = lf->secaddr[sh[i].sh_info];
		if (base == 0)
			continue;	/* not loaded (debug info) */
		r = (Elf64_Rela *)(lf->image + sh[i].sh_offset);
		n = sh[i].sh_size / sizeof(*r);
		for (j = 0; j < n; j++) {
			size_t symidx = ELF64_R_SYM(r[j].r_info);
			unsigned type = ELF64_R_TYPE(r[j].r_info);
			const Elf64_Sym *s = &lf->sym[symidx];
			char *where = (char *)base + r[j].r_offset;
			uintptr_t S;
			int64_t v;
			int found;

			if ((ELF64_ST_BIND(s->st_info) == STB_LOCAL) != locals)
				continue;
			if (type == R_X86_64_NONE)
				continue;
			S = resolve(lf, symidx, &found);
			if (!found) {
				snprintf(err, errlen, "link_elf_obj: symbol %s "
				    "undefined (%s)", lf->str + s->st_name,
				    lf->name);
				return (FB_ENOENT);
			}
			switch (type) {
			case R_X86_64_64:
				*(uint64_t *)where = S + r[j].r_addend;
				break;
			case R_X86_64_PC32:
			case R_X86_64_PLT32:
				v = (int64_t)(S + r[j].r_addend) -
				    (int64_t)(uintptr_t)where;
				if (v != (int32_t)v) {
					snprintf(err, errlen, "%s: PC32 to %s "
					    "out of range", lf->name,
					    lf->str + s->st_name);
					return (FB_ENOEXEC);
				}
				*(int32_t *)where = (int32_t)v;
				break;
			case R_X86_64_32S:
				v = (int64_t)(S + r[j].r_addend);
				if (v != (int32_t)v) {
					snprintf(err, errlen, "%s: 32S value of "
					    "%s does not fit", lf->name,
					    lf->str + s->st_name);
					return (FB_ENOEXEC);
				}
				*(int32_t *)where = (int32_t)v;
				break;
			default:
				snprintf(err, errlen, "kldload: unexpected "
				    "relocation type %u, symbol index %zu (%s, "
				    "symbol %s)", type, symidx, lf->name,
				    lf->str + s->st_name);
				return (FB_ENOEXEC);
			}
		}
	}
	return (0);
}

static struct modlist *
modlist_lookup(const char *name, int vmin, int vmax, int pref, int anyver)
{
	struct modlist *ml, *best = NULL;

	for (ml = modlist; ml != NULL; ml = ml->next) {
		if (strcmp(ml->name, name) != 0)
			continue;
		if (anyver)
			return (ml);
		if (ml->version < vmin || ml->version > vmax)
			continue;
		if (ml->version == pref)
			return (ml);
		if (best == NULL || ml->version > best->version)
			best = ml;
	}
	return (best);
}

static int do_kldload(const char *path, struct linker_file **lfp,
    char *err, size_t errlen);

static void
add_dep(struct linker_file *lf, struct linker_file *dep)
{

	if (lf->ndeps == MAXDEPS)
		ksim_failf("kernsim: too many dependencies for %s", lf->name);
	dep->refs++;
	lf->deps[lf->ndeps++] = dep;
}

/* kern/kern_linker.c: linker_load_dependencies() */
static int
load_dependencies(struct linker_file *lf, char *err, size_t errlen)
{
	void **mp, **mp2;
	const char *name, *name2;
	int type, ver, vmin, vmax, type2, v2, a2, b2, error;
	void *data, *data2;
	struct modlist *ml;
	struct linker_file *dep;
	char path[600], *dir, dirbuf[512];

	add_dep(lf, &kernel_file);
	for (mp = lf->mdt_start; mp < (void **)lf->mdt_stop; mp++) {
		if (ksim_k_mdt_get(mp, &type, &name, &ver, &vmin, &vmax,
		    &data) != 0 || type != MDT_VERSION_TYPE)
			continue;
		if (modlist_lookup(name, ver, ver, ver, 0) != NULL) {
			snprintf(err, errlen, "module %s already present!",
			    name);
			return (FB_EEXIST);
		}
	}
	for (mp = lf->mdt_start; mp < (void **)lf->mdt_stop; mp++) {
		int self_provided = 0;

		if (ksim_k_mdt_get(mp, &type, &name, &ver, &vmin, &vmax,
		    &data) != 0 || type != MDT_DEPEND_TYPE)
			continue;
		for (mp2 = lf->mdt_start; mp2 < (void **)lf->mdt_stop; mp2++)
			if (ksim_k_mdt_get(mp2, &type2, &name2, &v2, &a2, &b2,
			    &data2) == 0 && type2 == MDT_VERSION_TYPE &&
			    strcmp(name, name2) == 0)
				self_provided = 1;
		if (self_provided)
			continue;
		ml = modlist_lookup(name, vmin, vmax, ver, 0);
		if (ml != NULL) {
			if (ml->container != &kernel_file)
				add_dep(lf, ml->container);
			continue;
		}
		/* linker_load_module(): look for NAME.ko beside the file. */
		snprintf(dirbuf, sizeof(dirbuf), "%s", lf->path);
		dir = dirname(dirbuf);
		snprintf(path, sizeof(path), "%s/%s.ko", dir, name);
		dep = NULL;
		error = access(path, R_OK) == 0 ?
		    do_kldload(path, &dep, err, errlen) : FB_ENOENT;
		if (error == 0)
			ml = modlist_lookup(name, vmin, vmax, ver, 0);
		if (error != 0 || ml == NULL) {
			if (error == 0)
				error = FB_ENOENT;
			snprintf(path, sizeof(path), "KLD %s: depends on %s - "
			    "not available or version mismatch\n", lf->name,
			    name);
			ksim_hs_console(path, strlen(path));
			snprintf(err, errlen, "KLD %s: depends on %s - not "
			    "available or version mismatch (wants %d..%d)",
			    lf->name, name, vmin, vmax);
			return (error);
		}
		add_dep(lf, ml->container);
		ml->container->refs--;	/* loaded by us: userrefs 0, refs 1 */
	}
	/* linker_addmodules(): the file's versions join the modlist. */
	for (mp = lf->mdt_start; mp < (void **)lf->mdt_stop; mp++) {
		struct modlist *nm;

		if (ksim_k_mdt_get(mp, &type, &name, &ver, &vmin, &vmax,
		    &data) != 0 || type != MDT_VERSION_TYPE)
			continue;
		nm = calloc(1, sizeof(*nm));
		snprintf(nm->name, sizeof(nm->name), "%s", name);
		nm->version = ver;
		nm->container = lf;
		nm->next = modlist;
		modlist = nm;
	}
	return (0);
}

static void
modlist_remove_file(struct linker_file *lf)
{
	struct modlist **mp, *ml;

	for (mp = &modlist; *mp != NULL;) {
		ml = *mp;
		if (ml->container == lf) {
			*mp = ml->next;
			free(ml);
		} else
			mp = &ml->next;
	}
}

static void
make_inaccessible(struct linker_file *lf)
{

	lf->unloaded = 1;
	if (lf->base != NULL) {
		ksim_storebuf_forget((unsigned char *)lf->base, lf->textsz);
		mprotect(lf->base, lf->size, PROT_NONE);
	}
}

static void release_deps(struct linker_file *lf);

/* linker_load_file(): the whole of one kldload, kld_sx held. */
static int
do_kldload(const char *path, struct linker_file **lfp, char *err,
    size_t errlen)
{
	struct linker_file *lf, *o;
	char pbuf[512];
	void **mp;
	const char *name;
	int type, ver, vmin, vmax, error, nmod = 0;
	void *data;

	lf = calloc(1, sizeof(*lf));
	snprintf(lf->path, sizeof(lf->path), "%s", path);
	snprintf(pbuf, sizeof(pbuf), "%s", path);
	snprintf(lf->name, sizeof(lf->name), "%s", basename(pbuf));
	for (o = files; o != NULL; o = o->next)
		if (!o->unloaded && strcmp(o->name, lf->name) == 0) {
			snprintf(err, errlen, "%s: file already loaded",
			    lf->name);
			free(lf);
			return (FB_EEXIST);
		}
	if ((error = load_image(lf, err, errlen)) != 0 ||
	    (error = map_file(lf, err, errlen)) != 0)
		goto fail;
	if ((error = relocate(lf, 1, err, errlen)) != 0)
		goto fail;
	if ((error = load_dependencies(lf, err, errlen)) != 0)
		goto fail_deps;
	if ((error = relocate(lf, 0, err, errlen)) != 0)
		goto fail_mods;
	mprotect(lf->base, lf->textsz, PROT_READ | PROT_EXEC);
	ksim_storebuf_patch((unsigned char *)lf->base, lf->textsz);
	lf->id = next_fileid++;
	lf->refs = 1;
	lf->next = files;
	__atomic_store_n(&files, lf, __ATOMIC_RELEASE);
	/* linker_file_register_modules() */
	for (mp = lf->mdt_start; mp < (void **)lf->mdt_stop; mp++) {
		if (ksim_k_mdt_get(mp, &type, &name, &ver, &vmin, &vmax,
		    &data) != 0 || type != MDT_MODULE_TYPE)
			continue;
		nmod++;
		error = ksim_k_module_register(data, lf);
		if (error != 0) {
			snprintf(err, errlen, "%s: module %s already loaded",
			    lf->name, name);
			ksim_k_modules_unload(lf, 1);
			goto fail_linked;
		}
	}
	ksim_k_sysctl_set_register(lf->sysctl_start, lf->sysctl_stop, 1);
	ksim_k_sysinit_run(lf->sysinit_start, lf->sysinit_stop, 0);
	if (nmod > 0 && ksim_k_modules_count(lf) == 0) {
		/* "If all of the modules in this file failed to load,
		 * unload the file and return an error of ENOEXEC." */
		ksim_k_sysinit_run(lf->sysuninit_start, lf->sysuninit_stop, 1);
		ksim_k_sysctl_set_register(lf->sysctl_start, lf->sysctl_stop,
		    0);
		snprintf(err, errlen, "%s: every module failed MOD_LOAD",
		    lf->name);
		error = FB_ENOEXEC;
		goto fail_linked;
	}
	*lfp = lf;
	return (0);
fail_linked:
	modlist_remove_file(lf);
	release_deps(lf);
	make_inaccessible(lf);
	return (error);
fail_mods:
	modlist_remove_file(lf);
fail_deps:
	release_deps(lf);
fail:
	if (lf->base != NULL && lf->base != MAP_FAILED)
		munmap(lf->base, lf->size);
	free(lf->image);
	free(lf->secaddr);
	free(lf);
	return (error);
}

static int unload_file(struct linker_file *lf, int force);

static void
release_deps(struct linker_file *lf)
{
	int i;

	for (i = lf->ndeps - 1; i >= 0; i--) {
		if (lf->deps[i] == &kernel_file) {
			kernel_file.refs--;
			continue;
		}
		(void)unload_file(lf->deps[i], 1);
	}
	lf->ndeps = 0;
}

/* linker_file_unload() */
static int
unload_file(struct linker_file *lf, int force)
{
	int error;

	if (lf->refs > 1) {
		lf->refs--;
		return (0);
	}
	error = ksim_k_modules_unload(lf, force);
	if (error != 0)
		return (error);
	ksim_k_sysinit_run(lf->sysuninit_start, lf->sysuninit_stop, 1);
	ksim_k_sysctl_set_register(lf->sysctl_start, lf->sysctl_stop, 0);
	modlist_remove_file(lf);
	lf->refs = 0;
	release_deps(lf);
	make_inaccessible(lf);
	return (0);
}

static struct linker_file *
find_file(const char *name)
{
	struct linker_file *lf;
	char want[80];

	snprintf(want, sizeof(want), "%s%s", name,
	    strstr(name, ".ko") != NULL ? "" : ".ko");
	for (lf = files; lf != NULL; lf = lf->next)
		if (!lf->unloaded && !lf->is_kernel &&
		    strcmp(lf->name, want) == 0)
			return (lf);
	return (NULL);
}

/* kern_kldload(): the caller is in the kernel (ksim_enter). */
int
ksim_kldload(const char *path, int *idp)
{
	struct linker_file *lf = NULL;
	char err[512];
	int error;

	err[0] = '\0';
	error = do_kldload(path, &lf, err, sizeof(err));
	if (error != 0) {
		if (err[0] != '\0')
			fprintf(stdout, "kldload: %s\n", err);
		return (error);
	}
	lf->userrefs++;
	*idp = lf->id;
	return (0);
}

int
ksim_kldfind(const char *name)
{
	struct linker_file *lf = find_file(name);

	return (lf != NULL ? lf->id : -1);
}

/*
 * kern_kldunload(): a file loaded by the kernel (a dependency) is refused
 * ("attempt to unload file that was loaded by the kernel", EBUSY), and so
 * is one another file depends on (refs > 1: EBUSY in 15/main); else the
 * user reference goes and the file unloads (restored if that fails).
 */
int
ksim_kldunload(const char *name, int force)
{
	struct linker_file *lf;
	int error;

	lf = find_file(name);
	if (lf == NULL) {
		for (lf = files; lf != NULL; lf = lf->next)
			if (!lf->unloaded && !lf->is_kernel &&
			    atoi(name) == lf->id)
				break;
		if (lf == NULL)
			return (FB_ENOENT);
	}
	if (lf->userrefs == 0) {
		const char *m = "kldunload: attempt to unload file that was "
		    "loaded by the kernel\n";

		ksim_hs_console(m, strlen(m));
		return (FB_EBUSY);
	}
	if (lf->refs > 1)
		return (FB_EBUSY);
	lf->userrefs--;
	error = unload_file(lf, force);
	if (error != 0)
		lf->userrefs++;
	return (error);
}

void
ksim_kldstat(void)
{
	struct linker_file *lf;

	ksim_out("Id Refs Name\n");
	for (lf = files; lf != NULL; lf = lf->next)
		if (!lf->unloaded)
			ksim_out("%2d %4d %s\n", lf->id, lf->refs, lf->name);
}

int
ksim_loaded_count(void)
{
	struct linker_file *lf;
	int n = 0;

	for (lf = files; lf != NULL; lf = lf->next)
		if (!lf->unloaded && !lf->is_kernel)
			n++;
	return (n);
}

void
ksim_kld_lock(void)
{

	pthread_mutex_lock(&kld_sx);
}

void
ksim_kld_unlock(void)
{

	pthread_mutex_unlock(&kld_sx);
}

/*
 * Faults: a call into (or a load from) a module that was unloaded is the
 * failure this loader exists to catch; name it.
 */
/*
 * Where the trap came from, roughly: the words on the faulting stack that
 * point into kernel or module text, innermost first (no frame pointers to
 * walk; a word may be a stale return address).  A panic's backtrace.
 */
static void
stack_scan(ucontext_t *uc)
{
	extern char __executable_start[], etext[];
	uintptr_t *sp = (uintptr_t *)uc->uc_mcontext.gregs[REG_RSP], w;
	struct linker_file *lf;
	char a[256];
	int i, n = 0;

	for (i = 0; i < 512 && n < 24; i++) {
		w = sp[i];
		lf = file_containing((void *)w);
		if ((w >= (uintptr_t)__executable_start &&
		    w < (uintptr_t)etext) || (lf != NULL && !lf->unloaded)) {
			fprintf(stderr, "kernsim: stack[%d] %#lx %s\n", i,
			    (unsigned long)w, ksim_hs_describe_addr((void *)w,
			    a, sizeof(a)));
			n++;
		}
	}
}

static void
segv_handler(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	uintptr_t rip = uc->uc_mcontext.gregs[REG_RIP];
	struct linker_file *lf, *lfa;
	char a[256], b[256];

	lf = file_containing((void *)rip);
	lfa = file_containing(si->si_addr);
	if (lf != NULL && lf->unloaded)
		ksim_failf("call into unloaded module %s at +0x%lx (%s)",
		    lf->name, (unsigned long)(rip - (uintptr_t)lf->base),
		    ksim_hs_describe_addr((void *)rip, a, sizeof(a)));
	if (lfa != NULL && lfa->unloaded)
		ksim_failf("access to unloaded module %s memory at +0x%lx "
		    "(%s) from %s", lfa->name,
		    (unsigned long)((uintptr_t)si->si_addr -
		    (uintptr_t)lfa->base),
		    ksim_hs_describe_addr(si->si_addr, a, sizeof(a)),
		    ksim_hs_describe_addr((void *)rip, b, sizeof(b)));
	if (ksim_memguard_describe(si->si_addr, a, sizeof(a)))
		ksim_failf("%s, at %s", a,
		    ksim_hs_describe_addr((void *)rip, b, sizeof(b)));
	if (ksim_kstack_guard_owner(si->si_addr, a, sizeof(a)))
		ksim_failf("kernel stack overflow on thread %s (%d pages; the "
		    "guard page was hit at %s)", a, ksim_kstack_pages,
		    ksim_hs_describe_addr((void *)rip, b, sizeof(b)));
	if (ksim_gs_is_guard(si->si_addr))
		ksim_failf("kernel code running without a vCPU (%%gs access "
		    "at %s)", ksim_hs_describe_addr((void *)rip, a, sizeof(a)));
	stack_scan(uc);
	ksim_failf("fatal trap: %s at rip %p (%s), fault address %p (%s)",
	    sig == SIGSEGV ? "page fault" : sig == SIGBUS ? "bus error" :
	    sig == SIGILL ? "illegal instruction" : "trap", (void *)rip,
	    ksim_hs_describe_addr((void *)rip, a, sizeof(a)), si->si_addr,
	    ksim_hs_describe_addr(si->si_addr, b, sizeof(b)));
}

void
ksim_segv_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
}
