/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devecho: /dev/devecho, a byte pipe that echoes what is written to it, as
 * a devref(9) client in C.  It exists to show the C side of the KPI at
 * work: an ops table, blocking reads and writes with devref_sleep(), poll
 * readiness with devref_notify(), and an unload that devref makes safe
 * while descriptors are open and threads are asleep in its code.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/conf.h>
#include <sys/filio.h>
#include <sys/kernel.h>
#include <sys/lock.h>
#include <sys/malloc.h>
#include <sys/module.h>
#include <sys/mutex.h>
#include <sys/poll.h>
#include <sys/uio.h>

#include "devref_kpi.h"

#define	DEVECHO_BUFSZ	4096		/* bytes the device holds */
#define	DEVECHO_CHUNK	256		/* bytes moved per uiomove */
#define	DEVECHO_UNLOAD_MS 5000		/* how long unload waits for calls */

struct devecho_softc {
	struct mtx	 sc_mtx;	/* guards the ring */
	struct devref_dev *sc_dev;
	size_t		 sc_head;	/* next byte to read */
	size_t		 sc_len;	/* bytes held */
	bool		 sc_writing;	/* a write(2) is adding */
	char		 sc_buf[DEVECHO_BUFSZ];
};

static MALLOC_DEFINE(M_DEVECHO, "devecho", "devecho ring");

static struct devref_client *devecho_client;
static struct devecho_softc *devecho_sc;

/* What a caller waits for. */
#define	DEVECHO_DATA	0	/* bytes to read */
#define	DEVECHO_ROOM	1	/* room to write */
#define	DEVECHO_WRITER	2	/* room, and to be the only writer */

/*
 * Wait until the ring has what the caller needs.  The ticket is taken
 * before the condition is checked, so a wakeup in between is not lost.
 * EAGAIN for a non-blocking descriptor; ENXIO once the device is being
 * destroyed; ERESTART or EINTR on a signal, as devref_sleep() says.
 */
static int
devecho_wait(struct devecho_softc *sc, int what, int ioflag)
{
	unsigned long ticket;
	bool ready;
	int error;

	for (;;) {
		ticket = devref_sleep_prepare(sc->sc_dev);
		mtx_lock(&sc->sc_mtx);
		switch (what) {
		case DEVECHO_DATA:
			ready = sc->sc_len > 0;
			break;
		case DEVECHO_ROOM:
			ready = sc->sc_len < DEVECHO_BUFSZ;
			break;
		default:
			ready = !sc->sc_writing;
			if (ready)
				sc->sc_writing = true;
			break;
		}
		mtx_unlock(&sc->sc_mtx);
		if (ready)
			return (0);
		if ((ioflag & DEVREF_IO_NDELAY) != 0)
			return (EAGAIN);
		error = devref_sleep(sc->sc_dev, ticket, -1);
		if (error != 0)
			return (error);
	}
}

static int
devecho_read(void *softc, void *priv __unused, struct uio *uio, int ioflag)
{
	struct devecho_softc *sc = softc;
	char chunk[DEVECHO_CHUNK];
	size_t n, first;
	int error;

	if (uio->uio_resid == 0)
		return (0);
	error = devecho_wait(sc, DEVECHO_DATA, ioflag);
	if (error != 0)
		return (error);
	/* Take what is there now; a short read is a read. */
	while (uio->uio_resid > 0) {
		mtx_lock(&sc->sc_mtx);
		n = MIN(MIN(sc->sc_len, sizeof(chunk)), (size_t)uio->uio_resid);
		first = MIN(n, DEVECHO_BUFSZ - sc->sc_head);
		memcpy(chunk, sc->sc_buf + sc->sc_head, first);
		memcpy(chunk + first, sc->sc_buf, n - first);
		sc->sc_head = (sc->sc_head + n) % DEVECHO_BUFSZ;
		sc->sc_len -= n;
		mtx_unlock(&sc->sc_mtx);
		if (n == 0)
			break;
		devref_wakeup(sc->sc_dev);
		devref_notify(sc->sc_dev);
		error = uiomove(chunk, n, uio);
		if (error != 0)
			return (error);
	}
	return (0);
}

/*
 * One writer at a time, so that the room it saw can only grow while it
 * copies in; a write is not interleaved with another.
 */
