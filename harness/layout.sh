#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# layout.sh NAME: the kernel generates its bindings with --no-layout-tests.
# Regenerate them exactly as it did, but with bindgen's layout tests, run those
# tests, and fail, naming the struct, if a struct the series relies on does not
# match C. Runs once per change of the generated bindings.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: layout.sh NAME}
obj=$BUILD/obj-$name
cmdfile=$obj/rust/bindings/.bindings_generated.rs.cmd
gen=$obj/rust/bindings/bindings_generated.rs
out=$BUILD/layout-$name
[ -f "$cmdfile" ] || die "no $cmdfile: build $name first"
stamp=$(sha256sum "$gen" "$cmdfile" | sha256sum | cut -c1-16)
[ "$(cat "$out/passed" 2>/dev/null)" = "$stamp" ] && { say "layout check: unchanged, passed before"; exit 0; }
rm -rf "$out"
mkdir -p "$out"

# The structs to check: those the harness was asked to guard, and every
# bindings:: name the series' Rust code uses (only structs have layout tests).
watch=$( (printf '%s\n' task_struct mm_struct vm_area_struct page file
	  cd "$TOP" && { grep -rhoE 'bindings::[a-z_][a-z0-9_]*' rust samples 2>/dev/null || true; } | sed 's/bindings:://') |
	sort -u)

# The kernel's own bindgen command, with layout tests and another output.
cmd=$(sed -n 's/^savedcmd_[^ ]* := //p' "$cmdfile")
cmd=${cmd/ --no-layout-tests / }
cmd=${cmd/ -o rust\/bindings\/bindings_generated.rs / -o $out/layout.rs }
cmd=$(sed -E 's/ -Wp,-MMD,[^ ]+//' <<<"$cmd")
(cd "$obj" && eval "$cmd") >"$out/bindgen.log" 2>&1 || { cat "$out/bindgen.log" >&2; die "bindgen with layout tests failed"; }

cat >"$out/layout_test.rs" <<'RS'
#![allow(non_camel_case_types, non_upper_case_globals, non_snake_case, dead_code)]
#![allow(improper_ctypes, deref_nullptr, unnecessary_transmutes, unknown_lints)]
// The kernel's `ffi` crate maps C types to Rust types of the same size.
mod ffi {
    pub use core::ffi::*;
}
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;
include!("layout.rs");
RS
/usr/bin/rustc --edition 2021 --test -C opt-level=0 -A warnings -o "$out/layout_test" "$out/layout_test.rs" \
	>"$out/rustc.log" 2>&1 || { head -n 40 "$out/rustc.log" >&2; die "layout tests did not compile"; }
"$out/layout_test" -q --test-threads="$(nproc)" >"$out/run.log" 2>&1 || true
summary=$(grep -E '^test result:' "$out/run.log" || true)
[ -n "$summary" ] || { tail -n 20 "$out/run.log" >&2; die "layout tests did not run"; }
failed=$(sed -nE 's/^    bindgen_test_layout_(.*)$/\1/p' "$out/run.log" | sort -u)
bad=$(comm -12 <(echo "$watch") <(echo "$failed"))
npass=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary")
if [ -n "$bad" ]; then
	for s in $bad; do
		echo "error: struct $s: Rust's layout differs from C's:" >&2
		grep -A3 "'bindgen_test_layout_$s' .*panicked" "$out/run.log" | grep -E 'Offset|Size|Align|left:|right:' >&2 || true
	done
	die "bindings disagree with C for: $(echo $bad) (is bindgen $BINDGEN_VERSION in use?); details: $out/run.log"
fi
say "layout check passed: $npass layout tests agree with C, among them every struct the series uses"
[ -z "$failed" ] || say "layout check: these differ, and the series does not use them (known bindgen limits): $(echo $failed)"
echo "$stamp" >"$out/passed"
