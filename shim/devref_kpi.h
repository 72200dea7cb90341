/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devref client KPI, version 1.
 *
 * devref.ko owns character devices on behalf of client modules.  A client
 * registers an ops table, creates devices, and may be kldunloaded at any
 * time: devref drains the calls running in the client's code, wakes the
 * client's sleepers through the purge hook, and from then on answers the
 * device's entry points itself (ioctl ENXIO, read/write EIO, poll POLLHUP).
 *
 * Rules for clients:
 *  - Every op runs with the device's gate held by devref: the client's text
 *    cannot go away under it.  An op must not call devref_dev_destroy() or
 *    devref_client_unregister() on its own device inline (devref defers it).
 *  - Context, checked at run time (a module build has no KASSERT or
 *    WITNESS): devref_wakeup, devref_notify, devref_sleep_prepare and
 *    devref_free take sleep mutexes only and may be called anywhere but in
 *    a critical section (spin lock, interrupt filter); every other
 *    function may sleep and also refuses interrupt threads, callouts,
 *    epoch sections, an rwlock held for read, and dro_poll run as a kqueue
 *    filter.  A refused call answers EDEADLK (NULL, or nothing) and says
 *    so on the console, at most once a second.
 *  - An op that blocks sleeps with devref_sleep(), which returns ENXIO as
 *    soon as the device starts to close.  Any other sleep must be woken by
 *    the client's purge hook.
 *  - The purge hook is client code running in the device: a destroy or
 *    unregister waits for it as for a running call (ETIMEDOUT/EINTR if it
 *    does not return in time).  It may destroy its own device (deferred),
 *    but must not wait for a thread that destroys or unregisters it.
 *  - dro_close releases the per-open state; it is called exactly once per
 *    successful dro_open, from close(2) or from destroy, never both.
 *  - Only when devref_client_unregister() returned 0 may the client's text
 *    be freed: on any other answer the client's MOD_UNLOAD must fail (EBUSY).
 *
 * This header is the single source of the C/Rust boundary: bindgen turns it
 * into the Rust binding and static assertions on both sides pin the layouts.
 */

#ifndef _DEVREF_KPI_H_
#define	_DEVREF_KPI_H_

#define	DEVREF_KPI_VERSION	1

/* Device modes. */
/* Eternal node, per-CPU gate (the default). */
#define	DEVREF_MODE_PCPU	0
/* Ordinary cdev, devfs's si_threadcount (plus devref's gate). */
#define	DEVREF_MODE_COUNTED	1

/*
 * In dro_read/dro_write's ioflag: the file is non-blocking (O_NONBLOCK).
 * The value of the kernel's IO_NDELAY, from sys/vnode.h, which a module
 * built outside a kernel tree cannot include (it wants the generated
 * vnode_if.h); a host test compares the two.
 */
#define	DEVREF_IO_NDELAY	0x0004

/* Longest device name, with the NUL. */
#define	DEVREF_NAMELEN		64

struct devref_client;			/* opaque, owned by devref */
struct devref_dev;			/* opaque, owned by devref */
struct thread;
struct uio;

/*
 * A client's operations.  Every pointer may be NULL: devref then answers as
 * devfs does for a missing method (open/close succeed, read/write/ioctl
 * ENODEV, poll "always ready" for the standard events, POLLNVAL for
 * others).  An ioctl op answers ENOTTY for a command it does not know.
 * softc is the pointer given to devref_dev_create(); priv is what dro_open
 * stored for this open file.
 *
 * dro_poll is also kqueue's filter: it is then called with the device's
 * knlist mutex and the kqueue's mutex held, from kevent(2) and from
 * devref_notify(), as a section that may not sleep.  It must not take a
 * lock that is held around a call to devref_notify() or
 * devref_dev_destroy() (lock order reversal against kevent).  It may call
 * devref_notify(), for any device (devref posts that KNOTE to a
 * taskqueue), and devref_wakeup(); what may sleep answers EDEADLK.
 *
 * mmap(2) of a devref device fails (EINVAL) until devref has its managed
 * pager.
 */
struct devref_ops {
	unsigned int	dro_version;	/* DEVREF_KPI_VERSION */
	unsigned int	dro_size;	/* sizeof(struct devref_ops) */
	const char	*dro_name;	/* client name, for messages */
	int		(*dro_open)(void *softc, int oflags,
			    struct thread *td, void **privp);
	void		(*dro_close)(void *softc, void *priv);
	int		(*dro_read)(void *softc, void *priv, struct uio *uio,
			    int ioflag);
	int		(*dro_write)(void *softc, void *priv,
			    struct uio *uio,
			    int ioflag);
	int		(*dro_ioctl)(void *softc, void *priv,
			    unsigned long cmd,
			    char *data, int fflag, struct thread *td);
	int		(*dro_poll)(void *softc, void *priv, int events);
	void		(*dro_purge)(void *softc);
};

/*
 * Register a client.  ops must stay valid until unregister succeeds.
 * EINVAL for a NULL or wrong-version table, ENOSPC when full.
 */
int	devref_client_register(const struct devref_ops *ops,
	    struct devref_client **clientp);
