# SPDX-License-Identifier: GPL-2.0
"""The KTAP the host-side checks of the harness print: one suite, as one test."""


def print_suite(name, lines):
    """Prints suite NAME, whose LINES are its cases' result lines ('ok N case',
    'not ok N case') and comments ('# ...'), in order, as a KTAP document on
    stdout. The suite fails if a case fails or if it has no case."""
    n = sum(1 for line in lines if line.startswith(('ok ', 'not ok ')))
    bad = any(line.startswith('not ok ') for line in lines)
    print('KTAP version 1')
    print('1..1')
    print('    KTAP version 1')
    print('    # Subtest: %s' % name)
    print('    1..%d' % n)
    for line in lines:
        print('    ' + line)
    print('%s 1 %s' % ('not ok' if bad or n == 0 else 'ok', name))
