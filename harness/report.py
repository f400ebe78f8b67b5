#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py SRC RUNDIR: results of one test boot.

KUnit's KTAP (the Rust doctests among it) is read from RUNDIR/console.log,
the userspace tests' KTAP from RUNDIR/results.ktap and the compile-fail
proofs' from RUNDIR/compile_fail.ktap, the check of the helper inlining's
from RUNDIR/inline_helpers.ktap, the client crates' from
RUNDIR/clients.ktap, all by the base tree's own
`tools/testing/kunit/kunit.py parse`. The console log is also searched for
kernel splats. Prints per-suite results and ends with 'N passed, N failed'.
Exit status 0 only if nothing failed.

report.py --splats LOG: only the splat search, for make run's console log.
"""

import json
import os
import re
import subprocess
import sys

# What the kernel prints when something went wrong, whoever caused it.
SPLAT = re.compile(
    r'(BUG: |WARNING: |Oops|kernel BUG at|Kernel panic|general protection fault|'
    r'UBSAN: |INFO: task .* blocked|rcu: INFO: .*stall|self-detected stall|'
    r'possible (recursive|circular) locking|inconsistent lock state|'
    r'Unable to handle kernel|stack-protector|refcount_t: )')


def leaves(group):
    """Yields (name, status) of every test case below a kunit.py JSON group."""
    for case in group.get('test_cases', []):
        yield case['name'], case['status']
    for sub in group.get('sub_groups', []):
        for name, status in leaves(sub):
            yield sub['name'] + '.' + name, status


def parse(src, path, what):
    """Runs kunit.py parse on path; returns its leaf results (or a failure)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return [(what, 'FAIL: no results (did the VM reach this stage?)')]
    kunit = os.path.join(src, 'tools/testing/kunit/kunit.py')
    js = path + '.json'
    proc = subprocess.run([sys.executable, kunit, 'parse', '--json=' + js, path],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # kunit.py's own view, suite by suite.
    for line in proc.stdout.splitlines():
        if re.search(r'=====|Testing complete|Failures:|ERROR|FAILED|CRASHED|\[SKIPPED\]', line):
            print(line)
    results = []
    if os.path.exists(js):
        with open(js) as f:
            results = list(leaves(json.load(f)))
    if proc.returncode != 0 and not any(s not in ('PASS', 'SKIP') for _, s in results):
        results.append((what, 'FAIL: kunit.py parse reported errors'))
    return results


def splats_in(lines):
    """Excerpts of the console log around each kernel splat."""
    return [''.join(lines[max(0, i - 2):i + 25])
            for i, line in enumerate(lines) if SPLAT.search(line)]


def check_splats(path):
    """report.py --splats LOG: prints the splats in LOG; 1 if there are any."""
    with open(path, errors='replace') as f:
        splats = splats_in(f.readlines())
    for excerpt in splats[:3]:
        print('--- splat in the console log:\n' + excerpt)
    if splats:
        print(f'{len(splats)} kernel splat(s) in {path}')
    return 1 if splats else 0


def main():
    if sys.argv[1] == '--splats':
        return check_splats(sys.argv[2])
    src, rundir = (os.path.abspath(a) for a in sys.argv[1:3])
    console = os.path.join(rundir, 'console.log')
    results = []

    print('--- KUnit (in-kernel tests and Rust doctests)')
    results += parse(src, console, 'kunit')
    ktap = os.path.join(rundir, 'results.ktap')
    with open(console, errors='replace') as f:
        lines = f.readlines()
    if 'rust-mm: no userspace tests\n' not in lines:
        print('--- userspace tests')
        results += parse(src, ktap, 'userspace')
    print('--- compile-fail proofs')
    results += parse(src, os.path.join(rundir, 'compile_fail.ktap'), 'compile_fail')
    print('--- helper inlining (CONFIG_RUST_INLINE_HELPERS)')
    results += parse(src, os.path.join(rundir, 'inline_helpers.ktap'), 'inline_helpers')
    print('--- client crates (tests/clients)')
    results += parse(src, os.path.join(rundir, 'clients.ktap'), 'clients')

    status = open(os.path.join(rundir, 'status')).read().strip()
    results.append(('vm.finished', 'PASS' if status == 'ok' else 'FAIL: ' + status))
    splats = splats_in(lines)
    results.append(('kernel_log.no_splats',
                    'PASS' if not splats else f'FAIL: {len(splats)} splat(s)'))
    for excerpt in splats[:3]:
        print('--- splat in the console log:\n' + excerpt)

    suites = {}
    for name, st in results:
        s = suites.setdefault(name.split('.')[0], [0, 0, 0])
        s[0 if st == 'PASS' else 2 if st == 'SKIP' else 1] += 1
        if st not in ('PASS', 'SKIP'):
            print(f'FAILED: {name}: {st}')
    print('--- per suite: passed/failed/skipped')
    for name, (p, fl, sk) in suites.items():
        print(f'  {name}: {p}/{fl}/{sk}')
    print(f'console log: {console}')
    passed = sum(s[0] for s in suites.values())
    failed = sum(s[1] for s in suites.values())
    skipped = sum(s[2] for s in suites.values())
    print(f'{passed} passed, {failed} failed' + (f', {skipped} skipped' if skipped else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
