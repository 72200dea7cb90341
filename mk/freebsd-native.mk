# Native FreeBSD build of devref.ko and devring.ko, shared by the module
# Makefiles under mk/kmod/.  Read by FreeBSD's make (bmake) only: GNU make
# uses GNUmakefile and never sees this file.
#
# A module Makefile sets KMOD, DEVREF_CRATE (the Rust staticlib crate of
# rust/kernel) and DEVREF_SHIM_SRCS, includes this file, then
# <bsd.kmod.mk>.  This file:
#   - builds the crate's archive with cargo and build-std, for the same
#     custom target as the Linux cross build (rust/kernel/*.json);
#   - strips the LLVM bitcode sections rustc embeds (.llvmbc, .llvmcmd): the
#     kernel needs none, and a system LLVM older than rustc's cannot read
#     them.  Harmless when the two LLVMs agree, so it is always done;
#   - hands the cleaned archive to kmod.mk's link through BLOB_OBJS (trees
#     whose kmod.mk predates BLOB_OBJS: OBJS).
#
# Requirements (also in vagrant/README.md, "Native build"):
#   - kernel sources in SYSDIR (default /usr/src/sys);
#   - rustc and cargo with the rust-src component: pkg's lang/rust installs
#     it by default (option SOURCES) under $(rustc --print sysroot)/lib/rustlib/src;
#     unstable flags are enabled with RUSTC_BOOTSTRAP=1, or use a nightly
#     (make CARGO="cargo +nightly" with rustup);
#   - libclang for bindgen (devref-sys's build script): pkg install llvmNN
#     and LIBCLANG_PATH=/usr/local/llvmNN/lib (found automatically below);
#   - network access to crates.io for cargo, or a vendored source set up in
#     $CARGO_HOME/config.toml.

# Included before <bsd.kmod.mk>: keep `make' alone building the module
# rather than the first target below.
.MAIN: all

DEVREF_TOP:=	${.PARSEDIR:tA:H}
DEVREF_SHIM:=	${DEVREF_TOP}/shim
DEVREF_KERNEL_WS:= ${DEVREF_TOP}/rust/kernel

SYSDIR?=	/usr/src/sys

CARGO?=		cargo
RUSTC?=		rustc
LLVM_OBJCOPY?=	${OBJCOPY:Uobjcopy}
DEVREF_TARGET_JSON?= ${DEVREF_KERNEL_WS}/x86_64-freebsd-kernel.json
DEVREF_BUILD_STD?= core,compiler_builtins,alloc
# Kept apart from the Linux build's rust/kernel/target: a tree shared with
# a Linux host (vagrant rsync) must not mix two compilers' outputs.
DEVREF_CARGO_TARGET_DIR?= ${DEVREF_TOP}/build/freebsd-native/cargo

# cargo >= 1.9x wants -Zjson-target-spec for a .json target; older cargo
# does not know the flag.
.if !defined(DEVREF_JSON_FLAG)
DEVREF_JSON_FLAG!= env RUSTC_BOOTSTRAP=1 ${CARGO} -Z help 2>/dev/null | \
		    grep -q json-target-spec && echo -Zjson-target-spec || :
.endif

# libclang for bindgen: the newest llvmNN package installed.
.if !defined(LIBCLANG_PATH)
LIBCLANG_PATH!=	ls -d /usr/local/llvm[0-9]*/lib 2>/dev/null | sort -t m -k 2 -n | \
		    tail -1 || :
.endif
.if !empty(LIBCLANG_PATH)
_DEVREF_LIBCLANG_ENV= LIBCLANG_PATH=${LIBCLANG_PATH}
.endif

# Rebuild the archive when any kernel-side Rust source or the KPI changes.
DEVREF_RUST_SRCS!= find ${DEVREF_KERNEL_WS} -name target -prune -o \
		    \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock \
		    -o -name '*.json' \) -print
DEVREF_RUST_SRCS+= ${DEVREF_SHIM}/devref_kpi.h ${DEVREF_SHIM}/devref_shim.h

DEVREF_RUST_LIB=	lib${DEVREF_CRATE:S/-/_/g}.a
DEVREF_RUST_RAW=	${DEVREF_CARGO_TARGET_DIR}/${DEVREF_TARGET_JSON:T:R}/release/${DEVREF_RUST_LIB}

# The shim: C sources from shim/, compiled by kmod.mk's rules.
.PATH:		${DEVREF_SHIM}
SRCS+=		${DEVREF_SHIM_SRCS}
CFLAGS+=	-I${DEVREF_SHIM}

# ctfmerge does not read a Rust archive; the modules carry no CTF.
MK_CTF=		no

# Where the cleaned archive goes to the linker.
_DEVREF_KMOD_MK=	${SYSDIR}/conf/kmod.mk
.if exists(${_DEVREF_KMOD_MK})
_DEVREF_HAVE_BLOB!= grep -c BLOB_OBJS ${_DEVREF_KMOD_MK} || :
.else
_DEVREF_HAVE_BLOB= 0
.endif
.if ${_DEVREF_HAVE_BLOB} != 0
BLOB_OBJS+=	${DEVREF_RUST_LIB}
.else
OBJS+=		${DEVREF_RUST_LIB}
.endif
CLEANFILES+=	${DEVREF_RUST_LIB}

${DEVREF_RUST_LIB}: ${DEVREF_RUST_SRCS}
	cd ${DEVREF_KERNEL_WS} && env RUSTC_BOOTSTRAP=1 RUSTC=${RUSTC} \
	    CARGO_TARGET_DIR=${DEVREF_CARGO_TARGET_DIR} \
	    ${_DEVREF_LIBCLANG_ENV} \
	    ${CARGO} build --release -p ${DEVREF_CRATE} \
	    --target ${DEVREF_TARGET_JSON} ${DEVREF_JSON_FLAG} \
	    -Zbuild-std=${DEVREF_BUILD_STD}
	${LLVM_OBJCOPY} --remove-section=.llvmbc --remove-section=.llvmcmd \
	    ${DEVREF_RUST_RAW} ${.TARGET}

# `make rust-src-check': say what is missing before a long build fails.
rust-src-check: .PHONY
	@sysroot=`${RUSTC} --print sysroot` || exit 1; \
	if [ ! -d "$$sysroot/lib/rustlib/src/rust/library/core" ]; then \
		echo "${KMOD}: no rust-src under $$sysroot/lib/rustlib/src:" \
		    "build-std needs it (pkg install rust, option SOURCES;" \
		    "or rustup component add rust-src)" >&2; exit 1; \
	fi; \
	echo "${KMOD}: rust-src found under $$sysroot"
