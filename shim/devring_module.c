/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * devring.ko module glue.  devring is a devref client written in Rust; this
 * file only declares the module and its dependency on devref.
 */

#include <sys/param.h>
#include <sys/systm.h>
#include <sys/kernel.h>
#include <sys/module.h>

#include "devref_kpi.h"
#include "devring_ioctl.h"

int	devring_rs_load(void);
int	devring_rs_unload(void);

static int
devring_modevent(module_t mod __unused, int type, void *data __unused)
{

	switch (type) {
	case MOD_LOAD:
		return (devring_rs_load());
	case MOD_UNLOAD:
		/* Not MOD_QUIESCE: kldunload -f skips that veto. */
		return (devring_rs_unload());
	case MOD_QUIESCE:
	case MOD_SHUTDOWN:
		return (0);
	default:
		return (EOPNOTSUPP);
	}
}

/*
 * The ioctl ABI, pinned to the same numbers rust/kernel/devring asserts
 * for its own definitions: the C header (used by userland) and the Rust
 * driver cannot drift apart.
 */
_Static_assert(DEVRING_IOC_INFO == 0x40185200UL, "DEVRING_IOC_INFO");
_Static_assert(DEVRING_IOC_SYNC == 0xc0085201UL, "DEVRING_IOC_SYNC");
_Static_assert(DEVRING_IOC_SLEEP == 0x80045202UL, "DEVRING_IOC_SLEEP");
_Static_assert(sizeof(struct devring_sync) == 8, "devring_sync");
_Static_assert(sizeof(struct devring_info) == 24, "devring_info");
_Static_assert(DEVRING_SLOTS == 1024, "DEVRING_SLOTS");
_Static_assert(DEVRING_IOC_REGION == 0xc0105203UL, "DEVRING_IOC_REGION");
_Static_assert(DEVRING_IOC_SUM == 0xc0105204UL, "DEVRING_IOC_SUM");
_Static_assert(sizeof(struct devring_region) == 16, "devring_region");
_Static_assert(sizeof(struct devring_sum) == 16, "devring_sum");

/*
 * The shared ring layout, pinned to the numbers rust/ring asserts for its
 * RingHeader and Slot (and a host test compares with this header).
 */
_Static_assert(sizeof(struct devring_ring) == 32, "devring_ring");
_Static_assert(offsetof(struct devring_ring, head) == 0, "ring head");
_Static_assert(offsetof(struct devring_ring, cur) == 4, "ring cur");
_Static_assert(offsetof(struct devring_ring, tail) == 8, "ring tail");
_Static_assert(offsetof(struct devring_ring, num_slots) == 12,
    "ring num_slots");
_Static_assert(offsetof(struct devring_ring, buf_size) == 16,
    "ring buf_size");
_Static_assert(offsetof(struct devring_ring, dir) == 20, "ring dir");
_Static_assert(offsetof(struct devring_ring, pad) == 24, "ring pad");
_Static_assert(sizeof(struct devring_slot) == 8, "devring_slot");
_Static_assert(offsetof(struct devring_slot, buf_idx) == 0, "slot buf_idx");
_Static_assert(offsetof(struct devring_slot, len) == 4, "slot len");
_Static_assert(DEVRING_RING_TX == 0 && DEVRING_RING_RX == 1, "ring dir");
_Static_assert(DEVRING_RING_ALIGN == 4096, "DEVRING_RING_ALIGN");
_Static_assert(DEVRING_RING_MIN_SLOTS == 2, "DEVRING_RING_MIN_SLOTS");
_Static_assert(DEVRING_RING_MAX_SLOTS == 65536, "DEVRING_RING_MAX_SLOTS");
_Static_assert(DEVRING_BUF_ALIGN == 64, "DEVRING_BUF_ALIGN");
_Static_assert(DEVRING_BUF_MAX == 4096, "DEVRING_BUF_MAX");

/* The pipe ioctls (rust/kernel/devring/src/abi.rs pins the same). */
_Static_assert(DEVRING_IOC_PIPE_CREATE == 0xc0385208UL, "PIPE_CREATE");
_Static_assert(DEVRING_IOC_PIPE_DESTROY == 0x80385209UL, "PIPE_DESTROY");
_Static_assert(DEVRING_IOC_PIPE_BIND == 0xc038520aUL, "PIPE_BIND");
_Static_assert(DEVRING_IOC_TXSYNC == 0xc010520bUL, "TXSYNC");
_Static_assert(DEVRING_IOC_RXSYNC == 0xc010520cUL, "RXSYNC");
_Static_assert(sizeof(struct devring_pipe_req) == 56, "devring_pipe_req");
_Static_assert(offsetof(struct devring_pipe_req, mode) == 32, "req mode");
_Static_assert(offsetof(struct devring_pipe_req, buf_size) == 52,
    "req buf_size");
_Static_assert(sizeof(struct devring_pipe_bind) == 56, "devring_pipe_bind");
_Static_assert(offsetof(struct devring_pipe_bind, offset) == 16,
    "bind offset");
_Static_assert(offsetof(struct devring_pipe_bind, buf_ofs) == 48,
    "bind buf_ofs");
_Static_assert(sizeof(struct devring_pipe_sync) == 16, "devring_pipe_sync");
_Static_assert(DEVRING_PIPE_NAMELEN == 32 && DEVRING_PIPES_MAX == 64,
    "pipe limits");
_Static_assert(DEVRING_PIPE_SLOTS == 256 && DEVRING_PIPE_BUF_SIZE == 2048 &&
    DEVRING_PIPE_PERMS == 0600, "pipe defaults");
_Static_assert(DEVRING_PIPE_MAX_BYTES == (64UL << 20), "pipe max bytes");
_Static_assert(DEVRING_SYNC_WAIT == 1, "DEVRING_SYNC_WAIT");

static moduledata_t devring_mod = {
	"devring",
	devring_modevent,
	NULL
};

DECLARE_MODULE(devring, devring_mod, SI_SUB_DRIVERS, SI_ORDER_MIDDLE);
MODULE_VERSION(devring, 1);
MODULE_DEPEND(devring, devref, DEVREF_KPI_VERSION, DEVREF_KPI_VERSION,
    DEVREF_KPI_VERSION);
