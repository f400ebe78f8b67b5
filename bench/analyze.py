#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Code size and instruction counts for make bench, from the built binaries.

analyze.py size BASE_VMLINUX SERIES_VMLINUX
    The .text that the series adds to vmlinux, by symbol.

analyze.py insns VMLINUX MODULE_DIR
    For each benchmarked operation: the Rust helpers and kernel-crate
    functions in vmlinux that the Rust side reaches and the C side does not
    (the glue around C code that C has inline), with their instructions (a
    static count, from llvm-objdump).

analyze.py sides OFF_TABLE ON_TABLE
    Two mm_bench instruction tables side by side: the kernel built without
    and with CONFIG_RUST_INLINE_HELPERS.
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

# The LLVM the kernel is built with (harness/lib.sh exports LLVM_BIN).
LLVM_BIN = os.environ.get("LLVM_BIN", "/usr/lib/llvm-22/bin")
OBJDUMP = os.path.join(LLVM_BIN, "llvm-objdump")
NM = os.path.join(LLVM_BIN, "llvm-nm")
CXXFILT = os.path.join(LLVM_BIN, "llvm-cxxfilt")


def run(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def demangle(names):
    names = list(names)
    if not names:
        return {}
    out = subprocess.run([CXXFILT], input="\n".join(names) + "\n",
                         check=True, capture_output=True, text=True).stdout
    return dict(zip(names, out.splitlines()))


def short(name):
    """A demangled Rust name without the crate hashes and generic noise."""
    name = re.sub(r"\[[0-9a-f]+\]", "", name)
    return name.replace("kernel::", "").replace("rust_mm_sample::", "") \
               .replace("rust_mm_bench::", "")


# --- code size ---------------------------------------------------------------

def text_symbols(vmlinux):
    syms = defaultdict(list)
    for line in run(NM, "--defined-only", "--print-size", "-t", "d",
                    vmlinux).splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            syms[f[3]].append(int(f[1]))
    return syms


def aligned(n, align=16):
    """What a function of n bytes takes in .text (CONFIG_FUNCTION_ALIGNMENT)."""
    return (n + align - 1) // align * align


def size(base, series):
    sb, ss = text_symbols(base), text_symbols(series)
    added = {n: v for n, v in ss.items() if n not in sb}
    removed = {n: v for n, v in sb.items() if n not in ss}
    changed = {n: (sb[n], ss[n]) for n in ss
               if n in sb and sorted(ss[n]) != sorted(sb[n])}
    names = demangle(n for n in list(added) + list(changed) + list(removed)
                     if n.startswith("_R"))
    helpers = {n: sum(v) for n, v in added.items() if n.startswith("rust_helper_")}
    rust = {n: sum(v) for n, v in added.items() if n.startswith("_R")}
    other = {n: sum(v) for n, v in added.items()
             if n not in helpers and n not in rust}
    code = (sum(sum(v) for v in added.values())
            - sum(sum(v) for v in removed.values())
            + sum(sum(new) - sum(old) for old, new in changed.values()))
    room = (sum(aligned(x) for v in added.values() for x in v)
            - sum(aligned(x) for v in removed.values() for x in v)
            + sum(sum(map(aligned, new)) - sum(map(aligned, old))
                  for old, new in changed.values()))

    def total(d):
        return f"{sum(d.values())} bytes ({sum(map(aligned, d.values()))} aligned)"

    print("code size: the functions the series adds to vmlinux's .text, bench config "
          "(sample off), against the base built with the same config")
    print(f"  added: {code:+d} bytes of code, {room:+d} bytes with the 16-byte "
          f"function alignment; the base has {sum(sum(v) for v in sb.values())} bytes")
    print(f"  exported C helpers (rust/helpers/mm.c): {len(helpers)} functions, "
          f"{total(helpers)}: "
          + ", ".join(f"{n[len('rust_helper_'):]} {s}"
                      for n, s in sorted(helpers.items())))
    print(f"  Rust functions (kernel crate, exported): {len(rust)}, {total(rust)}"
          + "".join(f"\n    {s:5d}  {short(names.get(n, n))}"
                    for n, s in sorted(rust.items(), key=lambda x: -x[1])))
    if other:
        print(f"  other new functions: {len(other)}, {total(other)}: "
              + ", ".join(f"{n} {s}" for n, s in sorted(other.items())))
    if removed:
        print("  functions gone: " + ", ".join(
            f"{short(names.get(n, n))} {sum(v)}" for n, v in sorted(removed.items())))
    if changed:
        print("  functions whose size changed: " + ", ".join(
            f"{short(names.get(n, n))} {sum(new) - sum(old):+d}"
            for n, (old, new) in sorted(changed.items())))
    verdict = "met" if not rust and not other and not changed else "missed"
    print("  goal, no code for the abstractions apart from the exported helpers: "
          f"{verdict} ({sum(rust.values())} bytes of Rust functions)")


# --- instruction counts ------------------------------------------------------

FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)(.*)$")
RELOC = re.compile(r"^\s+[0-9a-f]+:\s+R_X86_64_\w+\s+(\S+?)(?:[-+]0x[0-9a-f]+)?$")
TARGET = re.compile(r"<([^>+]+)(?:\+0x[0-9a-f]+)?>")


