# make check: build both modules, then verify them with kldcheck.

# Everything a module may call must be declared in one of these headers.
KPI_DECLS	 = $(BUILD)/kpi-decls.i

$(KPI_DECLS): mk/kpi-headers.h mk/freebsd.mk
	@mkdir -p $(BUILD)
	@$(CLANG) $(KMOD_CFLAGS) -E -P mk/kpi-headers.h -o $@

$(KLDCHECK): FORCE
	cd rust && $(HOST_CARGO) build --quiet --release -p kldcheck

check: all $(KLDCHECK) $(KPI_DECLS) kpi-exports-check
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --exports mk/devref.exports \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devref \
	    $(BUILD)/devref.ko
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --dep $(BUILD)/devref.ko \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devring \
	    --expect-depend devref $(BUILD)/devring.ko

# The export list and the KPI header must name the same functions.
kpi-exports-check:
	@sed -n 's/^[a-z].*[ \t*]\(devref_[a-z_]*\)(.*/\1/p' shim/devref_kpi.h | sort > $(BUILD)/kpi-header.syms
	@grep -v '^#' mk/devref.exports | sort > $(BUILD)/kpi-exports.syms
	@if ! diff -u $(BUILD)/kpi-header.syms $(BUILD)/kpi-exports.syms; then \
	    echo "check: shim/devref_kpi.h and mk/devref.exports differ" >&2; exit 1; fi
	@echo "check: KPI header and export list agree ($$(wc -l < $(BUILD)/kpi-exports.syms) functions)"

.PHONY: kpi-exports-check
