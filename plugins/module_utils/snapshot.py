# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a prefix's VMs: chains of qcow2 layers recorded in state.json.

See docs/SNAPSHOTS.md. In each disk record of a VM:

- ``path`` is the image the VM writes to and ``parent`` what it sits on (a
  frozen layer, the template, or None);
- ``layers`` holds the frozen layers by path, each with its ``backing``,
  ``format``, ``sha256`` and ``size`` when frozen, whether the prefix
  ``owned`` it, and ``immutable`` when it must never be written (the user's
  own file disk).

``vm['snapshots'][name]`` records when it was ``taken``, whether the VM was
``running``, how the guest was made ``consistent``, the layer of each disk
(``disks``) and, for a memory snapshot, the saved RAM (``memory``).

Taking a snapshot freezes the image the VM writes to where it is and puts a
new overlay ``images/<vm>_<disk>.<snapshot>.qcow2`` on top, so a frozen layer
is never moved and every chain stays valid; revert puts a fresh overlay of the
same name on the snapshot's layer. A layer that no snapshot needs any more is
removed, or merged with its only child (``compact``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import os

from ansible_collections.lago.lago.plugins.module_utils import domain, live_snapshot, qemu_img, values
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, SnapshotError, SpecError
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock, hash_file, remove_path
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.prefix_power import chosen_vms, start_nets
from ansible_collections.lago.lago.plugins.module_utils.runner import run
from ansible_collections.lago.lago.plugins.module_utils.ssh import ssh_argv

LOCK_NAME = '.snapshots.lock'


def check_name(name, what='snapshot'):
    try:
        values.snapshot_name(name, what)
    except SpecError as err:
        raise SnapshotError(str(err))


@contextlib.contextmanager
def locked(layout, timeout=300.0):
    """Hold the prefix's snapshot lock: one snapshot operation on a prefix at a time."""
    with file_lock(os.path.join(layout.path, LOCK_NAME), timeout=timeout,
                   what='snapshots of prefix %s' % layout.path):
        yield


def now():
    """The time stamp of records: UTC, ISO 8601, microseconds (so that they sort)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def sha256_of(path):
    return hash_file(path, 'sha256')


# ------------------------------------------------------------------ records

def snapshots_of(vm):
    return vm.setdefault('snapshots', {})


def index(state):
    """Every snapshot of the prefix, oldest first: {name: dict(taken, vms)}."""
    found = {}
    for vm_name, vm in sorted(state['vms'].items()):
        for name, record in vm.get('snapshots', {}).items():
            entry = found.setdefault(name, dict(taken=record['taken'], vms=[]))
            entry['taken'] = min(entry['taken'], record['taken'])
            entry['vms'].append(vm_name)
    return dict(sorted(found.items(), key=lambda item: (item[1]['taken'], item[0])))


def _existing(state):
    names = list(index(state))
    return ', '.join(names) if names else 'none'


def vms_with(state, name, vms=None):
    """The chosen VMs (all that have it, or ``vms``), each of which must have snapshot ``name``."""
    if not any(name in vm.get('snapshots', {}) for vm in state['vms'].values()):
        raise SnapshotError('snapshot %r does not exist in prefix %s; existing snapshots: %s'
                            % (name, state['path'], _existing(state)))
    if not vms:
        return [vm_name for vm_name in sorted(state['vms']) if name in state['vms'][vm_name].get('snapshots', {})]
    names = chosen_vms(state, vms)
    lacking = [vm_name for vm_name in names if name not in state['vms'][vm_name].get('snapshots', {})]
    if lacking:
        raise SnapshotError('snapshot %r was not taken of %s; it exists for: %s' % (
            name, ', '.join(lacking), ', '.join(index(state)[name]['vms'])))
    return names


# -------------------------------------------------------------- disk chains

def parent_of(disk):
    return disk.get('parent', disk.get('backing'))


def layers_of(disk):
    return disk.setdefault('layers', {})


def chain(disk, path):
    """The frozen layers from ``path`` down to the first image that is not one of the disk's layers."""
    found = []
    layers = disk.get('layers', {})
    while path in layers and path not in found:
        found.append(path)
        path = layers[path]['backing']
    return found


def base_of(disk, path):
    """The image below the disk's own layers under ``path`` (a template, or None)."""
    below = chain(disk, path)
    return disk['layers'][below[-1]]['backing'] if below else path


def running_chain(disk):
    return [disk['path']] + chain(disk, parent_of(disk))


def children(disk):
    """{image: [images sitting on it]} among the disk's layers and its running image."""
    found = {}
    for path, layer in sorted(disk.get('layers', {}).items()):
        found.setdefault(layer['backing'], []).append(path)
    found.setdefault(parent_of(disk), []).append(disk['path'])
    return found


def referenced(vm, disk_name):
    return {record['disks'][disk_name] for record in vm.get('snapshots', {}).values()
            if disk_name in record['disks']}


def mergeable(layer):
    """A layer compaction may write into: the prefix's own qcow2."""
    return layer.get('owned', True) and not layer.get('immutable') and layer['format'] == 'qcow2'


def next_compaction(vm, disk):
    """The next step that tidies the disk's layers, or None.

    ('drop', layer, None): no snapshot and no image needs the layer.
    ('merge', layer, child): only ``child`` needs it; the two become one.
    A layer with several children stays, unnamed, until fewer need it.
    """
    needed = referenced(vm, disk['name'])
    below = children(disk)
    for path, layer in sorted(disk.get('layers', {}).items()):
        if path in needed:
            continue
        kids = below.get(path, [])
        if not kids:
            return ('drop', path, None)
        if len(kids) == 1 and mergeable(layer):
            return ('merge', path, kids[0])
    return None


def overlay_path(layout, vm_name, disk, snapshot, replacing=None):
    """The new overlay's path: ``<vm>_<disk>.<snapshot>.qcow2``, or ``...<snapshot>~N.qcow2``
    when that name is a layer already. ``replacing`` is the image it takes the place of."""
    preferred = layout.overlay(vm_name, disk['name'], snapshot)
    taken = set(disk.get('layers', {})) | {disk['path']}
    taken.discard(replacing)
    path, number = preferred, 1
    while path in taken or (path != replacing and os.path.lexists(path)):
        number += 1
        path = '%s~%d.qcow2' % (preferred[:-len('.qcow2')], number)
    return path


def _freeze(disk, taken):
    """Record the disk's running image as a frozen layer (hashed now: it is never written again)."""
    path = disk['path']
    owned = disk.get('owned', True)
    layers_of(disk)[path] = dict(backing=parent_of(disk), format=disk['format'], sha256=sha256_of(path),
                                 size=os.path.getsize(path), frozen=taken, owned=owned, immutable=not owned)


def _move_onto(disk, new_path, layer_path):
    disk.update(path=new_path, parent=layer_path, format='qcow2', owned=True)


def _replace_references(vm, disk, old, new):
    for record in vm.get('snapshots', {}).values():
        if record['disks'].get(disk['name']) == old:
            record['disks'][disk['name']] = new
    for layer in disk.get('layers', {}).values():
        if layer['backing'] == old:
            layer['backing'] = new
    if parent_of(disk) == old:
        disk['parent'] = new


def disk_sources(vm):
    return {disk['dev']: (disk['path'], disk['format']) for disk in vm['disks']}


def _sync_definition(conn, vm):
    """The persistent domain uses the disks' current images (libvirt updates only the live one)."""
    domain.set_disk_sources(conn, vm['libvirt_name'], disk_sources(vm))


def running_domain(conn, vm):
    """The VM's domain when it runs, None when it is off; SnapshotError when libvirt lost it."""
    dom = lookup_domain(conn, vm['libvirt_name'])
    if dom is None:
        raise SnapshotError('domain %s is missing from libvirt: run lago_prefix with state=present '
                            'to define it again' % vm['libvirt_name'])
    return dom if dom.isActive() else None


def snapshot_disks(vm):
    """The disks a snapshot covers: images qemu-img can layer (not ISO images)."""
    return [disk for disk in vm['disks'] if disk['format'] in qemu_img.FORMATS]


# ------------------------------------------------------------------ compact

def compact(vm, dom=None):
    """Drop and merge the layers no snapshot needs; ``dom`` is the VM's running domain, if any.

    Returns what was done, e.g. ``['merged images/vm01_root.qcow2 into ...']``.
    """
    done = []
    for disk in vm['disks']:
        step = next_compaction(vm, disk)
        while step is not None:
            kind, layer, child = step
            if kind == 'drop':
                _drop(disk, layer)
                done.append('removed layer %s' % layer)
            elif dom is not None and child in running_chain(disk):
                _merge_live(dom, vm, disk, layer, child)
                done.append('merged layer %s with %s (live)' % (layer, child))
            else:
                _merge_offline(vm, disk, layer, child)
                done.append('merged layer %s into %s' % (layer, child))
            step = next_compaction(vm, disk)
    return done


def _drop(disk, path):
    layer = disk['layers'].pop(path)
    if layer.get('owned', True):
        remove_path(path)


def _merge_offline(vm, disk, path, child):
    """Commit ``child`` into the layer below it, which then takes the child's name:
    whatever sits on the child stays valid without a rebase."""
    layer = disk['layers'].pop(path)
    qemu_img.commit(child, drop=True)
    os.rename(path, child)
    if child == disk['path']:
        disk['parent'] = layer['backing']
    else:
        kid = disk['layers'][child]
        kid.update(backing=layer['backing'], sha256=sha256_of(child), size=os.path.getsize(child))


def _merge_live(dom, vm, disk, path, child):
    """Merge under the running guest: pull the layer into the running image, or
    commit an intermediate child down into the layer (which then stands for it)."""
    layer = disk['layers'][path]
    if child == disk['path']:
        live_snapshot.pull(dom, disk['dev'], layer['backing'])
        del disk['layers'][path]
        disk['parent'] = layer['backing']
        remove_path(path)
        return
    live_snapshot.commit(dom, disk['dev'], child, path)
    kid = disk['layers'].pop(child)
    remove_path(child)
    layer.update(sha256=sha256_of(path), size=os.path.getsize(path), frozen=kid['frozen'])
    _replace_references(vm, disk, child, path)


# --------------------------------------------------------------------- take

def plan_present(state, name, vms=None, force=False):
    """Which chosen VMs get snapshot ``name``: dict(take, retake, keep)."""
    check_name(name)
    names = chosen_vms(state, vms)
    have = [vm_name for vm_name in names if name in state['vms'][vm_name].get('snapshots', {})]
    if force:
        return dict(take=names, retake=have, keep=[])
    return dict(take=[vm_name for vm_name in names if vm_name not in have], retake=[], keep=have)


def take(conn, layout, state, name, vms=None, memory=False, force=False, save=None, flush_timeout=30):
    """Take snapshot ``name`` of the chosen VMs (those lacking it, or all with ``force``).

    ``save`` is called after each VM so the state on disk follows every step.
    Returns {vm: dict(mode, consistency, pause_seconds, layers, memory)}.
    """
    planned = plan_present(state, name, vms, force)
    taken = {}
    for vm_name in planned['take']:
        vm = state['vms'][vm_name]
        if vm_name in planned['retake']:
            _forget(conn, vm, name)
        taken[vm_name] = _take_vm(conn, layout, vm_name, vm, name, memory, flush_timeout)
        if save:
            save()
    return taken


def _take_vm(conn, layout, vm_name, vm, name, memory, flush_timeout):
    dom = running_domain(conn, vm)
    when = now()
    new_images = {disk['name']: overlay_path(layout, vm_name, disk, name) for disk in snapshot_disks(vm)}
    if dom is None:
        result = _take_offline(vm, new_images)
    else:  # ATOMIC: a live snapshot that fails leaves nothing behind
        result = _take_live(dom, layout, vm_name, vm, name, new_images, memory, flush_timeout)
    frozen = {}
    for disk in snapshot_disks(vm):
        frozen[disk['name']] = disk['path']
        _freeze(disk, when)
        _move_onto(disk, new_images[disk['name']], frozen[disk['name']])
    record = dict(taken=when, running=dom is not None, consistency=result['consistency'],
                  disks=frozen, memory=result.get('memory'))
    if record['memory']:
        record['memory_sha256'] = sha256_of(record['memory'])
    snapshots_of(vm)[name] = record
    _sync_definition(conn, vm)
    result.update(layers=frozen)
    return result


def _take_offline(vm, new_images):
    try:
        for disk in snapshot_disks(vm):
            qemu_img.create(new_images[disk['name']], fmt='qcow2', backing_file=disk['path'],
                            backing_format=disk['format'])
    except LagoError:
        for path in new_images.values():
            remove_path(path)
        raise
    return dict(mode='offline', consistency='offline', pause_seconds=0.0)


def _take_live(dom, layout, vm_name, vm, name, new_images, memory, flush_timeout):
    images = {disk['dev']: new_images[disk['name']] for disk in snapshot_disks(vm)}
    memory_file = layout.memory_state(vm_name, name) if memory else None
    xml = live_snapshot.snapshot_xml(name, images, live_snapshot.disk_devs(dom), memory_file)
    if memory:
        return dict(mode='live', consistency='memory', memory=memory_file,
                    pause_seconds=live_snapshot.create(dom, xml, memory=True))
    if live_snapshot.agent_connected(dom):
        try:
            return dict(mode='live', consistency='quiesced',
                        pause_seconds=live_snapshot.create(dom, xml, quiesce=True))
        except SnapshotError:
            pass  # the agent could not freeze: flush over SSH instead
    consistency = 'flushed' if _flush_guest(layout, vm, flush_timeout) else 'crash'
    return dict(mode='live', consistency=consistency, pause_seconds=live_snapshot.create(dom, xml))


def _flush_guest(layout, vm, timeout):
    """``sync`` in the guest over SSH so its file systems are on disk. True if it answered."""
    argv = ssh_argv(vm['ssh_user'], vm['address'], layout.private_key, layout.known_hosts, ['sync'])
    try:
        run(argv, timeout=timeout)
    except LagoError:
        return False
    return True


# ------------------------------------------------------------------- revert

def problems(vm_name, vm, record):
    """Why the VM cannot go back to ``record``: missing layers, failed checksums."""
    found = []
    for disk in vm['disks']:
        top = record['disks'].get(disk['name'])
        if top is None:
            continue
        where = 'vm %s, disk %s' % (vm_name, disk['name'])
        below = chain(disk, top)
        if not below:
            found.append('%s: layer %s is not recorded among the disk\'s layers' % (where, top))
        for path in below:
            layer = disk['layers'][path]
            if not os.path.exists(path):
                found.append('%s: layer %s is missing' % (where, path))
            elif layer.get('sha256') and sha256_of(path) != layer['sha256']:
                found.append('%s: layer %s fails its checksum (sha256 recorded when frozen: %s)'
                             % (where, path, layer['sha256']))
        base = base_of(disk, top)
        if base and not qemu_img.is_protocol(base) and not os.path.exists(base):
            found.append('%s: base image %s is missing' % (where, base))
    memory = record.get('memory')
    if memory:
        if not os.path.exists(memory):
            found.append('vm %s: saved memory %s is missing' % (vm_name, memory))
        elif record.get('memory_sha256') and sha256_of(memory) != record['memory_sha256']:
            found.append('vm %s: saved memory %s fails its checksum' % (vm_name, memory))
    return found


def check_revert(state, name, vms=None):
    """The VMs a revert to ``name`` touches; SnapshotError naming every problem first."""
    names = vms_with(state, name, vms)
    found = []
    for vm_name in names:
        vm = state['vms'][vm_name]
        found += problems(vm_name, vm, vm['snapshots'][name])
    if found:
        raise SnapshotError('cannot revert to snapshot %r (nothing was changed): %s' % (name, '; '.join(found)))
    return names


def revert(conn, layout, state, name, vms=None, start=True, save=None):
    """Put the chosen VMs back to snapshot ``name``; with ``start`` each returns to the
    power state it had (a memory snapshot resumes the guest).

    Returns dict(reverted, resumed, booted): VM names.
    """
    names = check_revert(state, name, vms)
    doms = {vm_name: running_domain(conn, state['vms'][vm_name]) for vm_name in names}  # all defined?
    resumed, booted = [], []
    for vm_name in names:
        vm = state['vms'][vm_name]
        record = vm['snapshots'][name]
        dom = doms[vm_name]
        if dom is not None:
            domain.destroy(dom)  # what it held since the snapshot is dropped anyway
        _revert_disks(layout, vm_name, vm, name, record)
        compact(vm)
        _sync_definition(conn, vm)
        if save:
            save()
        if start and record['running']:
            (resumed if record.get('memory') else booted).append(vm_name)
    if resumed or booted:
        start_nets(conn, state)
    for vm_name in resumed:
        vm = state['vms'][vm_name]
        memory = vm['snapshots'][name]['memory']
        xml = domain.with_disk_sources(live_snapshot.saved_definition(conn, memory), disk_sources(vm))
        live_snapshot.restore(conn, memory, xml)
    for vm_name in booted:
        domain.start(lookup_domain(conn, state['vms'][vm_name]['libvirt_name']))
    return dict(reverted=names, resumed=resumed, booted=booted)


def _revert_disks(layout, vm_name, vm, name, record):
    for disk in vm['disks']:
        layer = record['disks'].get(disk['name'])
        if layer is None:
            continue  # a disk added after the snapshot keeps its image
        old = disk['path']
        new = overlay_path(layout, vm_name, disk, name, replacing=old)
        # Made beside the old image first: a failure leaves the disk as it was.
        scratch = new + '.new' if new == old else new
        qemu_img.create(scratch, fmt='qcow2', backing_file=layer, backing_format=disk['layers'][layer]['format'])
        os.rename(scratch, new)
        if new != old and disk.get('owned', True):
            remove_path(old)
        _move_onto(disk, new, layer)


# ------------------------------------------------------------------- remove

def remove(conn, state, name, vms=None, save=None):
    """Remove snapshot ``name`` of the chosen VMs (all that have it); the other snapshots
    and what each VM runs on stay intact. Returns {vm: [compaction steps]}."""
    names = [vm_name for vm_name in chosen_vms(state, vms) if name in state['vms'][vm_name].get('snapshots', {})]
    done = {}
    for vm_name in names:
        done[vm_name] = _forget(conn, state['vms'][vm_name], name)
        if save:
            save()
    return done


def _forget(conn, vm, name):
    dom = running_domain(conn, vm)
    record = vm['snapshots'].pop(name)
    if record.get('memory'):
        remove_path(record['memory'])
    steps = compact(vm, dom)
    _sync_definition(conn, vm)
    return steps


# ----------------------------------------------------------------- describe

def _layer_view(disk, path):
    layer = disk['layers'][path]
    return dict(path=path, size=layer['size'], sha256=layer['sha256'], frozen=layer['frozen'],
                backing=layer['backing'])


def describe_vm(vm, power=None):
    """A VM's snapshots (oldest first) with the layers of each disk, and its disks' images."""
    snapshots = []
    for name, record in sorted(vm.get('snapshots', {}).items(), key=lambda item: (item[1]['taken'], item[0])):
        disks = {}
        for disk in vm['disks']:
            top = record['disks'].get(disk['name'])
            if top is not None:
                disks[disk['name']] = dict(layer=top, chain=[_layer_view(disk, path) for path in chain(disk, top)],
                                           base=base_of(disk, top))
        snapshots.append(dict(name=name, taken=record['taken'], running=record['running'],
                              consistency=record['consistency'], memory=record.get('memory'), disks=disks))
    disks = {disk['name']: dict(image=disk['path'], parent=parent_of(disk), layers=len(disk.get('layers', {})))
             for disk in vm['disks']}
    entry = dict(snapshots=snapshots, disks=disks)
    if power is not None:
        entry['state'] = power
    return entry


def summary(state, names, powers):
    """The diff's view of the VMs ``names``: their snapshots, images and power state."""
    return {vm_name: dict(snapshots=[item['name'] for item in describe_vm(state['vms'][vm_name])['snapshots']],
                          images={disk['name']: disk['path'] for disk in state['vms'][vm_name]['disks']},
                          state=powers.get(vm_name))
            for vm_name in names}


def describe_snapshot(vm, name):
    """One snapshot of ``vm`` as describe_vm shows it, or None."""
    return next((item for item in describe_vm(vm)['snapshots'] if item['name'] == name), None)


def powers(conn, state, names):
    """{vm: libvirt state in virsh's words, or 'absent'}."""
    found = {}
    for vm_name in names:
        dom = lookup_domain(conn, state['vms'][vm_name]['libvirt_name'])
        found[vm_name] = 'absent' if dom is None else domain.state_name(dom)
    return found


def predicted_images(layout, state, vm_name, name, reverting=False):
    """The images a VM's disks will use after taking (or reverting to) snapshot ``name``."""
    vm = state['vms'][vm_name]
    images = {disk['name']: disk['path'] for disk in vm['disks']}
    for disk in snapshot_disks(vm):
        if reverting and disk['name'] not in vm['snapshots'][name]['disks']:
            images[disk['name']] = disk['path']
        else:
            images[disk['name']] = overlay_path(layout, vm_name, disk, name,
                                                replacing=disk['path'] if reverting else None)
    return images
