/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: simulated physical memory for kern/vm.c (one host memory
 * file; each vm_page is one page of it, mapped at its "direct map"
 * address and wherever pmap_qenter puts it, so every view shares its
 * bytes), and the script commands of the simulated VM (kern/vm_map.c):
 *
 *	open-ro FD PATH			open(2) O_RDONLY
 *	region R FD PAGES [rw]		DEVRING_IOC_REGION: cookie R
 *	region-sum FD R			DEVRING_IOC_SUM: "sum=N"
 *	mmap MAP FD OFF LEN PROT [private] [in PROC]
 *					OFF: a number, R or R+N; PROT r|w|rw
 *	munmap MAP			(MAP or PROC:MAP)
 *	touch MAP OFF [write VAL]	a 32-bit user load/store: "touch:
 *					VAL" or the signal (errno EFAULT)
 *	touch-loop MAP OFF N [write VAL]  up to N touches, until a signal
 *	fill MAP / verify MAP		w[i] = i * 7 + 1 over the mapping
 *					("fill: sum=N") / read it back
 *	fork PROC / exit PROC		a child of process 0 / its exit
 *	mlock MAP			mlock(2) of the whole mapping
 *	hold H MAP OFF LEN / unhold H	a kernel hold (a pipe direct write)
 *	hold-sum H			its pages' 32-bit words, added
 *	vm-stat				pages, holds, objects, PTEs
 *	sysctl-wait NAME TEXT MS	poll a sysctl until it shows TEXT
 *
 * Every script line is followed by the VM invariant check (k_vm_check).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksim.h"

#define	KS_PHYS_MAX	(1UL << 30)	/* simulated physical memory */

static pthread_mutex_t phys_mtx = PTHREAD_MUTEX_INITIALIZER;
static int phys_fd = -1;
static char *phys_dmap;
static long phys_next;

void *
ksim_hs_vm_page_new(long *memoffp)
{
	long off;

	pthread_mutex_lock(&phys_mtx);
	if (phys_fd < 0) {
		phys_fd = memfd_create("kernsim-phys", 0);
		if (phys_fd < 0 || ftruncate(phys_fd, KS_PHYS_MAX) != 0)
			ksim_failf("kernsim: memfd for simulated memory: %s",
			    strerror(errno));
		phys_dmap = mmap(NULL, KS_PHYS_MAX, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_NORESERVE, phys_fd, 0);
		if (phys_dmap == MAP_FAILED)
			ksim_failf("kernsim: direct map: %s", strerror(errno));
	}
	if (phys_next + KSIM_PAGE_SIZE > (long)KS_PHYS_MAX)
		ksim_failf("kernsim: out of simulated physical memory");
	off = phys_next;
	phys_next += KSIM_PAGE_SIZE;
	pthread_mutex_unlock(&phys_mtx);
	*memoffp = off;
	return (phys_dmap + off);
}

