# kernsim: a simulated FreeBSD amd64 kernel in a Linux process that loads
# the exact build/$(FREEBSD_MAJOR)/*.ko and drives them (tests/kernsim/).
#
#   make -f mk/kernsim.mk                kernsim, its self-test modules and
#                                        devring_t for FREEBSD_MAJOR (15)
#   make -f mk/kernsim.mk kernsim-test   every case (tests/kernsim/run.sh)
#   make -f mk/kernsim.mk kernsim-long   unload under load, 300 cycles
#
# The modules themselves come from GNUmakefile (make modules).  The ABI
# negative case builds its own module with an empty opt_global.h
# (testmods/emptyopt_RENDEZVOUS.ko).  GNUmakefile may include this file
# after its own first target; it only needs mk/freebsd.mk.

ifndef FBSD_INCLUDE
include mk/freebsd.mk
endif

KSIM_DIR	 = tests/kernsim
KSIM_OUT	 = build/kernsim/$(FREEBSD_MAJOR)
KSIM		 = $(KSIM_OUT)/kernsim
HOST_CC		?= clang-14
KSIM_NM		?= llvm-nm-14

# The kernel side sees the headers as the GENERIC kernel does: no
# KLD_MODULE, the kernel's opt_global.h (mk/opt/kernel-<major>.h when
# present), __FreeBSD_version of a released kernel.  GENOFFSET: the
# kernel build generates offset.inc (struct thread_lite) for the inline
# critical_enter(); kernsim has none, so its own code calls the _KBI
# functions as modules do.
KSIM_OPT	 = $(firstword $(wildcard mk/opt/kernel-$(FREEBSD_MAJOR).h) \
		   $(KSIM_DIR)/opt_kernel_fallback.h)
KSIM_KCFLAGS	 = --target=x86_64-unknown-freebsd$(FREEBSD_MAJOR).0 \
		   -nostdinc -isystem $(FBSD_INCLUDE)/arch \
		   -isystem $(FBSD_INCLUDE)/generic \
		   -D_KERNEL -DGENOFFSET -D__FreeBSD_version=$(KERNEL_RELEASE) \
		   -include $(CURDIR)/$(KSIM_OPT) \
		   -std=gnu99 -O1 -g -ffreestanding -fno-builtin -fwrapv \
		   -fno-common -fno-omit-frame-pointer -mno-red-zone \
		   -fno-pic -fno-pie -fno-stack-protector \
		   -fno-asynchronous-unwind-tables \
		   -Wall -Werror -Wno-unused-function
KSIM_HCFLAGS	 = -std=gnu11 -O1 -g -fno-pie -fno-omit-frame-pointer \
		   -D_GNU_SOURCE -DKSIM_FREEBSD_MAJOR=$(FREEBSD_MAJOR) \
		   -DKSIM_KERNEL_RELEASE=$(KERNEL_RELEASE) \
		   -I$(KSIM_DIR) -Wall -Werror
