#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bench.sh: make bench. Builds the bench config (configs/bench.config: the test
# kernel without its debug checks, the sample off) twice, with the series'
# CONFIG_RUST_INLINE_HELPERS on (bench) and off (bench+noinline), then,
# against each, the benchmark modules of bench/ and the sample as external
# modules, and the base kernel with the same config. Prints the .text the
# series adds to vmlinux and the glue the Rust paths call, then boots the
# kernel with inlining under plain TCG for wall time, and both kernels under
# -icount for instruction counts, and prints the two instruction tables side
# by side. The last line is "rust/c: R", from the run with inlining.
. "$(dirname "$0")/lib.sh"

name=bench
off=bench+noinline
h=$TOP/harness
obj=$BUILD/obj-$name
start=$(date +%s)

"$h/deps.sh"
"$h/tree.sh"

# prepare_variant NAME: the kernel of config NAME, the benchmark modules
# built against it, and its initramfs.
prepare_variant() {
	local v=$1 mods=$BUILD/bench-modules-$1 extra=$BUILD/initramfs-extra-$1
	"$h/config.sh" "$v"
	"$h/build.sh" "$v"
	# The modules: bench/ and the sample, copied together so that kbuild's
	# output stays below $BUILD. Only changed files are written, so
	# rebuilds are quick.
	mkdir -p "$mods"
	rsync -r --checksum "$TOP"/bench/{Kbuild,*.h,c_mm_*.c,rust_mm_bench.rs} \
		"$SRC/samples/rust/rust_mm_sample.rs" "$mods/" || die "copying the benchmark modules failed"
	# The C modules call the kernel crate's MmWithUser::lock_vma_under_rcu
	# (see bench/c_mm_common.h), by its mangled name.
	local lvu
	lvu=$("$LLVM_BIN/llvm-nm" --defined-only "$BUILD/obj-$v/vmlinux" |
		awk '$2 == "T" && $3 ~ /^_R.*MmWithUser.*lock_vma_under_rcu/ { print $3 }')
	[ "$(wc -w <<<"$lvu")" -eq 1 ] || die "no single MmWithUser::lock_vma_under_rcu in $v's vmlinux: $lvu"
	say "building the benchmark modules ($v)"
	kmake "$v" M="$mods" CMB_RUST_LOCK_VMA_UNDER_RCU="$lvu" modules >"$BUILD/build-$v-modules.log" 2>&1 || {
		grep -E -B2 -A8 'error(\[E[0-9]+\])?:|Error [0-9]+' "$BUILD/build-$v-modules.log" | head -n 60 >&2
		die "building the benchmark modules failed; full log: $BUILD/build-$v-modules.log"
	}
	grep -E '^(warning|.*: warning):' "$BUILD/build-$v-modules.log" >&2 || true
	# The initramfs: the modules and the benchmark program on top of the usual.
	rm -rf "$extra"
	mkdir -p "$extra/bin" "$extra/lib/modules"
	cp "$mods"/*.ko "$extra/lib/modules/"
	gcc -static -O2 -Wall -Werror -I"$TOP/bench" -I"$SRC/samples/rust" -o "$extra/bin/mm_bench" \
		"$TOP/bench/mm_bench.c" -lpthread || die "building bench/mm_bench.c failed"
	"$h/initramfs.sh" "$v"
}
prepare_variant "$name"
prepare_variant "$off"

# The base with the same configuration, for the code size. Its tree and
# objects sit at the same relative paths as $SRC and $obj, so that ccache
# finds the C files the two builds share.
bbase=$BUILD/bench-base
bsrc=$bbase/src
bobj=$bbase/obj-$name
if [ "$(cat "$bsrc/.base-id" 2>/dev/null)" != "$(cat "$PRISTINE/.base-id")" ]; then
	rm -rf "$bbase"
	mkdir -p "$bbase"
	cp -al "$PRISTINE" "$bsrc"
fi
bmake() { make -s -C "$bsrc" O="$bobj" "${KMAKE_VARS[@]}" -j"$(nproc)" "$@"; }
mkdir -p "$bobj"
cat "$TOP/configs/base.config" "$TOP/configs/$name.config" >"$bobj/fragments.config.new"
if cmp -s "$bobj/fragments.config.new" "$bobj/fragments.config" && [ -f "$bobj/.config" ]; then
	rm "$bobj/fragments.config.new"
else
	say "configuring the base with the $name config"
	rm -f "$bobj/fragments.config"
	bmake KCONFIG_ALLCONFIG="$bobj/fragments.config.new" allnoconfig >/dev/null ||
		die "allnoconfig of the base failed"
	mv "$bobj/fragments.config.new" "$bobj/fragments.config"
fi
# The same options, but for the sample's and the helper inlining's, which
# only the series has.
cfg() { grep -v -e '^#' -e '^$' -e SAMPLE_RUST_MM -e RUST_INLINE_HELPERS -e RUSTC_CLANG_LLVM_COMPATIBLE "$1"; }
diff <(cfg "$obj/.config") <(cfg "$bobj/.config") >"$bbase/config.diff" ||
	die "the base and the series configure differently: $bbase/config.diff"
say "building the base with the $name config (for the code size; about 6 minutes from scratch)"
bstart=$(date +%s)
touch "$bbase/build.stamp"
build_base() { bmake vmlinux >"$BUILD/build-$name-base.log" 2>&1; }
progress "building the base" "objects_since '$bbase/build.stamp' '$bobj'" build_base || {
	tail -n 30 "$BUILD/build-$name-base.log" >&2
	die "building the base failed; full log: $BUILD/build-$name-base.log"
}
count_objects "$bobj"
say "built the base in $(($(date +%s) - bstart)) s"

report=$BUILD/$name-report.txt
{
	echo "== with CONFIG_RUST_INLINE_HELPERS"
	python3 "$TOP/bench/analyze.py" size "$bobj/vmlinux" "$obj/vmlinux"
	python3 "$TOP/bench/analyze.py" insns "$obj/vmlinux" "$BUILD/bench-modules-$name"
	echo "== without CONFIG_RUST_INLINE_HELPERS"
	python3 "$TOP/bench/analyze.py" size "$bobj/vmlinux" "$BUILD/obj-$off/vmlinux"
	python3 "$TOP/bench/analyze.py" insns "$BUILD/obj-$off/vmlinux" "$BUILD/bench-modules-$off"
} >"$report" || die "analyzing the binaries failed"

# The runs. Boot parameters in BOOT_APPEND such as mm_bench_rounds=N or
# mm_bench_scale=P (see bench/mm_bench.c) change the rounds and iterations.
# boot_bench NAME DIR: boot config NAME, run mm_bench, check the run, keep
# its output in DIR.
boot_bench() {
	local v=$1 dir=$2 out=$BUILD/$1-bench
	BOOT_TIMEOUT=${BOOT_TIMEOUT:-900} "$h/boot.sh" "$v" bench
	[ "$(cat "$out/status")" = ok ] || die "the VM failed: $(cat "$out/status"); console: $out/console.log"
	if grep -E -m 5 'BUG:|WARNING:|Oops|Call Trace:|RCU stall|rcu_.*detected stall' "$out/console.log" >&2; then
		die "kernel splat during the benchmark; console: $out/console.log"
	fi
	grep -q 'mm_bench exited with status 0' "$out/console.log" || {
		grep -E 'mm_bench' "$out/console.log" | tail -n 5 >&2
		die "mm_bench failed; console: $out/console.log"
	}
	tr -d '\r' <"$out/bench.txt" >"$out/table.txt"
	rm -rf "$dir"
	mv "$out" "$dir"
}
# Wall time, on two vCPUs that run in parallel: (a) to (d), with inlining.
boot_bench "$name" "$BUILD/$name-time"
# Instructions: under -icount shift=0, one instruction advances the guest's
# clock by 1 ns, so ktime counts the instructions each side executes, free of
# the host's noise and of TCG's own costs. (a) to (c), (e); the "rust/c:" line.
icount() {
	BOOT_QEMU="-icount shift=0,sleep=off" BOOT_APPEND="mm_bench_icount=1 mm_bench_rounds=5 ${BOOT_APPEND:-}" \
		boot_bench "$1" "$BUILD/$1-icount"
	tail -n 1 "$BUILD/$1-icount/table.txt" | grep -qE '^rust/c: [0-9.]+$' ||
		die "mm_bench printed no rust/c line: $BUILD/$1-icount/table.txt"
}
icount "$off"
icount "$name"
say "make bench took $(($(date +%s) - start)) s; consoles: $BUILD/{$name-time,$name-icount,$off-icount}/console.log"
cat "$report" "$BUILD/$name-time/table.txt"
python3 "$TOP/bench/analyze.py" sides "$BUILD/$off-icount/table.txt" "$BUILD/$name-icount/table.txt"
