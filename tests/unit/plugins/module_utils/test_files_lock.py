# -*- coding: utf-8 -*-
"""file_lock: the blocking wait (SIGALRM-bounded) and the polling fallback."""

from __future__ import absolute_import, division, print_function

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.lago.lago.plugins.module_utils import files
from ansible_collections.lago.lago.plugins.module_utils.errors import LockTimeout

# The directory ansible_collections/ was imported from (.collections, or ansible-test's copy).
COLLECTIONS = os.path.abspath(os.path.join(os.path.dirname(files.__file__), *(['..'] * 5)))

# A fresh interpreter: no pytest-timeout alarm, so file_lock waits in flock() itself.
CHILD = textwrap.dedent('''
    import sys, time, signal
    from ansible_collections.lago.lago.plugins.module_utils import files
    from ansible_collections.lago.lago.plugins.module_utils.errors import LockTimeout
    assert files._alarm_is_free()
    start = time.monotonic()
    try:
        with files.file_lock(sys.argv[1], timeout=float(sys.argv[2])):
            print('locked %.3f' % (time.monotonic() - start))
    except LockTimeout as err:
        print('timeout %.3f %s' % (time.monotonic() - start, err))
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
''')


def child(path, timeout):
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return subprocess.Popen([sys.executable, '-c', CHILD, path, str(timeout)], env=env,
                            stdout=subprocess.PIPE, universal_newlines=True)


def test_blocking_wait_times_out_and_restores_sigalrm(tmp_path):
    path = str(tmp_path / 'x.lock')
    with files.file_lock(path):
        out = child(path, 0.3).communicate(timeout=30)[0].split()
    assert out[0] == 'timeout' and 0.25 < float(out[1]) < 2, out
    assert 'waiting for the lock on %s' % path in ' '.join(out)


def test_blocking_wait_gets_the_lock_as_soon_as_it_is_free(tmp_path):
    path = str(tmp_path / 'x.lock')
    with files.file_lock(path):
        proc = child(path, 10)
        time.sleep(0.5)
    out = proc.communicate(timeout=30)[0].split()
    assert out[0] == 'locked' and float(out[1]) < 2, out


def test_polling_fallback_when_sigalrm_is_taken(tmp_path):
    path = str(tmp_path / 'x.lock')
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        assert not files._alarm_is_free()
        with files.file_lock(path):
            started = time.monotonic()
            with pytest.raises(LockTimeout, match='(my lock)'):
                with files.file_lock(path, timeout=0.2, what='my lock'):
                    pass
            assert time.monotonic() - started < 1
    finally:
        signal.signal(signal.SIGALRM, previous)


def test_zero_timeout_tries_once(tmp_path):
    path = str(tmp_path / 'x.lock')
    with files.file_lock(path, timeout=0):
        with pytest.raises(LockTimeout):
            with files.file_lock(path, timeout=0):
                pass
