#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# test.sh [NAME]: build config NAME (default: test), boot it, run every test,
# report. The last line is always 'N passed, N failed'.
. "$(dirname "$0")/lib.sh"

name=${1:-test}
step() { "$@" || { echo "error: step failed: ${*#"$TOP/"}" >&2; echo "0 passed, 1 failed"; exit 1; }; }
start=$(date +%s)
step "$TOP/harness/prepare.sh" "$name"
step "$TOP/harness/boot.sh" "$name" test
# The compile-fail proofs, against the kernel crate just built and booted.
python3 "$TOP/harness/compile_fail.py" "$BUILD/obj-$name" "$TOP/tests/compile_fail" \
	>"$BUILD/$name-test/compile_fail.ktap" 2>&1 || true
# The drivers written against the public API only: they compile, with the
# number of unsafe blocks they say.
python3 "$TOP/harness/client_check.py" "$BUILD/obj-$name" "$TOP/tests/clients" \
	>"$BUILD/$name-test/clients.ktap" 2>&1 || true
# Whether the helpers were inlined (or, with the option off, are there).
python3 "$TOP/harness/inline_check.py" "$BUILD/obj-$name" >"$BUILD/$name-test/inline_helpers.ktap" 2>&1 || true
rc=0
python3 "$TOP/harness/report.py" "$SRC" "$BUILD/$name-test" >"$BUILD/$name-test/report.txt" 2>&1 || rc=$?
say "make test took $(($(date +%s) - start)) s"
cat "$BUILD/$name-test/report.txt"
exit $rc
