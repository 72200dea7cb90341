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

# The kernel configuration a standalone module build gets: kmod.mk
# force-includes the opt_global.h that config.mk generates (SMP, MAC,
# VIMAGE, and for 15 the amd64 DEFAULTS options).  It is part of the ABI:
# without SMP, cpuset_t shrinks from 128 bytes to 8 and changes how it is
# passed.  docs/build.md derives each flag below from FreeBSD's makefiles.
# Overridable only so that tests can build a deliberately wrong module.
OPT_GLOBAL_H	?= $(CURDIR)/mk/opt/module-$(FREEBSD_MAJOR).h
# The same headers as the GENERIC kernel sees them (make check's KBI check).
OPT_KERNEL_H	 = $(CURDIR)/mk/opt/kernel-$(FREEBSD_MAJOR).h
OPT_KERNEL_DEBUG_H = $(CURDIR)/mk/opt/kernel-$(FREEBSD_MAJOR)-debug.h

CSTD_15		 = gnu17
CSTD_14		 = gnu99
CSTD		 = $(CSTD_$(FREEBSD_MAJOR))

# What every compile of a FreeBSD kernel source gets, as the module and as
# the kernel (docs/build.md, section 2).
KERN_CFLAGS	 = --target=x86_64-unknown-freebsd$(FREEBSD_MAJOR).0 \
		   -nostdinc -isystem $(FBSD_INCLUDE)/arch \
		   -isystem $(FBSD_INCLUDE)/generic \
		   -D_KERNEL -D__FreeBSD_version=$(FREEBSD_VERSION) \
		   -D__printf__=__freebsd_kprintf__ \
		   -std=$(CSTD) -O2 -ffreestanding -fwrapv -fno-common \
		   -fno-strict-aliasing \
		   -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
		   -mcmodel=kernel -mno-red-zone \
		   -mno-mmx -mno-sse -msoft-float -mno-aes -mno-avx \
		   -fno-asynchronous-unwind-tables -fno-pic -fno-pie \
		   -fno-stack-protector -Wall -Wextra -Wno-unused-parameter \
		   -Wmissing-prototypes -Wstrict-prototypes -Werror

# A module: KLD_MODULE and the module build's opt_global.h.  -g: the KBI
# check reads the objects' DWARF; the link strips it.
KMOD_CFLAGS	 = $(KERN_CFLAGS) -DKLD_MODULE -include $(OPT_GLOBAL_H) -g \
		   $(EXTRA_KMOD_CFLAGS)

# The kernel's own view of the same headers: no KLD_MODULE, GENERIC's
# options.  GENOFFSET: sys/kpilite.h wants the generated offset.inc
# otherwise (only the kernel's build has it).
KERNVIEW_CFLAGS	 = $(KERN_CFLAGS) -DGENOFFSET -include $(OPT_KERNEL_H) -g
KERNVIEW_DEBUG_CFLAGS = $(KERN_CFLAGS) -DGENOFFSET -include $(OPT_KERNEL_DEBUG_H) -g
