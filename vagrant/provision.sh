#!/bin/sh
# Provision the FreeBSD VM (run as root by vagrant; see Vagrantfile):
#
#   provision.sh setup   packages, kernel sources, rust-src check
#   provision.sh test    native build (make), then the Kyua suite
#
# Idempotent: each step checks first.
set -eu

TOP=${DEVREF_TOP:-/home/vagrant/devref}
RELEASE=$(freebsd-version -k | sed 's/-p[0-9]*$//')	# e.g. 15.0-RELEASE
ARCH=$(uname -m)

say() { echo "provision: $*"; }

setup() {
	export ASSUME_ALWAYS_YES=yes
	pkg bootstrap -q || :
	pkg update -q
	# rust: rustc + cargo + rust-src (port option SOURCES, on by default);
	# llvmNN: libclang for bindgen; git, rsync: for the tree itself.
	pkg install -q rust llvm19 git rsync
	# kyua and atf-sh are in base since FreeBSD 14; older systems: pkg.
	command -v kyua >/dev/null 2>&1 || pkg install -q kyua
	if ! command -v atf-sh >/dev/null 2>&1; then
		if [ -x /usr/libexec/atf-sh ]; then
			ln -sf /usr/libexec/atf-sh /usr/local/bin/atf-sh
		else
			pkg install -q atf
		fi
	fi

	# Kernel sources for bsd.kmod.mk (SYSDIR=/usr/src/sys).
	if [ ! -f /usr/src/sys/conf/kmod.mk ]; then
		say "fetching src.txz for $RELEASE"
		fetch -o /tmp/src.txz \
		    "https://download.freebsd.org/releases/$ARCH/$RELEASE/src.txz"
		tar -C / -xf /tmp/src.txz
		rm -f /tmp/src.txz
	fi

	sysroot=$(rustc --print sysroot)
	if [ ! -d "$sysroot/lib/rustlib/src/rust/library/core" ]; then
		say "rustc has no rust-src under $sysroot (build-std needs it):" \
		    "install lang/rust with option SOURCES, or rustup with" \
		    "'rustup component add rust-src'" >&2
		exit 1
	fi
	say "rustc $(rustc --version | cut -d' ' -f2), rust-src present," \
	    "kernel sources in /usr/src/sys"
}

run_tests() {
	cd "$TOP"
	say "native build"
	make
	say "Kyua suite (host tests skip without the Linux build outputs)"
	sh tests/run-kyua.sh
}

case "${1:-}" in
setup)	setup ;;
test)	run_tests ;;
*)	echo "usage: provision.sh setup|test" >&2; exit 2 ;;
esac