def disassemble(path, symbols=None):
    """{function: [instruction count, [called symbols]]} of path.

    A call or jump names its target in a relocation that follows it (in a
    module), or between angle brackets (in vmlinux, and for local functions of
    a module); a jump inside the function is a branch, not a call.
    """
    cmd = [OBJDUMP, "-d", "-r", "--no-show-raw-insn", path]
    if symbols is not None:
        cmd.insert(1, "--disassemble-symbols=" + ",".join(sorted(symbols)))
    funcs = {}
    name, cur, last = None, None, None

    def flush():
        if last is not None and last[1] and last[1] != name:
            cur[1].append(last[1])

    for line in run(*cmd).splitlines():
        m = FUNC.match(line)
        if m:
            if cur is not None:
                flush()
            name = m.group(1)
            cur, last = funcs.setdefault(name, [0, []]), None
            continue
        if cur is None:
            continue
        m = RELOC.match(line)
        if m:
            if last is not None:
                last[1] = m.group(1)
            continue
        m = INSN.match(line)
        if not m:
            continue
        flush()
        mnem, rest = m.group(2), m.group(3)
        if mnem.startswith("nop") or mnem == "int3":
            last = None
            continue  # padding between functions
        cur[0] += 1
        last = None
        if mnem.startswith(("call", "jmp")):
            t = TARGET.search(rest)
            last = [mnem, t.group(1) if t else None]
    if cur is not None:
        flush()
    return funcs


def closure(funcs, entry):
    """The module functions reachable from entry, and the external callees."""
    seen, todo, external = set(), [entry], defaultdict(int)
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for c in funcs[f][1]:
            if c in funcs:
                todo.append(c)
            elif not c.startswith(".") and c != f:
                external[c] += 1
    return seen, external


def is_glue(name, dm):
    """Whether name is a Rust helper or a kernel-crate function (not a panic)."""
    if name.startswith("rust_helper_"):
        return True
    d = dm.get(name, "")
    return name.startswith("_R") and "kernel::" in d and "panic" not in d


def glue(vmlinux, callees, cache):
    """The Rust helpers and kernel-crate functions reachable from callees in
    vmlinux, and their instructions."""
    seen, total, todo = set(), 0, list(callees)
    while todo:
        dm = demangle(n for n in todo if n.startswith("_R"))
        todo = [c for c in todo if c not in seen and is_glue(c, dm)]
        need = [c for c in todo if c not in cache]
        if need:
            cache.update(disassemble(vmlinux, need))
        nxt = []
        for c in todo:
            if c in seen or c not in cache:
                continue
            seen.add(c)
            total += cache[c][0]
            nxt += cache[c][1]
        todo = nxt
    return seen, total


