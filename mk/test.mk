# make test: every test that runs on Linux.
#
#   1. both modules built and verified for FreeBSD 15 and 14 (kldcheck),
#      devbench compiled for FreeBSD;
#   2. the host Rust tests: core (gate, lifecycle, device layer, stress),
#      kldcheck (good and bad objects), the benchmark harness (quick mode);
#   3. the loom models of the gate (cfg loom, own target directory);
#   4. the Kyua suite (tests/): host tests run, FreeBSD-VM tests skip;
#   5. kernsim (tests/kernsim): both modules' exact bytes in a simulated
#      FreeBSD kernel, for 15 and 14 (make kernsim: the long run).
#
# Each runner prints its own summary line (cargo's "test result:", and
# "N passed, N failed, N skipped" for kyua).

LOOM_TARGET	 = $(CURDIR)/rust/target/loom

test: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory FREEBSD_MAJOR=14 deps check
	@$(MAKE) --no-print-directory devbench-check
	@echo "== host Rust tests"
	cd rust && $(HOST_CARGO) test --workspace --release
	@echo "== loom models of the gate"
	cd rust && RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(LOOM_TARGET) \
	    $(HOST_CARGO) test -p devref-core --release --test loom_gate
	@echo "== Kyua suite"
	bash tests/run-kyua.sh
	@echo "== kernsim: the exact .ko files in a simulated FreeBSD kernel (15, 14)"
	@$(MAKE) --no-print-directory -f mk/kernsim.mk FREEBSD_MAJOR=15 kernsim-test
	@$(MAKE) --no-print-directory -f mk/kernsim.mk FREEBSD_MAJOR=14 kernsim-test

# Hygiene: rustfmt (rust/rustfmt.toml, read by both workspaces) and clippy
# with warnings as errors.  rustup's toolchain has clippy but no rust-src,
# so the kernel crates are linted for the host target (they are no_std and
# target-independent but for inline asm, which is x86_64 on both); the
# kernel build itself uses Debian's rustc-web with build-std.
lint:
	@echo "== rustfmt --check, clippy -D warnings"
	cd rust && $(HOST_CARGO) fmt --all --check
	cd rust/kernel && $(HOST_CARGO) fmt --all --check
	cd rust && $(HOST_CARGO) clippy --quiet --workspace --all-targets --release -- -D warnings
	cd rust && RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=$(LOOM_TARGET) \
	    $(HOST_CARGO) clippy --quiet -p devref-core --tests --release -- -D warnings
	cd rust/kernel && LIBCLANG_PATH=/usr/lib/llvm-14/lib \
	    CARGO_TARGET_DIR=$(CURDIR)/rust/target/kernel-clippy \
	    $(HOST_CARGO) clippy --quiet --workspace --release -- -D warnings

.PHONY: lint

# The long fuzz runs: the ring rules (10^5 cases of up to 64 user steps,
# over 10^6 syncs; make test runs 3000) and the pipe request decoders
# (10^6 requests; make test runs 20000).
fuzz:
	cd rust && DEVRING_FUZZ_CASES=100000 $(HOST_CARGO) test --release \
	    -p devring-rings --test pipe_host
	cd rust && DEVRING_FUZZ_CASES=1000000 $(HOST_CARGO) test --release \
	    -p devring-rings --test ctl_fuzz

.PHONY: fuzz

# The long kernsim run: unload under load, 300 cycles, 4 variants.
kernsim:
	@$(MAKE) --no-print-directory -f mk/kernsim.mk FREEBSD_MAJOR=15 kernsim-long

.PHONY: kernsim
