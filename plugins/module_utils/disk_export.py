# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lago's export of a disk: a layered copy (the disk's own layer on ``./<template>:<version>``)
or a standalone flattened one, with ``<dest>.hash`` and ``<dest>.metadata`` beside it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.disk import inspect, record_ownership, view
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write, hash_file, read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.template_repo import split_store_name

EXPORT_MARK = 'lago_export'


def export_destination(path, dest):
    """Lago's export takes a directory; a path names the exported file itself."""
    return os.path.join(dest, os.path.basename(path)) if os.path.isdir(dest) else dest


def _relative_backing_name(backing_file):
    """Lago's layered export names the template ``./<template>:<version>`` (no repo)."""
    base = os.path.basename(backing_file)
    parts = split_store_name(base)
    return './' + (':'.join(parts[1:]) if parts else base)


def _export_mark(path, standalone, compress, fmt, metadata):
    """What an export was made from and how: when it still matches, the export is current."""
    stat = os.stat(path)
    return dict(source=os.path.abspath(path), source_size=stat.st_size, source_mtime_ns=stat.st_mtime_ns,
                standalone=standalone, compress=compress, format=fmt, metadata=metadata or {})


def exported_record(dest):
    """What ``<dest>.metadata`` of an export holds ({} when there is none)."""
    return read_json(dest + '.metadata', {}) if os.path.isfile(dest + '.metadata') else {}


def export_status(path, dest, standalone, compress, fmt, metadata=None):
    """'missing', 'current' (same source, unchanged since), 'stale' or 'foreign' (not our export)."""
    if not os.path.lexists(dest):
        return 'missing'
    recorded = exported_record(dest).get(EXPORT_MARK)
    if not isinstance(recorded, dict) or recorded.get('source') != os.path.abspath(path):
        return 'foreign'
    if recorded == _export_mark(path, standalone, compress, fmt, metadata) and os.path.isfile(dest + '.hash'):
        return 'current'
    return 'stale'


def _layers(path, standalone):
    """The backing file (and its format) a layered export keeps, or (None, None) to flatten."""
    if standalone:
        return None, None
    chain = qemu_img.info(path, backing_chain=True)
    if len(chain) == 1:
        return None, None
    if len(chain) > 2:
        raise DiskError('layered export keeps one layer on its template, but %s has %d layers: '
                        'export it standalone' % (path, len(chain)))
    return qemu_img.backing_path(chain[0], path), chain[0].get('backing-filename-format') or chain[1]['format']


def check_export(path, dest, compress, fmt):
    """Refuse an export that cannot work, before anything is written."""
    if compress and fmt != 'qcow2':
        raise DiskError('compressed export needs format qcow2, not %s' % fmt)
    if os.path.realpath(dest) == os.path.realpath(path):
        raise DiskError('cannot export %s onto itself; give another dest' % path)


def export(path, dest, standalone=False, compress=False, fmt='qcow2', metadata=None):
    """Export the disk at ``path`` to ``dest`` as Lago does; returns the written metadata.

    Standalone: one flattened image. Layered: only the disk's own layer,
    rebased (unsafe) onto ``./<template>:<version>`` so that it can sit beside
    its template anywhere. ``compress`` is qcow2's own compression. Writes
    ``<dest>.hash`` (sha1, Lago's format) and ``<dest>.metadata``.
    """
    check_export(path, dest, compress, fmt)
    backing, backing_format = _layers(path, standalone)
    try:
        base = _export_image(path, dest, fmt, compress, backing, backing_format)
        digest = hash_file(dest, 'sha1')
        atomic_write(dest + '.hash', digest)
    except OSError as err:
        raise DiskError('cannot export %s to %s: %s' % (path, dest, err))
    exported = _export_metadata(inspect(path)['backing_file'], metadata)
    exported.update(name=os.path.basename(dest), format=fmt, size=os.path.getsize(dest), sha1=digest,
                    base=base or 'None')
    exported[EXPORT_MARK] = _export_mark(path, standalone, compress, fmt, metadata)
    write_json(dest + '.metadata', exported)
    record_ownership(dest, kind='export', sidecars=('.hash', '.metadata'))
    return exported


def _export_image(path, dest, fmt, compress, backing, backing_format):
    """Write the exported image through ``<dest>.tmp``; returns its relative backing name or None."""
    tmp = dest + '.tmp'
    try:
        qemu_img.convert(path, tmp, out_format=fmt, compress=compress,
                         backing_file=backing, backing_format=backing_format)
        base = None
        if backing:
            base = _relative_backing_name(backing)
            qemu_img.rebase(tmp, base, backing_format, unsafe=True)
        os.rename(tmp, dest)
    except BaseException:
        remove_path(tmp)
        raise
    return base


def _export_metadata(backing, metadata):
    """The template's own metadata (distro, ...) when the disk sits on a store entry, then ``metadata``."""
    merged = {}
    if backing and os.path.isfile(backing + '.metadata'):
        merged.update(read_json(backing + '.metadata', {}))
    merged.update(metadata or {})
    return merged


def plan_export(path, dest, standalone=False, compress=False, fmt='qcow2', metadata=None, force=False):
    """The Plan named ``export`` that brings an export of the disk at ``path`` to ``dest``
    (a directory receives a file named as the disk) up to date.

    Its view is the export's: dest and status (missing, current, stale, foreign).
    A foreign ``dest`` (not an export of this disk) is refused unless ``force``.
    Values: path, action, export (dest, and hash and metadata once written), disk.
    """
    if not dest:
        raise DiskError('state=exported needs dest')
    if inspect(path) is None:
        raise DiskError('disk %s does not exist, there is nothing to export' % path)
    dest = export_destination(path, dest)
    fmt = fmt or 'qcow2'
    check_export(path, dest, compress, fmt)
    status = export_status(path, dest, standalone, compress, fmt, metadata)
    if status == 'foreign' and not force:
        raise DiskError('%s exists and is not an export of %s; use force to overwrite it' % (dest, path))
    before = dict(dest=dest, status=status)
    values = dict(path=path, action='none', export=dict(dest=dest), disk=view(path))
    if status == 'current':
        record = exported_record(dest)
        values['export'].update(hash=record.get('sha1'), metadata=record)
        return Plan('export', before, before, values=values)
    values['action'] = 'exported'

    def apply():
        written = export(path, dest, standalone, compress, fmt, metadata)
        return dict(export=dict(dest=dest, hash=written['sha1'], metadata=written))
    return Plan('export', before, dict(dest=dest, status='current'), ['export'], apply, values)
