//! Where a pipe's rings and buffers sit in its shared region.
//!
//! ```text
//!   end 0: TX ring, RX ring     end 1: TX ring, RX ring     buffers
//!   [hdr | slots][hdr | slots]  [hdr | slots][hdr | slots]  [buf 0][buf 1]...
//! ```
//!
//! Each ring is a [`RingHeader`] followed by its slots, rounded up to a
//! page; the buffers start on a page.  There are four buffers per slot of
//! a ring, so that every slot of every ring starts with a buffer of its own
//! and the pool is a permutation that sends and receives only swap.  The
//! sizes come from the kernel's own constants or a creator's request:
//! every computation is checked, and `None` means "too big".

use crate::shared::{RingHeader, Slot};

pub const PAGE: u64 = 4096;

// The shape limits, as `shim/devring_ioctl.h` gives them to user space
// (tests/c_abi.rs compares the two).
/// `DEVRING_RING_ALIGN`: each ring area, and the buffer pool, starts on it.
pub const RING_ALIGN: u64 = PAGE;
/// `DEVRING_RING_MIN_SLOTS`: the fewest slots a ring may have.
pub const MIN_SLOTS: u32 = 2;
/// `DEVRING_RING_MAX_SLOTS`: the most slots a ring may have.
pub const MAX_SLOTS: u32 = 1 << 16;
/// `DEVRING_BUF_ALIGN`: a buffer's size is a multiple of it.
pub const BUF_ALIGN: u32 = 64;
/// `DEVRING_BUF_MAX`: the largest buffer.
pub const BUF_MAX: u32 = 4096;

/// The byte offsets of one end's rings in the region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndLayout {
    pub tx: u64,
    pub rx: u64,
}

/// A pipe's region: its rings, its buffers, its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeLayout {
    pub slots: u32,
    pub buf_size: u32,
    pub buffers: u32,
    pub ends: [EndLayout; 2],
    pub bufs: u64,
    pub total: u64,
}

fn round_page(x: u64) -> Option<u64> {
    Some(x.checked_add(RING_ALIGN - 1)? & !(RING_ALIGN - 1))
}

impl PipeLayout {
    /// `slots` per ring (2 to 2^16), `buf_size` bytes per buffer (a
    /// multiple of 64, up to a page).
    pub fn new(slots: u32, buf_size: u32) -> Option<PipeLayout> {
        if !(MIN_SLOTS..=MAX_SLOTS).contains(&slots)
            || buf_size == 0
            || !buf_size.is_multiple_of(BUF_ALIGN)
            || buf_size > BUF_MAX
        {
            return None;
        }
        let ring = round_page(
            (core::mem::size_of::<RingHeader>() as u64)
                .checked_add(u64::from(slots).checked_mul(core::mem::size_of::<Slot>() as u64)?)?,
        )?;
        let at = |i: u64| ring.checked_mul(i);
        let ends = [
            EndLayout {
                tx: at(0)?,
                rx: at(1)?,
            },
            EndLayout {
                tx: at(2)?,
                rx: at(3)?,
            },
        ];
        let bufs = at(4)?;
        let buffers = slots.checked_mul(4)?;
        let total =
            round_page(bufs.checked_add(u64::from(buffers).checked_mul(u64::from(buf_size))?)?)?;
        Some(PipeLayout {
            slots,
            buf_size,
            buffers,
            ends,
            bufs,
            total,
        })
    }

    /// The byte offset of buffer `i`, if it is one of the pool's.
    pub fn buffer(&self, i: u32) -> Option<u64> {
        (i < self.buffers).then(|| self.bufs + u64::from(i) * u64::from(self.buf_size))
    }

    /// The buffer each slot starts with: ring `r` (0 end 0 TX, 1 end 0 RX,
    /// 2 end 1 TX, 3 end 1 RX), slot `s`.
    pub fn initial_buffer(&self, r: u32, s: u32) -> u32 {
        r * self.slots + s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rings_then_buffers_page_aligned_and_within_the_region() {
        let l = PipeLayout::new(1024, 2048).unwrap();
        // 32 + 1024 * 8 bytes: three pages per ring.
        assert_eq!(
            l.ends[0],
            EndLayout {
                tx: 0,
                rx: 3 * PAGE
            }
        );
        assert_eq!(
            l.ends[1],
            EndLayout {
                tx: 6 * PAGE,
                rx: 9 * PAGE
            }
        );
        assert_eq!(l.bufs, 12 * PAGE);
        assert_eq!(l.buffers, 4096);
        assert_eq!(l.total, 12 * PAGE + 4096 * 2048);
        assert_eq!(l.buffer(4095).unwrap() + 2048, l.total);
        assert_eq!(l.buffer(4096), None);
        assert_eq!(l.initial_buffer(3, 1023), 4095);
    }

    #[test]
    fn bad_shapes_are_refused() {
        for (s, b) in [
            (0, 2048),
            (1, 2048),
            ((1 << 16) + 1, 2048),
            (8, 0),
            (8, 100),
            (8, 8192),
        ] {
            assert_eq!(PipeLayout::new(s, b), None, "{s} {b}");
        }
        assert!(PipeLayout::new(1 << 16, 4096).is_some());
    }
}
