# -*- coding: utf-8 -*-
"""faults.point: SIGKILL at the named point (or its n-th pass), nothing otherwise."""

from __future__ import absolute_import, division, print_function

import os
import signal
import subprocess
import sys

SCRIPT = '''
from ansible_collections.lago.lago.plugins.module_utils import faults
for n in range(3):
    faults.point('a.b')
    print('passed', n, flush=True)
faults.point('other')
print('done', flush=True)
'''


def run(value):
    env = dict(os.environ)
    env.pop('LAGO_FAULT_POINT', None)
    env['PYTHONPATH'] = os.pathsep.join(path for path in sys.path if path)  # pytest.ini's pythonpath
    if value is not None:
        env['LAGO_FAULT_POINT'] = value
    return subprocess.run([sys.executable, '-c', SCRIPT], env=env, stdout=subprocess.PIPE, universal_newlines=True, check=False)


def test_no_variable_does_nothing():
    proc = run(None)
    assert proc.returncode == 0 and proc.stdout.endswith('done\n')


def test_killed_at_the_named_point():
    proc = run('a.b')
    assert proc.returncode == -signal.SIGKILL and proc.stdout == ''


def test_killed_at_the_nth_pass():
    proc = run('a.b:3')
    assert proc.returncode == -signal.SIGKILL and proc.stdout == 'passed 0\npassed 1\n'


def test_other_names_pass():
    proc = run('a.bc')
    assert proc.returncode == 0 and proc.stdout.endswith('done\n')
