# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking a snapshot: the image each disk writes to is frozen where it is and a new
overlay ``images/<vm>_<disk>.<snapshot>.qcow2`` goes on top, so a frozen layer is
never moved and every chain stays valid. Offline for a stopped VM, a libvirt
external snapshot for a running one (see live_snapshot)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lago.lago.plugins.module_utils import faults, live_snapshot, qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path, sha256_of
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback
from ansible_collections.lago.lago.plugins.module_utils.runner import run
from ansible_collections.lago.lago.plugins.module_utils.snapshot import (
    check_name, described, freeze, move_onto, overlay_path, powers, running_domain, scratch, snapshot_disks,
    summary, sync_definition)
from ansible_collections.lago.lago.plugins.module_utils.snapshot_compact import apply_compaction, plan_compaction
from ansible_collections.lago.lago.plugins.module_utils.snapshot_remove import forget_records
from ansible_collections.lago.lago.plugins.module_utils.ssh import ssh_argv
from ansible_collections.lago.lago.plugins.module_utils.timestamps import now


def record_take(vm, name, overlays, taken, running, consistency=None, memory=None, hashed=True):
    """Record snapshot ``name`` of ``vm``: each disk in ``overlays`` ({disk: new image}) frozen,
    the new overlay on top. Returns {disk: its frozen layer}."""
    frozen = {}
    for disk in snapshot_disks(vm):
        frozen[disk.name] = disk.path
        freeze(disk, taken, hashed)
        move_onto(disk, overlays[disk.name], frozen[disk.name])
    record = vm.set_snapshot(name, dict(taken=taken, running=running, consistency=consistency,
                                        disks=dict(frozen), memory=memory))
    if memory and hashed:
        record.memory_sha256 = sha256_of(memory)
    return frozen


def plan_take(conn, state, name, vms=None, memory=False, force=False, flush_timeout=30):
    """Snapshot ``name`` of the chosen VMs that lack it (all of them with ``force``)."""
    check_name(name)
    names = state.chosen_vms(vms)
    take = [vm_name for vm_name in names if force or state.vm(vm_name).snapshot(name) is None]
    power = powers(conn, state, names)
    doms = dict((vm_name, running_domain(conn, state.vm(vm_name))) for vm_name in take)
    after = scratch(state)
    steps, work = [], []
    for vm_name in take:
        vm = after.vm(vm_name)
        dom = doms[vm_name]
        again = plan_compaction(vm, live=dom is not None) if forget_records(vm, name) else None
        overlays = dict((disk.name, overlay_path(state.layout, vm_name, disk, name)) for disk in snapshot_disks(vm))
        memory_file = state.layout.memory_state(vm_name, name) if memory and dom is not None else None
        record_take(vm, name, overlays, now(), dom is not None, memory=memory_file, hashed=False)
        if again is not None:
            steps.append('%s: remove snapshot %s to take it again' % (vm_name, name))
            steps += ['%s: %s' % (vm_name, step) for step in again]
        moves = ', '.join('%s -> %s' % item for item in sorted(overlays.items()))
        steps.append('%s: %s snapshot %s (%s)' % (vm_name, 'live' if dom else 'offline', name, moves))
        work.append((vm_name, dom, again, overlays, memory_file))

    def apply():
        taken = {}
        for vm_name, dom, again, overlays, memory_file in work:
            vm = state.vm(vm_name)
            if again is not None:
                _forget(vm, name, dom, again)
                state.save()
            taken[vm_name] = _take_vm(state, vm, name, dom, overlays, memory_file, flush_timeout)
            sync_definition(conn, vm)
            state.save()
        return dict(taken=taken, snapshot=described(state, names, name),
                    after=summary(state, names, powers(conn, state, names)))
    return Plan('snapshots', summary(state, names, power), summary(after, names, power), steps, apply,
                values=dict(taken={}, snapshot=described(state, names, name)))


def _forget(vm, name, dom, steps):
    record = vm.snapshot(name)
    if record.memory:
        remove_path(record.memory)
    forget_records(vm, name)
    apply_compaction(dom, vm, steps)


def _take_vm(state, vm, name, dom, overlays, memory_file, flush_timeout):
    if dom is None:
        result = _take_offline(vm, overlays)
    else:  # ATOMIC: a live snapshot that fails leaves nothing behind
        result = _take_live(state, dom, vm, name, overlays, memory_file, flush_timeout)
    result['layers'] = record_take(vm, name, overlays, now(), dom is not None, result['consistency'], memory_file)
    return result


def _take_offline(vm, overlays):
    with Rollback() as undo:
        for disk in snapshot_disks(vm):
            qemu_img.create(overlays[disk.name], fmt='qcow2', backing_file=disk.path, backing_format=disk.format)
            undo.push('overlay %s' % overlays[disk.name], lambda path=overlays[disk.name]: remove_path(path))
            faults.point('snapshot.take_between_disks')
        undo.commit()
    return dict(mode='offline', consistency='offline', pause_seconds=0.0)


def _take_live(state, dom, vm, name, overlays, memory_file, flush_timeout):
    images = dict((disk.dev, overlays[disk.name]) for disk in snapshot_disks(vm))
    xml = live_snapshot.snapshot_xml(name, images, live_snapshot.disk_devs(dom), memory_file)
    if memory_file:
        return dict(mode='live', consistency='memory', memory=memory_file,
                    pause_seconds=live_snapshot.create(dom, xml, memory=True))
    if live_snapshot.agent_connected(dom):
        try:
            return dict(mode='live', consistency='quiesced',
                        pause_seconds=live_snapshot.create(dom, xml, quiesce=True))
        except SnapshotError:
            pass  # the agent could not freeze: flush over SSH instead
    consistency = 'flushed' if _flush_guest(state, vm, flush_timeout) else 'crash'
    return dict(mode='live', consistency=consistency, pause_seconds=live_snapshot.create(dom, xml))


def _flush_guest(state, vm, timeout):
    """``sync`` in the guest over SSH (through its hypervisor in a multi-host prefix) so its
    file systems are on disk. True if it answered."""
    layout = state.layout
    argv = ssh_argv(vm.ssh_user, vm.address, layout.private_key, layout.known_hosts, ['sync'],
                    jump=state.jump_for(vm))
    try:
        run(argv, timeout=timeout)
    except LagoError:
        return False
    return True
