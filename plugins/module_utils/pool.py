# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state pool: a snapshot's whole backing chains, shared between prefixes and hosts.

See docs/POOL.md. A pool is a directory, local or ``[user@]host:/path``
(reached with rsync and ssh)::

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
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, LockTimeout, SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock, read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.runner import run
from ansible_collections.lago.lago.plugins.module_utils.snapshot import check_name, now, sha256_of, vms_with
from ansible_collections.lago.lago.plugins.module_utils.values import REMOTE_LOCATION_RE, is_remote_location

MANIFEST = 'manifest.json'
MANIFEST_VERSION = 1
STAGING = '.staging'
DEFAULT_SSH = 'ssh'
SSH_ENV = 'LAGO_POOL_SSH'
_UNSAFE_CHARS_RE = re.compile(r'[^A-Za-z0-9._+-]')
_SHA256_RE = re.compile(r'^[0-9a-f]{64}$')


def open_pool(location, ssh=None):
    """The pool at ``location``: a local directory or ``[user@]host:/path``."""
    if is_remote_location(location):
        match = REMOTE_LOCATION_RE.match(location)
        return RemotePool(match.group('host'), match.group('path'), ssh or os.environ.get(SSH_ENV) or DEFAULT_SSH)
    return LocalPool(location)


def split_state(location):
    """``<pool>/<state>`` (as an init file names a pool state) as (pool, state)."""
    pool, _sep, name = location.rstrip('/').rpartition('/')
    if not pool or not name:
        raise SnapshotError('%r does not name a state in a pool: give <pool>/<state>' % location)
    return pool, name


# ---------------------------------------------------------------- manifests

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


def source_id(path, layer=None):
    """What a layer is, cheaply: its recorded sha256 when frozen by a prefix, else its
    file's identity (path, size, mtime) - templates are never written in place."""
    if layer and layer.get('sha256'):
        return 'sha256:%s' % layer['sha256']
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
    vms = manifest.get('vms')
    if not isinstance(vms, dict) or not vms:
        fail('no vms')
    for vm_name, vm in sorted(vms.items()):
        for disk_name, disk in sorted((vm.get('disks') or {}).items()):
            if disk.get('layer') not in layers:
                fail('vm %s disk %s names layer %r, which is not in the manifest' % (vm_name, disk_name, disk.get('layer')))


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


# -------------------------------------------------------------------- pools

