# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reverting to a snapshot: a fresh overlay on the snapshot's layer of each disk (the
running VMs are stopped first), then each VM back to the power state it had; a
memory snapshot resumes the guest. The newer snapshots stay usable."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import domain, faults, live_snapshot, prefix_vms, qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path, sha256_of
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.prefix_power import start_nets
from ansible_collections.lago.lago.plugins.module_utils.snapshot import (
    base_of, chain, described, disk_sources, move_onto, overlay_path, powers, running_domain, scratch, summary,
    sync_definition, vms_with)
from ansible_collections.lago.lago.plugins.module_utils.snapshot_compact import apply_compaction, plan_compaction


def problems(vm_name, vm, record):
    """Why the VM cannot go back to ``record``: missing layers, failed checksums."""
    found = []
    for disk in vm.disks:
        top = record.disks.get(disk.name)
        if top is None:
            continue
        where = 'vm %s, disk %s' % (vm_name, disk.name)
        below = chain(disk, top)
        if not below:
            found.append('%s: layer %s is not recorded among the disk\'s layers' % (where, top))
        for path in below:
            layer = disk.layer(path)
            if not os.path.exists(path):
                found.append('%s: layer %s is missing' % (where, path))
            elif layer.sha256 and sha256_of(path) != layer.sha256:
                found.append('%s: layer %s fails its checksum (sha256 recorded when frozen: %s)'
                             % (where, path, layer.sha256))
        base = base_of(disk, top)
        if base and not qemu_img.is_protocol(base) and not os.path.exists(base):
            found.append('%s: base image %s is missing' % (where, base))
    if record.memory:
        if not os.path.exists(record.memory):
            found.append('vm %s: saved memory %s is missing' % (vm_name, record.memory))
        elif record.memory_sha256 and sha256_of(record.memory) != record.memory_sha256:
            found.append('vm %s: saved memory %s fails its checksum' % (vm_name, record.memory))
    return found


def check_revert(state, name, vms=None):
    """The VMs a revert to ``name`` touches; SnapshotError naming every problem first."""
    names = vms_with(state, name, vms)
    found = []
    for vm_name in names:
        vm = state.vm(vm_name)
        found += problems(vm_name, vm, vm.snapshot(name))
    if found:
        raise SnapshotError('cannot revert to snapshot %r (nothing was changed): %s' % (name, '; '.join(found)))
    return names


def record_revert(state, vm_name, vm, name):
    """Put each disk of ``vm`` that snapshot ``name`` covers on a new overlay of its layer
    (records only). Returns [(disk, old image, new image, layer)]."""
    moves = []
    for disk in vm.disks:
        layer = vm.snapshot(name).disks.get(disk.name)
        if layer is None:
            continue  # a disk added after the snapshot keeps its image
        old = disk.path
        new = overlay_path(state.layout, vm_name, disk, name, replacing=old)
        moves.append((disk.name, old, new, layer))
        move_onto(disk, new, layer)
    return moves


def plan_revert(conn, state, name, vms=None, start=True):
    """Put the chosen VMs (default: all that have it) back to snapshot ``name``; with ``start``
    each returns to the power state it had."""
    names = check_revert(state, name, vms)
    power = powers(conn, state, names)
    doms = dict((vm_name, running_domain(conn, state.vm(vm_name))) for vm_name in names)  # all defined?
    after = scratch(state)
    predicted = dict(power)
    steps, work, resumed, booted = [], [], [], []
    for vm_name in names:
        vm = after.vm(vm_name)
        record = vm.snapshot(name)
        moves = record_revert(after, vm_name, vm, name)
        compaction = plan_compaction(vm)
        if doms[vm_name] is not None:
            steps.append('%s: stop' % vm_name)
        steps += ['%s: %s onto a new overlay %s of %s' % (vm_name, disk, new, layer) for disk, _old, new, layer in moves]
        steps += ['%s: %s' % (vm_name, step) for step in compaction]
        work.append((vm_name, moves, compaction))
        if start and record.running:
            (resumed if record.memory else booted).append(vm_name)
            steps.append('%s: %s' % (vm_name, 'resume from %s' % record.memory if record.memory else 'start'))
        predicted[vm_name] = 'running' if vm_name in resumed + booted else 'shut off'

    def apply():
        for vm_name, moves, compaction in work:
            vm = state.vm(vm_name)
            if doms[vm_name] is not None:
                domain.destroy(doms[vm_name])  # what it held since the snapshot is dropped anyway
                prefix_vms.reclaim_seeds(conn, state, [vm_name])
            _revert_disks(vm, moves)
            apply_compaction(None, vm, compaction)
            sync_definition(conn, vm)
            state.save()
        if resumed or booted:
            prefix_vms.let_qemu_reach(conn, state, resumed + booted)
            start_nets(conn, state)
        for vm_name in resumed:
            vm = state.vm(vm_name)
            memory = vm.snapshot(name).memory
            xml = domain.with_disk_sources(live_snapshot.saved_definition(conn, memory), disk_sources(vm))
            live_snapshot.restore(conn, memory, xml)
        for vm_name in booted:
            domain.start(lookup_domain(conn, state.vm(vm_name).libvirt_name))
        return dict(reverted=dict(reverted=names, resumed=resumed, booted=booted),
                    snapshot=described(state, names, name), after=summary(state, names, powers(conn, state, names)))
    return Plan('snapshots', summary(state, names, power), summary(after, names, predicted), steps, apply,
                values=dict(snapshot=described(state, names, name)))


def _revert_disks(vm, moves):
    for disk_name, old, new, layer in moves:
        disk = vm.disk(disk_name)
        # Made beside the old image first: a failure leaves the disk as it was.
        made = new + '.new' if new == old else new
        qemu_img.create(made, fmt='qcow2', backing_file=layer, backing_format=disk.layer(layer).format)
        os.rename(made, new)
        if new != old and disk.owned:
            remove_path(old)
        move_onto(disk, new, layer)
        faults.point('snapshot.revert_between_disks')
