#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prepare $SRC as exactly the base kernel plus the series: the series' files
# copied to their in-tree paths, then patches/*.patch applied. Files whose
# content did not change keep their mtimes, so rebuilds stay incremental.
. "$(dirname "$0")/lib.sh"

# The series' own files: every file below these top-level kernel directories.
SERIES_DIRS=(Documentation include rust samples tools)

need_disk 4 "$BUILD"

base_id=$(stat -c '%n %s %Y' "$BASE_TARBALL")
if [ "$(cat "$PRISTINE/.base-id" 2>/dev/null)" != "$base_id" ]; then
	say "unpacking $BASE_TARBALL"
	rm -rf "$PRISTINE" "$PRISTINE.tmp"
	mkdir -p "$PRISTINE.tmp"
	tar -xJf "$BASE_TARBALL" -C "$PRISTINE.tmp" --strip-components=1 ||
		die "unpacking $BASE_TARBALL failed"
	echo "$base_id" >"$PRISTINE.tmp/.base-id"
	mv "$PRISTINE.tmp" "$PRISTINE"
fi
version=$(make -s -C "$PRISTINE" kernelversion)
say "base: Linux $version from $BASE_TARBALL"

# Assemble the next tree from hard links to the base, replacing (never
# writing through) every file the series touches.
rm -rf "$STAGE"
cp -al "$PRISTINE" "$STAGE"
rm "$STAGE/.base-id"
cd "$TOP"
while IFS= read -r -d '' f; do
	mkdir -p "$STAGE/$(dirname "$f")"
	rm -f "$STAGE/$f"
	cp "$f" "$STAGE/$f"
done < <(find "${SERIES_DIRS[@]}" -type f -print0 2>/dev/null)
for p in patches/*.patch; do
	[ -e "$p" ] || continue
	# GNU patch writes a new file and renames it, so the base stays intact.
	patch -d "$STAGE" -p1 -s -N --no-backup-if-mismatch -r - <"$p" >/dev/null ||
		die "$p does not apply to Linux $version"
done

# Only files whose content differs are written, so make sees only real changes;
# files that are no longer in the series disappear.
rm -f "$BUILD/src.ok"
mkdir -p "$SRC"
rsync -rl --checksum --delete "$STAGE/" "$SRC/" || die "syncing $SRC failed"
rm -rf "$STAGE"
echo "$version" >"$BUILD/src.ok"