KSIM_KSRCS	 = $(wildcard $(KSIM_DIR)/kern/*.c)
KSIM_HSRCS	 = $(wildcard $(KSIM_DIR)/host/*.c)
KSIM_KOBJS	 = $(KSIM_KSRCS:$(KSIM_DIR)/kern/%.c=$(KSIM_OUT)/kern/%.o)
KSIM_HOBJS	 = $(KSIM_HSRCS:$(KSIM_DIR)/host/%.c=$(KSIM_OUT)/host/%.o)
KSIM_HDRS	 = $(KSIM_DIR)/kern_intf.h $(wildcard $(KSIM_DIR)/kern/*.h) \
		   $(wildcard $(KSIM_DIR)/host/*.h)

# Self-test modules: each breaks one rule at MOD_LOAD (testmods/badmod.c),
# built with the modules' own flags and linked as kmod.mk does.
KSIM_BAD	 = LOR SLEEP_LOCKED SLEEP_CRIT CRIT_UNDERFLOW RETURN_LOCKED \
		   RETURN_CRIT DOUBLE_FREE FOREIGN_FREE LEAK DOUBLE_INIT \
		   UNLOCK_NOT_OWNED DESTROY_ETERNAL NOWAIT_WAITOK FAIL_LOAD NONE \
		   STACK USE_AFTER_FREE VETO RENDEZVOUS
KSIM_BADKOS	 = $(foreach b,$(KSIM_BAD),$(KSIM_OUT)/testmods/bad_$(b).ko) \
		   $(KSIM_OUT)/testmods/emptyopt_RENDEZVOUS.ko
# The simulated VM's self-tests: each misuses the managed pager's KPI once
# at MOD_LOAD (testmods/badvm.c, cases/self-vm-*.ks; NONE is the control).
KSIM_BADVM	 = FREE_FICTITIOUS UNWIRE_PROBE FREE_WIRED INSERT_UNMANAGED \
		   INSERT_UNLOCKED REVOKE_UNBUSIED KVA_LEFT FREE_IN_OBJECT NONE
KSIM_BADKOS	+= $(foreach b,$(KSIM_BADVM),$(KSIM_OUT)/testmods/badvm_$(b).ko)
# A devref client in C with a counted node and devring's region ioctls
# (testmods/regclient.c): devref can unload after it (region-devref-unload).
KSIM_BADKOS	+= $(KSIM_OUT)/testmods/regclient.ko

# Mutants of the modules themselves (issue 9 item 7), each a directory
# that stands in for build/<major> (KSIM_MODDIR) in its self-* case:
#   no-sleeper-wakeup  devref.ko built with devref-core's cargo feature
#                      mutant-no-sleeper-wakeup (destroy does not wake
#                      devref's sleepers); devring.ko, devecho.ko as built.
# The Rust archives are the same for 14 and 15 (mk/rust-kernel.sh), built
# once in a cargo target directory of their own.
KSIM_MUTANTS	 = no-sleeper-wakeup
KSIM_MUT_RUST	 = build/kernsim/rust-mutants
KSIM_MUT_FEATURES_no-sleeper-wakeup = devref-core/mutant-no-sleeper-wakeup
KSIM_MUTKOS	 = $(foreach m,$(KSIM_MUTANTS),$(KSIM_OUT)/mutants/$(m)/devref.ko \
		   $(KSIM_OUT)/mutants/$(m)/devring.ko $(KSIM_OUT)/mutants/$(m)/devecho.ko)
# devref.ko's C objects as GNUmakefile builds them (make modules first).
KSIM_DEVREF_SRCS ?= $(or $(DEVREF_SRCS),shim/devref_module.c shim/devref_cdev.c \
		   shim/devref_kern.c shim/devref_events.c shim/devref_pager.c \
		   shim/kmod_libkern.c)
KSIM_DEVREF_OBJS = $(KSIM_DEVREF_SRCS:shim/%.c=build/$(FREEBSD_MAJOR)/%.o)
KSIM_RUST_SRCS	 = $(shell find rust/core rust/kernel -name target -prune -o \
		     \( -name '*.rs' -o -name Cargo.toml -o -name '*.json' \
		     -o -name '*.h' \) -print)

.PHONY: kernsim kernsim-test kernsim-long
kernsim: $(KSIM) $(KSIM_BADKOS) $(KSIM_OUT)/devring_t $(KSIM_OUT)/devring_pipe_t \
    $(KSIM_MUTKOS) \
    $(KSIM_MUTANTS:%=$(KSIM_MUT_RUST)/%/libdevref_kmod.a) \
    $(KSIM_OUT)/testmods/cdevprobe.ko

# A test module's object ($(@:.ko=.o)) linked into $@: every symbol local
# (nothing exports to other modules), no debug or unwind sections.
define ksim_testmod_link
@$(LD_LLD) -m elf_x86_64_fbsd -r -T mk/kmod.ldscript -o $@.tmp $(@:.ko=.o)
@$(OBJCOPY) --wildcard --localize-symbol='*' --strip-debug \
    --remove-section=.eh_frame --remove-section=.llvm_addrsig \
    --remove-section=.comment --remove-section=.note.GNU-stack $@.tmp $@
@rm -f $@.tmp $(@:.ko=.o)
endef

# A plain counted D_TRACKCLOSE cdev that relies on two devfs guarantees
# (testmods/cdevprobe.c): the kernel-side mutations dtor-before-close and
# si-devsw-kept must break it (cases/self-dtor-before-close.ks,
# self-si-devsw-kept.ks; control devfs-rules.ks).
$(KSIM_OUT)/testmods/cdevprobe.ko: $(KSIM_DIR)/testmods/cdevprobe.c mk/freebsd.mk mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  KMOD    $@"
	@$(CLANG) $(KMOD_CFLAGS) -c $< -o $(@:.ko=.o)
	$(ksim_testmod_link)

$(KSIM_MUT_RUST)/%/libdevref_kmod.a: $(KSIM_RUST_SRCS) $(wildcard shim/*.h) mk/rust-kernel.sh
	@echo "  CARGO   mutant $* (features $(KSIM_MUT_FEATURES_$*))"
	@RUST_KERNEL_FEATURES=$(KSIM_MUT_FEATURES_$*) \
	    RUST_KERNEL_TARGET_DIR=$(CURDIR)/$(KSIM_MUT_RUST)/target \
	    sh mk/rust-kernel.sh $(@D)
	@touch $@

$(KSIM_OUT)/mutants/%/devref.ko: $(KSIM_MUT_RUST)/%/libdevref_kmod.a \
    build/$(FREEBSD_MAJOR)/devref.ko mk/devref.exports mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  LD      $@ (mutant)"
	@$(LD_LLD) -m elf_x86_64_fbsd -r -T mk/kmod.ldscript -o $@.tmp \
	    $(KSIM_DEVREF_OBJS) $<
	@grep -v '^#' mk/devref.exports > $(@D)/devref.exports
	@$(OBJCOPY) --keep-global-symbols=$(@D)/devref.exports \
	    --strip-debug --remove-section=.eh_frame \
	    --remove-section=.llvm_addrsig --remove-section=.comment \
	    --remove-section=.note.GNU-stack $@.tmp $@
	@rm -f $@.tmp

$(KSIM_OUT)/mutants/%/devring.ko: build/$(FREEBSD_MAJOR)/devring.ko
	@mkdir -p $(@D)
	@cp $< $@

$(KSIM_OUT)/mutants/%/devecho.ko: build/$(FREEBSD_MAJOR)/devecho.ko
	@mkdir -p $(@D)
	@cp $< $@

# tests/sys/devref/devring_t.c, unmodified, with its system calls on /dev
# routed to a `kernsim serve` process (client/ksim_client.c) and FreeBSD's
# ioctl encoding and kqueue/kld declarations from compat/.
KSIM_WRAP	 = -Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=read \
		   -Wl,--wrap=write,--wrap=poll,--wrap=mmap,--wrap=fcntl \
		   -Wl,--wrap=munmap,--wrap=fstat
$(KSIM_OUT)/devring_t: tests/sys/devref/devring_t.c $(KSIM_DIR)/client/ksim_client.c \
    $(KSIM_DIR)/host/proto.h $(wildcard $(KSIM_DIR)/compat/sys/*.h) shim/devring_ioctl.h mk/kernsim.mk
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(HOST_CC) -std=gnu11 -O1 -g -fno-pie -Wall -Werror \
	    -I$(KSIM_DIR)/compat -Ishim -o $@ tests/sys/devref/devring_t.c \
	    $(KSIM_DIR)/client/ksim_client.c -no-pie $(KSIM_WRAP) -lpthread

# tests/sys/devref/devring_pipe_t.c, the pipe helper, built the same way.
$(KSIM_OUT)/devring_pipe_t: tests/sys/devref/devring_pipe_t.c $(KSIM_DIR)/client/ksim_client.c \
    $(KSIM_DIR)/host/proto.h $(wildcard $(KSIM_DIR)/compat/sys/*.h) shim/devring_ioctl.h mk/kernsim.mk
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(HOST_CC) -std=gnu11 -O1 -g -fno-pie -Wall -Werror \
	    -I$(KSIM_DIR)/compat -Ishim -o $@ tests/sys/devref/devring_pipe_t.c \
	    $(KSIM_DIR)/client/ksim_client.c -no-pie $(KSIM_WRAP) -lpthread

$(KSIM_OUT)/testmods/regclient.ko: $(KSIM_DIR)/testmods/regclient.c shim/devref_kpi.h shim/devring_ioctl.h mk/freebsd.mk mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  KMOD    $@"
	@$(CLANG) $(KMOD_CFLAGS) -Ishim -c $< -o $(@:.ko=.o)
	$(ksim_testmod_link)

$(KSIM_OUT)/testmods/badvm_%.ko: $(KSIM_DIR)/testmods/badvm.c mk/freebsd.mk mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  KMOD    $@"
	@$(CLANG) $(KMOD_CFLAGS) -DBADVM_$* -c $< -o $(@:.ko=.o)
	$(ksim_testmod_link)

$(KSIM_OUT)/testmods/bad_%.ko: $(KSIM_DIR)/testmods/badmod.c mk/freebsd.mk mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  KMOD    $@"
	@$(CLANG) $(KMOD_CFLAGS) -DBAD_$* -c $< -o $(@:.ko=.o)
	$(ksim_testmod_link)

# The same source built the way the cross build once was: an empty
# opt_global.h (no SMP), the shim's cpuset_t assert not in play here.
$(KSIM_OUT)/testmods/emptyopt_%.ko: $(KSIM_DIR)/testmods/badmod.c mk/freebsd.mk mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  KMOD    $@ (empty opt_global.h)"
	@: > $(@D)/empty_opt_global.h
	@$(CLANG) $(KERN_CFLAGS) -DKLD_MODULE -g -include $(@D)/empty_opt_global.h \
	    -DBAD_$* -c $< -o $(@:.ko=.o)
	$(ksim_testmod_link)

$(KSIM_OUT)/kern/%.o: $(KSIM_DIR)/kern/%.c $(KSIM_HDRS) $(KSIM_OPT) mk/kernsim.mk
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CLANG) $(KSIM_KCFLAGS) -c $< -o $@

# One relocatable object for the kernel side, every global renamed ksim_*
# so that its malloc/free/printf/mem* never meet glibc's.
$(KSIM_OUT)/kernel.o: $(KSIM_KOBJS)
	@echo "  LD      $@"
	@$(LD_LLD) -r -o $@.tmp $(KSIM_KOBJS)
	@$(KSIM_NM) --defined-only --extern-only $@.tmp | \
	    awk '$$2 ~ /^[TDBR]$$/ { print $$3 }' | sort > $(KSIM_OUT)/kernel.syms
	@$(OBJCOPY) --prefix-symbols=ksim_ $@.tmp $@
	@rm -f $@.tmp

# The kernel's symbol table as modules see it: every global the kernel
# side defines but its internals (k_*, ks_*).
$(KSIM_OUT)/ksyms.c: $(KSIM_OUT)/kernel.o
	@echo "  GEN     $@"
	@{ echo '/* Generated by mk/kernsim.mk: the kernel symbols modules bind to. */'; \
	   echo '#include "host/ksim.h"'; \
	   grep -v -E '^(k_|ks_)' $(KSIM_OUT)/kernel.syms | \
	     awk '{ printf "extern char ksim_%s[];\n", $$1 }'; \
	   echo 'const struct ksim_ksym ksim_ksyms[] = {'; \
	   grep -v -E '^(k_|ks_)' $(KSIM_OUT)/kernel.syms | \
	     awk '{ printf "\t{ \"%s\", ksim_%s },\n", $$1, $$1 }'; \
	   echo '	{ 0, 0 }'; echo '};'; } > $@

