/* kernsim compat: the kld system calls (FreeBSD's sys/linker.h API). */
#ifndef _KSIM_COMPAT_SYS_LINKER_H_
#define	_KSIM_COMPAT_SYS_LINKER_H_

#define	LINKER_UNLOAD_NORMAL	0
#define	LINKER_UNLOAD_FORCE	1

int	kldload(const char *);
int	kldunload(int);
int	kldunloadf(int, int);
int	kldfind(const char *);

#endif
