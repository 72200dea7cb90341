# make bench: devref's host benchmarks (rust/bench).  Prints the table and
# the PASS/MISS target lines, and regenerates docs/benchmarks.md, .json and
# .svg, and the headline in README.md.  Exits non-zero only on a harness
# error, not on a missed target.
#
# make devbench-check: compile tools/devbench (the FreeBSD benchmark) for
# FreeBSD with the userland headers of mk/deps.sh, without linking.
#
# make devbench-kernsim: devbench's pipe functions (and the floor) on
# kernsim, not FreeBSD: devbench built for Linux against kernsim's client
# (tests/kernsim/client/ksim_client.c, as devring_t is) and run by
# tests/kernsim/devbench.sh against `kernsim serve` with the real
# devref.ko and devring.ko; writes docs/benchmarks-devbench-kernsim.md and
# .json.  About 40 s once built; not part of make test (CI time).

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

.PHONY: bench devbench-check devbench-kernsim

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

# devbench for kernsim: the floor is kernsim's /dev/ksimnull (nulldev.ko),
# devfs calls go to the server through the client's --wrap'ed system calls,
# and tests/kernsim/devbench-compat supplies what glibc lacks.
DEVBENCH_KSIM	 = build/kernsim/$(FREEBSD_MAJOR)/devbench
DEVBENCH_HOST_CC ?= clang-14
DEVBENCH_KSIM_WRAP = -Wl,--wrap=open,--wrap=close,--wrap=ioctl,--wrap=read \
		   -Wl,--wrap=write,--wrap=poll,--wrap=mmap,--wrap=fcntl \
		   -Wl,--wrap=munmap
DEVBENCH_KSIM_DEPS = tools/devbench/devbench.c shim/devring_ioctl.h \
		   tests/kernsim/client/ksim_client.c tests/kernsim/host/proto.h \
		   $(wildcard tests/kernsim/compat/sys/*.h) \
		   $(wildcard tests/kernsim/devbench-compat/*.h) \
		   $(wildcard tests/kernsim/devbench-compat/sys/*.h) mk/bench.mk

$(DEVBENCH_KSIM): $(DEVBENCH_KSIM_DEPS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(DEVBENCH_HOST_CC) -std=gnu11 -O2 -g -fno-pie -Wall -Werror \
	    -Itests/kernsim/devbench-compat -Itests/kernsim/compat -Ishim \
	    -include tests/kernsim/devbench-compat/devbench_linux.h \
	    -DDEVBENCH_NULL_PATH='"/dev/ksimnull"' \
	    -DDEVBENCH_KERNEL_NOTE='"(kernsim: FreeBSD $(FREEBSD_MAJOR) modules, simulated kernel)"' \
	    -c tools/devbench/devbench.c -o $@.o
	@$(DEVBENCH_HOST_CC) -std=gnu11 -O1 -g -fno-pie -Wall -Werror \
	    -Itests/kernsim/compat -Ishim \
	    -c tests/kernsim/client/ksim_client.c -o $@-client.o
	@$(DEVBENCH_HOST_CC) -no-pie -o $@ $@.o $@-client.o \
	    $(DEVBENCH_KSIM_WRAP) -lpthread
	@rm -f $@.o $@-client.o

devbench-kernsim:
	@$(MAKE) --no-print-directory deps modules
	@$(MAKE) --no-print-directory -f mk/kernsim.mk \
	    build/kernsim/$(FREEBSD_MAJOR)/kernsim \
	    build/kernsim/$(FREEBSD_MAJOR)/testmods/nulldev.ko
	@$(MAKE) --no-print-directory $(DEVBENCH_KSIM)
	@FREEBSD_MAJOR=$(FREEBSD_MAJOR) DEVBENCH=$(DEVBENCH_KSIM) \
	    sh tests/kernsim/devbench.sh