void *
ksim_hs_vm_kva_reserve(unsigned long npages)
{
	void *p;

	p = mmap(NULL, npages * KSIM_PAGE_SIZE, PROT_NONE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		ksim_failf("kernsim: kva reservation: %s", strerror(errno));
	return (p);
}

void
ksim_hs_vm_kva_set(void *va, long memoff)
{
	void *p;

	if (memoff < 0)
		p = mmap(va, KSIM_PAGE_SIZE, PROT_NONE, MAP_FIXED | MAP_PRIVATE |
		    MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	else
		p = mmap(va, KSIM_PAGE_SIZE, PROT_READ | PROT_WRITE,
		    MAP_FIXED | MAP_SHARED, phys_fd, memoff);
	if (p != va)
		ksim_failf("kernsim: kernel mapping at %p: %s", va,
		    strerror(errno));
}

/* ---- names: regions, processes, mappings, holds ---- */

#define	NNAMES	64

struct vname {
	char		name[32];
	long		v;		/* cookie, vs, mapid, holdid */
	int		vs;		/* mappings */
};
static struct vname regions[NNAMES], procs[NNAMES], maps[NNAMES],
    holds[NNAMES];

static struct vname *
vname(struct vname *t, const char *name, int create)
{
	int i;

	for (i = 0; i < NNAMES; i++)
		if (strcmp(t[i].name, name) == 0)
			return (&t[i]);
	if (!create)
		return (NULL);
	for (i = 0; i < NNAMES; i++)
		if (t[i].name[0] == '\0') {
			snprintf(t[i].name, sizeof(t[i].name), "%s", name);
			return (&t[i]);
		}
	ksim_failf("kernsim: more than %d names", NNAMES);
}

static int
proc_vs(const char *name)
{
	struct vname *p = vname(procs, name, 0);

	return (p != NULL ? (int)p->v : -1);
}

/* MAP or PROC:MAP (the child's copy of the parent's mapping). */
static int
map_lookup(const char *spec, int *vsp, int *mapidp)
{
	char buf[64], *c;
	struct vname *m;

	snprintf(buf, sizeof(buf), "%s", spec);
	*vsp = 0;
	if ((c = strchr(buf, ':')) != NULL) {
		*c++ = '\0';
		if ((*vsp = proc_vs(buf)) < 0)
			return (-1);
	} else
		c = buf;
	if ((m = vname(maps, c, 0)) == NULL || m->v <= 0)
		return (-1);
	if (c == buf)
		*vsp = m->vs;
	*mapidp = (int)m->v;
	return (0);
}

/* OFF: a number, a region R, or R+N. */
static long
offset_arg(const char *s)
{
	char buf[64], *plus;
	struct vname *r;
	long n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	if ((plus = strchr(buf, '+')) != NULL) {
		*plus++ = '\0';
		n = strtol(plus, NULL, 0);
	}
	if ((r = vname(regions, buf, 0)) != NULL)
		return (r->v + n);
	return (strtol(s, NULL, 0));
}

/* ---- system calls ---- */

struct vm_args {
	int		 vs, mapid, write, rv, error, id;
	unsigned long	 off, len;
	unsigned int	 val;
	unsigned long long sum;
	const char	*when;
	char		 buf[256];
};

static void
sys_touch(void *p)
{
	struct vm_args *a = p;

	a->rv = ksim_k_vm_touch(a->vs, a->mapid, a->off, a->write, &a->val);
}

/* fill/verify: the whole mapping, one touch per word, in one call. */
static void
sys_fill(void *p)
{
	struct vm_args *a = p;
	unsigned long i;
	unsigned int v;

	a->sum = 0;
	a->id = 0;
	for (i = 0; i + 4 <= a->len; i += 4) {
		v = (unsigned int)((i / 4) * 7 + 1);
		if (a->write)
			a->rv = ksim_k_vm_touch(a->vs, a->mapid, i, 1, &v);
		else {
			unsigned int got = 0;

			a->rv = ksim_k_vm_touch(a->vs, a->mapid, i, 0, &got);
			a->id += a->rv == 0 && got != v;
		}
		if (a->rv != 0)
			return;
		a->sum += v;
	}
}

static void
sys_munmap(void *p)
{
	struct vm_args *a = p;

	a->error = ksim_k_vm_munmap(a->vs, a->mapid);
}

static void
sys_fork(void *p)
{
	struct vm_args *a = p;

	a->error = ksim_k_vm_fork(0, a->vs);
}

static void
sys_exit(void *p)
{
	struct vm_args *a = p;

	ksim_k_vm_exit(a->vs);
}

static void
sys_mlock(void *p)
{
	struct vm_args *a = p;

	a->error = ksim_k_vm_mlock(a->vs, a->mapid);
}

static void
sys_hold(void *p)
{
	struct vm_args *a = p;

	a->error = ksim_k_vm_hold(a->vs, a->mapid, a->off, a->len, &a->id);
}

static void
sys_unhold(void *p)
{
	struct vm_args *a = p;

	a->error = ksim_k_vm_unhold(a->id);
}

static void
sys_holdsum(void *p)
{
	struct vm_args *a = p;

	a->error = ksim_k_vm_hold_sum(a->id, &a->sum);
}

static void
sys_vmcheck(void *p)
{
	struct vm_args *a = p;

	ksim_k_vm_check(a->when);
}

static void
sys_vmstat(void *p)
{
	struct vm_args *a = p;

	ksim_k_vm_stat(a->buf, sizeof(a->buf));
}

/*
 * mmap(2) for a client process of `kernsim serve`: the mapping in the
 * process's own address space vs (vm/vm_mmap.c: no page is faulted in;
 * the client's touches fault them, k_vm_user_fault), and what the client
 * needs to map the pages' bytes later: {server pid, memory file
 * descriptor, mapping, page offset, pages} as int64s in out.
 */
int
ksys_mmap_client(int vs, int fd, unsigned long len, int prot, int shared,
    long off, int64_t *out, int *errp)
{
	int mapid;

	mapid = ksys_mmap_vs(vs, fd, len, prot, shared ? 0x1 : 0x2, off, errp);
	if (mapid < 0)
		return (-1);
	pthread_mutex_lock(&phys_mtx);
	out[1] = phys_fd;
	pthread_mutex_unlock(&phys_mtx);
	out[0] = getpid();
	out[2] = mapid;
	out[3] = off & (KSIM_PAGE_SIZE - 1);
	out[4] = ((off & (KSIM_PAGE_SIZE - 1)) + len + KSIM_PAGE_SIZE - 1) /
	    KSIM_PAGE_SIZE;
	return (mapid);
}

static void
sys_user_fault(void *p)
{
	struct vm_args *a = p;
	long memoff = -1;

	a->rv = ksim_k_vm_user_fault(a->vs, a->mapid, a->off, a->write,
	    &memoff);
	a->sum = (unsigned long long)memoff;
}

/* A client's page fault (k_vm_user_fault): KS_TOUCH_*, the page's place. */
int
ksys_vm_user_fault(int vs, int mapid, unsigned long off, int write,
    long *memoffp)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.vs = vs;
	a.mapid = mapid;
	a.off = off;
	a.write = write;
	ksim_syscall("trap_pfault", sys_user_fault, &a);
	*memoffp = (long)a.sum;
	return (a.rv);
}

int
ksys_vm_hold(int vs, int mapid, unsigned long off, unsigned long len,
    int *errp)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.vs = vs;
	a.mapid = mapid;
	a.off = off;
	a.len = len;
	ksim_syscall("hold", sys_hold, &a);
	*errp = a.error;
	return (a.error == 0 ? a.id : -1);
}

