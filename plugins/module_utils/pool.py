# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state pool: a snapshot's whole backing chains, shared between prefixes and hosts.

See docs/POOL.md. A pool is a directory, local or ``[user@]host:/path``
(reached with rsync and ssh; see pool_transfer)::

    <pool>/<state>/manifest.json   every layer with its size and sha256; written last
    <pool>/<state>/<layer>         qcow2 layers; each names the one below by file name only
    <pool>/.locks/<state>.lock     one lock per state

A state without its manifest is incomplete: export removes the manifest before
it changes any layer and writes it again when all of them are in place, each
through a temp name and a rename. Export skips layers the pool holds already
(same source, same size); an unchanged state moves 0 bytes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import shutil
import socket
import tempfile

from ansible_collections.lago.lago.plugins.module_utils import faults, pool_memory, qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.pool_manifest import (
    MANIFEST, MANIFEST_VERSION, check_manifest, disk_of, file_problem, layers_under, manifest_id, plan_export, plan_files,
    source_id)
from ansible_collections.lago.lago.plugins.module_utils.pool_transfer import open_pool
from ansible_collections.lago.lago.plugins.module_utils.snapshot import check_name, vms_with
from ansible_collections.lago.lago.plugins.module_utils.timestamps import now

DEFAULT_LOCK_TIMEOUT = 300.0


def split_state(location):
    """``<pool>/<state>`` (as an init file names a pool state) as (pool, state)."""
    pool, _sep, name = location.rstrip('/').rpartition('/')
    if not pool or not name:
        raise SnapshotError('%r does not name a state in a pool: give <pool>/<state>' % location)
    return pool, name


@contextlib.contextmanager
def locked_state(location, name, ssh=None, timeout=DEFAULT_LOCK_TIMEOUT, shared=False, create=True):
    """The pool at ``location`` with state ``name`` locked. Without ``create`` a local pool
    directory that does not exist is left so (it holds nothing to lock)."""
    check_name(name, 'pool state')
    pool = open_pool(location, ssh)
    if not create and not pool.remote and not os.path.isdir(pool.root):
        yield pool
        return
    with pool.lock(name, shared=shared, timeout=timeout):
        yield pool


def view(manifest):
    """The diff's view of a pool state: each layer file (format, backing, source) and each
    VM's disks' top layer; {} when the state does not exist."""
    if manifest is None:
        return {}
    found = dict(layers=dict((name, dict(format=entry.get('format'), backing=entry.get('backing'),
                                         source=entry.get('source')))
                             for name, entry in sorted((manifest.get('layers') or {}).items())),
                 vms=dict((vm_name, dict((disk, item.get('layer')) for disk, item in (vm.get('disks') or {}).items()))
                          for vm_name, vm in (manifest.get('vms') or {}).items()))
    if manifest.get('files'):
        found['files'] = dict((name, entry.get('source')) for name, entry in sorted(manifest['files'].items()))
    return found


# ------------------------------------------------------------------- export

def chains_of(state, snapshot, vms=None):
    """The layers a pool state of ``snapshot`` holds (bottom first, each once) and,
    per VM, the top layer of each disk. Read from the images themselves."""
    layers, by_path, vm_entries = [], {}, {}
    for vm_name in vms_with(state, snapshot, vms):
        vm = state.vm(vm_name)
        record = vm.snapshot(snapshot)
        disks = {}
        for disk in vm.disks:
            top = record.disks.get(disk.name)
            if top is None:
                continue
            for layer in reversed(_image_chain(top, disk)):
                if layer['path'] not in by_path:
                    by_path[layer['path']] = layer
                    layers.append(layer)
            disks[disk.name] = dict(top=top, dev=disk.dev)
        vm_entries[vm_name] = dict(running=record.running, taken=record.taken,
                                   consistency=record.consistency, disks=disks)
    return layers, vm_entries


