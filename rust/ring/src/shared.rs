//! The ring as it sits in shared memory: what user space sees and writes.
//!
//! Every field is an atomic: user space may write any of them at any time,
//! and the kernel reads each exactly once per use (a relaxed load: a plain
//! `mov` on x86).  The layout is the ABI of `devring_ioctl.h`.

use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// `DEVRING_RING_TX`: [`RingHeader::dir`] of a TX ring.
pub const RING_TX: u32 = 0;
/// `DEVRING_RING_RX`: [`RingHeader::dir`] of an RX ring.
pub const RING_RX: u32 = 1;

/// A ring's header, at the start of its shared area: `struct devring_ring`.
#[repr(C)]
#[derive(Default)]
pub struct RingHeader {
    /// First slot user space owns.
    pub head: AtomicU32,
    /// Where user space wants to be woken (poll), in `[head, tail]`.
    pub cur: AtomicU32,
    /// First slot the kernel owns.
    pub tail: AtomicU32,
    /// Slots in the ring (informational: the kernel keeps its own).
    pub num_slots: AtomicU32,
    /// Bytes per buffer (informational).
    pub buf_size: AtomicU32,
    /// Which ring this is ([`RING_TX`] or [`RING_RX`]; informational).
    pub dir: AtomicU32,
    pub pad: [AtomicU32; 2],
}

/// One slot: a buffer index and the length of its data (`struct devring_slot`).
#[repr(C)]
#[derive(Default)]
pub struct Slot {
    pub buf_idx: AtomicU32,
    pub len: AtomicU32,
}

// The ABI of `struct devring_ring` and `struct devring_slot`, pinned to the
// numbers shim/devring_module.c asserts for the C header; tests/c_abi.rs
// compiles the header and compares it with these types.
const _: () = assert!(core::mem::size_of::<RingHeader>() == 32);
const _: () = assert!(core::mem::align_of::<RingHeader>() == 4);
const _: () = assert!(core::mem::offset_of!(RingHeader, head) == 0);
const _: () = assert!(core::mem::offset_of!(RingHeader, cur) == 4);
const _: () = assert!(core::mem::offset_of!(RingHeader, tail) == 8);
const _: () = assert!(core::mem::offset_of!(RingHeader, num_slots) == 12);
const _: () = assert!(core::mem::offset_of!(RingHeader, buf_size) == 16);
const _: () = assert!(core::mem::offset_of!(RingHeader, dir) == 20);
const _: () = assert!(core::mem::offset_of!(RingHeader, pad) == 24);
const _: () = assert!(core::mem::size_of::<Slot>() == 8);
const _: () = assert!(core::mem::align_of::<Slot>() == 4);
const _: () = assert!(core::mem::offset_of!(Slot, buf_idx) == 0);
const _: () = assert!(core::mem::offset_of!(Slot, len) == 4);
const _: () = assert!(RING_TX == 0 && RING_RX == 1);
const _: () = assert!(core::mem::size_of::<RingHeader>() == 8 * 4);
const _: () = assert!(core::mem::align_of::<Slot>() == core::mem::align_of::<AtomicU32>());

/// A ring in shared memory: its header and its slots.
#[derive(Clone, Copy)]
pub struct RingRef<'a> {
    pub hdr: &'a RingHeader,
    pub slots: &'a [Slot],
}

impl<'a> RingRef<'a> {
    pub fn new(hdr: &'a RingHeader, slots: &'a [Slot]) -> Self {
        RingRef { hdr, slots }
    }

    /// The ring of `n` slots at byte `off` of `words` (memory shared with
    /// user space, seen as 32-bit words), if it lies inside and `off` is a
    /// multiple of 4.
    pub fn from_words(words: &'a [AtomicU32], off: u64, n: u32) -> Option<RingRef<'a>> {
        let first = usize::try_from(off).ok()?;
        if first % 4 != 0 {
            return None;
        }
        let first = first / 4;
        let hdr_words = core::mem::size_of::<RingHeader>() / 4;
        let slot_words = usize::try_from(n).ok()?.checked_mul(2)?;
        let hdr = words.get(first..first.checked_add(hdr_words)?)?;
        let start = first.checked_add(hdr_words)?;
        let slots = words.get(start..start.checked_add(slot_words)?)?;
        // SAFETY: RingHeader is repr(C), eight AtomicU32 (asserted above),
        // and Slot two: both have AtomicU32's alignment and no padding, so
        // `hdr` (exactly eight words) is one RingHeader and `slots`
        // (2n words) is n Slots, borrowed for as long as `words` is.
        unsafe {
            Some(RingRef {
                hdr: &*hdr.as_ptr().cast::<RingHeader>(),
                slots: core::slice::from_raw_parts(slots.as_ptr().cast::<Slot>(), slots.len() / 2),
            })
        }
    }

    /// The slot at a kernel-checked index, if any (`None` only if the
    /// slot array is shorter than the kernel thinks: a bug, not user input).
    pub fn slot(&self, i: u32) -> Option<&'a Slot> {
        self.slots.get(usize::try_from(i).ok()?)
    }

    /// Write the kernel's view of the indices (a reset, or after a sync).
    pub fn publish(&self, head: u32, cur: u32, tail: u32) {
        self.hdr.head.store(head, Relaxed);
        self.hdr.cur.store(cur, Relaxed);
        self.hdr.tail.store(tail, Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_seen_in_shared_words_lands_where_the_c_header_puts_it() {
        let words: [AtomicU32; 64] = core::array::from_fn(|_| AtomicU32::new(0));
        let r = RingRef::from_words(&words, 16, 4).expect("inside");
        r.publish(1, 2, 3);
        r.slot(3).expect("slot 3").len.store(7, Relaxed);
        let w: [u32; 24] = core::array::from_fn(|i| words[i].load(Relaxed));
        // head, cur, tail at words 4..7; slot 3's len at 4 + 8 + 2 * 3 + 1.
        assert_eq!((w[4], w[5], w[6], w[19]), (1, 2, 3, 7));
        assert!(r.slot(4).is_none());
        // Past the end, misaligned, or overflowing: refused.
        assert!(RingRef::from_words(&words, 256 - 32 - 8, 1).is_some());
        assert!(RingRef::from_words(&words, 256 - 32 - 4, 1).is_none());
        assert!(RingRef::from_words(&words, 2, 1).is_none());
        assert!(RingRef::from_words(&words, u64::MAX - 3, 1).is_none());
        assert!(RingRef::from_words(&words, 0, u32::MAX).is_none());
    }
}
