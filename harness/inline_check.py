#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""inline_check.py OBJ: whether CONFIG_RUST_INLINE_HELPERS did its work in
the build below OBJ, as KTAP on stdout.

With the option on, no C helper may be left as a function, in vmlinux or in
a module, but for those whose address Rust takes (kernel::alloc passes
krealloc, kvrealloc and vrealloc as function pointers): every other call
was inlined. With it off, the helpers are functions of vmlinux, exported.
"""
import glob
import os
import subprocess
import sys

import ktap

NM = os.path.join(os.environ.get("LLVM_BIN", "/usr/lib/llvm-22/bin"), "llvm-nm")
ADDRESS_TAKEN = {"rust_helper_krealloc", "rust_helper_kvrealloc", "rust_helper_vrealloc"}


def helpers(path):
    out = subprocess.run([NM, path], check=True, capture_output=True, text=True).stdout
    return {f[-1] for f in (line.split() for line in out.splitlines())
            if f and f[-1].startswith("rust_helper_")}


def main():
    obj = sys.argv[1]
    on = "CONFIG_RUST_INLINE_HELPERS=y\n" in open(os.path.join(obj, ".config")).readlines()
    cases = []
    if on:
        left = helpers(os.path.join(obj, "vmlinux")) - ADDRESS_TAKEN
        cases.append(("vmlinux_calls_no_helper", sorted(left)))
        for ko in sorted(glob.glob(os.path.join(obj, "**", "*.ko"), recursive=True)):
            left = helpers(ko) - ADDRESS_TAKEN
            cases.append((os.path.basename(ko)[:-3] + "_calls_no_helper", sorted(left)))
    else:
        got = helpers(os.path.join(obj, "vmlinux"))
        want = {"rust_helper_mmget_not_zero", "rust_helper_mmap_read_lock", "rust_helper_vma_lookup"}
        cases.append(("vmlinux_has_the_helpers", sorted(want - got)))
    lines = []
    for i, (name, wrong) in enumerate(cases, 1):
        if wrong:
            lines.append("# %s: %s: %s" % (name, "left as functions" if on else "missing",
                                           " ".join(wrong)))
        lines.append("%s %d %s" % ("not ok" if wrong else "ok", i, name))
    ktap.print_suite("inline_helpers", lines)


if __name__ == "__main__":
    main()
