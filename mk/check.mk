# make check: build both modules, then verify them with kldcheck.

# Everything a module may call must be declared in one of these headers.
KPI_DECLS	 = $(BUILD)/kpi-decls.i

$(KPI_DECLS): mk/kpi-headers.h mk/freebsd.mk
	@mkdir -p $(BUILD)
	@$(CLANG) $(KMOD_CFLAGS) -E -P mk/kpi-headers.h -o $@

$(KLDCHECK): FORCE
	cd rust && $(HOST_CARGO) build --quiet --release -p kldcheck

# The kernel types the shim passes by value, embeds, reads fields of, or
# hands to the kernel as tables: each must be defined, with the same layout,
# in the module's view and in the GENERIC kernel's view of the headers.
KBI_REQUIRE	 = --require 'cpuset_t' \
		   --require 'struct filterops' --require 'struct selinfo' \
		   --require 'struct knlist' --require 'struct knote' \
		   --require 'struct kevent' --require 'struct mtx' \
		   --require 'struct task' --require 'struct make_dev_args' \
		   --require 'struct sysctl_ctx_list' \
		   --require 'struct sysctl_oid' --require 'struct thread' \
		   --require 'struct cdevsw' \
		   --require 'struct cdev' --require 'struct malloc_type' \
		   --require 'moduledata_t' --require 'struct mod_metadata' \
		   --require 'struct sysinit' --require 'struct vm_page' \
		   --require 'struct cdev_pager_ops' --require 'struct file'

# Text size bounds (issue: devref.ko <= 64 KiB, devring.ko <= 32 KiB): the
# Rust halves are linked with LTO, so only what a module reaches is there.
DEVREF_MAX_TEXT	 = 65536
DEVRING_MAX_TEXT = 32768
DEVECHO_MAX_TEXT = 8192

# The gate's fast path as linked (the probes run exactly what every cdevsw
# entry inlines): no call, no locked instruction, per-CPU adds only.
DEVREF_HOT_PATH	 = --hot-path devref_gate_probe_enter \
		   --hot-path devref_gate_probe_leave --hot-path-max 24

check: all $(KLDCHECK) $(KPI_DECLS) kpi-exports-check kbi-check kbi-negative-check
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --exports mk/devref.exports \
	    --max-text $(DEVREF_MAX_TEXT) $(DEVREF_HOT_PATH) \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devref \
	    $(BUILD)/devref.ko
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --dep $(BUILD)/devref.ko \
	    --max-text $(DEVRING_MAX_TEXT) \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devring \
	    --expect-depend devref $(BUILD)/devring.ko
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --dep $(BUILD)/devref.ko \
	    --max-text $(DEVECHO_MAX_TEXT) \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devecho \
	    --expect-depend devref $(BUILD)/devecho.ko

# The export list and the KPI header must name the same functions.
kpi-exports-check:
	@sed -n 's/^[a-z].*[ \t*]\(devref_[a-z_]*\)(.*/\1/p' shim/devref_kpi.h | sort > $(BUILD)/kpi-header.syms
	@grep -v '^#' mk/devref.exports | sort > $(BUILD)/kpi-exports.syms
	@if ! diff -u $(BUILD)/kpi-header.syms $(BUILD)/kpi-exports.syms; then \
	    echo "check: shim/devref_kpi.h and mk/devref.exports differ" >&2; exit 1; fi
	@echo "check: KPI header and export list agree ($$(wc -l < $(BUILD)/kpi-exports.syms) functions)"

# KBI: the shim's objects (their DWARF) as the module was compiled, against
# the same sources compiled as the GENERIC kernel and a debug kernel see the
# headers.  Catches a build configuration that is not the kernel's (an
# empty opt_global.h: cpuset_t 8 bytes instead of 128), not header drift.
kbi-check: $(KLDCHECK) $(KBI_MODULE_OBJS) $(KBI_KERNEL_OBJS) $(KBI_DEBUG_OBJS)
	$(KLDCHECK) kbi --kernel-label GENERIC-$(FREEBSD_MAJOR) \
	    $(KBI_MODULE_OBJS:%=--module %) $(KBI_KERNEL_OBJS:%=--kernel %) \
	    $(KBI_REQUIRE)
	$(KLDCHECK) kbi --kernel-label GENERIC-$(FREEBSD_MAJOR)+std.debug \
	    $(KBI_MODULE_OBJS:%=--module %) $(KBI_DEBUG_OBJS:%=--kernel %) \
	    $(KBI_REQUIRE)

# The checks must be able to fail: devref_kern.c compiled with an empty
# opt_global.h (the build that would have panicked on the first device) is
# refused by its static assert, and with that assert compiled out, by the
# KBI check, which must name cpuset_t.
KBI_NEG		 = $(BUILD)/kbi-negative
kbi-negative-check: $(KLDCHECK) $(BUILD)/kbi-kernel/devref_kern.o
	@mkdir -p $(KBI_NEG) && : > $(KBI_NEG)/empty_opt_global.h
	@if $(CLANG) $(KERN_CFLAGS) -DKLD_MODULE -g \
	    -include $(KBI_NEG)/empty_opt_global.h -c shim/devref_kern.c \
	    -o $(KBI_NEG)/refused.o 2>$(KBI_NEG)/cc.log; then \
	    echo "check: devref_kern.c compiled without SMP" >&2; exit 1; fi
	@grep -q "cpuset_t is not the kernel's" $(KBI_NEG)/cc.log || \
	    { cat $(KBI_NEG)/cc.log >&2; exit 1; }
	@$(CLANG) $(KERN_CFLAGS) -DKLD_MODULE -g -DDEVREF_KBI_NEGATIVE_TEST \
	    -include $(KBI_NEG)/empty_opt_global.h -c shim/devref_kern.c \
	    -o $(KBI_NEG)/devref_kern.o
	@if $(KLDCHECK) kbi --kernel-label GENERIC-$(FREEBSD_MAJOR) \
	    --module $(KBI_NEG)/devref_kern.o \
	    --kernel $(BUILD)/kbi-kernel/devref_kern.o >$(KBI_NEG)/kbi.log; then \
	    echo "check: KBI check passed a module built without SMP" >&2; \
	    exit 1; fi
	@grep -q "cpuset_t (struct _cpuset): size 8 in module, 128 in" \
	    $(KBI_NEG)/kbi.log || { cat $(KBI_NEG)/kbi.log >&2; exit 1; }
	@echo "check: a module built with an empty opt_global.h is refused" \
	    "(static assert, and KBI: $$(grep -c FAIL $(KBI_NEG)/kbi.log)" \
	    "violations naming cpuset_t)"

.PHONY: kpi-exports-check kbi-check kbi-negative-check
