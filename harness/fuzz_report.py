#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fuzz_report.py RUNDIR SEED SECONDS: the result of one make fuzz boot.

Reads what harness/init.sh's fuzz mode wrote to RUNDIR/fuzz.log (the
contract fuzzer's runs, trinity's, the sample's unload) and searches
RUNDIR/console.log for kernel splats. Prints each failure, with the command
that replays it, and ends with 'fuzz: N syscalls, M sequences, K splats,
V violations'. Exit status 0 only if nothing failed.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import splats_in  # noqa: E402


def main():
    rundir, seed, seconds = sys.argv[1:4]
    replay = f'make fuzz FUZZ_SEED={seed} FUZZ_SECONDS={seconds}'
    with open(os.path.join(rundir, 'fuzz.log'), errors='replace') as f:
        log = f.read().splitlines()
    with open(os.path.join(rundir, 'console.log'), errors='replace') as f:
        splats = splats_in(f.readlines())
    status = open(os.path.join(rundir, 'status')).read().strip()

    syscalls = sequences = violations = 0
    problems = []
    run = []  # the output of the current contract fuzzer run
    for line in log:
        m = re.match(r'fuzz: contract (threads|sequences (\d+)) exit (\d+)$', line)
        if m:
            # Its summary: sequences run, violations found.
            runs = re.findall(r'# fuzz: \d+ steps, (\d+) sequences, (\d+) violations',
                              '\n'.join(run))
            sequences += sum(int(done) for done, _ in runs)
            if m.group(3) != '0':
                # A run that failed counts at least once, even if it died
                # before its summary.
                violations += max(1, sum(int(found) for _, found in runs))
                problems.append(f'the contract fuzzer ({m.group(1)}) failed, exit status '
                                f'{m.group(3)}:\n' + '\n'.join(run))
            run = []
            continue
        run.append(line)
        m = re.search(r'\[main\] Ran (\d+) syscalls', line)
        if m:
            syscalls += int(m.group(1))
        for what in ('insmod', 'rmmod'):
            if line.startswith(f'fuzz: {what} ') and line.endswith(' failed'):
                problems.append(line[len('fuzz: '):])
        m = re.match(r'fuzz: trinity exit (\d+)$', line)
        if m and m.group(1) not in ('0', '124'):
            problems.append(f'trinity exited with status {m.group(1)}')
        if line == 'fuzz: trinity did not exit':
            problems.append('trinity did not exit when its time was up')
    held = [line for line in log if line.startswith('fuzz: rust_mm_sample unloaded')]
    if not held:
        problems.append('the sample did not unload')
    elif not held[-1].endswith('pages held: 0'):
        problems.append(f'the sample leaked pages: {held[-1][len("fuzz: "):]}')
    if 'fuzz: trinity exit' not in '\n'.join(log):
        problems.append('trinity did not run')
    if 'fuzz: done' not in log:
        problems.append(f'the VM did not finish the fuzz run (status: {status})')
    elif status != 'ok':
        problems.append(f'the VM did not shut down cleanly (status: {status})')

    for p in problems:
        print('--- ' + p)
    for excerpt in splats[:3]:
        print('--- splat in the console log:\n' + excerpt)
    if problems or splats:
        print(f'replay: {replay} (the contract fuzzer\'s own replay line, if any, is for '
              'make shell)')
    print(f'fuzz: {syscalls} syscalls, {sequences} sequences, {len(splats)} splats, '
          f'{violations} violations')
    return 1 if problems or splats else 0


if __name__ == '__main__':
    sys.exit(main())
