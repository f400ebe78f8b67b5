#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# fuzz.sh: make fuzz. Boots the test kernel (KASAN, lockdep, DEBUG_VM,
# PREEMPT, 2 CPUs, the sample loaded) and runs, for FUZZ_SECONDS (default
# 600) with FUZZ_SEED (default 1): the contract fuzzer of the sample
# (tools/testing/selftests/rust_mm/rust_mm_contract.c) for the first half,
# trinity on the mm syscalls, with /dev/rust-mm-sample among its victim
# files, for the second; then unloads the sample (harness/init.sh, mode
# fuzz). The last line is "fuzz: N syscalls, M sequences, K splats, V
# violations" (harness/fuzz_report.py).
. "$(dirname "$0")/lib.sh"

seconds=${FUZZ_SECONDS:-600}
seed=${FUZZ_SEED:-1}
# trinity takes a 32-bit seed; the contract fuzzer takes any.
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 20 ] || die "FUZZ_SECONDS=$seconds: need a number of seconds, at least 20"
[[ "$seed" =~ ^[0-9]+$ ]] && [ "$seed" -lt 4294967296 ] || die "FUZZ_SEED=$seed: need a decimal number below 2^32"

start=$(date +%s)
"$TOP/harness/prepare.sh" test
say "fuzzing for $seconds s with seed $seed"
rc=0
# The boot takes about 10 s, trinity waits 10 s before it starts, and the
# shutdown needs a few: the VM runs about 40 s more than FUZZ_SECONDS.
BOOT_APPEND="rmm_fuzz_seconds=$seconds rmm_fuzz_seed=$seed" BOOT_EXPECT="$((seconds + 40)) s" \
	BOOT_TIMEOUT=$((seconds + 900)) "$TOP/harness/boot.sh" test fuzz || rc=$?
[ $rc -eq 0 ] || die "booting the test kernel failed"
out=$BUILD/test-fuzz
say "make fuzz took $(($(date +%s) - start)) s; console log: $out/console.log, output: $out/fuzz.log"
python3 "$TOP/harness/fuzz_report.py" "$out" "$seed" "$seconds"
