# SPDX-License-Identifier: GPL-2.0
# Entry point of the harness: see README.md. Everything is built below build/.

H := harness

.PHONY: run test fuzz shell check series bisect bench prepare clean help

help:
	@echo "make run     build, boot and run the demo"
	@echo "make test    build, boot and run every test; last line: N passed, N failed"
	@echo "            (INLINE_HELPERS=n: without CONFIG_RUST_INLINE_HELPERS)"
	@echo "make fuzz    the contract fuzzer and trinity on the test kernel (~11 min;"
	@echo "            FUZZ_SECONDS=600 FUZZ_SEED=1); last line: fuzz: N syscalls, ..."
	@echo "make shell   boot to an interactive shell with the series' modules"
	@echo "make check   rustfmtcheck, CLIPPY=1, rustdoc, Sphinx docs and the series' checkpatch"
	@echo "make series  export the series as git format-patch files; checkpatch them"
	@echo "make bisect  build the test config after each patch of the series (~6 min)"
	@echo "make bench   time the Rust paths against a C reference under TCG; last line: rust/c: R"
	@echo "make clean   remove build/ except the unpacked base and ccache"

## The demo (the main job).
run:
	@$(H)/prepare.sh test
	@$(H)/boot.sh test run

## Every test. INLINE_HELPERS=n: the same, without CONFIG_RUST_INLINE_HELPERS.
TEST_CONFIG := test$(if $(filter n,$(INLINE_HELPERS)),+noinline)

test:
	@$(H)/test.sh $(TEST_CONFIG)

## Generated input (issue #24): FUZZ_SECONDS= and FUZZ_SEED= change the run.
fuzz:
	@$(H)/fuzz.sh

shell:
	@$(H)/prepare.sh test
	@$(H)/boot.sh test shell

check:
	@$(H)/check.sh

series:
	@$(H)/series.sh

bisect:
	@$(H)/bisect.sh

## Rust against C, side by side (issue #8).
bench:
	@$(H)/bench.sh

prepare:
	@$(H)/prepare.sh test

clean:
	rm -rf build/obj-* build/src build/stage build/initramfs-* build/layout-* build/*-test build/*-run build/src.ok
	rm -rf build/bench-* build/*-bench
