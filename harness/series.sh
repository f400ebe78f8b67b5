#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# series.sh: export the series as numbered git format-patch files: each
# series/NNNN.txt is one commit (its message, then after '---' the files and
# patches/*.patch it consists of) on top of the base. Checks that the patches
# apply with git am on the base and runs checkpatch --strict on each. The last
# line of output is the directory with the patches.
. "$(dirname "$0")/lib.sh"

"$TOP/harness/deps.sh"
"$TOP/harness/tree.sh" >/dev/null 2>&1 || "$TOP/harness/tree.sh"
repo=$BUILD/series-git
out=${SERIES_OUT:-$BUILD/series}
base_id=$(cat "$PRISTINE/.base-id")

# A git repository of the base, made once per base.
if [ "$(cat "$repo/.git/base-id" 2>/dev/null)" != "$base_id" ]; then
	say "making a git repository of the base (once)"
	rm -rf "$repo"
	cp -al "$PRISTINE" "$repo"
	rm "$repo/.base-id"
	git -C "$repo" init -q
	git -C "$repo" add -A -f
	git -C "$repo" -c user.name=base -c user.email=base@localhost commit -q -m "Linux $(cat "$BUILD/src.ok")"
	git -C "$repo" tag -f base >/dev/null
	echo "$base_id" >"$repo/.git/base-id"
fi
git -C "$repo" checkout -q -f base
git -C "$repo" clean -q -fdx
git -C "$repo" checkout -q -B series

for msg in "$TOP"/series/[0-9]*.txt; do
	sed -n '/^---$/,$p' "$msg" | tail -n +2 | while read -r item; do
		[ -n "$item" ] || continue
		case "$item" in
		patches/*) patch -d "$repo" -p1 -s --no-backup-if-mismatch <"$TOP/$item" >/dev/null ||
				die "$item does not apply in series step $(basename "$msg")" ;;
		*) mkdir -p "$repo/$(dirname "$item")"
		   # Break the hard link to the base before writing.
		   rm -rf "${repo:?}/$item"
		   cp -r "$TOP/$item" "$repo/$item" ;;
		esac
	done
	sed '/^---$/,$d' "$msg" >"$BUILD/series-msg"
	git -C "$repo" add -A -f
	git -C "$repo" commit -q -s -F "$BUILD/series-msg" || die "commit of $(basename "$msg") failed"
done

# Every file of the series must be in some patch: the tree must equal build/src.
diff -rq -x .git "$repo" "$SRC" >/dev/null || {
	diff -rq -x .git "$repo" "$SRC" | head >&2
	die "series/*.txt do not cover the whole series"
}

rm -rf "$out"
git -C "$repo" format-patch -q --cover-letter -o "$out" base..series
cover=$(ls "$out"/0000-*.patch)
python3 - "$cover" "$TOP/series/cover.txt" <<'PY'
import sys
path, text = sys.argv[1], open(sys.argv[2]).read().split('\n', 1)
s = open(path).read()
s = s.replace('*** SUBJECT HERE ***', text[0]).replace('*** BLURB HERE ***', text[1].strip())
open(path, 'w').write(s)
PY

# The patches, without the cover letter.
patches=()
for p in "$out"/[0-9][0-9][0-9][0-9]-*.patch; do
	[ "${p##*/}" != 0000-cover-letter.patch ] && patches+=("$p")
done

# The patches apply with git am on a pristine base.
am=$BUILD/series-am
rm -rf "$am"
git -C "$repo" worktree prune
git -C "$repo" worktree add -q --detach "$am" base
git -C "$am" am -q "${patches[@]}" || die "git am of the series onto the base failed"
git -C "$repo" worktree remove --force "$am"
say "git am: the series applies to the base"

# checkpatch --strict on every patch.
bad=0
for p in "${patches[@]}"; do
	(cd "$repo" && perl scripts/checkpatch.pl --strict --quiet --no-signoff "$p" >"$p.checkpatch" 2>&1) || true
	if grep -qE '^(ERROR|WARNING|CHECK):' "$p.checkpatch"; then
		echo "checkpatch: $(basename "$p"):" >&2
		grep -E -A4 '^(ERROR|WARNING|CHECK):' "$p.checkpatch" | head -n 30 >&2
		bad=1
	fi
	rm -f "$p.checkpatch"
done
[ $bad -eq 0 ] && say "checkpatch --strict: no errors, warnings or checks"
echo "$out"
exit $bad
