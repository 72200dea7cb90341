//! A pipe: two ends, each with a TX and an RX ring; what one end sends
//! arrives in the other's RX ring.  Sending moves slots without copying:
//! the TX slot's buffer index goes to the RX slot and the RX slot's (a
//! free buffer) comes back to the TX slot, as netmap pipes swap them.
//!
//! The two ends run on different threads with no lock between them.  Each
//! direction is a single-producer, single-consumer queue over the RX ring
//! ([`Link`]): the sender's TX sync is the producer and alone moves the RX
//! ring's `filled` index (its hwtail); the receiver's RX sync is the
//! consumer and alone moves `released` (its hwcur).  Each reads the other's
//! index with acquire and publishes its own with release, so the slots
//! between them change hands with their contents:
//!
//! ```text
//!   RX ring:  [released, filled)       arrived: the receiver's (user space
//!                                      owns the part it has synced)
//!             [filled, released - 1)   free: the sender may fill them
//! ```
//!
//! Only one sync per ring may run at a time (the caller's job: netmap's
//! per-ring busy flag).
//!
//! Buffer indices come from user space too: each is checked against the
//! buffer count (and each length against the buffer size) as it is moved,
//! read once.  A bad one stops the sync there: what moved before it stays
//! moved, the TX ring is reset to the kernel's view, and the call fails
//! (EINVAL).  The kernel never uses a buffer index to reach memory here;
//! whoever copies data (read/write) checks it again.

use core::sync::atomic::AtomicU32;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::kring::{dist, next, prev, Dir, Invalid, KRing};
use crate::shared::RingRef;

/// The pool's shape, as the kernel allocated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    pub buffers: u32,
    pub buf_size: u32,
}

/// One direction of a pipe: the RX ring's two kernel indices, each written
/// by one side only.
#[derive(Debug)]
pub struct Link {
    n: u32,
    /// First RX slot not yet filled (the RX ring's hwtail); the sender's.
    filled: AtomicU32,
    /// First RX slot the receiver has not released (its hwcur); the
    /// receiver's.
    released: AtomicU32,
}

impl Link {
    /// A link into an RX ring of `n` slots (the TX ring has as many), empty.
    pub fn new(n: u32) -> Link {
        Link {
            n,
            filled: AtomicU32::new(0),
            released: AtomicU32::new(0),
        }
    }

    /// Empty again (a pipe started afresh, no sync running).
    pub fn reset(&self) {
        self.filled.store(0, Release);
        self.released.store(0, Release);
    }

    /// Free slots in the RX ring: what a TX sync could move now (an
    /// estimate for anyone but the sender: it only grows under it).
    pub fn room(&self) -> u32 {
        let released = self.released.load(Acquire);
        dist(self.n, self.filled.load(Acquire), prev(self.n, released))
    }

    /// The first RX slot not yet filled: the tail an RX sync would
    /// publish.
    pub fn filled(&self) -> u32 {
        self.filled.load(Acquire)
    }

    /// Slots arrived and not yet released.
    pub fn in_flight(&self) -> u32 {
        dist(
            self.n,
            self.released.load(Acquire),
            self.filled.load(Acquire),
        )
    }
}

/// What a sync did and what user space owns after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// TX: slots sent to the peer.  RX: slots that arrived since the last
    /// RX sync.
    pub moved: u32,
    /// RX: slots user space gave back (the peer may now refill them).
    pub released: u32,
    /// Slots user space owns now (`[head, tail)`).
    pub user: u32,
    /// Slots from `cur` to `tail`: poll's readiness (netmap's rule).
    pub beyond_cur: u32,
}

/// TX sync of one end: check the TX ring, move what it holds (as much as
/// the peer's RX ring has room for) into the peer's RX ring, and give the
/// TX ring its new tail.  `Invalid`: the TX ring was inconsistent or held a
/// bad slot, and was reset (what moved before the bad slot stays moved).
pub fn txsync(
    tx: &mut KRing,
    txr: &RingRef<'_>,
    link: &Link,
    rxr: &RingRef<'_>,
    pool: Pool,
) -> Result<Synced, Invalid> {
    debug_assert!(tx.dir() == Dir::Tx && tx.slots() == link.n);
    tx.prologue(txr)?;
    let n = link.n;
    let mut filled = link.filled.load(Relaxed);
    // The receiver's released slots, with what it read from them, are the
    // sender's from here (pairs with the release in rxsync).
    let released = link.released.load(Acquire);
    let room = dist(n, filled, prev(n, released));
    let m = tx.tx_pending().min(room);
    let mut moved = 0;
    let mut bad = false;
    for _ in 0..m {
        let (Some(ts), Some(rs)) = (txr.slot(tx.hwcur), rxr.slot(filled)) else {
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
        if free >= pool.buffers {
            // The receiver wrote a bad index into a slot it gave back: do
            // not hand it to the sender; the RX ring has no room past it
            // (a peer can stall its sender, as by not reading, no more).
            break;
        }
        rs.buf_idx.store(buf, Relaxed);
        rs.len.store(len, Relaxed);
        ts.buf_idx.store(free, Relaxed);
        ts.len.store(0, Relaxed);
        tx.hwcur = tx.next(tx.hwcur);
        filled = next(n, filled);
        moved += 1;
    }
    // The slots just filled, and their buffers' contents, are the
    // receiver's from here.
    link.filled.store(filled, Release);
    tx.hwtail = tx.prev(tx.hwcur);
    if bad {
        // The bad slot and those after it stay the kernel's, unsent; user
        // space sees its head back where the kernel stopped.
        tx.rhead = tx.hwcur;
        tx.reset(txr);
        return Err(Invalid);
    }
    let cur = txr.hdr.cur.load(Relaxed);
    let cur = if cur < n && tx.dist(tx.rhead, cur) <= tx.dist(tx.rhead, tx.hwtail) {
        cur
    } else {
        tx.rhead
    };
    txr.publish(tx.rhead, cur, tx.hwtail);
    Ok(Synced {
        moved,
        released: 0,
        user: tx.user_slots(),
        beyond_cur: tx.dist(cur, tx.hwtail),
    })
}

/// RX sync of one end: check the RX ring, give the slots user space
/// released back to the sender, and publish the ones that arrived.
pub fn rxsync(rx: &mut KRing, rxr: &RingRef<'_>, link: &Link) -> Result<Synced, Invalid> {
    debug_assert!(rx.dir() == Dir::Rx && rx.slots() == link.n);
    let (head, cur) = rx.prologue(rxr)?;
    let released = rx.dist(rx.hwcur, head);
    if released > 0 {
        rx.hwcur = head;
        // User space is done with them (it moved head past them).
        link.released.store(head, Release);
    }
    let filled = link.filled.load(Acquire);
    let moved = rx.dist(rx.hwtail, filled);
    rx.hwtail = filled;
    rxr.publish(head, cur, rx.hwtail);
    Ok(Synced {
        moved,
        released,
        user: rx.user_slots(),
        beyond_cur: rx.dist(cur, rx.hwtail),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_wraps() {
        assert_eq!((dist(8, 6, 1), dist(8, 1, 6), dist(8, 3, 3)), (3, 5, 0));
    }
}
