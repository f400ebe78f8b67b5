#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# check.sh: the kernel's own style gates on the prepared tree: rustfmtcheck,
# a build with CLIPPY=1, make rustdoc, the Sphinx build of Documentation/rust,
# each without a single warning, and the exported series (git am onto the
# base, checkpatch --strict). Exits non-zero if any gate finds something, and
# names it.
. "$(dirname "$0")/lib.sh"

name=test
"$TOP/harness/deps.sh" docs
"$TOP/harness/tree.sh"
"$TOP/harness/config.sh" "$name"
failed=()

# gate NAME LOG CMD...: run CMD into LOG; a failure or any warning fails NAME.
gate() {
	local gname=$1 log=$2
	shift 2
	say "check: $gname"
	if ! "$@" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		failed+=("$gname (failed; log: $log)")
	elif grep -qE '^(warning|error)(\[[A-Za-z0-9_]+\])?:|: warning:' "$log"; then
		grep -E -A8 '^(warning|error)(\[[A-Za-z0-9_]+\])?:|: warning:' "$log" | head -n 60 >&2
		failed+=("$gname (warnings; log: $log)")
	fi
}

gate rustfmtcheck "$BUILD/check-rustfmt.log" kmake "$name" rustfmtcheck
gate clippy "$BUILD/check-clippy.log" kmake "$name" CLIPPY=1 bzImage modules
gate rustdoc "$BUILD/check-rustdoc.log" kmake "$name" rustdoc

# Sphinx warns as "file:line: WARNING: ...". Two warnings are the base's own
# when only Documentation/rust is built: graphviz is not installed, and
# quick-start.rst links to a label in another directory.
sphinx_docs() {
	rm -f "$BUILD/obj-$name/Documentation/output/rust/mm.html"
	kmake "$name" SPHINXDIRS=rust SPHINXOPTS=-E htmldocs 2>&1 |
		grep -v -e 'dot(1) not found' -e "quick-start.rst:[0-9]*: WARNING: undefined label: 'getting_llvm'" |
		sed -E 's/: (WARNING|ERROR|CRITICAL|SEVERE):/: warning: \1:/'
	[ "${PIPESTATUS[0]}" -eq 0 ] && [ -s "$BUILD/obj-$name/Documentation/output/rust/mm.html" ]
}
gate docs "$BUILD/check-docs.log" sphinx_docs
gate series "$BUILD/check-series.log" "$TOP/harness/series.sh"

if [ ${#failed[@]} -ne 0 ]; then
	printf 'check failed: %s\n' "${failed[@]}" >&2
	exit 1
fi
say "check: rustfmtcheck, clippy, rustdoc, docs and series are clean"