class LocalPool(object):
    """A pool directory on this host (or on storage mounted here)."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))
        self.remote = False

    def __str__(self):
        return self.root

    def state_dir(self, name):
        return os.path.join(self.root, name)

    @contextlib.contextmanager
    def lock(self, name, shared=False, timeout=300.0):
        with file_lock(os.path.join(self.root, '.locks', name + '.lock'), timeout=timeout, shared=shared,
                       what='pool state %s' % name):
            yield

    def read_manifest(self, name):
        path = os.path.join(self.state_dir(name), MANIFEST)
        if not os.path.exists(path):
            return None
        try:
            return read_json(path)
        except ValueError as err:
            raise SnapshotError('pool state %s: %s is not JSON: %s' % (name, path, err))

    def sizes(self, name):
        directory = self.state_dir(name)
        if not os.path.isdir(directory):
            return {}
        return {entry.name: entry.stat().st_size for entry in os.scandir(directory)
                if entry.is_file() and not entry.name.startswith('.') and entry.name != MANIFEST}

    def staging_dir(self, name, near=None):
        path = os.path.join(self.state_dir(name), STAGING)
        shutil.rmtree(path, ignore_errors=True)  # what a cut-short export left
        os.makedirs(path)
        return path

    def put(self, name, staged, files):
        for file_name in files:
            os.rename(os.path.join(staged, file_name), os.path.join(self.state_dir(name), file_name))
        shutil.rmtree(staged, ignore_errors=True)

    def get(self, name, files, dest):
        """Link (or copy) ``files`` of the state into the directory ``dest``; bytes copied."""
        copied = 0
        for file_name in files:
            source = os.path.join(self.state_dir(name), file_name)
            target = os.path.join(dest, file_name)
            remove_path(target)
            try:
                os.link(source, target)
            except OSError:  # another file system, or links not allowed: copy
                shutil.copyfile(source, target)
                copied += os.path.getsize(target)
        return copied

    def write_manifest(self, name, manifest):
        write_json(os.path.join(self.state_dir(name), MANIFEST), manifest)

    def remove_files(self, name, files):
        for file_name in files:
            remove_path(os.path.join(self.state_dir(name), file_name))

    def remove_state(self, name):
        shutil.rmtree(self.state_dir(name), ignore_errors=True)


class RemotePool(object):
    """A pool directory on another host: small commands over ssh, layers through rsync."""

    def __init__(self, host, root, ssh):
        self.host = host
        self.root = root.rstrip('/') or '/'
        self.ssh = shlex.split(ssh)
        self.remote = True

    def __str__(self):
        return '%s:%s' % (self.host, self.root)

    def state_dir(self, name):
        return '%s/%s' % (self.root, name)

    def _sh(self, command, what):
        try:
            return run(self.ssh + [self.host, command])[1]
        except LagoError as err:  # the command failed, or ssh itself is missing
            raise SnapshotError('pool %s: %s failed: %s' % (self, what, err))

    def _rsync(self, args, what):
        try:
            run(['rsync', '--times', '--chmod=F644', '-e', ' '.join(shlex.quote(arg) for arg in self.ssh)] + args)
        except LagoError as err:
            raise SnapshotError('pool %s: %s failed: %s' % (self, what, err))

    @contextlib.contextmanager
    def lock(self, name, shared=False, timeout=300.0):
        """flock on the remote host, held as long as our ssh session stays open."""
        lock_dir = '%s/.locks' % self.root
        command = 'mkdir -p %s && exec flock %s -w %d %s -c %s' % (
            shlex.quote(lock_dir), '-s' if shared else '-x', max(int(timeout), 1),
            shlex.quote('%s/%s.lock' % (lock_dir, name)), shlex.quote('echo locked; exec cat >/dev/null'))
        proc = subprocess.Popen(self.ssh + [self.host, command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        try:
            if proc.stdout.readline().strip() != 'locked':
                proc.stdin.close()
                err = proc.stderr.read().strip()
                proc.wait()
                raise LockTimeout('pool %s: could not lock state %s within %ss%s'
                                  % (self, name, timeout, ': %s' % err if err else ''))
            yield
        finally:
            if proc.poll() is None:
                proc.stdin.close()
                proc.wait()

    def read_manifest(self, name):
        path = shlex.quote('%s/%s' % (self.state_dir(name), MANIFEST))
        text = self._sh('if [ -f %s ]; then cat %s; fi' % (path, path), 'reading the manifest of %s' % name)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as err:
            raise SnapshotError('pool %s: the manifest of state %s is not JSON: %s' % (self, name, err))

    def sizes(self, name):
        directory = shlex.quote(self.state_dir(name))
        out = self._sh('if [ -d %s ]; then find %s -maxdepth 1 -type f -printf "%%s %%f\\n"; fi'
                       % (directory, directory), 'listing state %s' % name)
        found = {}
        for line in out.splitlines():
            size, _sep, file_name = line.partition(' ')
            if file_name and not file_name.startswith('.') and file_name != MANIFEST:
                found[file_name] = int(size)
        return found

    def staging_dir(self, name, near=None):
        return tempfile.mkdtemp(prefix='.lago-pool-', dir=near)

    def put(self, name, staged, files):
        try:
            self._sh('mkdir -p %s' % shlex.quote(self.state_dir(name)), 'creating state %s' % name)
            if files:
                self._rsync([os.path.join(staged, file_name) for file_name in files]
                            + ['%s:%s/' % (self.host, self.state_dir(name))], 'sending layers of %s' % name)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def get(self, name, files, dest):
        """rsync ``files`` of the state into the directory ``dest``; bytes copied."""
        if files:
            listing = os.path.join(dest, '.files-from')
            with open(listing, 'w') as handle:
                handle.write(''.join(file_name + '\n' for file_name in files))
            try:
                self._rsync(['--files-from=%s' % listing, '%s:%s/' % (self.host, self.state_dir(name)), dest + '/'],
                            'fetching layers of %s' % name)
            finally:
                remove_path(listing)
        return sum(os.path.getsize(os.path.join(dest, file_name)) for file_name in files)

    def write_manifest(self, name, manifest):
        scratch = tempfile.mkdtemp(prefix='.lago-pool-')
        try:
            write_json(os.path.join(scratch, MANIFEST), manifest)
            self._rsync([os.path.join(scratch, MANIFEST), '%s:%s/' % (self.host, self.state_dir(name))],
                        'writing the manifest of %s' % name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def remove_files(self, name, files):
        if files:
            self._sh('cd %s && rm -f -- %s' % (shlex.quote(self.state_dir(name)),
                                               ' '.join(shlex.quote(file_name) for file_name in files)),
                     'removing files of %s' % name)

    def remove_state(self, name):
        self._sh('rm -rf -- %s' % shlex.quote(self.state_dir(name)), 'removing state %s' % name)


# ------------------------------------------------------------------- export

def chains_of(state, snapshot, vms=None):
    """The layers a pool state of ``snapshot`` holds (bottom first, each once) and,
    per VM, the top layer of each disk. Read from the images themselves."""
    layers, by_path, vm_entries = [], {}, {}
    for vm_name in vms_with(state, snapshot, vms):
        vm = state['vms'][vm_name]
        record = vm['snapshots'][snapshot]
        disks = {}
        for disk in vm['disks']:
            top = record['disks'].get(disk['name'])
            if top is None:
                continue
            for layer in reversed(_image_chain(top, disk.get('layers', {}))):
                if layer['path'] not in by_path:
                    by_path[layer['path']] = layer
                    layers.append(layer)
            disks[disk['name']] = dict(top=top, dev=disk['dev'])
        vm_entries[vm_name] = dict(running=record['running'], taken=record['taken'],
                                   consistency=record['consistency'], disks=disks)
    return layers, vm_entries


def _image_chain(top, records):
    """The chain under ``top`` as qemu-img sees it, top first."""
    found = []
    path = top
    for info in qemu_img.info(top, backing_chain=True):
        backing = qemu_img.backing_path(info, path)
        found.append(dict(path=path, format=info['format'], backing=backing,
                          backing_format=info.get('backing-filename-format'),
                          size=os.path.getsize(path), source=source_id(path, records.get(path))))
        path = backing
    return found


def export(state, snapshot, location, name=None, vms=None, ssh=None, lock_timeout=300.0, check_mode=False):
    """Export snapshot ``snapshot`` of the prefix ``state`` to the pool at ``location`` as
    state ``name``. Returns dict(changed, bytes_moved, moved, skipped, removed, manifest)."""
    name = name or snapshot
    check_name(name, 'pool state')
    pool = open_pool(location, ssh)
    layers, vm_entries = chains_of(state, snapshot, vms)
    with pool.lock(name, timeout=lock_timeout):
        old = pool.read_manifest(name)
        present = pool.sizes(name)
        plan = plan_export(layers, old, present)
        vms_doc = {vm_name: dict(entry, disks={disk: dict(layer=plan['names'][item['top']], dev=item['dev'])
                                               for disk, item in entry['disks'].items()})
                   for vm_name, entry in vm_entries.items()}
        stale = sorted(set(present) - set(plan['layers']))
        unchanged = (not plan['moves'] and not stale and old is not None
                     and old.get('layers') == plan['layers'] and old.get('vms') == vms_doc)
        result = dict(changed=not unchanged, moved=[plan['names'][path] for path in plan['moves']],
                      skipped=plan['skipped'], removed=stale, pool=str(pool), name=name, previous=old)
        if unchanged or check_mode:
            by_path = {layer['path']: layer for layer in layers}
            result.update(bytes_moved=0 if unchanged else sum(by_path[path]['size'] for path in plan['moves']),
                          manifest=old if unchanged else None)
            return result
        if old is not None:
            pool.remove_files(name, [MANIFEST])  # from here until it is written again: incomplete
        moved_bytes = _send(pool, name, state['path'], plan)
        pool.remove_files(name, stale)
        manifest = dict(version=MANIFEST_VERSION, name=name, created=now(), layers=plan['layers'], vms=vms_doc,
                        origin=dict(host=socket.gethostname(), prefix=state['path'], snapshot=snapshot))
        pool.write_manifest(name, manifest)
        result.update(bytes_moved=moved_bytes, manifest=manifest)
        return result


def _send(pool, name, prefix_path, plan):
    """Copy the layers to move into a staging directory, point each at the file
    name of the layer below, hash them, then move them into the pool. Bytes moved."""
    if not plan['moves']:
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
            if entry['backing']:
                qemu_img.rebase(target, entry['backing'], entry['backing_format'] or 'qcow2', unsafe=True)
            entry.update(size=os.path.getsize(target), sha256=sha256_of(target))
            moved += entry['size']
        pool.put(name, staged, [plan['names'][path] for path in plan['moves']])
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return moved


def remove_state(location, name, ssh=None, lock_timeout=300.0, check_mode=False):
    """Remove state ``name`` from the pool. True if it was there."""
    check_name(name, 'pool state')
    pool = open_pool(location, ssh)
    if not pool.remote and not os.path.isdir(pool.root):
        return False
    with pool.lock(name, timeout=lock_timeout):
        there = pool.read_manifest(name) is not None or bool(pool.sizes(name))
        if there and not check_mode:
            pool.remove_state(name)
    return there


def read_state(location, name, ssh=None, lock_timeout=300.0):
    """The manifest of a complete pool state; SnapshotError when it is missing or incomplete."""
    pool = open_pool(location, ssh)
    with pool.lock(name, shared=True, timeout=lock_timeout):
        return _complete_manifest(pool, name)


def _complete_manifest(pool, name):
    manifest = pool.read_manifest(name)
    where = 'pool state %s in %s' % (name, pool)
    if manifest is None:
        raise SnapshotError('%s does not exist or is incomplete (no %s; export it again)' % (where, MANIFEST))
    check_manifest(manifest, where)
    return manifest


# ------------------------------------------------------------------- import

def import_disk(location, name, vm_name, disk_name, dest_root, ssh=None, lock_timeout=300.0):
    """Bring the chain under ``vm_name``'s disk ``disk_name`` of pool state ``name`` to
    ``dest_root/<name>@<content id>/``, checking every layer against the manifest.

    Layers already there are kept; a local pool's layers are hard-linked when
    they can be. Returns dict(top, format, files, bytes_moved).
    """
    check_name(name, 'pool state')
    pool = open_pool(location, ssh)
    with pool.lock(name, shared=True, timeout=lock_timeout):
        manifest = _complete_manifest(pool, name)
        where = 'pool state %s in %s' % (name, pool)
        top = disk_of(manifest, vm_name, disk_name, where)['layer']
        files = layers_under(manifest, top)
        dest = os.path.join(dest_root, '%s@%s' % (name, manifest_id(manifest)))
        os.makedirs(dest, exist_ok=True)
        missing = [file_name for file_name in files
                   if not _in_place(os.path.join(dest, file_name), manifest['layers'][file_name])]
        incoming = tempfile.mkdtemp(prefix='.incoming-', dir=dest)
        try:
            moved = pool.get(name, missing, incoming)
            _verify(incoming, missing, manifest, where)
            for file_name in missing:
                os.rename(os.path.join(incoming, file_name), os.path.join(dest, file_name))
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
    return dict(top=os.path.join(dest, top), format=manifest['layers'][top]['format'],
                files=[os.path.join(dest, file_name) for file_name in files], bytes_moved=moved)


def _in_place(path, entry):
    """A layer this prefix imported (and checked) before: same size."""
    return os.path.isfile(path) and os.path.getsize(path) == entry['size']


def _verify(directory, files, manifest, where):
    """SnapshotError listing every fetched layer that does not match the manifest."""
    wrong = []
    for file_name in files:
        entry = manifest['layers'][file_name]
        path = os.path.join(directory, file_name)
        if not os.path.isfile(path):
            wrong.append('%s is missing' % file_name)
            continue
        size = os.path.getsize(path)
        if size != entry['size']:
            wrong.append('%s has %d bytes, the manifest says %d' % (file_name, size, entry['size']))
        elif sha256_of(path) != entry['sha256']:
            wrong.append('%s fails its sha256 (manifest: %s)' % (file_name, entry['sha256']))
        elif (qemu_img.info(path, backing_chain=False)[0].get('backing-filename') or None) != entry['backing']:
            wrong.append('%s does not sit on %s as the manifest says' % (file_name, entry['backing']))
    if wrong:
        raise SnapshotError('%s does not match its manifest (nothing was imported): %s' % (where, '; '.join(wrong)))
