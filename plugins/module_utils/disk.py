# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disks of a prefix: compare what is on disk with what is asked, create, grow, export.

The answer to "what must change?" comes from here, so that modules only
report it (check mode) or carry it out.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import qemu_img, templates
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError
from ansible_collections.lago.lago.plugins.module_utils.files import (
    atomic_write, hash_file, read_json, remove_path, write_json)

EXPORT_MARK = 'lago_export'


def inspect(path):
    """What is at ``path``: format, virtual size and backing file, or None when nothing is there."""
    if not os.path.lexists(path):
        return None
    info = qemu_img.info(path, backing_chain=False)[0]
    return dict(path=path, format=info['format'], size=info['virtual-size'],
                backing_file=qemu_img.backing_path(info, path),
                backing_format=info.get('backing-filename-format'))


class DiskRequest:
    """The disk a task asks for. ``size`` in bytes (or None); ``backing_file`` absolute or None."""

    def __init__(self, path, fmt='qcow2', size=None, backing_file=None, backing_format=None,
                 preallocation=None):
        self.path = path
        self.format = fmt
        self.size = qemu_img.round_to_sector(qemu_img.parse_size(size)) if size is not None else None
        self.backing_file = backing_file
        self.backing_format = backing_format
        self.preallocation = preallocation

    def describe(self):
        """The disk as the diff's ``after`` shows it."""
        return dict(path=self.path, format=self.format, size=self.size, backing_file=self.backing_file)


def conflicts(current, request):
    """Why the existing disk ``current`` is not the one ``request`` asks for (list of reasons)."""
    found = []
    if current['format'] != request.format:
        found.append('its format is %s, not %s' % (current['format'], request.format))
    have, want = current['backing_file'], request.backing_file
    if want and not have:
        found.append('it has no backing file, not %s' % want)
    elif have and not want:
        found.append('it is an overlay on %s, not a standalone disk' % have)
    elif have and os.path.realpath(have) != os.path.realpath(want):
        found.append('its backing file is %s, not %s' % (have, want))
    return found


def plan(current, request, force=False):
    """What to do: 'create', 'replace', 'grow' or None (the disk is as asked).

    A conflicting disk is a DiskError naming each difference unless ``force``;
    shrinking is always refused (it would cut off data).
    """
    if current is None:
        return 'create'
    found = conflicts(current, request)
    if found:
        if not force:
            raise DiskError('disk %s exists but %s; use force to replace it' % (request.path, '; '.join(found)))
        return 'replace'
    if request.size is None or request.size == current['size']:
        return None
    if request.size < current['size']:
        raise DiskError('disk %s is %d bytes; shrinking it to %d bytes is refused (it would cut off data): '
                        'remove the disk first if that is meant' % (request.path, current['size'], request.size))
    return 'grow'


def check_request(request, backing_pending=False):
    """Refuse what qemu-img would refuse later, or worse, accept: before anything is written.

    ``backing_pending``: the backing file is a template not fetched yet (check mode).
    """
    parent = os.path.dirname(os.path.abspath(request.path))
    if not os.path.isdir(parent):
        raise DiskError('directory %s of disk %s does not exist' % (parent, request.path))
    if not request.backing_file:
        if request.size is None:
            raise DiskError('disk %s needs a size' % request.path)
        return
    if backing_pending or qemu_img.is_protocol(request.backing_file):
        return
    if not os.path.isfile(request.backing_file):
        raise DiskError('backing file %s of disk %s does not exist' % (request.backing_file, request.path))
    backing_size = qemu_img.info(request.backing_file, backing_chain=False)[0]['virtual-size']
    if request.size is not None and request.size < backing_size:
        raise DiskError('size %d of disk %s is smaller than its backing file %s (%d bytes)'
                        % (request.size, request.path, request.backing_file, backing_size))


def apply(action, request):
    """Carry out ``action`` from ``plan``."""
    if action == 'grow':
        qemu_img.resize(request.path, request.size, fmt=request.format)
        return
    if action == 'replace':
        remove_path(request.path)
    try:
        qemu_img.create(request.path, size=request.size, fmt=request.format,
                        backing_file=request.backing_file, backing_format=request.backing_format,
                        preallocation=request.preallocation)
    except Exception:
        remove_path(request.path)  # qemu-img may leave a half-made image
        raise


def template_backing(template_repo, template_store, template, version=None, fetch=True):
    """The store entry a template disk sits on: fetched unless ``fetch`` is False (check mode).

    Returns dict(name, path, format, entry) where ``entry`` is None when not fetched yet.
    """
    wanted = templates.load_repository(template_repo).version(template, version)
    path = templates.entry_path(template_store, wanted.name)
    entry = templates.fetch(template_store, wanted) if fetch else templates.stored_entry(template_store, wanted.name)
    fmt = qemu_img.image_format(path) if entry else 'qcow2'
    return dict(name=wanted.name, path=path, format=fmt, entry=entry)


# -------------------------------------------------------------------- export

def export_destination(path, dest):
    """Lago's export takes a directory; a path names the exported file itself."""
    return os.path.join(dest, os.path.basename(path)) if os.path.isdir(dest) else dest


def _relative_backing_name(backing_file):
    """Lago's layered export names the template ``./<template>:<version>`` (no repo)."""
    base = os.path.basename(backing_file)
    parts = templates.split_store_name(base)
    return './' + (':'.join(parts[1:]) if parts else base)


def _export_mark(path, standalone, compress, fmt, metadata):
    """What an export was made from and how: when it still matches, the export is current."""
    stat = os.stat(path)
    return dict(source=os.path.abspath(path), source_size=stat.st_size, source_mtime_ns=stat.st_mtime_ns,
                standalone=standalone, compress=compress, format=fmt, metadata=metadata or {})


def export_status(path, dest, standalone, compress, fmt, metadata=None):
    """'missing', 'current' (same source, unchanged since), 'stale' or 'foreign' (not our export)."""
    if not os.path.lexists(dest):
        return 'missing'
    recorded = read_json(dest + '.metadata', {}).get(EXPORT_MARK) if os.path.isfile(dest + '.metadata') else None
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
