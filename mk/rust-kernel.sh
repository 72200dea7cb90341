#!/bin/sh
# Build the Rust halves of devref.ko and devring.ko for the FreeBSD kernel
# and leave archives a 2014-era linker can read.
#
#   mk/rust-kernel.sh OUTDIR
#
# RUST_KERNEL_FEATURES (optional): cargo features to turn on, e.g.
# devref-core/mutant-no-sleeper-wakeup for kernsim's mutation self-tests;
# RUST_KERNEL_TARGET_DIR (optional): a cargo target directory of its own
# for such a build, so that the shipped build's is never rebuilt.
#
# Uses Debian's rustc-web (1.96) and its library sources for build-std:
# rustup's toolchains here carry no rust-src.  The archives hold the same
# code for FreeBSD 14 and 15: Rust sees kernel structures only through the
# C shim, as opaque pointers.
set -eu

out=$1
top=$(cd "$(dirname "$0")/.." && pwd)
kdir="$top/rust/kernel"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# rustup's cargo comes first in PATH and would mix 1.95 with 1.96 sources.
export RUSTC=/usr/bin/rustc
export RUSTC_BOOTSTRAP=1
export LIBCLANG_PATH=/usr/lib/llvm-14/lib
export CARGO_TARGET_DIR="${RUST_KERNEL_TARGET_DIR:-$kdir/target}"

cd "$kdir"
status=0
/usr/bin/cargo build --quiet --release \
    ${RUST_KERNEL_FEATURES:+--features "$RUST_KERNEL_FEATURES"} \
    --target "$kdir/x86_64-freebsd-kernel.json" -Zjson-target-spec \
    -Zbuild-std=core,compiler_builtins,alloc 2>"$out/cargo.log" || status=$?
# The compiler_builtins profile override still applies; cargo just can't see it.
grep -v 'did not match any packages' "$out/cargo.log" >&2 || :
[ "$status" -eq 0 ] || exit "$status"

rel="$CARGO_TARGET_DIR/x86_64-freebsd-kernel/release"
for lib in devref_kmod devring; do
	[ -f "$rel/lib$lib.a" ] || { echo "rust-kernel: lib$lib.a not built" >&2; exit 1; }
	# LLVM 22 bitcode sections crash LLVM 14 tools; the kernel needs none.
	llvm-objcopy-14 --remove-section=.llvmbc --remove-section=.llvmcmd \
	    "$rel/lib$lib.a" "$out/lib$lib.a"
done
