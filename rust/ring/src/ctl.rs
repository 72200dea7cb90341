//! The pipe requests user space sends, decoded: what /dev/devringctl and
//! a pipe node accept.  Pure functions of the request's bytes, so that the
//! host fuzzes exactly what the kernel runs (`tests/ctl_fuzz.rs`).
//!
//! The constants are those of `shim/devring_ioctl.h` (`tests/c_abi.rs`
//! compares them).

use crate::layout::PipeLayout;

/// `DEVRING_PIPE_NAMELEN`: a name's bytes with its NUL.
pub const PIPE_NAMELEN: usize = 32;
/// `DEVRING_PIPES_MAX`.
pub const PIPES_MAX: usize = 64;
/// `DEVRING_PIPE_SLOTS`, `DEVRING_PIPE_BUF_SIZE`, `DEVRING_PIPE_PERMS`:
/// what a zero field of a create request means.
pub const PIPE_SLOTS: u32 = 256;
pub const PIPE_BUF_SIZE: u32 = 2048;
pub const PIPE_PERMS: u32 = 0o600;
/// `DEVRING_PIPE_MAX_BYTES`: the largest region.
pub const PIPE_MAX_BYTES: u64 = 64 << 20;
/// `DEVRING_SYNC_WAIT`.
pub const SYNC_WAIT: u32 = 0x1;
/// `DEVRING_MODE_PCPU`, `DEVRING_MODE_COUNTED`.
pub const MODE_PCPU: u32 = 0;
pub const MODE_COUNTED: u32 = 1;

/// A request was refused (EINVAL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid;

/// A pipe's name: the bytes before the NUL, 1 to 31 of `[A-Za-z0-9._-]`,
/// not `.` or `..` (a devfs path component of its own).
pub fn pipe_name(raw: &[u8; PIPE_NAMELEN]) -> Result<&[u8], Invalid> {
    let len = raw.iter().position(|&c| c == 0).ok_or(Invalid)?;
    let name = raw.get(..len).ok_or(Invalid)?;
    let ok = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-');
    if name.is_empty() || name == b"." || name == b".." || !name.iter().all(ok) {
        return Err(Invalid);
    }
    Ok(name)
}

/// A create request, checked, its zero fields defaulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Create {
    pub mode: u32,
    pub perms: u32,
    pub layout: PipeLayout,
}

/// Check a create request's fields (the name separately, [`pipe_name`]).
pub fn decode_create(mode: u32, perms: u32, slots: u32, buf_size: u32) -> Result<Create, Invalid> {
    if mode != MODE_PCPU && mode != MODE_COUNTED {
        return Err(Invalid);
    }
    let perms = match perms {
        0 => PIPE_PERMS,
        p if p & !0o777 == 0 => p,
        _ => return Err(Invalid),
    };
    let slots = if slots == 0 { PIPE_SLOTS } else { slots };
    let buf_size = if buf_size == 0 {
        PIPE_BUF_SIZE
    } else {
        buf_size
    };
    let layout = PipeLayout::new(slots, buf_size).ok_or(Invalid)?;
    if layout.total > PIPE_MAX_BYTES {
        return Err(Invalid);
    }
    Ok(Create {
        mode,
        perms,
        layout,
    })
}

/// A sync request's flags and pad: only `SYNC_WAIT`, pad zero.  Returns
/// whether to wait.
pub fn decode_sync(flags: u32, pad: u32) -> Result<bool, Invalid> {
    if flags & !SYNC_WAIT != 0 || pad != 0 {
        return Err(Invalid);
    }
    Ok(flags & SYNC_WAIT != 0)
}

/// A bind request's end: 0 or 1.
pub fn decode_end(end: u32) -> Result<usize, Invalid> {
    match end {
        0 => Ok(0),
        1 => Ok(1),
        _ => Err(Invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &[u8]) -> [u8; PIPE_NAMELEN] {
        let mut n = [0u8; PIPE_NAMELEN];
        for (d, c) in n.iter_mut().zip(s) {
            *d = *c;
        }
        n
    }

    #[test]
    fn names() {
        assert_eq!(pipe_name(&name(b"p0.a_b-c")), Ok(&b"p0.a_b-c"[..]));
        for bad in [&b""[..], b".", b"..", b"a/b", b"a b", b"\xff"] {
            assert_eq!(pipe_name(&name(bad)), Err(Invalid), "{bad:?}");
        }
        assert_eq!(pipe_name(&[b'x'; PIPE_NAMELEN]), Err(Invalid), "no NUL");
        assert!(pipe_name(&name(&[b'x'; PIPE_NAMELEN - 1])).is_ok());
    }

    #[test]
    fn creates() {
        let c = decode_create(0, 0, 0, 0).unwrap_or_else(|_| panic!("defaults"));
        assert_eq!(
            (c.perms, c.layout.slots, c.layout.buf_size),
            (0o600, 256, 2048)
        );
        assert_eq!(decode_create(2, 0, 0, 0), Err(Invalid));
        assert_eq!(decode_create(1, 0o1600, 0, 0), Err(Invalid));
        assert_eq!(decode_create(1, 0, 1, 0), Err(Invalid));
        assert_eq!(decode_create(1, 0, 0, 100), Err(Invalid));
        assert_eq!(decode_create(1, 0, 65536, 4096), Err(Invalid), "1 GiB");
        assert_eq!(decode_sync(2, 0), Err(Invalid));
        assert_eq!(decode_sync(1, 1), Err(Invalid));
        assert_eq!(decode_sync(1, 0), Ok(true));
        assert_eq!(decode_end(2), Err(Invalid));
    }
}
