#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# bisect.sh: check that the series is bisectable: build the test config
# (kernel, modules and the KUnit doctests) after each patch of the exported
# series. It reuses the test build directory, so each step rebuilds little
# more than the Rust crates; at the end the tree is the whole series again.
# The last line is 'bisect: N of N steps build'.
. "$(dirname "$0")/lib.sh"

name=test
"$TOP/harness/series.sh" >/dev/null 2>&1 || true
repo=$BUILD/series-git
git -C "$repo" rev-parse -q --verify series >/dev/null || die "no exported series: run make series"
obj=$BUILD/obj-$name
frags=$obj/bisect.config
cat "$TOP/configs/base.config" "$TOP/configs/$name.config" >"$frags"

restore() {
	git -C "$repo" checkout -q -f series
	# The next configuration of $name starts from scratch.
	rm -f "$obj/fragments.config"
	"$TOP/harness/tree.sh" >/dev/null 2>&1
}
trap restore EXIT

mapfile -t commits < <(git -C "$repo" rev-list --reverse base..series)
ok=0 i=0
for c in "${commits[@]}"; do
	i=$((i + 1))
	subject=$(git -C "$repo" log -1 --format=%s "$c")
	git -C "$repo" checkout -q -f "$c"
	rm -f "$BUILD/src.ok"
	rsync -rl --checksum --delete --exclude=/.git "$repo/" "$SRC/"
	echo "bisect" >"$BUILD/src.ok"
	start=$(date +%s)
	# Options of later patches (SAMPLE_RUST_MM) do not exist yet: unchecked.
	if kmake "$name" KCONFIG_ALLCONFIG="$frags" allnoconfig >"$BUILD/bisect-$i.log" 2>&1 &&
		kmake "$name" bzImage modules >>"$BUILD/bisect-$i.log" 2>&1; then
		ok=$((ok + 1))
		say "step $i/${#commits[@]} builds ($(($(date +%s) - start)) s): $subject"
	else
		grep -E -B2 -A8 'error(\[E[0-9]+\])?:|Error [0-9]+' "$BUILD/bisect-$i.log" | head -n 30 >&2
		say "step $i/${#commits[@]} does NOT build: $subject (log: $BUILD/bisect-$i.log)"
	fi
done
echo "bisect: $ok of ${#commits[@]} steps build"
[ "$ok" -eq "${#commits[@]}" ]
