#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""compile_fail.py OBJ DIR: the compile-fail proofs, as KTAP on stdout.

Every DIR/NAME.rs is compiled twice against the kernel crate of the build in
OBJ, with exactly the rustc command line kbuild used for the sample module
(only the crate name, the source and the output change; --emit=metadata runs
every check without generating code):

- with --cfg compile_fail it must fail, with the error code that the
  snippet's '//! expect: EXXXX' line names (test NAME);
- without it, it must compile without a warning (test NAME_twin): so a
  snippet that fails for an unrelated reason, such as a renamed method,
  fails the test instead of passing it.
"""

import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile

import ktap


def module_command(obj):
    """The rustc argv kbuild used for samples/rust/rust_mm_sample.o."""
    path = os.path.join(obj, 'samples/rust/.rust_mm_sample.o.cmd')
    with open(path) as f:
        cmd = f.readline().split(':=', 1)[1]
    argv = shlex.split(cmd.split(';', 1)[0])
    argv = [a for a in argv if not a.startswith('RUST_MODFILE=')]
    out = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in ('--crate-name', '--out-dir'):
            skip = True
        elif a.startswith('--emit') or a.endswith('.rs'):
            pass
        else:
            out.append(a)
    return out


def main():
    obj, snippets = (os.path.abspath(a) for a in sys.argv[1:3])
    base = module_command(obj)
    env = dict(os.environ, RUSTC_BOOTSTRAP='1')
    cases = sorted(glob.glob(os.path.join(snippets, '*.rs')))
    lines = []
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for src in cases:
            name = os.path.basename(src)[:-3]
            expect = re.search(r'^//! expect: (E\d{4})$', open(src).read(), re.M)
            for fail in (True, False):
                n += 1
                test = name if fail else name + '_twin'
                argv = base + ['--crate-name', 'cf_' + name, '--emit=metadata',
                               '-o', os.path.join(tmp, 'lib%s.rmeta' % name), src]
                if fail:
                    argv[1:1] = ['--cfg', 'compile_fail']
                p = subprocess.run(argv, cwd=obj, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
                errors = sorted(set(re.findall(r'^error\[(E\d{4})\]', p.stdout, re.M)))
                if not expect:
                    ok, why = False, 'no "//! expect: EXXXX" line'
                elif fail:
                    ok = p.returncode != 0 and errors == [expect.group(1)]
                    why = 'expected error[%s], got %s' % (
                        expect.group(1), ', '.join(errors) if errors else
                        ('no error' if p.returncode == 0 else 'other errors'))
                else:
                    ok = p.returncode == 0 and not re.search(r'^warning', p.stdout, re.M)
                    why = 'the twin does not compile without warnings'
                if not ok or fail:
                    lines += ['# %s: %s' % (test, why if not ok else 'error[%s] as expected' % errors[0])]
                if not ok:
                    lines += ['# ' + l for l in p.stdout.splitlines()[:20]]
                lines.append('%s %d %s' % ('ok' if ok else 'not ok', n, test))
    ktap.print_suite('compile_fail', lines)


if __name__ == '__main__':
    main()