int
ksys_vm_unhold(int id, int *errp)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.id = id;
	ksim_syscall("unhold", sys_unhold, &a);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

int
ksys_vm_mlock(int vs, int mapid, int *errp)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.vs = vs;
	a.mapid = mapid;
	ksim_syscall("mlock", sys_mlock, &a);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

static void
sys_vs_new(void *p)
{
	struct vm_args *a = p;

	if (a->mapid < 0)
		a->vs = ksim_k_vm_vs_new();
	else
		a->error = ksim_k_vm_fork_vs(a->mapid, -1, &a->vs);
}

/* A client process's address space: a new one, or (parent >= 0) a fork. */
int
ksys_vm_vs_new(int parent)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.mapid = parent;
	ksim_syscall(parent < 0 ? "vmspace_alloc" : "vmspace_fork",
	    sys_vs_new, &a);
	return (a.error == 0 ? a.vs : -1);
}

void
ksys_vm_exit(int vs)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.vs = vs;
	ksim_syscall("vmspace_exit", sys_exit, &a);
}

int
ksys_munmap_vs(int vs, int mapid, int *errp)
{
	struct vm_args a;

	memset(&a, 0, sizeof(a));
	a.vs = vs;
	a.mapid = mapid;
	ksim_syscall("munmap", sys_munmap, &a);
	*errp = a.error;
	return (a.error == 0 ? 0 : -1);
}

void
ksim_vm_check(const char *when)
{
	struct vm_args a = { .when = when };

	ksim_syscall("vm-check", sys_vmcheck, &a);
}

static const char *
signame(int rv)
{

	switch (rv) {
	case KS_TOUCH_SIGBUS_OBJERR:
		return ("SIGBUS (BUS_OBJERR)");
	case KS_TOUCH_SIGSEGV_ACCERR:
		return ("SIGSEGV (SEGV_ACCERR)");
	case KS_TOUCH_SIGSEGV_MAPERR:
		return ("SIGSEGV (SEGV_MAPERR)");
	}
	return ("?");
}

/* devring's region ioctls (shim/devring_ioctl.h). */
#define	DEVRING_IOC_REGION	0xc0105203UL
#define	DEVRING_IOC_SUM		0xc0105204UL