$(KSIM_OUT)/host/%.o: $(KSIM_DIR)/host/%.c $(KSIM_HDRS) mk/kernsim.mk
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(HOST_CC) $(KSIM_HCFLAGS) -c $< -o $@

$(KSIM_OUT)/ksyms.o: $(KSIM_OUT)/ksyms.c
	@$(HOST_CC) $(KSIM_HCFLAGS) -c $< -o $@

# Non-PIE: kernel functions and data must be within +-2 GiB of modules
# mapped below 2 GiB (R_X86_64_32S / PC32).
$(KSIM): $(KSIM_HOBJS) $(KSIM_OUT)/kernel.o $(KSIM_OUT)/ksyms.o
	@echo "  LD      $@"
	@$(HOST_CC) -no-pie -o $@ $(KSIM_HOBJS) $(KSIM_OUT)/kernel.o \
	    $(KSIM_OUT)/ksyms.o -lpthread
	@ln -sf $(FREEBSD_MAJOR)/kernsim build/kernsim/kernsim-$(FREEBSD_MAJOR)

kernsim-test: kernsim
	@FREEBSD_MAJOR=$(FREEBSD_MAJOR) sh $(KSIM_DIR)/run.sh

kernsim-long: kernsim
	@FREEBSD_MAJOR=$(FREEBSD_MAJOR) KSIM_CYCLES=300 KSIM_TIMEOUT=600 \
	    sh $(KSIM_DIR)/run.sh $(KSIM_DIR)/cases/unload-under-load.ks \
	    $(KSIM_DIR)/cases/unload-under-load-storebuf.ks \
	    $(KSIM_DIR)/cases/unload-under-load-memguard.ks \
	    $(KSIM_DIR)/cases/kyua-unload-under-load.sh
	@FREEBSD_MAJOR=$(FREEBSD_MAJOR) KSIM_KYUA_BODIES=pipe_exchange \
	    KSIM_TIMEOUT=900 sh $(KSIM_DIR)/run.sh \
	    $(KSIM_DIR)/cases/pipe-as-written.sh
	@FREEBSD_MAJOR=$(FREEBSD_MAJOR) KSIM_KYUA_BODIES=unload_under_load \
	    KSIM_TIMEOUT=900 sh $(KSIM_DIR)/run.sh \
	    $(KSIM_DIR)/cases/kyua-as-written.sh

# The benchmark's floor: a bare eternal cdev, no gate (testmods/nulldev.c).
$(KSIM_OUT)/testmods/nulldev.ko: $(KSIM_DIR)/testmods/nulldev.c shim/devring_ioctl.h mk/freebsd.mk mk/kmod.ldscript
	@mkdir -p $(@D)
	@echo "  KMOD    $@"
	@$(CLANG) $(KMOD_CFLAGS) -Ishim -c $< -o $(@:.ko=.o)
	$(ksim_testmod_link)

# make bench's kernsim part: ioctl rates through the real devref.ko.
kernsim-bench: $(KSIM) $(KSIM_OUT)/testmods/nulldev.ko
	@FREEBSD_MAJOR=$(FREEBSD_MAJOR) sh $(KSIM_DIR)/bench.sh

.PHONY: kernsim-bench
