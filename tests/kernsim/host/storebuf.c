/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * kernsim host: store-buffer injection (kernsim -S, script "storebuf on").
 *
 * x86 is TSO: a CPU's store may sit in its store buffer while its later
 * loads execute, and an interrupt drains the buffer.  An IPI barrier such
 * as devref's gate relies on exactly that, but native execution opens the
 * window for a few cycles only: a barrier that lies is then almost never
 * caught.  kernsim widens it on purpose: every per-CPU read-modify-write
 * the module does on %gs ("add/sub $imm, %gs:disp(reg)", amd64's
 * zpcpu_add/counter(9) form) is patched with int3 at kldload; at the trap
 * the add is either done at once or, sometimes, deferred -- held in the
 * thread's simulated store buffer while the next two instructions run
 * (single-stepped: the gate's re-check load), then the thread stalls for a
 * while, still holding its vCPU, before the store becomes visible.  Any
 * IPI, vCPU switch or kernel entry drains the buffer first, as hardware
 * would.  Only stores of this one form are ever delayed, and no later
 * store passes them (the window ends before the next store), so TSO's
 * store order is kept.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include "ksim.h"

#ifndef TRAP_TRACE
#define	TRAP_TRACE	2
#endif
#define	EFLAGS_TF	0x100
#define	MAXSITES	1024
#define	STEPS		2	/* instructions run with the store buffered */

int ksim_storebuf;
int ksim_storebuf_permille = 2;	/* of the site hits that defer */
static volatile unsigned long st_hits, st_deferred;

struct site {
	unsigned char	*addr;
	int		 len;
	int		 reg;		/* gregs index of the base register */
	int		 deferrable;	/* the next STEPS instructions store nothing */
	int		 disp;
	long		 delta;
};

static struct site sites[MAXSITES];
static int nsites;

/* ModRM r/m (with REX.B) -> ucontext gregs index. */
static const int gregs_of[16] = {
	REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
	REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

/*
 * Length of a ModRM operand (ModRM, SIB, displacement) at p, or 0.
 */
static int
modrm_len(const unsigned char *p)
{
	unsigned char mod = p[0] >> 6, rm = p[0] & 7;
	int n = 1;

	if (mod == 3)
		return (1);
	if (rm == 4)
		n++;			/* SIB */
	if (mod == 1)
		n += 1;
	else if (mod == 2 || (mod == 0 && rm == 5))
		n += 4;
	else if (mod == 0 && rm == 4 && (p[1] & 7) == 5)
		n += 4;			/* SIB with no base: disp32 */
	return (n);
}

/*
 * Length of the instruction at p if it stores nothing (a load, a compare,
 * a register move, a branch, a return), else 0: the deferred store may
 * only wait while such instructions run, or TSO's store order would break.
 */
static int
storeless_len(const unsigned char *p)
{
	int n = 0;

	if ((p[0] & 0xf0) == 0x40)	/* REX */
		n = 1;
	p += n;
	switch (p[0]) {
	case 0x0f:
		if (p[1] == 0xb6 || p[1] == 0xb7 || p[1] == 0xbe ||
		    p[1] == 0xbf)		/* movzx/movsx r, r/m */
			return (n + 2 + modrm_len(p + 2));
		if (p[1] >= 0x80 && p[1] <= 0x8f)	/* jcc rel32 */
			return (n + 6);
		return (0);
	case 0x8b:				/* mov r, r/m */
	case 0x84: case 0x85:			/* test r/m, r */
	case 0x38: case 0x39: case 0x3a: case 0x3b:	/* cmp */
		return (n + 1 + modrm_len(p + 1));
	case 0x3c: case 0xa8:			/* cmp/test al, imm8 */
		return (n + 2);
	case 0x80: case 0x83:			/* cmp r/m, imm8 */
		if (((p[1] >> 3) & 7) != 7)
			return (0);
		return (n + 1 + modrm_len(p + 1) + 1);
	case 0xc3:				/* ret */
		return (n + 1);
	default:
		if (p[0] >= 0x70 && p[0] <= 0x7f)	/* jcc rel8 */
			return (n + 2);
		if (p[0] >= 0xb8 && p[0] <= 0xbf)	/* mov r, imm */
			return (n + 1 + ((n == 1 && (p[-1] & 8)) ? 8 : 4));
		return (0);
	}
}

/*
 * Find "65 REX.W(B) 83 /0|/5 ib" with mod 00 (r/m not SIB/RIP) or mod 01
 * (disp8, r/m not SIB) in [text, text + len) and plant int3 on each.
 */
void
ksim_storebuf_patch(unsigned char *text, size_t len)
{
	size_t i;

	if (!ksim_storebuf)
		return;
	mprotect(text, len, PROT_READ | PROT_WRITE);
	for (i = 0; i + 6 <= len && nsites < MAXSITES; i++) {
		unsigned char rex, modrm, mod, reg, rm;
		struct site *s;
		int n;

		if (text[i] != 0x65 || (text[i + 1] & 0xfe) != 0x48 ||
		    text[i + 2] != 0x83)
			continue;
		rex = text[i + 1];
		modrm = text[i + 3];
		mod = modrm >> 6;
		reg = (modrm >> 3) & 7;
		rm = modrm & 7;
		if ((reg != 0 && reg != 5) || rm == 4 || mod > 1 ||
		    (mod == 0 && rm == 5))
			continue;
		n = nsites;
		s = &sites[n];
		s->reg = gregs_of[rm | ((rex & 1) << 3)];
		s->disp = mod == 1 ? (signed char)text[i + 4] : 0;
		s->delta = (signed char)text[i + 4 + mod];
		if (reg == 5)
			s->delta = -s->delta;
		s->len = 5 + mod;
		{
			const unsigned char *q = &text[i] + s->len;
			int k, l;

			s->deferrable = 1;
			for (k = 0; k < STEPS; k++) {
				if (q + 16 > text + len ||
				    (l = storeless_len(q)) == 0) {
					s->deferrable = 0;
					break;
				}
				q += l;
			}
		}
		__atomic_store_n(&s->addr, &text[i], __ATOMIC_RELEASE);
		__atomic_store_n(&nsites, n + 1, __ATOMIC_RELEASE);
		text[i] = 0xcc;
		i += s->len - 1;
	}
	mprotect(text, len, PROT_READ | PROT_EXEC);
}

/* An unloaded module's sites die in place: traps elsewhere may be
 * looking their own up concurrently. */
void
ksim_storebuf_forget(unsigned char *text, size_t len)
{
	int i;

	for (i = 0; i < nsites; i++)
		if (sites[i].addr >= text && sites[i].addr < text + len)
			__atomic_store_n(&sites[i].addr, NULL,
			    __ATOMIC_RELEASE);
}

static struct site *
site_at(const unsigned char *pc)
{
	int i, n = __atomic_load_n(&nsites, __ATOMIC_ACQUIRE);

	for (i = 0; i < n; i++)
		if (__atomic_load_n(&sites[i].addr, __ATOMIC_ACQUIRE) == pc)
			return (&sites[i]);
	return (NULL);
}

/* Make the buffered stores visible (an IPI, a switch, a kernel entry). */
void
ksim_storebuf_drain(struct hthread *ht)
{
	int i;

	if (ht == NULL || ht->sb_n == 0)
		return;
	for (i = 0; i < ht->sb_n; i++)
		*ht->sb[i].ea += ht->sb[i].delta;
	ht->sb_n = 0;
}

static void
trap_handler(int sig, siginfo_t *si, void *ucp)
{
	ucontext_t *uc = ucp;
	greg_t *g = uc->uc_mcontext.gregs;
	struct hthread *ht = ksim_self();
	unsigned char *pc = (unsigned char *)g[REG_RIP];
	struct timespec st;
	struct site *s;
	volatile long *ea;
	int e = errno;

	if (si->si_code == TRAP_TRACE && ht != NULL && ht->sb_steps > 0) {
		/* A step with stores buffered: leaving module text drains. */
		if (!ksim_pc_in_module_text(pc) || --ht->sb_steps == 0) {
			if (ksim_pc_in_module_text(pc)) {
				st.tv_sec = 0;
				st.tv_nsec = 200000 + (long)(ht->rng % 1800) *
				    1000;
				while (nanosleep(&st, &st) != 0 &&
				    errno == EINTR)
					;
			}
			ksim_storebuf_drain(ht);
			ht->sb_steps = 0;
			g[REG_EFL] &= ~EFLAGS_TF;
		}
		errno = e;
		return;
	}
	s = site_at(pc - 1);
	if (s == NULL || ht == NULL || ht->cpu < 0) {
		char where[256];

		ksim_failf("fatal trap: breakpoint (int3) executed at %s",
		    ksim_hs_describe_addr(pc - 1, where, sizeof(where)));
	}
	__atomic_add_fetch(&st_hits, 1, __ATOMIC_RELAXED);
	ea = (volatile long *)((char *)ksim_k_pcpu(ht->cpu) + g[s->reg] +
	    s->disp);
	g[REG_RIP] = (greg_t)(s->addr + s->len);
	ht->rng ^= ht->rng << 13;
	ht->rng ^= ht->rng >> 7;
	ht->rng ^= ht->rng << 17;
	if (s->deferrable && ht->sb_n < (int)(sizeof(ht->sb) /
	    sizeof(ht->sb[0])) &&
	    (int)(ht->rng % 1000) < ksim_storebuf_permille &&
	    ksim_k_td_critnest(ht->td) == 0) {
		ht->sb[ht->sb_n].ea = ea;
		ht->sb[ht->sb_n].delta = s->delta;
		ht->sb_n++;
		ht->sb_steps = STEPS;
		g[REG_EFL] |= EFLAGS_TF;
		__atomic_add_fetch(&st_deferred, 1, __ATOMIC_RELAXED);
	} else {
		ksim_storebuf_drain(ht);
		*ea += s->delta;
	}
	errno = e;
}

void
ksim_storebuf_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = trap_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGURG);		/* no preemption inside */
	sigaction(SIGTRAP, &sa, NULL);
}

void
ksim_storebuf_stats(void)
{

	if (ksim_storebuf)
	{
		int i, d = 0;

		for (i = 0; i < nsites; i++)
			d += sites[i].deferrable;
		printf("kernsim: store buffer: %d sites patched (%d "
		    "deferrable), %lu hits, %lu deferred\n", nsites, d,
		    st_hits, st_deferred);
	}
}
