//! The C ABI header and this crate agree on the shared ring layout and the
//! pipe requests' constants.
//!
//! A tiny C program is compiled with the host's C compiler against
//! `shim/devring_ioctl.h` (its `<sys/ioccom.h>` is FreeBSD's: the kernsim
//! compat copy stands in for it on Linux, as for the kernsim test
//! programs); it prints the size and offset of every field of `struct
//! devring_ring` and `struct devring_slot` and the layout constants, and
//! each is compared with the Rust side.  A mismatch, or a compiler that
//! cannot build the header, fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use core::mem::{offset_of, size_of};
use devring_rings::ctl;
use devring_rings::layout::{BUF_ALIGN, BUF_MAX, MAX_SLOTS, MIN_SLOTS, RING_ALIGN};
use devring_rings::shared::{RING_RX, RING_TX};
use devring_rings::{RingHeader, Slot};

const PROGRAM: &str = r#"
/* FreeBSD's <sys/types.h> declares uint32_t, glibc's does not. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "devring_ioctl.h"

#define	P(name, v)	printf("%s %llu\n", name, (unsigned long long)(v))
#define	F(s, f)		do {						\
	P(#s "." #f ".offset", offsetof(struct s, f));			\
	P(#s "." #f ".size", sizeof(((struct s *)0)->f));		\
} while (0)

int
main(void)
{
	P("devring_ring.size", sizeof(struct devring_ring));
	F(devring_ring, head);
	F(devring_ring, cur);
	F(devring_ring, tail);
	F(devring_ring, num_slots);
	F(devring_ring, buf_size);
	F(devring_ring, dir);
	F(devring_ring, pad);
	P("devring_slot.size", sizeof(struct devring_slot));
	F(devring_slot, buf_idx);
	F(devring_slot, len);
	P("DEVRING_RING_TX", DEVRING_RING_TX);
	P("DEVRING_RING_RX", DEVRING_RING_RX);
	P("DEVRING_RING_ALIGN", DEVRING_RING_ALIGN);
	P("DEVRING_RING_MIN_SLOTS", DEVRING_RING_MIN_SLOTS);
	P("DEVRING_RING_MAX_SLOTS", DEVRING_RING_MAX_SLOTS);
	P("DEVRING_BUF_ALIGN", DEVRING_BUF_ALIGN);
	P("DEVRING_BUF_MAX", DEVRING_BUF_MAX);
	P("DEVRING_PIPE_NAMELEN", DEVRING_PIPE_NAMELEN);
	P("DEVRING_PIPES_MAX", DEVRING_PIPES_MAX);
	P("DEVRING_PIPE_SLOTS", DEVRING_PIPE_SLOTS);
	P("DEVRING_PIPE_BUF_SIZE", DEVRING_PIPE_BUF_SIZE);
	P("DEVRING_PIPE_PERMS", DEVRING_PIPE_PERMS);
	P("DEVRING_PIPE_MAX_BYTES", DEVRING_PIPE_MAX_BYTES);
	P("DEVRING_SYNC_WAIT", DEVRING_SYNC_WAIT);
	P("DEVRING_MODE_PCPU", DEVRING_MODE_PCPU);
	P("DEVRING_MODE_COUNTED", DEVRING_MODE_COUNTED);
	return (0);
}
"#;

/// What the C compiler makes of the header: name → value.
fn c_side() -> BTreeMap<String, u64> {
    let top = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_abi");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("c_abi.c");
    let exe = dir.join("c_abi");
    std::fs::write(&src, PROGRAM).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(top.join("tests/kernsim/compat"))
        .arg("-I")
        .arg(top.join("shim"))
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(
        out.status.success(),
        "{cc} failed on shim/devring_ioctl.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

macro_rules! field {
    ($m:ident, $c:literal, $t:ty, $f:ident) => {{
        let probe = <$t>::default();
        let size = core::mem::size_of_val(&probe.$f);
        $m.insert(
            concat!($c, ".", stringify!($f), ".offset").to_owned(),
            offset_of!($t, $f) as u64,
        );
        $m.insert(
            concat!($c, ".", stringify!($f), ".size").to_owned(),
            size as u64,
        );
    }};
}

/// The same names, from this crate.
fn rust_side() -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    m.insert("devring_ring.size".into(), size_of::<RingHeader>() as u64);
    field!(m, "devring_ring", RingHeader, head);
    field!(m, "devring_ring", RingHeader, cur);
    field!(m, "devring_ring", RingHeader, tail);
    field!(m, "devring_ring", RingHeader, num_slots);
    field!(m, "devring_ring", RingHeader, buf_size);
    field!(m, "devring_ring", RingHeader, dir);
    field!(m, "devring_ring", RingHeader, pad);
    m.insert("devring_slot.size".into(), size_of::<Slot>() as u64);
    field!(m, "devring_slot", Slot, buf_idx);
    field!(m, "devring_slot", Slot, len);
    m.insert("DEVRING_RING_TX".into(), RING_TX.into());
    m.insert("DEVRING_RING_RX".into(), RING_RX.into());
    m.insert("DEVRING_RING_ALIGN".into(), RING_ALIGN);
    m.insert("DEVRING_RING_MIN_SLOTS".into(), MIN_SLOTS.into());
    m.insert("DEVRING_RING_MAX_SLOTS".into(), MAX_SLOTS.into());
    m.insert("DEVRING_BUF_ALIGN".into(), BUF_ALIGN.into());
    m.insert("DEVRING_BUF_MAX".into(), BUF_MAX.into());
    m.insert("DEVRING_PIPE_NAMELEN".into(), ctl::PIPE_NAMELEN as u64);
    m.insert("DEVRING_PIPES_MAX".into(), ctl::PIPES_MAX as u64);
    m.insert("DEVRING_PIPE_SLOTS".into(), ctl::PIPE_SLOTS.into());
    m.insert("DEVRING_PIPE_BUF_SIZE".into(), ctl::PIPE_BUF_SIZE.into());
    m.insert("DEVRING_PIPE_PERMS".into(), ctl::PIPE_PERMS.into());
    m.insert("DEVRING_PIPE_MAX_BYTES".into(), ctl::PIPE_MAX_BYTES);
    m.insert("DEVRING_SYNC_WAIT".into(), ctl::SYNC_WAIT.into());
    m.insert("DEVRING_MODE_PCPU".into(), ctl::MODE_PCPU.into());
    m.insert("DEVRING_MODE_COUNTED".into(), ctl::MODE_COUNTED.into());
    m
}

#[test]
fn c_header_and_rust_ring_layout_agree() {
    let c = c_side();
    let rust = rust_side();
    assert_eq!(c.len(), 36, "the C program printed {c:?}");
    let keys: std::collections::BTreeSet<&String> = c.keys().chain(rust.keys()).collect();
    let differ: Vec<String> = keys
        .into_iter()
        .filter(|k| c.get(*k) != rust.get(*k))
        .map(|k| format!("{k}: C {:?}, Rust {:?}", c.get(k), rust.get(k)))
        .collect();
    assert!(
        differ.is_empty(),
        "shim/devring_ioctl.h and rust/ring differ:\n{}",
        differ.join("\n")
    );
}