def _image_chain(top, disk):
    """The chain under ``top`` as qemu-img sees it, top first."""
    found = []
    path = top
    for info in qemu_img.info(top, backing_chain=True):
        backing = qemu_img.backing_path(info, path)
        layer = disk.layer(path)
        found.append(dict(path=path, format=info['format'], backing=backing,
                          backing_format=info.get('backing-filename-format'),
                          size=os.path.getsize(path), source=source_id(path, layer.sha256 if layer else None)))
        path = backing
    return found


def plan_export_state(state, snapshot, pool, name, vms=None):
    """Export snapshot ``snapshot`` of the prefix ``state`` to ``pool`` (from locked_state)
    as state ``name``. Nothing to do when the pool holds it as it is."""
    layers, vm_entries = chains_of(state, snapshot, vms)
    old = pool.read_manifest(name)
    present = pool.sizes(name)
    moves = plan_export(layers, old, present)
    extras = pool_memory.files_of(state, snapshot, vm_entries)
    others = plan_files(extras['files'], old, present, used=set(moves['layers']))
    vms_doc = dict((vm_name, dict(entry, disks=dict((disk, dict(layer=moves['names'][item['top']], dev=item['dev']))
                                                    for disk, item in entry['disks'].items())))
                   for vm_name, entry in vm_entries.items())
    predicted = dict(version=MANIFEST_VERSION, layers=moves['layers'], vms=vms_doc)
    pool_memory.describe(predicted, extras, others)
    stale = sorted(set(present) - set(moves['layers']) - set(others['files']))
    unchanged = (not moves['moves'] and not others['moves'] and not stale and old is not None
                 and all(old.get(key) == value for key, value in predicted.items() if key != 'version'))
    sizes = dict((item['path'], item['size']) for item in layers + extras['files'])
    to_move = moves['moves'] + others['moves']
    names = dict(moves['names'], **others['names'])
    values = dict(moved=[names[path] for path in to_move], skipped=moves['skipped'] + others['skipped'],
                  removed=stale, pool=str(pool), name=name,
                  bytes_moved=0 if unchanged else sum(sizes[path] for path in to_move),
                  manifest=old if unchanged else None)
    steps = [] if unchanged else (['remove the manifest of %s' % name] if old is not None else []) + [
        'copy %s to %s' % (path, names[path]) for path in to_move] + [
        'remove %s' % file_name for file_name in stale] + ['write the manifest of %s' % name]

    def apply():
        if old is not None:
            pool.remove_files(name, [MANIFEST])  # from here until it is written again: incomplete
        moved_bytes = _send(pool, name, state.path, moves, others)
        pool.remove_files(name, stale)
        manifest = dict(predicted, name=name, created=now(),
                        origin=dict(host=socket.gethostname(), prefix=state.path, snapshot=snapshot))
        pool.write_manifest(name, manifest)
        return dict(bytes_moved=moved_bytes, manifest=manifest, after=view(manifest))
    return Plan('pool_state', view(old), view(predicted), steps, apply, values)


def _send(pool, name, prefix_path, plan, others):
    """Copy the layers to move into a staging directory, point each at the file
    name of the layer below, hash them, then move them into the pool; the other
    files (saved memory, the prefix's key) likewise, 0600. Bytes moved."""
    if not plan['moves'] and not others['moves']:
        return 0
    if not pool.remote:
        os.makedirs(pool.state_dir(name), exist_ok=True)
    staged = pool.staging_dir(name, near=prefix_path)
    try:
        moved = 0
        for path in plan['moves']:
            file_name = plan['names'][path]
            entry = plan['layers'][file_name]
            target = os.path.join(staged, file_name)
            shutil.copyfile(path, target)
            faults.point('pool.export_after_copy')
            if entry['backing']:
                qemu_img.rebase(target, entry['backing'], entry['backing_format'] or 'qcow2', unsafe=True)
            entry.update(size=os.path.getsize(target), sha256=sha256_of(target))
            moved += entry['size']
        for path in others['moves']:
            file_name = others['names'][path]
            target = os.path.join(staged, file_name)
            shutil.copyfile(path, target)
            os.chmod(target, 0o600)
            others['files'][file_name].update(size=os.path.getsize(target), sha256=sha256_of(target))
            moved += others['files'][file_name]['size']
        pool.put(name, staged, [plan['names'][path] for path in plan['moves']]
                 + [others['names'][path] for path in others['moves']])
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return moved