int
ksim_vm_command(int ac, char **av, int *(*fdslot)(const char *, int),
    int *errp)
{
	struct vm_args a;
	struct vname *n;
	int *fdp, fd, prot, flags, i;

	memset(&a, 0, sizeof(a));
	*errp = 0;
	if (strcmp(av[0], "open-ro") == 0 && ac == 3) {
		fdp = fdslot(av[1], 1);
		fd = ksys_open(av[2], 0 /* O_RDONLY */, errp);
		if (fdp != NULL)
			*fdp = fd;
	} else if (strcmp(av[0], "region") == 0 && (ac == 4 || ac == 5)) {
		struct { uint32_t pages, flags; uint64_t cookie; } r;

		fdp = fdslot(av[2], 0);
		r.pages = (uint32_t)strtoul(av[3], NULL, 0);
		r.flags = ac == 5 && strcmp(av[4], "rw") == 0;
		r.cookie = 0;
		if (ksys_ioctl(fdp != NULL ? *fdp : -1, DEVRING_IOC_REGION, &r,
		    errp) == 0) {
			vname(regions, av[1], 1)->v = (long)r.cookie;
			ksim_out("region %s: cookie=%#jx\n", av[1],
			    (uintmax_t)r.cookie);
		}
	} else if (strcmp(av[0], "region-sum") == 0 && ac == 3) {
		struct { uint64_t cookie, sum; } s;

		fdp = fdslot(av[1], 0);
		s.cookie = (uint64_t)offset_arg(av[2]);
		s.sum = 0;
		if (ksys_ioctl(fdp != NULL ? *fdp : -1, DEVRING_IOC_SUM, &s,
		    errp) == 0)
			ksim_out("sum=%ju\n", (uintmax_t)s.sum);
	} else if (strcmp(av[0], "mmap") == 0 && ac >= 6) {
		int vs = 0, id;

		fdp = fdslot(av[2], 0);
		prot = (strchr(av[5], 'r') != NULL ? 0x1 : 0) |
		    (strchr(av[5], 'w') != NULL ? 0x2 : 0) |
		    (strchr(av[5], 'x') != NULL ? 0x4 : 0);
		flags = 0x1;	/* MAP_SHARED */
		for (i = 6; i < ac; i++) {
			if (strcmp(av[i], "private") == 0)
				flags = 0x2;	/* MAP_PRIVATE */
			else if (strcmp(av[i], "in") == 0 && i + 1 < ac)
				vs = proc_vs(av[++i]);
		}
		id = ksys_mmap_vs(vs, fdp != NULL ? *fdp : -1,
		    strtoul(av[4], NULL, 0), prot, flags, offset_arg(av[3]),
		    errp);
		if (id > 0) {
			n = vname(maps, av[1], 1);
			n->v = id;
			n->vs = vs;
			ksim_out("mmap %s: mapping %d in process %d\n", av[1],
			    id, vs);
		}
	} else if (strcmp(av[0], "munmap") == 0 && ac == 2) {
		if (map_lookup(av[1], &a.vs, &a.mapid) != 0) {
			*errp = FB_EINVAL;
			return (1);
		}
		ksim_syscall("munmap", sys_munmap, &a);
		*errp = a.error;
		if (a.error == 0 && strchr(av[1], ':') == NULL)
			vname(maps, av[1], 0)->v = 0;
	} else if (strcmp(av[0], "touch") == 0 && (ac == 3 || ac == 5)) {
		if (map_lookup(av[1], &a.vs, &a.mapid) != 0) {
			a.vs = 0;
			a.mapid = -1;
		}
		a.off = strtoul(av[2], NULL, 0);
		if (ac == 5 && strcmp(av[3], "write") == 0) {
			a.write = 1;
			a.val = (unsigned int)strtoul(av[4], NULL, 0);
		}
		ksim_syscall("touch", sys_touch, &a);
		if (a.rv == KS_TOUCH_OK)
			ksim_out("touch %s+%lu: %#x\n", av[1], a.off, a.val);
		else {
			ksim_out("touch %s+%lu: %s\n", av[1], a.off,
			    signame(a.rv));
			*errp = FB_EFAULT;
		}
	} else if ((strcmp(av[0], "fill") == 0 ||
	    strcmp(av[0], "verify") == 0) && ac == 3) {
		if (map_lookup(av[1], &a.vs, &a.mapid) != 0) {
			*errp = FB_EINVAL;
			return (1);
		}
		a.len = strtoul(av[2], NULL, 0);
		a.write = av[0][0] == 'f';
		ksim_syscall(av[0], sys_fill, &a);
		if (a.rv != KS_TOUCH_OK) {
			ksim_out("%s %s: %s\n", av[0], av[1], signame(a.rv));
			*errp = FB_EFAULT;
		} else if (a.write)
			ksim_out("fill: sum=%llu\n", a.sum);
		else
			ksim_out("verify: %d words differ\n", a.id);
	} else if (strcmp(av[0], "fork") == 0 && ac == 2) {
		n = vname(procs, av[1], 1);
		for (i = 1; i < 16; i++) {
			int j, used = 0;

			for (j = 0; j < NNAMES; j++)
				used |= procs[j].name[0] != '\0' &&
				    &procs[j] != n && procs[j].v == i;
			if (!used)
				break;
		}
		n->v = a.vs = i;
		ksim_syscall("fork", sys_fork, &a);
		*errp = a.error;
	} else if (strcmp(av[0], "exit") == 0 && ac == 2) {
		if ((a.vs = proc_vs(av[1])) < 0) {
			*errp = FB_EINVAL;
			return (1);
		}
		ksim_syscall("exit", sys_exit, &a);
		vname(procs, av[1], 0)->name[0] = '\0';
	} else if (strcmp(av[0], "mlock") == 0 && ac == 2) {
		if (map_lookup(av[1], &a.vs, &a.mapid) != 0) {
			*errp = FB_EINVAL;
			return (1);
		}
		ksim_syscall("mlock", sys_mlock, &a);
		*errp = a.error;
	} else if (strcmp(av[0], "hold") == 0 && ac == 5) {
		if (map_lookup(av[2], &a.vs, &a.mapid) != 0) {
			*errp = FB_EFAULT;
			return (1);
		}
		a.off = strtoul(av[3], NULL, 0);
		a.len = strtoul(av[4], NULL, 0);
		ksim_syscall("hold", sys_hold, &a);
		*errp = a.error;
		if (a.error == 0)
			vname(holds, av[1], 1)->v = a.id;
	} else if (strcmp(av[0], "unhold") == 0 && ac == 2) {
		if ((n = vname(holds, av[1], 0)) == NULL) {
			*errp = FB_EINVAL;
			return (1);
		}
		a.id = (int)n->v;
		ksim_syscall("unhold", sys_unhold, &a);
		*errp = a.error;
		n->name[0] = '\0';
	} else if (strcmp(av[0], "touch-loop") == 0 && (ac == 4 || ac == 6)) {
		long k, max = strtol(av[3], NULL, 0);

		if (map_lookup(av[1], &a.vs, &a.mapid) != 0) {
			*errp = FB_EINVAL;
			return (1);
		}
		a.off = strtoul(av[2], NULL, 0);
		if (ac == 6 && strcmp(av[4], "write") == 0) {
			a.write = 1;
			a.val = (unsigned int)strtoul(av[5], NULL, 0);
		}
		for (k = 0; k < max; k++) {
			ksim_syscall("touch", sys_touch, &a);
			if (a.rv != KS_TOUCH_OK)
				break;
		}
		ksim_out("touch-loop %s+%lu: %ld touches%s%s\n", av[1], a.off, k,
		    a.rv != KS_TOUCH_OK ? ", then " : "",
		    a.rv != KS_TOUCH_OK ? signame(a.rv) : "");
		if (a.rv != KS_TOUCH_OK)
			*errp = FB_EFAULT;
	} else if (strcmp(av[0], "sysctl-wait") == 0 && ac == 4) {
		/* Poll a string sysctl until it contains TEXT (devref's pager
		 * destructor runs as a task: its counts lag the munmap). */
		char buf[1024];
		size_t len;
		int kind, k, ms = atoi(av[3]);

		*errp = 60;	/* ETIMEDOUT */
		for (k = 0; k <= ms / 10; k++) {
			len = sizeof(buf) - 1;
			if (ksys_sysctl(av[1], buf, &len, &kind, errp) != 0)
				break;
			buf[len] = '\0';
			if (strstr(buf, av[2]) != NULL) {
				ksim_out("%s: %s\n", av[1], buf);
				*errp = 0;
				break;
			}
			*errp = 60;
			usleep(10000);
		}
	} else if (strcmp(av[0], "hold-sum") == 0 && ac == 2) {
		if ((n = vname(holds, av[1], 0)) == NULL) {
			*errp = FB_EINVAL;
			return (1);
		}
		a.id = (int)n->v;
		ksim_syscall("hold-sum", sys_holdsum, &a);
		*errp = a.error;
		if (a.error == 0)
			ksim_out("hold-sum: %llu\n", a.sum);
	} else if (strcmp(av[0], "vm-stat") == 0 && ac == 1) {
		ksim_syscall("vm-stat", sys_vmstat, &a);
		ksim_out("%s", a.buf);
	} else
		return (0);
	return (1);
}
