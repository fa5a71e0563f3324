# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pool state's manifest: the layer files' names, what an export moves, checks of a manifest.

No pool is touched here (see pool_transfer for the pools, pool for export and import).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import threading

from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json, sha256_of, write_json

MANIFEST = 'manifest.json'
VERIFIED = '.verified.json'  # see Verified
MANIFEST_VERSION = 1
_UNSAFE_CHARS_RE = re.compile(r'[^A-Za-z0-9._+-]')
_SHA256_RE = re.compile(r'^[0-9a-f]{64}$')


def pool_file_name(path, used):
    """A readable file name in the pool for ``path``, unique among ``used``."""
    base = _UNSAFE_CHARS_RE.sub('_', os.path.basename(path)).lstrip('.') or 'layer'
    if base == MANIFEST:
        base = 'layer.' + base
    name, number = base, 1
    while name in used:
        number += 1
        name = '%s~%d' % (base, number)
    return name


def source_id(path, sha256=None):
    """What a layer is, cheaply: its ``sha256`` recorded when a prefix froze it, else its
    file's identity (path, size, mtime) - templates are never written in place."""
    if sha256:
        return 'sha256:%s' % sha256
    stat = os.stat(path)
    return 'file:%s:%d:%d' % (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)


def manifest_id(manifest):
    """A short id of a state's content (its layers)."""
    text = json.dumps(manifest['layers'], sort_keys=True)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]


def plan_export(layers, old=None, present=None):
    """What an export writes. Pure.

    ``layers``: the chains to export, bottom first, without repeats: dicts with
    ``path``, ``format``, ``backing`` (a path among them, or None), ``size`` and
    ``source`` (see source_id). ``old``: the pool's manifest, if any;
    ``present``: {file: size} in the pool's state directory.

    Returns dict(names={path: file}, layers={file: entry without sha256 for the
    moved ones}, moves=[paths to copy], skipped=[files kept]).
    """
    old_layers = (old or {}).get('layers', {})
    present = present or {}
    reusable = {entry.get('source'): name for name, entry in old_layers.items()}
    names, entries, moves, skipped = {}, {}, [], []
    for layer in layers:
        name = reusable.get(layer['source'])
        if name is None or name in entries:
            name = pool_file_name(layer['path'], set(entries) | set(old_layers))
        names[layer['path']] = name
        backing = names[layer['backing']] if layer['backing'] else None
        entry = dict(format=layer['format'], backing=backing,
                     backing_format=layer.get('backing_format') if backing else None, source=layer['source'])
        previous = old_layers.get(name)
        if (previous and all(previous.get(key) == value for key, value in entry.items())
                and present.get(name) == previous.get('size') and _SHA256_RE.match(previous.get('sha256') or '')):
            entry.update(size=previous['size'], sha256=previous['sha256'])
            skipped.append(name)
        else:
            moves.append(layer['path'])
        entries[name] = entry
    return dict(names=names, layers=entries, moves=moves, skipped=skipped)


def check_manifest(manifest, where):
    """SnapshotError naming what is wrong with a manifest's structure."""
    def fail(message):
        raise SnapshotError('%s: manifest is not valid: %s' % (where, message))
    if not isinstance(manifest, dict) or manifest.get('version') != MANIFEST_VERSION:
        fail('expected a mapping with version %d' % MANIFEST_VERSION)
    layers = manifest.get('layers')
    if not isinstance(layers, dict) or not layers:
        fail('no layers')
    for name, entry in sorted(layers.items()):
        if '/' in name or name.startswith('.') or name == MANIFEST:
            fail('layer name %r is not a plain file name' % name)
        if not isinstance(entry.get('size'), int) or not _SHA256_RE.match(str(entry.get('sha256'))):
            fail('layer %s needs an integer size and a sha256' % name)
        if entry.get('backing') is not None and entry['backing'] not in layers:
            fail('layer %s sits on %s, which is not in the manifest' % (name, entry['backing']))
    files = manifest.get('files') or {}
    for name, entry in sorted(files.items()):
        if '/' in name or name.startswith('.') or name == MANIFEST or name in layers:
            fail('file name %r is not a plain file name of its own' % name)
        if not isinstance(entry.get('size'), int) or not _SHA256_RE.match(str(entry.get('sha256'))):
            fail('file %s needs an integer size and a sha256' % name)
    vms = manifest.get('vms')
    if not isinstance(vms, dict) or not vms:
        fail('no vms')
    for vm_name, vm in sorted(vms.items()):
        for disk_name, disk in sorted((vm.get('disks') or {}).items()):
            if disk.get('layer') not in layers:
                fail('vm %s disk %s names layer %r, which is not in the manifest' % (vm_name, disk_name, disk.get('layer')))
        if vm.get('memory') is not None and vm['memory'] not in files:
            fail('vm %s names saved memory %r, which is not in the manifest' % (vm_name, vm['memory']))
    identity = manifest.get('identity')
    if identity is not None and (not isinstance(identity, dict) or identity.get('file') not in files):
        fail('the identity names a key file that is not in the manifest')


