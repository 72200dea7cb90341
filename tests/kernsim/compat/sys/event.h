/*
 * kernsim compat: kqueue(2)/kevent(2) declarations with FreeBSD's values
 * and struct kevent layout (12+).
 */
#ifndef _KSIM_COMPAT_SYS_EVENT_H_
#define	_KSIM_COMPAT_SYS_EVENT_H_

#include <stdint.h>
#include <time.h>

#define	EVFILT_READ	(-1)
#define	EVFILT_WRITE	(-2)
#define	EV_ADD		0x0001
#define	EV_DELETE	0x0002
#define	EV_ENABLE	0x0004
#define	EV_DISABLE	0x0008
#define	EV_ONESHOT	0x0010
#define	EV_CLEAR	0x0020
#define	EV_RECEIPT	0x0040
#define	EV_ERROR	0x4000
#define	EV_EOF		0x8000

struct kevent {
	uintptr_t	ident;
	short		filter;
	unsigned short	flags;
	unsigned int	fflags;
	int64_t		data;
	void		*udata;
	uint64_t	ext[4];
};

#define	EV_SET(kevp, a, b, c, d, e, f) do {				\
	(kevp)->ident = (a);						\
	(kevp)->filter = (b);						\
	(kevp)->flags = (c);						\
	(kevp)->fflags = (d);						\
	(kevp)->data = (e);						\
	(kevp)->udata = (f);						\
	(kevp)->ext[0] = (kevp)->ext[1] = (kevp)->ext[2] =		\
	    (kevp)->ext[3] = 0;						\
} while (0)

int	kqueue(void);
int	kevent(int, const struct kevent *, int, struct kevent *, int,
	    const struct timespec *);

#endif
