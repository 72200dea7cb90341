//! Generate the raw bindings from the C headers, so that the C/Rust boundary
//! has exactly one source of truth.  The headers use only forward-declared
//! kernel types, so no FreeBSD header is needed here.

use std::env;
use std::path::PathBuf;

fn main() {
    let shim =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("../../../shim");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for h in ["devref_kpi.h", "devref_shim.h"] {
        println!("cargo:rerun-if-changed={}", shim.join(h).display());
    }

    let common = |b: bindgen::Builder| {
        b.use_core()
            .ctypes_prefix("core::ffi")
            .clang_args([
                "--target=x86_64-unknown-freebsd15.0",
                "-ffreestanding",
                "-nostdinc",
            ])
            .layout_tests(false)
            .derive_default(true)
            .generate_comments(false)
    };

    common(bindgen::Builder::default())
        .header(shim.join("devref_kpi.h").to_string_lossy())
        .allowlist_item("devref_.*|DEVREF_.*")
        .generate()
        .expect("bindgen devref_kpi.h")
        .write_to_file(out.join("kpi.rs"))
        .expect("write kpi.rs");

    common(bindgen::Builder::default())
        .header(shim.join("devref_shim.h").to_string_lossy())
        .allowlist_function("devref_shim_.*")
        .allowlist_var("DEVREF_(REPORT|EVFILT|STAT|CALL|CTX|MARK)_.*")
        .blocklist_item("devref_ops|devref_client|devref_dev|DEVREF_(KPI|MODE|NAMELEN).*")
        .blocklist_function("devref_(client|dev|sleep|wakeup|notify).*")
        .raw_line("#[allow(unused_imports)]\n use super::kpi::*;")
        .generate()
        .expect("bindgen devref_shim.h")
        .write_to_file(out.join("shim.rs"))
        .expect("write shim.rs");
}
