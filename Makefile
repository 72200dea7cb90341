# devref: the native FreeBSD build.  FreeBSD's make reads this file; GNU
# make reads GNUmakefile (the Linux cross build) and never sees it.
#
#   make              build mk/kmod/devref/devref.ko, mk/kmod/devring/devring.ko
#                     and mk/kmod/devecho/devecho.ko
#                     (in the obj directories if `make obj' was run first)
#   make install      install both into /boot/modules (KMODDIR)
#   make test         run the Kyua suite (tests/run-kyua.sh; as root in a
#                     FreeBSD VM, the tests under tests/sys/ load and unload
#                     the modules)
#   make rust-src-check   tell whether rustc has the rust-src build-std needs
#   make clean
#
# Requirements and knobs: mk/freebsd-native.mk and vagrant/README.md.  vagrant/
# provisions a FreeBSD 15.0 VM that has them.

SUBDIR=		mk/kmod/devref mk/kmod/devring mk/kmod/devecho
# devring.ko links against nothing of devref.ko's at build time, but a
# parallel build would run two cargo builds on one target directory.
SUBDIR_DEPEND_mk/kmod/devring= mk/kmod/devref

# devbench, the userland benchmark, has its own BSD Makefile.
.if exists(${.CURDIR}/tools/devbench/Makefile)
SUBDIR+=	tools/devbench
.endif

# `make' alone builds: test and rust-src-check must not become the default.
.MAIN: all

test: .PHONY
	sh ${.CURDIR}/tests/run-kyua.sh

rust-src-check: .PHONY
	@cd ${.CURDIR}/mk/kmod/devref && ${MAKE} rust-src-check

.include <bsd.subdir.mk>
