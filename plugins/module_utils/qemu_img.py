# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one qemu-img wrapper: disk layering, conversion and offline snapshots.

Every call is a single ``qemu-img`` subprocess with an argv list; a failure
raises DiskError carrying qemu-img's own message. A backing format is always
passed explicitly (``-F``): modern qemu refuses to guess it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

from ansible_collections.lago.lago.plugins.module_utils import values
from ansible_collections.lago.lago.plugins.module_utils.errors import CommandError, DiskError, SpecError
from ansible_collections.lago.lago.plugins.module_utils.runner import run

QEMU_IMG = 'qemu-img'
FORMATS = ('qcow2', 'raw')
PREALLOCATION_MODES = ('off', 'metadata', 'falloc', 'full')
SECTOR = 512

# "nbd:", "http:", "json:" ... name a protocol, not a file qemu can stat.
_PROTOCOL_RE = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')


def parse_size(value):
    """Bytes in ``value`` (an int, or ``"10G"``, ``"1.5G"``...) as values.parse_size
    reads it; a bad size is a DiskError here, like every failure of this wrapper."""
    try:
        return values.parse_size(value)
    except SpecError as err:
        raise DiskError(str(err))


def round_to_sector(size):
    """``size`` rounded up to whole 512-byte sectors, as qemu-img stores it."""
    return values.round_up(size, SECTOR)


def is_protocol(name):
    """True when ``name`` is a qemu protocol URL rather than a file path."""
    return bool(_PROTOCOL_RE.match(name))


def _qemu_img(args, check=True):
    try:
        return run([QEMU_IMG] + args, check=check)
    except CommandError as err:
        raise DiskError('qemu-img %s failed: %s' % (args[0], (err.stderr or err.stdout or '').strip()))


def _backing_args(backing_file, backing_format):
    if backing_format not in FORMATS:
        raise DiskError('backing format %r is not one of %s' % (backing_format, ', '.join(FORMATS)))
    return ['-b', backing_file, '-F', backing_format]


def create(path, size=None, fmt='qcow2', backing_file=None, backing_format=None,
           preallocation=None, options=None):
    """Create an empty image, or a thin overlay on ``backing_file``.

    ``backing_format`` is required with ``backing_file`` (see
    ``image_format`` to learn it). ``size`` (bytes or "10G") is required for an
    empty image; for an overlay it defaults to the backing file's size.
    ``options`` is a dict of extra ``-o`` creation options.
    """
    args = ['create', '-q', '-f', fmt]
    if backing_file:
        if not backing_format:
            raise DiskError('creating %s on %s needs the backing format (-F)' % (path, backing_file))
        args += _backing_args(backing_file, backing_format)
    elif size is None:
        raise DiskError('creating the empty image %s needs a size' % path)
    opts = dict(options or {})
    if preallocation:
        opts['preallocation'] = preallocation
    if opts:
        args += ['-o', ','.join('%s=%s' % item for item in sorted(opts.items()))]
    args.append(path)
    if size is not None:
        args.append(str(parse_size(size)))
    _qemu_img(args)


def info(path, backing_chain=True, force_share=True):
    """``qemu-img info`` as a list of dicts: the image first, then its backing chain.

    ``force_share`` (-U) lets it read an image a running VM holds open.
    """
    args = ['info', '--output=json']
    if force_share:
        args.append('-U')
    if backing_chain:
        args.append('--backing-chain')
    _rc, out, _err = _qemu_img(args + [path])
    data = json.loads(out)
    return data if isinstance(data, list) else [data]


def image_format(path):
    """The format qemu-img detects for ``path`` (e.g. ``qcow2``)."""
    return info(path, backing_chain=False)[0]['format']


def backing_path(image_info, image_path):
    """Absolute path of the backing file named in ``image_info``, or None.

    Relative backing names are resolved against the image's own directory, as qemu does.
    """
    # The recorded name, not full-backing-filename: that one is relative to
    # whatever path the caller passed to qemu-img, not to the image.
    backing = image_info.get('backing-filename')
    if not backing or is_protocol(backing):
        return backing or None
    return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(image_path)), backing))


def rebase(path, backing_file, backing_format=None, unsafe=False):
    """Point ``path`` at ``backing_file``; ``''`` flattens it (merges the chain in).

    Safe mode (default) rewrites the data that differs; ``unsafe`` only
    changes the recorded name (for moving or renaming a backing file).
    """
    args = ['rebase', '-q']
    if unsafe:
        args.append('-u')
    if backing_file:
        args += _backing_args(backing_file, backing_format)
    else:
        args += ['-b', '']
    _qemu_img(args + [path])


def commit(path, base=None, drop=False):
    """Write ``path``'s changes into its backing file (or into ``base`` further down).

    ``drop`` (-d) leaves ``path`` as it is instead of emptying it.
    """
    args = ['commit', '-q']
    if base:
        args += ['-b', base]
    if drop:
        args.append('-d')
    _qemu_img(args + [path])


def convert(src, dest, out_format='qcow2', compress=False, src_format=None,
            backing_file=None, backing_format=None):
    """Copy ``src`` (its whole chain, flattened) to ``dest`` in ``out_format``.

    ``compress`` uses qcow2's own compression. With ``backing_file`` the copy
    holds only ``src``'s top layer, on top of that backing file.
    """
    args = ['convert']
    if src_format:
        args += ['-f', src_format]
    args += ['-O', out_format]
    if compress:
        args.append('-c')
    if backing_file:
        if not backing_format:
            raise DiskError('converting %s onto %s needs the backing format' % (src, backing_file))
        args += ['-B', backing_file, '-F', backing_format]
    _qemu_img(args + [src, dest])


def resize(path, size, fmt=None, shrink=False):
    """Set the virtual size of ``path`` to ``size``; shrinking needs ``shrink``."""
    args = ['resize', '-q']
    if fmt:
        args += ['-f', fmt]
    if shrink:
        args.append('--shrink')
    _qemu_img(args + [path, str(parse_size(size))])


def check(path, fmt=None):
    """``qemu-img check`` as a dict; ``rc`` is 0 (clean), 2 (corrupt) or 3 (leaks)."""
    args = ['check', '--output=json']
    if fmt:
        args += ['-f', fmt]
    rc, out, err = _qemu_img(args + [path], check=False)
    if rc not in (0, 2, 3):
        raise DiskError('qemu-img check failed: %s' % (err or out).strip())
    result = json.loads(out)
    result['rc'] = rc
    return result


def snapshot_list(path):
    """The internal snapshots of ``path`` (dicts with ``name``, ``id``, ``date-sec``...)."""
    return info(path, backing_chain=False)[0].get('snapshots', [])


def _snapshot(flag, name, path):
    _qemu_img(['snapshot', flag, name, path])


def snapshot_create(path, name):
    """Take the internal snapshot ``name`` of an image no VM is using."""
    _snapshot('-c', name, path)


def snapshot_apply(path, name):
    """Revert ``path`` to its internal snapshot ``name``."""
    _snapshot('-a', name, path)


def snapshot_delete(path, name):
    """Delete the internal snapshot ``name`` of ``path``."""
    _snapshot('-d', name, path)
