//! The kernel's side of one ring: its own copy of the indices, and the
//! checks every sync makes of what user space wrote.
//!
//! ```text
//!   TX ring                                   RX ring
//!   [hwcur, rhead)   filled, not yet sent     [rhead, hwtail)  arrived, user's
//!   [rhead, tail)    free, user's             [hwtail, rhead-1) free, kernel's
//!   tail = hwcur - 1 (one slot kept back:     one slot kept back, so full and
//!   full and empty stay distinct)             empty stay distinct
//! ```
//!
//! A sync first runs the prologue: user space may only move `head`
//! forward, and not past `tail`; `cur` lies in `[head, tail]`.  Anything
//! else — an index out of range, a head that moved backwards or past tail
//! — is `Invalid`: the ring is reset to the kernel's view (user space sees
//! its last valid state again) and the call fails with EINVAL.

use core::sync::atomic::Ordering::Relaxed;

use crate::shared::RingRef;

// Ring index arithmetic in a ring of `n` slots, for indices `< n` (the
// kernel's own; a value from user space is checked first).  Wrapping, so
// that even an unchecked value cannot make it panic.

/// The slot after `i`.
pub fn next(n: u32, i: u32) -> u32 {
    if i.wrapping_add(1) == n {
        0
    } else {
        i.wrapping_add(1)
    }
}

/// The slot before `i`.
pub fn prev(n: u32, i: u32) -> u32 {
    if i == 0 {
        n.wrapping_sub(1)
    } else {
        i - 1
    }
}

/// Slots from `a` forward to `b`.
pub fn dist(n: u32, a: u32, b: u32) -> u32 {
    if b >= a {
        b - a
    } else {
        n.wrapping_sub(a).wrapping_add(b)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Tx,
    Rx,
}

/// A sync found the shared ring inconsistent (EINVAL); it was reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// The kernel's state of one ring of `n` slots.  Every index here is
/// always `< n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KRing {
    n: u32,
    dir: Dir,
    /// TX: first slot not yet consumed.  RX: first slot not yet released.
    pub(crate) hwcur: u32,
    /// TX: the tail user space sees.  RX: first slot not yet filled.
    pub(crate) hwtail: u32,
    /// The head user space had at the last valid sync.
    pub(crate) rhead: u32,
}

impl KRing {
    /// A ring of `n` slots (at least 2), empty; `None` for a bad `n`.
    pub fn new(dir: Dir, n: u32) -> Option<KRing> {
        if n < 2 {
            return None;
        }
        let hwtail = match dir {
            Dir::Tx => n - 1,
            Dir::Rx => 0,
        };
        Some(KRing {
            n,
            dir,
            hwcur: 0,
            hwtail,
            rhead: 0,
        })
    }

    pub fn slots(&self) -> u32 {
        self.n
    }

    pub fn dir(&self) -> Dir {
        self.dir
    }

    /// The slot after `i`.
    pub fn next(&self, i: u32) -> u32 {
        next(self.n, i)
    }

    pub(crate) fn prev(&self, i: u32) -> u32 {
        prev(self.n, i)
    }

    /// Slots from `a` forward to `b` (both `< n`).
    pub(crate) fn dist(&self, a: u32, b: u32) -> u32 {
        dist(self.n, a, b)
    }

    /// The head user space had at the last valid sync: the first slot it
    /// owns.
    pub fn head(&self) -> u32 {
        self.rhead
    }

    /// TX: the first slot not yet consumed.  RX: the first slot not yet
    /// released.
    pub fn hwcur(&self) -> u32 {
        self.hwcur
    }

    /// The tail user space should see.
    pub fn tail(&self) -> u32 {
        self.hwtail
    }

    /// Slots user space owns now.
    pub fn user_slots(&self) -> u32 {
        self.dist(self.rhead, self.hwtail)
    }

    /// Put the shared indices back to the kernel's view.
    pub fn reset(&self, ring: &RingRef<'_>) {
        ring.publish(self.rhead, self.rhead, self.hwtail);
    }

    /// Read and check `head` and `cur` (see the module doc).  On success
    /// the new head is the kernel's; on `Invalid` the ring was reset.
    pub fn prologue(&mut self, ring: &RingRef<'_>) -> Result<(u32, u32), Invalid> {
        let head = ring.hdr.head.load(Relaxed);
        let cur = ring.hdr.cur.load(Relaxed);
        let ok = head < self.n
            && cur < self.n
            && self.dist(self.rhead, head) <= self.dist(self.rhead, self.hwtail)
            && self.dist(head, cur) <= self.dist(head, self.hwtail);
        if !ok {
            self.reset(ring);
            return Err(Invalid);
        }
        self.rhead = head;
        Ok((head, cur))
    }

    /// RX sync: take back the slots user space released, publish the ones
    /// that arrived.  Returns how many user space owns now.
    pub fn rxsync(&mut self, ring: &RingRef<'_>) -> Result<u32, Invalid> {
        debug_assert_eq!(self.dir, Dir::Rx);
        let (head, cur) = self.prologue(ring)?;
        self.hwcur = head;
        ring.publish(head, cur, self.hwtail);
        Ok(self.user_slots())
    }

    /// Filled TX slots not yet consumed.
    pub(crate) fn tx_pending(&self) -> u32 {
        self.dist(self.hwcur, self.rhead)
    }

    /// poll(2): ready for the events this ring serves (TX: room to fill;
    /// RX: something to read, counting what a sync would publish).
    pub fn ready(&self) -> bool {
        self.dist(self.rhead, self.hwtail) > 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::shared::{RingHeader, Slot};

    fn ring(n: usize) -> (RingHeader, [Slot; 8]) {
        assert!(n <= 8);
        (RingHeader::default(), Default::default())
    }

    #[test]
    fn indices_wrap() {
        let k = KRing::new(Dir::Tx, 8).unwrap();
        assert_eq!(
            (k.next(7), k.prev(0), k.dist(6, 1), k.dist(1, 6)),
            (0, 7, 3, 5)
        );
        assert!(KRing::new(Dir::Tx, 1).is_none());
    }

    #[test]
    fn head_may_only_move_forward_and_not_past_tail() {
        let (h, s) = ring(8);
        let r = RingRef::new(&h, &s);
        let mut k = KRing::new(Dir::Tx, 8).unwrap();
        k.reset(&r);
        for (head, cur, ok) in [(3, 3, true), (2, 2, false), (7, 7, true), (0, 0, false)] {
            h.head.store(head, Relaxed);
            h.cur.store(cur, Relaxed);
            assert_eq!(k.prologue(&r).is_ok(), ok, "head {head}");
        }
        // Out of range, cur behind head: reset to the kernel's view.
        h.head.store(8, Relaxed);
        assert_eq!(k.prologue(&r), Err(Invalid));
        assert_eq!(h.head.load(Relaxed), 7);
        h.head.store(7, Relaxed);
        h.cur.store(3, Relaxed);
        assert_eq!(k.prologue(&r), Err(Invalid));
        assert_eq!(h.cur.load(Relaxed), 7);
    }
}
