/*
 * kernsim: the kernel-view opt_global.h used only when mk/opt/kernel-<major>.h
 * is absent.  The options that change a layout or a calling convention a
 * module meets: SMP (MAXCPU 1024, cpuset_t 128 bytes), MAC, VIMAGE.
 */
#define	SMP	1
#define	MAC	1
#define	VIMAGE	1