def plan_remove_state(pool, name):
    """Remove state ``name`` from ``pool`` (from locked_state with create=False)."""
    there = (pool.remote or os.path.isdir(pool.root)) and (pool.read_manifest(name) is not None
                                                           or bool(pool.sizes(name)))
    before = view(pool.read_manifest(name)) or ({'incomplete': True} if there else {})
    return Plan('pool_state', before, {}, ['remove state %s from %s' % (name, pool)] if there else [],
                lambda: pool.remove_state(name))


def read_state(location, name, ssh=None, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """The manifest of a complete pool state; SnapshotError when it is missing or incomplete."""
    with locked_state(location, name, ssh, lock_timeout, shared=True) as pool:
        return _complete_manifest(pool, name)


def _complete_manifest(pool, name):
    manifest = pool.read_manifest(name)
    where = 'pool state %s in %s' % (name, pool)
    if manifest is None:
        raise SnapshotError('%s does not exist or is incomplete (no %s; export it again)' % (where, MANIFEST))
    check_manifest(manifest, where)
    return manifest


# ------------------------------------------------------------------- import

def import_disk(location, name, vm_name, disk_name, dest_root, ssh=None, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Bring the chain under ``vm_name``'s disk ``disk_name`` of pool state ``name`` to
    ``dest_root/<name>@<content id>/``, checking every layer against the manifest.

    Layers already there are kept; a local pool's layers are hard-linked when
    they can be. Returns dict(top, format, files, bytes_moved).
    """
    with locked_state(location, name, ssh, lock_timeout, shared=True) as pool:
        manifest = _complete_manifest(pool, name)
        where = 'pool state %s in %s' % (name, pool)
        top = disk_of(manifest, vm_name, disk_name, where)['layer']
        files = layers_under(manifest, top)
        dest = import_dir(dest_root, name, manifest)
        os.makedirs(dest, exist_ok=True)
        missing = [file_name for file_name in files
                   if not _in_place(os.path.join(dest, file_name), manifest['layers'][file_name])]
        incoming = tempfile.mkdtemp(prefix='.incoming-', dir=dest)
        try:
            moved = pool.get(name, missing, incoming)
            verified = pool.verified(name)
            _verify(incoming, missing, manifest, where, verified)
            verified.save()
            for file_name in missing:
                os.rename(os.path.join(incoming, file_name), os.path.join(dest, file_name))
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
    return dict(top=os.path.join(dest, top), format=manifest['layers'][top]['format'],
                files=[os.path.join(dest, file_name) for file_name in files], bytes_moved=moved)


def import_dir(dest_root, name, manifest):
    """Where a prefix keeps the layers of state ``name`` it imported: one directory per content."""
    return os.path.join(dest_root, '%s@%s' % (name, manifest_id(manifest)))


def _in_place(path, entry):
    """A layer this prefix imported (and checked) before: same size."""
    return os.path.isfile(path) and os.path.getsize(path) == entry['size']


def _verify(directory, files, manifest, where, verified=None):
    """SnapshotError listing every fetched layer that does not match the manifest (``verified``:
    pool_manifest.Verified, the layers hashed before)."""
    wrong = []
    for file_name in files:
        entry = manifest['layers'][file_name]
        problem = file_problem(directory, file_name, entry, verified)
        if problem:
            wrong.append(problem)
        elif (qemu_img.info(os.path.join(directory, file_name), backing_chain=False)[0].get('backing-filename')
              or None) != entry['backing']:
            wrong.append('%s does not sit on %s as the manifest says' % (file_name, entry['backing']))
    if wrong:
        raise SnapshotError('%s does not match its manifest (nothing was imported): %s' % (where, '; '.join(wrong)))
