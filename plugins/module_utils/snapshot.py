# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a prefix's VMs: the records, the layer chains, and the one view of them.

See docs/SNAPSHOTS.md. In each disk record of a VM (prefix_records.Disk):

- ``path`` is the image the VM writes to and ``parent`` what it sits on (a
  frozen layer, the template, or None);
- ``layers`` holds the frozen layers by path (prefix_records.Layer), each with
  its ``backing``, ``format``, ``sha256`` and ``size`` when ``frozen``, whether
  the prefix ``owned`` it, and ``immutable`` when it must never be written (the
  user's own file disk).

``vm.snapshot(name)`` (prefix_records.Snapshot) records when it was ``taken``,
whether the VM was ``running``, how the guest was made ``consistent``, the
layer of each disk (``disks``) and, for a memory snapshot, the saved RAM.

The operations (snapshot_take, snapshot_revert, snapshot_remove) answer with
a Plan: they change the records of a scratch copy of the state with the same
functions their apply uses on the real one, so check mode shows what a run does.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import domain, qemu_img, values
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError, SpecError
from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import PrefixState


def check_name(name, what='snapshot'):
    """A snapshot's name (no dots: see values.snapshot_name) or, for ``what`` 'pool state', a pool state's."""
    try:
        if what == 'pool state':
            values.pool_state_name(name)
        else:
            values.snapshot_name(name, what)
    except SpecError as err:
        raise SnapshotError(str(err))


def scratch(state):
    """A copy of ``state`` to plan on: never saved, its records are the real ones' copies."""
    return PrefixState(state.layout, state.to_dict())


# ------------------------------------------------------------------ records

def index(state):
    """Every snapshot of the prefix, oldest first: {name: dict(taken, vms)}."""
    found = {}
    for vm_name, vm in state.vms.items():
        for name, record in vm.snapshots.items():
            entry = found.setdefault(name, dict(taken=record.taken, vms=[]))
            entry['taken'] = min(entry['taken'], record.taken)
            entry['vms'].append(vm_name)
    return dict(sorted(found.items(), key=lambda item: (item[1]['taken'], item[0])))


def having(state, name, vms=None):
    """The chosen VMs (``vms``, default all) that have snapshot ``name``."""
    return [vm_name for vm_name in state.chosen_vms(vms) if state.vm(vm_name).snapshot(name) is not None]


def vms_with(state, name, vms=None):
    """The chosen VMs (all that have it, or ``vms``), each of which must have snapshot ``name``."""
    listed = index(state)
    if name not in listed:
        raise SnapshotError('snapshot %r does not exist in prefix %s; existing snapshots: %s'
                            % (name, state.path, ', '.join(listed) or 'none'))
    if not vms:
        return having(state, name)
    names = state.chosen_vms(vms)
    lacking = [vm_name for vm_name in names if state.vm(vm_name).snapshot(name) is None]
    if lacking:
        raise SnapshotError('snapshot %r was not taken of %s; it exists for: %s' % (
            name, ', '.join(lacking), ', '.join(listed[name]['vms'])))
    return names


def snapshot_disks(vm):
    """The disks a snapshot covers: images qemu-img can layer (not ISO images)."""
    return [disk for disk in vm.disks if disk.format in qemu_img.FORMATS]


# -------------------------------------------------------------- disk chains

def chain(disk, path):
    """The frozen layers from ``path`` down to the first image that is not one of the disk's layers."""
    found = []
    layers = disk.layers
    while path in layers and path not in found:
        found.append(path)
        path = layers[path].backing
    return found


def base_of(disk, path):
    """The image below the disk's own layers under ``path`` (a template, or None)."""
    below = chain(disk, path)
    return disk.layer(below[-1]).backing if below else path


def running_chain(disk):
    return [disk.path] + chain(disk, disk.parent)


def children(disk):
    """{image: [images sitting on it]} among the disk's layers and its running image."""
    found = {}
    for path, layer in sorted(disk.layers.items()):
        found.setdefault(layer.backing, []).append(path)
    found.setdefault(disk.parent, []).append(disk.path)
    return found


def referenced(vm, disk_name):
    return {record.disks[disk_name] for record in vm.snapshots.values() if disk_name in record.disks}


def mergeable(layer):
    """A layer compaction may write into: the prefix's own qcow2."""
    return layer.owned and not layer.immutable and layer.format == 'qcow2'


def next_compaction(vm, disk):
    """The next step that tidies the disk's layers, or None.

    ('drop', layer, None): no snapshot and no image needs the layer.
    ('merge', layer, child): only ``child`` needs it; the two become one.
    A layer with several children stays, unnamed, until fewer need it.
    """
    needed = referenced(vm, disk.name)
    below = children(disk)
    for path, layer in sorted(disk.layers.items()):
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
    preferred = layout.overlay(vm_name, disk.name, snapshot)
    taken = set(disk.layers) | {disk.path}
    taken.discard(replacing)
    path, number = preferred, 1
    while path in taken or (path != replacing and os.path.lexists(path)):
        number += 1
        path = '%s~%d.qcow2' % (preferred[:-len('.qcow2')], number)
    return path


def freeze(disk, taken, hashed=True):
    """Record the disk's running image as a frozen layer; ``hashed``: with its size and sha256
    now (it is never written again). A plan records it without them."""
    path = disk.path
    layer = disk.add_layer(path, backing=disk.parent, format=disk.format, frozen=taken, owned=disk.owned,
                           immutable=not disk.owned)
    if hashed:
        rehash(layer)
    return layer


def rehash(layer):
    """Record a layer's size and sha256 as its file has them now."""
    layer.update(sha256=sha256_of(layer.name), size=os.path.getsize(layer.name))


def move_onto(disk, new_path, layer_path):
    """The disk now writes to the new overlay ``new_path`` on ``layer_path``."""
    disk.update(path=new_path, format='qcow2', owned=True)
    disk.parent = layer_path


def replace_references(vm, disk, old, new):
    """Every use of the image ``old`` (snapshots, layers, the running image) moves to ``new``."""
    for record in vm.snapshots.values():
        if record.disks.get(disk.name) == old:
            record.disks[disk.name] = new
    for layer in disk.layers.values():
        if layer.backing == old:
            layer.backing = new
    if disk.parent == old:
        disk.parent = new


# ------------------------------------------------------------------ libvirt

def disk_sources(vm):
    return {disk.dev: (disk.path, disk.format) for disk in vm.disks}


def sync_definition(conn, vm):
    """The persistent domain uses the disks' current images (libvirt updates only the live one)."""
    domain.set_disk_sources(conn, vm.libvirt_name, disk_sources(vm))


def running_domain(conn, vm):
    """The VM's domain when it runs, None when it is off; SnapshotError when libvirt lost it."""
    dom = lookup_domain(conn, vm.libvirt_name)
    if dom is None:
        raise SnapshotError('domain %s is missing from libvirt: run lago_prefix with state=present '
                            'to define it again' % vm.libvirt_name)
    return dom if domain.is_active(dom) else None


def powers(conn, state, names):
    """{vm: libvirt state in virsh's words, or 'absent'}."""
    found = {}
    for vm_name in names:
        dom = lookup_domain(conn, state.vm(vm_name).libvirt_name)
        found[vm_name] = 'absent' if dom is None else domain.state_name(dom)
    return found


# ----------------------------------------------------------------- the view

def _layer_view(disk, path):
    layer = disk.layer(path)
    return dict(path=path, size=layer.size, sha256=layer.sha256, frozen=layer.frozen, backing=layer.backing)


def _ordered(vm):
    return sorted(vm.snapshots.items(), key=lambda item: (item[1].taken, item[0]))


def describe_vm(vm, power=None):
    """A VM's snapshots (oldest first) with the layers of each disk, and its disks' images."""
    snapshots = []
    for name, record in _ordered(vm):
        disks = {}
        for disk in vm.disks:
            top = record.disks.get(disk.name)
            if top is not None:
                disks[disk.name] = dict(layer=top, chain=[_layer_view(disk, path) for path in chain(disk, top)],
                                        base=base_of(disk, top))
        snapshots.append(dict(name=name, taken=record.taken, running=record.running,
                              consistency=record.consistency, memory=record.memory, disks=disks))
    disks = {disk.name: dict(image=disk.path, parent=disk.parent, layers=len(disk.layers)) for disk in vm.disks}
    entry = dict(snapshots=snapshots, disks=disks)
    if power is not None:
        entry['state'] = power
    return entry


def describe_snapshot(vm, name):
    """One snapshot of ``vm`` as describe_vm shows it, or None."""
    return next((item for item in describe_vm(vm)['snapshots'] if item['name'] == name), None)


def described(state, names, name):
    """{vm: snapshot ``name`` as describe_vm shows it} of the VMs ``names`` that have it."""
    return {vm_name: describe_snapshot(state.vm(vm_name), name) for vm_name in names
            if state.vm(vm_name).snapshot(name) is not None}


def summary(state, names, power):
    """The diff's view of the VMs ``names``: their snapshots (oldest first), images and power state."""
    return {vm_name: dict(snapshots=[name for name, _record in _ordered(state.vm(vm_name))],
                          images={disk.name: disk.path for disk in state.vm(vm_name).disks},
                          state=power.get(vm_name))
            for vm_name in names}
