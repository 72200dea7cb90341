# make check: build both modules, then verify them with kldcheck.

# Everything a module may call must be declared in one of these headers.
KPI_DECLS	 = $(BUILD)/kpi-decls.i

$(KPI_DECLS): mk/kpi-headers.h mk/freebsd.mk
	@mkdir -p $(BUILD)
	$(CLANG) $(KMOD_CFLAGS) -E -P mk/kpi-headers.h -o $@

$(KLDCHECK): FORCE
	cd rust && $(HOST_CARGO) build --quiet --release -p kldcheck

check: all $(KLDCHECK) $(KPI_DECLS)
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --exports mk/devref.exports \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devref \
	    $(BUILD)/devref.ko
	$(KLDCHECK) --kpi-decls $(KPI_DECLS) --dep $(BUILD)/devref.ko \
	    --kernel-release $(KERNEL_RELEASE) --expect-module devring \
	    --expect-depend devref $(BUILD)/devring.ko
