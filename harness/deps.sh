#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# deps.sh [docs]: install what the harness needs (with docs: also what the
# Sphinx build of make check needs), only what is missing. Quick when all is
# present.
. "$(dirname "$0")/lib.sh"

DEBS=(linux-source-6.12 rustc-web rust-web-src rust-web-clippy rustfmt-web cargo-web
      clang-$LLVM_VERSION lld-$LLVM_VERSION llvm-$LLVM_VERSION libclang-$LLVM_VERSION-dev qemu-system-x86 busybox-static flex bison bc
      libelf-dev libssl-dev cpio python3 gcc libc6-dev make rsync ccache trinity)
[ "${1:-}" != docs ] || DEBS+=(python3-sphinx python3-sphinx-rtd-theme)

missing=()
for p in "${DEBS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ] || [ ! -x "$BINDGEN_BIN" ]; then
	[ "$(id -u)" -eq 0 ] || die "missing ${missing[*]:-bindgen-cli $BINDGEN_VERSION}: run as root (or install them yourself)"
fi

if [ ${#missing[@]} -gt 0 ]; then
	say "installing from Debian: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || die "apt-get update failed: check the network and /etc/apt/sources.list"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed (is bookworm-updates or bookworm-security enabled? rustc-web comes from there)"
fi

if [ ! -x "$BINDGEN_BIN" ]; then
	# 0.72.1, not 0.73.x: 0.73.2 drops the padding before
	# task_struct.sched_statistics when SCHEDSTATS is off (rust-bindgen #3406).
	say "installing bindgen-cli $BINDGEN_VERSION from crates.io into $BINDGEN_ROOT"
	/usr/bin/cargo install -q --locked --root "$BINDGEN_ROOT" bindgen-cli --version "=$BINDGEN_VERSION" ||
		die "cargo install bindgen-cli $BINDGEN_VERSION failed"
fi

v=$("$BINDGEN_BIN" --version | awk '{print $2}')
[ "$v" = "$BINDGEN_VERSION" ] || die "$BINDGEN_BIN is $v, need $BINDGEN_VERSION: remove $BINDGEN_ROOT and rerun"
v=$(/usr/bin/rustc --version | awk '{print $2}')
case "$v" in 1.9[6-9].*) ;; *) die "/usr/bin/rustc is $v, need rustc-web 1.96: apt-get install rustc-web";; esac
[ -r "$BASE_TARBALL" ] || die "$BASE_TARBALL missing: apt-get install linux-source-6.12"
# Inlining the C helpers into Rust links clang's bitcode into rustc's: both
# must come from the same LLVM release.
rv=$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: //p')
cv=$("$LLVM_BIN/clang" -dumpversion)
[ "${rv%%.*}" = "${cv%%.*}" ] || die "/usr/bin/rustc uses LLVM $rv but clang-$LLVM_VERSION is $cv: they must be the same release"
