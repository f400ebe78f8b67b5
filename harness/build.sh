#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build.sh NAME: build the kernel and modules of config NAME in the prepared tree.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: build.sh NAME}
[ -f "$BUILD/src.ok" ] || die "$SRC is not prepared: run harness/tree.sh"
need_disk 6 "$BUILD"
say "building $name ($(nproc) jobs; a cold build takes about 15 minutes on 2 cores)"
start=$(date +%s)
kmake "$name" bzImage modules >"$BUILD/build-$name.log" 2>&1 || {
	grep -E -B2 -A8 'error(\[E[0-9]+\])?:|Error [0-9]+' "$BUILD/build-$name.log" | head -n 60 >&2
	die "kernel build ($name) failed; full log: $BUILD/build-$name.log"
}
# Any warning from the build is a finding: show it.
grep -E '^(warning|.*: warning):' "$BUILD/build-$name.log" >&2 || true
say "built $name in $(($(date +%s) - start)) s"
