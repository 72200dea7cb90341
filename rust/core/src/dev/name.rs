//! Device names: checked here so that the registry never keys on a name
//! make_dev would refuse (MAKEDEV_CHECKNAME) and never copies unbounded
//! user strings.

use super::errno::{Errno, EINVAL};

/// Longest name, without the NUL (DEVREF_NAMELEN - 1).
pub const NAME_MAX: usize = 63;

/// A device name: 1..=63 bytes of [A-Za-z0-9._/-], no empty, "." or ".."
/// path component, no leading or trailing '/'.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DevName {
    buf: [u8; NAME_MAX],
    len: u8,
}

impl DevName {
    pub fn new(s: &[u8]) -> Result<DevName, Errno> {
        if s.is_empty() || s.len() > NAME_MAX {
            return Err(EINVAL);
        }
        let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/');
        if !s.iter().all(|&b| ok(b)) {
            return Err(EINVAL);
        }
        if s.split(|&b| b == b'/')
            .any(|c| c.is_empty() || c == b"." || c == b"..")
        {
            return Err(EINVAL);
        }
        let mut buf = [0u8; NAME_MAX];
        let dst = buf.get_mut(..s.len()).ok_or(EINVAL)?;
        dst.copy_from_slice(s);
        Ok(DevName {
            buf,
            len: s.len() as u8,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or(&[])
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is accepted by `new`.
        core::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }
}

impl core::fmt::Debug for DevName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::fmt::Display for DevName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}