/*
 * Destroy all of the client's devices and unregister it.  0: no op of the
 * client runs any more and its text may go.  ETIMEDOUT/EINTR: a call would
 * not leave in time; the client stays registered (its MOD_UNLOAD must
 * return EBUSY) and may try again; the devices destroyed before the one
 * that failed stay destroyed.  EDEADLK: called from inside one of its own
 * ops, its purge hook, its poll op run as a kqueue filter, or where the
 * thread may not sleep.  EINVAL: not registered (or a concurrent unregister won).
 * timeout_ms < 0 waits without a timeout (still interruptible).
 */
int	devref_client_unregister(struct devref_client *client,
	    int timeout_ms);

/*
 * Create /dev/<name> (up to DEVREF_NAMELEN - 1 bytes of [A-Za-z0-9._/-]).
 * A DEVREF_MODE_PCPU name destroyed earlier this boot is reused, with the
 * same uid, gid and perms only (devfs keeps them), else EEXIST.
 */
int	devref_dev_create(struct devref_client *client, const char *name,
	    int mode, unsigned int uid, unsigned int gid, int perms,
	    void *softc, struct devref_dev **devp);
/*
 * Destroy a device: new calls fail at once, sleepers are woken (purge hook,
 * devref_sleep), running calls are waited for (never open files), then
 * every open file's state is released through dro_close.  0 when done;
 * ETIMEDOUT/EINTR: nothing torn down, the device stays closed, call again;
 * EINPROGRESS: called from inside a call of this device (or its purge
 * hook), finished later on a taskqueue; EDEADLK: from its poll op run as
 * a kqueue filter, or where the thread may not sleep.  Counted devices are freed: dev is invalid after 0 or
 * EINPROGRESS.  A dev pointer is the client's until its destroy returned 0
 * or EINPROGRESS, or its client unregistered; using it later is a
 * use-after-free, as with destroy_dev.
 */
int	devref_dev_destroy(struct devref_dev *dev, int timeout_ms);

/*
 * malloc(9) for clients without C of their own (M_WAITOK | M_ZERO), aligned
 * to align (a power of two up to a page).  NULL only for a bad align, a
 * size over 256 MiB, or a call where the thread may not sleep.
 */
void	*devref_malloc(unsigned long size, unsigned long align);
void	devref_free(void *p);

/*
 * Sleeping inside an op.  devref_sleep_prepare() takes a ticket *before*
 * the caller checks its condition; devref_sleep() then sleeps until a
 * devref_wakeup() issued after the ticket was taken (so a wakeup between
 * the check and the sleep is never lost), the timeout, a signal, or the
 * device starting to close.  Returns 0, EWOULDBLOCK (timeout), EINTR,
 * ERESTART (a signal whose handler has SA_RESTART: return it from the op as
 * it is; read, write and ioctl restart, and devfs turns it into EINTR for
 * open), or ENXIO (the device is being
 * destroyed: return to the caller at once).
 * timeout_ms < 0 waits without a timeout.
 */
unsigned long devref_sleep_prepare(struct devref_dev *dev);
int	devref_sleep(struct devref_dev *dev, unsigned long ticket,
	    int timeout_ms);
void	devref_wakeup(struct devref_dev *dev);

/* Readiness changed: wake poll(2)/select(2)/kevent(2) waiters. */
void	devref_notify(struct devref_dev *dev);

/*
 * uiomove(9) and the bytes a read or write has left, for clients without C
 * of their own (dro_read/dro_write only).  devref_uio_move: EINVAL for n
 * over INT_MAX, else uiomove's answer (EFAULT for a bad user address).
 */
int	devref_uio_move(void *cp, unsigned long n, struct uio *uio);
unsigned long devref_uio_resid(const struct uio *uio);

/*
 * Revocable memory (devref's managed pager).  devref_region_alloc() gives
 * the client len bytes (rounded up to pages, under 4 GiB) of zeroed memory
 * that devref owns, mapped in the kernel at *kvap; user space maps it with
 * mmap(2) at offset *cookiep (MAP_SHARED; PROT_WRITE, and opening the
 * device for writing, need DEVREF_REGION_WRITABLE).  priv NULL: any open
 * file of the device may map it; otherwise only the open file whose
 * per-open state is priv (it must be the only open file with that priv),
 * and the region goes when that file's state is released (*kvap with it:
 * freed and reusable at once).  Every region of
 * a device goes when the device is destroyed, forgotten or not: every
 * mapping is revoked (a later touch is SIGBUS), and *kvap is invalid from
 * then on.  Call from inside an op of the device.  EINVAL: bad len, flags
 * or priv; ENOMEM; ENOSPC: too many regions; ENXIO: the device is closing.
 */
#define	DEVREF_REGION_WRITABLE	0x1
int	devref_region_alloc(struct devref_dev *dev, void *priv,
	    unsigned long len, int flags, void **kvap, unsigned long *cookiep);
/*
 * Take a region back before the device goes (same dev and priv as its
 * allocation): its mappings are revoked.  EINVAL: no such region.
 */
int	devref_region_free(struct devref_dev *dev, void *priv,
	    unsigned long cookie);

#endif /* !_DEVREF_KPI_H_ */
