# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers for the harness scripts. Sourced, never run.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything the harness generates lives below $BUILD (git ignores it).
BUILD=${BUILD:-$TOP/build}
BASE_TARBALL=${BASE_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
SRC=$BUILD/src          # base + series, exactly
STAGE=$BUILD/stage      # where the next $SRC is assembled
PRISTINE=$BUILD/base    # the unpacked base, never modified
TOOLS=$BUILD/tools

BINDGEN_VERSION=0.72.1
BINDGEN_ROOT=${BINDGEN_ROOT:-/opt/rust-mm/bindgen-$BINDGEN_VERSION}
BINDGEN_BIN=$BINDGEN_ROOT/bin/bindgen

# Debian's rustc-web toolchain, named explicitly so that rustup's toolchain
# (first on PATH, without rust-src) is never picked up, and Debian's LLVM 22
# (clang-22, ld.lld-22, llvm-*-22) for C: the LLVM that /usr/bin/rustc links,
# which inlining the C helpers into Rust (CONFIG_RUST_INLINE_HELPERS) needs.
# bindgen loads the libclang of the same release.
LLVM_VERSION=22
export LLVM_BIN=/usr/lib/llvm-$LLVM_VERSION/bin
export LIBCLANG_PATH=/usr/lib/llvm-$LLVM_VERSION/lib
KMAKE_VARS=(
	ARCH=x86_64 LLVM=-$LLVM_VERSION
	RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver
	BINDGEN="$BINDGEN_BIN" RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
)
# ccache makes cold builds of a fresh clone fast when an earlier clone built
# the same files; paths below $BUILD are hashed relative to it.
if command -v ccache >/dev/null; then
	KMAKE_VARS+=(CC="ccache clang-$LLVM_VERSION")
	export CCACHE_BASEDIR=$BUILD CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
fi

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# One harness run at a time per machine: kernel builds take every core, and
# runs share build directories. The first script takes the lock; the scripts
# it starts inherit it.
if [ -z "${RMM_LOCKED:-}" ] && command -v flock >/dev/null; then
	exec 9>>"${RMM_LOCK:-/tmp/rust-mm-harness.lock}"
	if ! flock -n 9; then
		say "waiting for another harness run to finish"
		flock 9
	fi
	export RMM_LOCKED=1
fi

# kmake CONFIG_NAME ARGS...: make in the prepared tree, building into $BUILD/obj-CONFIG_NAME.
kmake() {
	local cfg=$1
	shift
	make -s -C "$SRC" O="$BUILD/obj-$cfg" "${KMAKE_VARS[@]}" -j"$(nproc)" "$@"
}

# progress LABEL STATUS CMD...: run CMD; while it runs, print one line a
# minute with LABEL, the minutes elapsed and the output of the shell command
# STATUS (e.g. what has been built so far; a STATUS that fails skips the
# line). Returns CMD's exit status. Fits a terminal and a CI log alike: no
# carriage returns. CMD's own output is CMD's business: redirect it inside.
progress() {
	local label=$1 status=$2 pid rc=0 t0=$SECONDS next=60 what
	shift 2
	"$@" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 2
		if [ $((SECONDS - t0)) -ge $next ]; then
			# A STATUS that fails asks for no line this time.
			if what=$(eval "$status" 2>/dev/null); then
				say "$label: $((next / 60)) min${what:+, $what}"
			fi
			next=$((next + 60))
		fi
	done
	wait "$pid" || rc=$?
	return $rc
}

# objects_since STAMP DIR: how many object files below DIR are newer than
# STAMP, and how many a whole build makes if an earlier build of DIR counted
# them (count_objects).
objects_since() {
	local n total
	n=$(find "$2" -name '*.o' -newer "$1" 2>/dev/null | wc -l)
	total=$(cat "$2/.rmm-objects" 2>/dev/null || true)
	echo "$n objects built${total:+ of about $total in a cold build}"
}

count_objects() { find "$1" -name '*.o' | wc -l >"$1/.rmm-objects"; }

# Fail early, with the fix, when the disk cannot hold a build.
need_disk() {
	local need_gb=$1 dir=$2 avail
	mkdir -p "$dir"
	avail=$(df -Pk "$dir" | awk 'NR == 2 { print int($4 / 1048576) }')
	[ "$avail" -ge "$need_gb" ] ||
		die "only ${avail} GiB free under $dir, need ${need_gb} GiB: free some space or set BUILD=/a/larger/disk"
}
