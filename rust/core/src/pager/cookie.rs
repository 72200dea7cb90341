//! mmap offsets ("cookies") that name a region, GEM-style.
//!
//! mmap(2) of a devref device passes its offset to `d_mmap_single`; devref
//! reads it as the region it names plus an offset inside the region.  A
//! region's cookie is
//!
//! ```text
//!   bit 63      0 (an off_t: never negative)
//!   bits 48-62  generation of the slot (15 bits, wraps)
//!   bits 32-47  slot + 1 (0 is never a region: offset 0 maps nothing)
//!   bits  0-31  offset inside the region (regions are < 4 GiB)
//! ```
//!
//! The generation makes a stale cookie (a region freed, its slot reused)
//! miss rather than map the newcomer.  Every value comes from user space:
//! decoding is checked arithmetic only, and every failure is `EINVAL`.

use crate::dev::{Errno, EINVAL};

const SLOT_SHIFT: u32 = 32;
const GEN_SHIFT: u32 = 48;
const SLOT_MASK: u64 = 0xffff;
const GEN_MASK: u64 = 0x7fff;
/// The largest region, in bytes: the offset field's range.
pub const REGION_MAX_BYTES: u64 = 1 << SLOT_SHIFT;
/// Slots a cookie can name (slot + 1 must fit 16 bits).
pub const MAX_SLOTS: usize = 0xffff;

/// A region's identity in a cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieId {
    pub slot: usize,
    pub generation: u16,
}

/// The cookie of `id`'s first byte.
pub fn encode(id: CookieId) -> u64 {
    debug_assert!(id.slot < MAX_SLOTS);
    let slot = (id.slot as u64 + 1) & SLOT_MASK;
    ((u64::from(id.generation) & GEN_MASK) << GEN_SHIFT) | (slot << SLOT_SHIFT)
}

/// A request decoded: which region, which bytes of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: CookieId,
    /// Offset inside the region (page-aligned).
    pub offset: u64,
    /// Bytes asked for (nonzero, page-aligned by the caller's rounding).
    pub size: u64,
}

/// Decode an mmap request `(offset, size)` against page size `page`.  The
/// region's own length is checked later, by whoever finds the region.
pub fn decode(offset: i64, size: u64, page: u64) -> Result<Request, Errno> {
    let offset = u64::try_from(offset).map_err(|_| EINVAL)?;
    if size == 0 || page == 0 || !page.is_power_of_two() {
        return Err(EINVAL);
    }
    let slot = (offset >> SLOT_SHIFT) & SLOT_MASK;
    let slot = usize::try_from(slot.checked_sub(1).ok_or(EINVAL)?).map_err(|_| EINVAL)?;
    let generation = u16::try_from((offset >> GEN_SHIFT) & GEN_MASK).map_err(|_| EINVAL)?;
    let inner = offset & (REGION_MAX_BYTES - 1);
    if !inner.is_multiple_of(page) || !size.is_multiple_of(page) {
        return Err(EINVAL);
    }
    let end = inner.checked_add(size).ok_or(EINVAL)?;
    if end > REGION_MAX_BYTES {
        return Err(EINVAL);
    }
    Ok(Request {
        id: CookieId { slot, generation },
        offset: inner,
        size,
    })
}

/// The generation after `g` (15 bits, wrapping).
pub fn next_generation(g: u16) -> u16 {
    ((u64::from(g) + 1) & GEN_MASK) as u16
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PAGE: u64 = 4096;

    #[test]
    fn round_trip() {
        for (slot, generation) in [(0, 0), (1, 7), (MAX_SLOTS - 1, 0x7fff)] {
            let id = CookieId { slot, generation };
            let c = encode(id);
            assert!(c < 1 << 63);
            let r = decode(c as i64 + 2 * PAGE as i64, PAGE, PAGE).unwrap();
            assert_eq!(
                r,
                Request {
                    id,
                    offset: 2 * PAGE,
                    size: PAGE
                }
            );
        }
    }

    #[test]
    fn bad_requests_are_einval() {
        let c = encode(CookieId {
            slot: 3,
            generation: 1,
        }) as i64;
        assert_eq!(decode(-1, PAGE, PAGE), Err(EINVAL), "negative offset");
        assert_eq!(decode(i64::MIN, PAGE, PAGE), Err(EINVAL));
        assert_eq!(
            decode(0, PAGE, PAGE),
            Err(EINVAL),
            "offset 0 names no region"
        );
        assert_eq!(decode(c, 0, PAGE), Err(EINVAL), "empty");
        assert_eq!(decode(c + 1, PAGE, PAGE), Err(EINVAL), "unaligned");
        assert_eq!(decode(c, PAGE + 1, PAGE), Err(EINVAL), "unaligned size");
        assert_eq!(decode(c, u64::MAX - 4095, PAGE), Err(EINVAL), "huge size");
        assert_eq!(
            decode(c + (REGION_MAX_BYTES - PAGE) as i64, 2 * PAGE, PAGE),
            Err(EINVAL),
            "past the largest region"
        );
        assert_eq!(decode(i64::MAX, PAGE, PAGE), Err(EINVAL));
    }

    #[test]
    fn generations_wrap_in_15_bits() {
        assert_eq!(next_generation(0x7fff), 0);
        assert_eq!(next_generation(3), 4);
    }
}
