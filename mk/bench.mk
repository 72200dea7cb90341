# make bench: devref's host benchmarks (rust/bench).  Prints the table and
# the PASS/MISS target lines, and regenerates docs/benchmarks.md, .json and
# .svg, and the headline in README.md.  Exits non-zero only on a harness
# error, not on a missed target.
#
# make devbench-check: compile tools/devbench (the FreeBSD benchmark) for
# FreeBSD with the userland headers of mk/deps.sh, without linking.

DEVBENCH_OBJ	 = $(BUILD)/devbench.o
DEVBENCH_CFLAGS	 = --target=x86_64-unknown-freebsd$(FREEBSD_MAJOR).0 \
		   -nostdinc -isystem $(FBSD_INCLUDE)/arch \
		   -isystem $(FBSD_INCLUDE)/generic \
		   -D__FreeBSD_version=$(FREEBSD_VERSION) \
		   -std=gnu99 -O2 -Ishim \
		   -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
		   $(DEVBENCH_WARNS)
# What FreeBSD's bsd.prog.mk adds for WARNS=6 (tools/devbench/Makefile), so
# that a tool that compiles here also compiles there.
DEVBENCH_WARNS	 = -Wpointer-arith -Wreturn-type -Wcast-qual -Wwrite-strings \
		   -Wswitch -Wshadow -Wcast-align -Wchar-subscripts \
		   -Wnested-externs -Wredundant-decls -Wold-style-definition \
		   -Wmissing-variable-declarations -Wformat=2 \
		   -Wno-format-extra-args

.PHONY: bench devbench-check

bench:
	cd rust && $(HOST_CARGO) build --release -p devref-bench
	rust/target/release/devref-bench --out docs --readme README.md
	@echo "== kernsim benchmark (real module code, simulated devfs)"
	@$(MAKE) --no-print-directory deps modules
	@$(MAKE) --no-print-directory -f mk/kernsim.mk kernsim-bench

devbench-check: $(DEVBENCH_OBJ)

$(DEVBENCH_OBJ): tools/devbench/devbench.c shim/devring_ioctl.h mk/bench.mk mk/freebsd.mk
	@test -d $(FBSD_INCLUDE)/generic || { echo "$(FBSD_INCLUDE): missing, run make deps" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(CLANG) $(DEVBENCH_CFLAGS) -c tools/devbench/devbench.c -o $@