def plan_files(files, old=None, present=None, used=()):
    """What an export writes of the state's other files (saved memory, the prefix's key). Pure.

    ``files``: [dict(path, source)]; ``old``, ``present`` as for plan_export;
    ``used``: the layers' file names. Returns dict(names={path: file},
    files={file: entry}, moves=[paths to copy], skipped=[files kept]).
    """
    old_files = (old or {}).get('files', {})
    present = present or {}
    reusable = dict((entry.get('source'), name) for name, entry in old_files.items())
    names, entries, moves, skipped = {}, {}, [], []
    for item in files:
        name = reusable.get(item['source'])
        if name is None or name in entries or name in used:
            name = pool_file_name(item['path'], set(entries) | set(old_files) | set(used))
        names[item['path']] = name
        entry = dict(source=item['source'])
        previous = old_files.get(name)
        if (previous and previous.get('source') == item['source'] and present.get(name) == previous.get('size')
                and _SHA256_RE.match(previous.get('sha256') or '')):
            entry.update(size=previous['size'], sha256=previous['sha256'])
            skipped.append(name)
        else:
            moves.append(item['path'])
        entries[name] = entry
    return dict(names=names, files=entries, moves=moves, skipped=skipped)


def file_problem(directory, name, entry, verified=None):
    """What is wrong with the state's file ``name`` in ``directory`` against its manifest
    ``entry`` (missing, size, sha256), or None.

    With ``verified`` (a Verified record of the pool state), a file that is the very one
    hashed before - same inode, size and mtime, and the sha256 the manifest wants - is not
    read again; one that checks out is recorded."""
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        return '%s is missing' % name
    size = os.path.getsize(path)
    if size != entry['size']:
        return '%s has %d bytes, the manifest says %d' % (name, size, entry['size'])
    if verified is not None and verified.known(path, name, entry['sha256']):
        return None
    if sha256_of(path) != entry['sha256']:
        return '%s fails its sha256 (manifest: %s)' % (name, entry['sha256'])
    if verified is not None:
        verified.add(path, name, entry['sha256'])
    return None


class Verified(object):
    """The files of a local pool state whose sha256 was checked, each with the inode, size and
    mtime it had then (``VERIFIED`` in the state's directory). A local pool's files are hard
    links of the state's own: the same inode, unchanged since, need not be hashed again. A
    file written since (its mtime) or put in its place (its inode) is hashed; so is every
    file fetched from another host (a copy: a new inode)."""

    def __init__(self, path):
        self.path = path
        found = read_json(path, {}) if path else {}
        self.files = found if isinstance(found, dict) else {}
        self.lock = threading.Lock()
        self.changed = False

    @staticmethod
    def _stat(path, sha256):
        info = os.stat(path)
        return dict(ino=info.st_ino, size=info.st_size, mtime_ns=info.st_mtime_ns, sha256=sha256)

    def known(self, path, name, sha256):
        return self.path is not None and self.files.get(name) == self._stat(path, sha256)

    def add(self, path, name, sha256):
        with self.lock:
            self.files[name] = self._stat(path, sha256)
            self.changed = True

    def save(self):
        """Write the record (atomically) when files were added; a record that cannot be written
        only costs the next resume a hash."""
        if self.path is None or not self.changed:
            return
        try:
            write_json(self.path, self.files)
        except (IOError, OSError):
            pass


def layers_under(manifest, top):
    """The files of the chain under ``top``, top first."""
    found = []
    name = top
    while name is not None and name not in found:
        found.append(name)
        name = manifest['layers'][name]['backing']
    return found


def disk_of(manifest, vm_name, disk_name, where):
    """The manifest's entry for ``vm_name``'s disk ``disk_name``; the error lists what there is."""
    vms = manifest['vms']
    if vm_name not in vms:
        raise SnapshotError('%s has no vm %s (it has: %s)' % (where, vm_name, ', '.join(sorted(vms))))
    disks = vms[vm_name].get('disks') or {}
    if disk_name not in disks:
        raise SnapshotError('%s: vm %s has no disk %s (it has: %s)'
                            % (where, vm_name, disk_name, ', '.join(sorted(disks))))
    return disks[disk_name]
