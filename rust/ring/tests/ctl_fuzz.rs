//! Fuzz of the pipe request decoders (`devring_rings::ctl`), the code the
//! kernel runs on every /dev/devringctl and pipe ioctl argument: whatever
//! the bytes, no panic, and what is accepted is within the documented
//! limits, with a region layout whose every ring and buffer lies inside it.
//!
//! `DEVRING_FUZZ_CASES` sets the run's size (make test: the default;
//! `make fuzz`: 10^6).

use devring_rings::ctl::{
    decode_create, decode_end, decode_sync, pipe_name, PIPE_MAX_BYTES, PIPE_NAMELEN, SYNC_WAIT,
};
use devring_rings::layout::{BUF_ALIGN, BUF_MAX, MAX_SLOTS, MIN_SLOTS};
use devring_rings::{RingHeader, Slot};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("DEVRING_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

/// Mostly near the limits, sometimes anything.
fn shape() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => 0u32..8,
        3 => prop::sample::select(vec![63u32, 64, 65, 2048, 4095, 4096, 4097, 65535, 65536, 65537]),
        2 => 0u32..70_000,
        1 => any::<u32>(),
    ]
}

fn name() -> impl Strategy<Value = [u8; PIPE_NAMELEN]> {
    prop_oneof![
        any::<[u8; PIPE_NAMELEN]>(),
        ("[A-Za-z0-9._/ -]{0,33}").prop_map(|s| {
            let mut n = [0u8; PIPE_NAMELEN];
            for (d, c) in n.iter_mut().zip(s.bytes()) {
                *d = c;
            }
            n
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn decoders_accept_only_what_is_documented(
        raw in name(),
        mode in prop_oneof![0u32..4, any::<u32>()],
        perms in prop_oneof![0u32..0o2000, any::<u32>()],
        slots in shape(),
        buf_size in shape(),
        flags in prop_oneof![0u32..4, any::<u32>()],
        pad in prop_oneof![Just(0u32), any::<u32>()],
        end in prop_oneof![0u32..3, any::<u32>()],
    ) {
        if let Ok(n) = pipe_name(&raw) {
            prop_assert!(!n.is_empty() && n.len() < PIPE_NAMELEN);
            prop_assert!(n != b"." && n != b"..");
            prop_assert!(n.iter().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(c)));
            prop_assert_eq!(raw.get(n.len()), Some(&0));
        }
        match decode_create(mode, perms, slots, buf_size) {
            Ok(c) => {
                prop_assert!(mode <= 1 && c.mode == mode);
                prop_assert!(c.perms != 0 && c.perms & !0o777 == 0);
                prop_assert!(perms == 0 || c.perms == perms);
                let l = c.layout;
                prop_assert!((MIN_SLOTS..=MAX_SLOTS).contains(&l.slots));
                prop_assert!(l.buf_size % BUF_ALIGN == 0 && l.buf_size <= BUF_MAX && l.buf_size > 0);
                prop_assert!(l.total <= PIPE_MAX_BYTES);
                let ring = (std::mem::size_of::<RingHeader>()
                    + l.slots as usize * std::mem::size_of::<Slot>()) as u64;
                for e in l.ends {
                    prop_assert!(e.tx + ring <= l.total && e.rx + ring <= l.total);
                }
                let last = l.buffer(l.buffers - 1).expect("last buffer");
                prop_assert!(last + u64::from(l.buf_size) <= l.total);
                prop_assert!(l.buffer(l.buffers).is_none());
            }
            Err(_) => {
                // Refused only for a documented reason.
                let s = if slots == 0 { 256 } else { slots };
                let b = if buf_size == 0 { 2048 } else { buf_size };
                let too_big = (4 * (32 + 8 * u64::from(s)) + 4 * u64::from(s) * u64::from(b))
                    > PIPE_MAX_BYTES;
                prop_assert!(
                    mode > 1
                        || perms & !0o777 != 0
                        || !(MIN_SLOTS..=MAX_SLOTS).contains(&s)
                        || b % BUF_ALIGN != 0
                        || b > BUF_MAX
                        || too_big
                );
            }
        }
        prop_assert_eq!(decode_sync(flags, pad).is_ok(), flags & !SYNC_WAIT == 0 && pad == 0);
        prop_assert_eq!(decode_end(end).is_ok(), end < 2);
    }
}
