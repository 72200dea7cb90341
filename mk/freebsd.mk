# Which FreeBSD release the modules are built for, and where its headers are.
# Shared by GNUmakefile (Linux cross build); the native Makefile uses the
# running system's /usr/src/sys instead.

FREEBSD_MAJOR	?= 15
DEVREF_CACHE	?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/devref
FBSD_INCLUDE	 = $(DEVREF_CACHE)/freebsd-$(FREEBSD_MAJOR)/include

# __FreeBSD_version the modules are compiled for.  DECLARE_MODULE records a
# dependency on "kernel" from this value to roundup(v, 100000) - 1, so it
# must be MM00001: MM00000 gives max < min (never loads) and a larger minor
# refuses x.0-RELEASE kernels.
FREEBSD_VERSION	 = $(FREEBSD_MAJOR)00001

# A real release the range must contain (kldcheck checks it).
KERNEL_RELEASE_15 = 1500068
KERNEL_RELEASE_14 = 1400097
KERNEL_RELEASE	 = $(KERNEL_RELEASE_$(FREEBSD_MAJOR))

CLANG		?= clang-14
LD_LLD		?= ld.lld-14
OBJCOPY		?= llvm-objcopy-14

KMOD_CFLAGS	 = --target=x86_64-unknown-freebsd$(FREEBSD_MAJOR).0 \
		   -nostdinc -isystem $(FBSD_INCLUDE)/arch \
		   -isystem $(FBSD_INCLUDE)/generic \
		   -D_KERNEL -DKLD_MODULE -D__FreeBSD_version=$(FREEBSD_VERSION) \
		   -include $(CURDIR)/mk/opt_global.h \
		   -std=gnu99 -O2 -ffreestanding -fwrapv -fno-common \
		   -fno-omit-frame-pointer -mcmodel=kernel -mno-red-zone \
		   -mno-mmx -mno-sse -msoft-float \
		   -fno-asynchronous-unwind-tables -fno-pic -fno-pie \
		   -fno-stack-protector -Wall -Wextra -Wno-unused-parameter \
		   -Wmissing-prototypes -Wstrict-prototypes -Werror
