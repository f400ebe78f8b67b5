#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""client_check.py OBJ DIR: the client crates, as KTAP on stdout.

Every DIR/NAME.rs is a driver written only against the series' public API
(a module, with module!), compiled against the kernel crate of the build in
OBJ with the rustc command line kbuild used for the sample module, as the
compile-fail proofs are. For each:

- NAME_compiles: it compiles without a warning;
- NAME_unsafe: it has exactly as many `unsafe` blocks as its '//! unsafe: N'
  line says (the count is printed), so a change to the API that makes a
  client need more (or fewer) shows here.
"""

import glob
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from compile_fail import module_command  # noqa: E402


def code_only(text):
    """The text without comments and string literals (crudely, enough for this code)."""
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def main():
    obj, clients = (os.path.abspath(a) for a in sys.argv[1:3])
    base = module_command(obj)
    lines = []
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for src in sorted(glob.glob(os.path.join(clients, '*.rs'))):
            name = os.path.basename(src)[:-3]
            text = open(src).read()
            env = dict(os.environ, RUSTC_BOOTSTRAP='1', RUST_MODFILE=src[:-3])
            argv = base + ['--crate-name', name, '--emit=metadata',
                           '-o', os.path.join(tmp, 'lib%s.rmeta' % name), src]
            p = subprocess.run(argv, cwd=obj, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            n += 1
            ok = p.returncode == 0 and not re.search(r'^warning', p.stdout, re.M)
            if not ok:
                lines += ['# ' + l for l in p.stdout.splitlines()[:30]]
            lines.append('%s %d %s_compiles' % ('ok' if ok else 'not ok', n, name))

            code = code_only(text)
            blocks = len(re.findall(r'\bunsafe\s*\{', code))
            fns = len(re.findall(r'\bunsafe\s+(?:extern\s+""\s+)?fn\b', code))
            impls = len(re.findall(r'\bunsafe\s+impl\b', code))
            want = re.search(r'^//! unsafe: (\d+)$', text, re.M)
            n += 1
            ok = want is not None and blocks == int(want.group(1))
            lines.append('# %s: %d unsafe block(s), %d unsafe fn, %d unsafe impl; the file says %s'
                         % (name, blocks, fns, impls, want.group(1) if want else 'nothing'))
            lines.append('%s %d %s_unsafe' % ('ok' if ok else 'not ok', n, name))
    ktap.print_suite('clients', lines)


if __name__ == '__main__':
    main()
