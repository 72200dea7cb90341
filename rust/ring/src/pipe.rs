//! A pipe: two ends, each with a TX and an RX ring; what one end sends
//! arrives in the other's RX ring.  Sending moves slots without copying:
//! the TX slot's buffer index goes to the RX slot and the RX slot's (a
//! free buffer) comes back to the TX slot, as netmap pipes swap them.
//!
//! Buffer indices come from user space too: each is checked against the
//! buffer count (and each length against the buffer size) as it is moved,
//! read once.  A bad one stops the sync there: what moved before it stays
//! moved, the TX ring is reset to the kernel's view, and the call fails
//! (EINVAL).  The kernel never uses a buffer index to reach memory here;
//! whoever copies data (read/write) checks it again.

use core::sync::atomic::Ordering::Relaxed;

use crate::kring::{Dir, Invalid, KRing};
use crate::shared::RingRef;

/// The pool's shape, as the kernel allocated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    pub buffers: u32,
    pub buf_size: u32,
}

/// TX sync of one end: check the TX ring, move what it holds (as much as
/// the peer's RX ring has room for) into the peer's RX ring, and give the
/// TX ring its new tail.  Returns the slots moved.  `Invalid`: the TX ring
/// was inconsistent or held a bad slot, and was reset.
pub fn txsync(
    tx: &mut KRing,
    txr: &RingRef<'_>,
    rx: &mut KRing,
    rxr: &RingRef<'_>,
    pool: Pool,
) -> Result<u32, Invalid> {
    debug_assert!(tx.dir() == Dir::Tx && rx.dir() == Dir::Rx);
    tx.prologue(txr)?;
    let m = tx.tx_pending().min(rx.rx_room());
    let mut moved = 0;
    let mut bad = false;
    for _ in 0..m {
        let (Some(ts), Some(rs)) = (txr.slot(tx.hwcur), rxr.slot(rx.hwtail)) else {
            bad = true;
            break;
        };
        let buf = ts.buf_idx.load(Relaxed);
        let len = ts.len.load(Relaxed);
        if buf >= pool.buffers || len > pool.buf_size {
            bad = true;
            break;
        }
        let free = rs.buf_idx.load(Relaxed);
        rs.buf_idx.store(buf, Relaxed);
        rs.len.store(len, Relaxed);
        ts.buf_idx.store(free, Relaxed);
        ts.len.store(0, Relaxed);
        tx.hwcur = tx.next(tx.hwcur);
        rx.hwtail = rx.next(rx.hwtail);
        moved += 1;
    }
    tx.hwtail = tx.prev(tx.hwcur);
    if bad {
        // The bad slot and those after it stay the kernel's, unsent; user
        // space sees its head back where the kernel stopped.
        tx.rhead = tx.hwcur;
        tx.reset(txr);
        return Err(Invalid);
    }
    let cur = txr.hdr.cur.load(Relaxed);
    let cur = if tx.dist(tx.rhead, cur) <= tx.dist(tx.rhead, tx.hwtail) {
        cur
    } else {
        tx.rhead
    };
    txr.publish(tx.rhead, cur, tx.hwtail);
    Ok(moved)
}
