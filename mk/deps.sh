#!/bin/sh
# Install what building and testing devref needs on a Debian 12 machine.
# Idempotent: each step checks first and does nothing when already done.
#
#   mk/deps.sh            Debian packages + FreeBSD headers for FREEBSD_MAJOR (15)
#   FREEBSD_MAJOR=14 mk/deps.sh
#
# The FreeBSD kernel headers come from PyPI's ziglang wheel (it ships FreeBSD's
# installed /usr/include, kernel parts included).  The wheel is pinned by
# version and sha256 and unpacked into a cache outside the work tree.
set -eu

FREEBSD_MAJOR=${FREEBSD_MAJOR:-15}
CACHE=${DEVREF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/devref}

case "$FREEBSD_MAJOR" in
15)	ZIG_VERSION=0.17.0
	ZIG_SHA256=97079827064a7492cce5541ceb438ae8003ce1e54e399676da2d62fb7a5dc08b ;;
14)	ZIG_VERSION=0.15.2
	ZIG_SHA256=806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130 ;;
*)	echo "deps: FREEBSD_MAJOR must be 14 or 15, not $FREEBSD_MAJOR" >&2
	exit 1 ;;
esac

PACKAGES="rustc-web cargo-web rust-web-src clang-14 lld-14 llvm-14 \
libclang1-14 kyua atf-sh libatf-dev freebsd-manpages python3-pip unzip make \
bmake mandoc"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "deps: installing Debian packages:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
fi

inc="$CACHE/freebsd-$FREEBSD_MAJOR/include"
if [ ! -f "$inc/.complete" ]; then
	echo "deps: fetching FreeBSD $FREEBSD_MAJOR headers (ziglang==$ZIG_VERSION)"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	python3 -m pip download -q --no-deps --only-binary=:all: \
	    -d "$tmp" "ziglang==$ZIG_VERSION"
	whl=$(ls "$tmp"/ziglang-*.whl)
	got=$(sha256sum "$whl" | cut -d' ' -f1)
	if [ "$got" != "$ZIG_SHA256" ]; then
		echo "deps: $whl: sha256 $got, expected $ZIG_SHA256" >&2
		exit 1
	fi
	(cd "$tmp" && unzip -q "$whl" \
	    'ziglang/lib/libc/include/generic-freebsd/*' \
	    'ziglang/lib/libc/include/x86_64-freebsd-none/*')
	rm -rf "$inc"
	mkdir -p "$inc"
	mv "$tmp/ziglang/lib/libc/include/x86_64-freebsd-none" "$inc/arch"
	mv "$tmp/ziglang/lib/libc/include/generic-freebsd" "$inc/generic"
	touch "$inc/.complete"
fi
