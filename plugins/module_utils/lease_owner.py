# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Owners of subnet leases: a uuid file (a prefix's ``uuid``) and the uuid it holds.

An owner is alive while its uuid file exists and still holds its uuid; a
lease whose owner is not alive is stale (see subnet_lease). Creating an
owner is safe when several processes create the same one at once.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import contextlib
import errno
import os
import re
import tempfile
import time
import uuid as uuidlib

from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path

UUID_RE = re.compile(r'^[0-9a-f]{32}$')

Owner = collections.namedtuple('Owner', 'path uuid')


def _read_uuid(path):
    """The stripped content of a uuid file, or None when it cannot be read."""
    try:
        with open(path, 'r') as handle:
            return handle.read(256).strip()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def read_owner(uuid_path):
    """The Owner whose uuid file is ``uuid_path``; a clear error when it is missing or bad."""
    path = os.path.abspath(uuid_path)
    value = _read_uuid(path)
    if value is None:
        raise LeaseError('owner uuid file %s does not exist or cannot be read' % path)
    if not UUID_RE.match(value):
        raise LeaseError('owner uuid file %s does not hold a 32-character hex uuid' % path)
    return Owner(path, value)


def _publish_uuid(path, value):
    """Create the uuid file ``path`` holding ``value`` unless it exists; True when we made it.

    The whole file is written under a temporary name and hard-linked into
    place: link() fails when ``path`` exists, so of several processes creating
    one owner at once exactly one wins and the others read its uuid; nobody
    ever sees a half-written file. Filesystems without hard links fall back to
    an O_EXCL create (losers then wait for the winner's content, see ensure_owner).
    """
    directory = os.path.dirname(path)
    data = (value + '\n').encode('ascii')
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.uuid.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _read_winner(path, deadline=2.0):
    """read_owner of a uuid file another process has just created (and may still be writing)."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            return read_owner(path)
        except LeaseError:
            if time.monotonic() >= give_up or _read_uuid(path) not in ('', None):
                raise
        time.sleep(0.01)


def ensure_owner(uuid_path, uuid=None):
    """Read the owner at ``uuid_path``, creating its uuid file first when it is missing.

    Returns (Owner, created). Safe when several processes create the same
    owner at once: exactly one creates the file (``created`` True), every
    other one returns the uuid it wrote.
    """
    path = os.path.abspath(uuid_path)
    if os.path.lexists(path):
        return read_owner(path), False
    value = uuid or uuidlib.uuid4().hex
    if not UUID_RE.match(value):
        raise LeaseError('owner uuid %r is not 32 hex characters' % value)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        created = _publish_uuid(path, value)
    except OSError as err:
        raise LeaseError('cannot create owner uuid file %s: %s' % (path, err.strerror or err))
    if not created:
        return _read_winner(path), False
    return Owner(path, value), True


def standalone_owner(lease_dir, key, create=True):
    """(Owner, created) for something that leases on its own (e.g. a lone network ``key``).

    Its uuid file is ``<lease_dir>/owners/<key>/uuid`` and its uuid is derived
    from the lease directory and ``key``, so it is known before the file
    exists (check mode) and stays the same when the file is recreated.
    """
    lease_dir = os.path.abspath(lease_dir)
    path = os.path.join(lease_dir, 'owners', key, 'uuid')
    value = uuidlib.uuid5(uuidlib.NAMESPACE_URL, 'lago-lease-owner:%s:%s' % (lease_dir, key)).hex
    if create:
        return ensure_owner(path, value)
    return Owner(path, value), False


def remove_owner(owner):
    """Remove an owner's uuid file and its directory when that is left empty."""
    removed = remove_path(owner.path)
    try:
        remove_path(os.path.dirname(owner.path))
    except OSError:
        pass  # the directory holds more than the uuid file: not ours to remove
    return removed


def owner_alive(owner):
    """True while the owner's uuid file exists and still holds its uuid."""
    return owner is not None and _read_uuid(owner.path) == owner.uuid


def owner_problem(owner):
    """Why ``owner``'s uuid file cannot tell whether it is alive, or None when it can.

    A uuid file that is gone (or whose directory is) means a dead owner; one
    that exists but cannot be read (permissions, I/O error) may well belong to
    a live owner, so its leases count as taken.
    """
    try:
        with open(owner.path, 'rb') as handle:
            handle.read(256)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (IOError, OSError) as err:
        return 'its owner file %s cannot be read (%s)' % (owner.path, err.strerror or err)
    return None
