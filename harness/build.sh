#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build.sh NAME: build the kernel and modules of config NAME in the prepared tree.
. "$(dirname "$0")/lib.sh"

name=${1:?usage: build.sh NAME}
[ -f "$BUILD/src.ok" ] || die "$SRC is not prepared: run harness/tree.sh"
need_disk 6 "$BUILD"
obj=$BUILD/obj-$name
mkdir -p "$obj"
stamp=$BUILD/build-$name.stamp
touch "$stamp"
# Measured on 2 cores: ~400 s with an empty ccache, ~1 min for a rebuild
# after a change to one series file.
say "building $name ($(nproc) jobs; from scratch this takes about 7 minutes on 2 cores, a rebuild about 1)"
start=$(date +%s)
build() { kmake "$name" bzImage modules >"$BUILD/build-$name.log" 2>&1; }
progress "building $name" "objects_since '$stamp' '$obj'" build || {
	grep -E -B2 -A8 'error(\[E[0-9]+\])?:|Error [0-9]+' "$BUILD/build-$name.log" | head -n 60 >&2
	die "kernel build ($name) failed; full log: $BUILD/build-$name.log"
}
count_objects "$obj"
# Any warning from the build is a finding: show it.
grep -E '^(warning|.*: warning):' "$BUILD/build-$name.log" >&2 || true
say "built $name in $(($(date +%s) - start)) s ($(cat "$obj/.rmm-objects") objects)"