static int
devecho_write(void *softc, void *priv __unused, struct uio *uio, int ioflag)
{
	struct devecho_softc *sc = softc;
	char chunk[DEVECHO_CHUNK];
	size_t n, tail, first;
	int error;

	error = devecho_wait(sc, DEVECHO_WRITER, ioflag);
	if (error != 0)
		return (error);
	while (uio->uio_resid > 0) {
		error = devecho_wait(sc, DEVECHO_ROOM, ioflag);
		if (error != 0)
			break;
		mtx_lock(&sc->sc_mtx);
		n = MIN(MIN(DEVECHO_BUFSZ - sc->sc_len, sizeof(chunk)),
		    (size_t)uio->uio_resid);
		mtx_unlock(&sc->sc_mtx);
		error = uiomove(chunk, n, uio);
		if (error != 0)
			break;
		mtx_lock(&sc->sc_mtx);
		tail = (sc->sc_head + sc->sc_len) % DEVECHO_BUFSZ;
		first = MIN(n, DEVECHO_BUFSZ - tail);
		memcpy(sc->sc_buf + tail, chunk, first);
		memcpy(sc->sc_buf, chunk + first, n - first);
		sc->sc_len += n;
		mtx_unlock(&sc->sc_mtx);
		devref_wakeup(sc->sc_dev);
		devref_notify(sc->sc_dev);
	}
	mtx_lock(&sc->sc_mtx);
	sc->sc_writing = false;
	mtx_unlock(&sc->sc_mtx);
	devref_wakeup(sc->sc_dev);
	/* A partial write with EAGAIN or a signal reports its count. */
	return (error);
}

static int
devecho_ioctl(void *softc, void *priv __unused, unsigned long cmd,
    char *data, int fflag __unused, struct thread *td __unused)
{
	struct devecho_softc *sc = softc;

	switch (cmd) {
	case FIONREAD:
		mtx_lock(&sc->sc_mtx);
		*(int *)data = (int)sc->sc_len;
		mtx_unlock(&sc->sc_mtx);
		return (0);
	default:
		return (ENOTTY);
	}
}

/* Also kqueue's filter: no sleeping, only the ring's mutex. */
static int
devecho_poll(void *softc, void *priv __unused, int events)
{
	struct devecho_softc *sc = softc;
	int revents;

	revents = 0;
	mtx_lock(&sc->sc_mtx);
	if (sc->sc_len > 0)
		revents |= events & (POLLIN | POLLRDNORM);
	if (sc->sc_len < DEVECHO_BUFSZ)
		revents |= events & (POLLOUT | POLLWRNORM);
	mtx_unlock(&sc->sc_mtx);
	return (revents);
}

static const struct devref_ops devecho_ops = {
	.dro_version = DEVREF_KPI_VERSION,
	.dro_size = sizeof(struct devref_ops),
	.dro_name = "devecho",
	.dro_read = devecho_read,
	.dro_write = devecho_write,
	.dro_ioctl = devecho_ioctl,
	.dro_poll = devecho_poll,
};

static int
devecho_load(void)
{
	struct devecho_softc *sc;
	int error;

	sc = malloc(sizeof(*sc), M_DEVECHO, M_WAITOK | M_ZERO);
	mtx_init(&sc->sc_mtx, "devecho", NULL, MTX_DEF);
	error = devref_client_register(&devecho_ops, &devecho_client);
	if (error == 0) {
		error = devref_dev_create(devecho_client, "devecho",
		    DEVREF_MODE_PCPU, UID_ROOT, GID_WHEEL, 0600, sc,
		    &sc->sc_dev);
		if (error != 0)
			(void)devref_client_unregister(devecho_client, -1);
	}
	if (error != 0) {
		printf("devecho: load failed: error %d\n", error);
		mtx_destroy(&sc->sc_mtx);
		free(sc, M_DEVECHO);
		return (error);
	}
	devecho_sc = sc;
	return (0);
}

static int
devecho_unload(void)
{
	int error;

	if (devecho_sc == NULL)
		return (0);
	/* Only a 0 lets the text go: devref then runs none of it again. */
	error = devref_client_unregister(devecho_client, DEVECHO_UNLOAD_MS);
	if (error != 0) {
		printf("devecho: unload refused: unregister failed with "
		    "error %d\n", error);
		return (EBUSY);
	}
	mtx_destroy(&devecho_sc->sc_mtx);
	free(devecho_sc, M_DEVECHO);
	devecho_sc = NULL;
	return (0);
}

static int
devecho_modevent(module_t mod __unused, int type, void *data __unused)
{

	switch (type) {
	case MOD_LOAD:
		return (devecho_load());
	case MOD_UNLOAD:
		return (devecho_unload());
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

static moduledata_t devecho_mod = {
	"devecho",
	devecho_modevent,
	NULL
};

DECLARE_MODULE(devecho, devecho_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(devecho, 1);
MODULE_DEPEND(devecho, devref, DEVREF_KPI_VERSION, DEVREF_KPI_VERSION,
    DEVREF_KPI_VERSION);
