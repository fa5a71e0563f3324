# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small file helpers every part of the engine shares: atomic writes and flock."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import signal
import tempfile
import threading
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import LockTimeout


def atomic_write(path, data, mode=0o644):
    """Write ``data`` (bytes or str) to ``path`` through a temp file and rename.

    A crash leaves either the old file or the new one, never half of one.
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json(path, data, mode=0o644):
    """Atomically write ``data`` as stable, human-readable JSON."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True) + '\n', mode=mode)


def read_json(path, default=None):
    """Read a JSON file; ``default`` when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return json.loads(handle.read().decode('utf-8'))
    except IOError as err:
        if err.errno == errno.ENOENT and default is not None:
            return default
        raise


class _Expired(Exception):
    """Raised by our SIGALRM handler to break a blocking flock()."""


def _raise_expired(_signum, _frame):
    raise _Expired()


def _alarm_is_free():
    """SIGALRM is ours to use: main thread, and no one else's handler or timer (e.g. pytest-timeout)."""
    return (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
            and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0))


def _flock_blocking(fd, flag, timeout):
    """Wait in flock() itself, so the kernel hands us the lock the moment it is free.

    Sleep-and-retry polling leaves the lock idle between tries and lets busy
    callers starve a sleeping one; a SIGALRM breaks the wait at ``timeout``.
    True when the lock is held. A timer expiring just after the lock was taken
    reports False: the caller then closes the fd, which drops the lock.
    """
    previous = signal.signal(signal.SIGALRM, _raise_expired)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            fcntl.flock(fd, flag)
            return True
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _Expired:
        return False
    finally:
        signal.signal(signal.SIGALRM, previous)


def _flock_polling(fd, flag, deadline):
    """Retry a non-blocking flock until ``deadline``; for threads and when SIGALRM is taken."""
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, flag | fcntl.LOCK_NB)
            return True
        except (IOError, OSError) as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


@contextlib.contextmanager
def file_lock(path, timeout=60.0, shared=False, what=None):
    """Hold an flock on ``path`` (created if missing) for the ``with`` block.

    The kernel drops the lock when the holder dies, so a killed process never
    leaves a stale lock behind. Raises LockTimeout after ``timeout`` seconds.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        os.makedirs(parent, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    flag = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        if timeout > 0 and _alarm_is_free():
            locked = _flock_polling(fd, flag, 0) or _flock_blocking(fd, flag, timeout)
        else:
            locked = _flock_polling(fd, flag, time.monotonic() + max(timeout, 0))
        if not locked:
            raise LockTimeout('timed out after %ss waiting for the lock on %s%s'
                              % (timeout, path, ' (%s)' % what if what else ''))
        yield fd
    finally:
        os.close(fd)


def remove_path(path):
    """Remove a file or an empty directory; a missing one is fine. Returns True if removed."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.unlink(path)
        return True
    except OSError as err:
        if err.errno == errno.ENOENT:
            return False
        raise


HASH_CHUNK = 1 << 20


def hash_file(path, algorithm='sha1'):
    """Hex digest of the file at ``path`` (hashlib ``algorithm``), read in 1 MiB chunks."""
    digest = hashlib.new(algorithm)
    buf = bytearray(HASH_CHUNK)
    view = memoryview(buf)
    with open(path, 'rb', buffering=0) as handle:
        while True:
            size = handle.readinto(buf)
            if not size:
                break
            digest.update(view[:size])
    return digest.hexdigest()


def sha256_of(path):
    """The sha256 hex digest of the file at ``path`` (how layers and pool files are checked)."""
    return hash_file(path, 'sha256')