# (label, Rust module, its entry, C module, its entry, C functions to leave out)
OPS = [
    ("(a) lookup, mmap lock", "rust_mm_bench", "BenchFile>::lookup",
     "c_mm_bench", "cmb_lookup", ()),
    ("(b) lookup, per-VMA lock", "rust_mm_bench", "BenchFile>::vma_lock",
     "c_mm_bench", "cmb_vma_lock", ()),
    ("(c) the sample's ioctls", "rust_mm_sample", "fops_ioctl",
     "c_mm_sample", "cms_ioctl", ("cms_write_raw",)),
    ("    insert+zap in the kernel", "rust_mm_bench", "BenchFile>::insert_zap_vma",
     "c_mm_bench", "cmb_insert_zap_vma", ()),
    ("(e) the sample's fault handler", "rust_mm_sample", "ops::vm_fault",
     "c_mm_sample", "cms_vm_fault", ()),
]

_DM = {}


def dm_all(name):
    """name, demangled (cached)."""
    if name.startswith("_R") and name not in _DM:
        _DM.update(demangle([name]))
    return _DM.get(name, name)


def insns(vmlinux, moddir):
    mods, cache = {}, {}
    print("glue: the functions in vmlinux that the Rust side calls where C has the code "
          "inline, from llvm-objdump (static instructions of each; the icount table "
          "below counts what runs)")
    for label, rmod, rfn, cmod, cfn, skip in OPS:
        glues = []
        for mod, fn in ((rmod, rfn), (cmod, cfn)):
            if mod not in mods:
                funcs = disassemble(f"{moddir}/{mod}.ko")
                names = demangle(n for n in funcs if n.startswith("_R"))
                mods[mod] = (funcs, names)
            funcs, names = mods[mod]
            funcs = {n: v for n, v in funcs.items() if n not in skip}
            entry = [n for n in funcs if n == fn
                     or re.search(re.escape(fn) + r"(::<.*>)?$", names.get(n, ""))]
            if len(entry) != 1:
                raise SystemExit(f"{mod}.ko: {len(entry)} functions match {fn}")
            _, external = closure(funcs, entry[0])
            glues.append(glue(vmlinux, external, cache)[0])
        only = sorted(glues[0] - glues[1],
                      key=lambda n: short(dm_all(n)).replace("rust_helper_", ""))
        total = sum(cache[n][0] for n in only)
        print(f"  {label}: {len(only)} functions, {total} instructions: "
              + ", ".join(f"{short(dm_all(n)).replace('rust_helper_', 'h:')} "
                          f"{cache[n][0]}" for n in only))


# --- the two kernels side by side --------------------------------------------

ROW = re.compile(r"^(\s*\S.{0,49}?)\s+(\d+)\s+(\d+)\s+(\d+\.\d+)\s")


def rows(path):
    """{row name: (rust, c, ratio)} of an mm_bench table, in its order."""
    out = {}
    for line in open(path):
        m = ROW.match(line.rstrip("\n"))
        if m:
            out[m.group(1).rstrip()] = (int(m.group(2)), int(m.group(3)),
                                       float(m.group(4)))
    return out


def sides(off, on):
    """The instruction table without and with CONFIG_RUST_INLINE_HELPERS."""
    a, b = rows(off), rows(on)
    print("mm_bench: instructions per operation (-icount medians), "
          "CONFIG_RUST_INLINE_HELPERS off | on")
    print(f"{'operation':50s} {'rust':>6s} {'c':>6s} {'rust/c':>6s} | "
          f"{'rust':>6s} {'c':>6s} {'rust/c':>6s}")
    for name in b:
        x = a.get(name)
        left = f"{x[0]:6d} {x[1]:6d} {x[2]:6.3f}" if x else f"{'-':>20s}"
        y = b[name]
        print(f"{name:50s} {left} | {y[0]:6d} {y[1]:6d} {y[2]:6.3f}")
    for line in open(on):
        if line.startswith("rust/c: "):
            print(line.strip())


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "size":
        size(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "sides":
        sides(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "insns":
        insns(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
