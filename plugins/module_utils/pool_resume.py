# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resume a prefix's VMs from the RAM a pool state saved (see docs/POOL.md).

The prefix was made from the state (its disks are ``template_type: pool``
disks of it) with the same addresses, so the same MACs: the guests keep their
network settings and DHCP leases. Each VM's saved memory is fetched and checked
against the manifest, its definition is moved to this prefix (saved_memory),
its disks get fresh overlays on the state's layers, and libvirt restores it
running. The prefix then takes the state's SSH key pair and the guests' host
keys: the guests know those. A failure on the way destroys what was restored.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.lago.lago.plugins.module_utils import domain, live_snapshot, pool, prefix_vms, qemu_img
from ansible_collections.lago.lago.plugins.module_utils import saved_memory
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write, remove_path
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import libvirt, lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.pool_manifest import file_problem
from ansible_collections.lago.lago.plugins.module_utils.prefix_power import start_nets
from ansible_collections.lago.lago.plugins.module_utils.prefix_view import power_state
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback
from ansible_collections.lago.lago.plugins.module_utils.snapshot import snapshot_disks
from ansible_collections.lago.lago.plugins.module_utils.sshkeys import read_public_key

RUNNING = 'running'


def problems(state, manifest, name, where):
    """Why the prefix's VMs cannot resume from ``manifest``: every problem, by VM and disk."""
    found = []
    imported = pool.import_dir(state.layout.pool_imports, name, manifest)
    if not manifest.get('identity'):
        found.append('%s saved no memory (take the snapshot with memory: true and export it again)' % where)
        return found
    for vm_name in state.vm_names:
        vm = state.vm(vm_name)
        entry = manifest['vms'].get(vm_name)
        if entry is None or not entry.get('memory'):
            found.append('vm %s: %s holds no saved memory of a vm %s' % (vm_name, where, vm_name))
            continue
        for disk in snapshot_disks(vm):
            saved = (entry.get('disks') or {}).get(disk.name)
            if saved is None or not disk.pool_state or disk.backing != os.path.join(imported, saved['layer']):
                found.append('vm %s, disk %s: not a disk on %s\'s layer for it (give it template_type: pool, '
                             'path: <pool>/<state> in the init file)' % (vm_name, disk.name, where))
            elif disk.parent != disk.backing or vm.snapshots:
                found.append('vm %s, disk %s: the prefix has snapshots of it; resume a prefix fresh from init'
                             % (vm_name, disk.name))
    return found


def _resumed(conn, state, manifest):
    """True when every VM runs and the prefix holds the state's key: nothing to do."""
    return (all(power_state(conn, state.vm(name)) == RUNNING for name in state.vm_names)
            and read_public_key(state.layout.public_key) == manifest['identity']['public'])


def plan_resume(conn, state, location, name, ssh=None, lock_timeout=pool.DEFAULT_LOCK_TIMEOUT):
    """Resume every VM of the prefix ``state`` from the RAM of pool state ``name`` at ``location``,
    as a Plan named ``power``; values: resumed (the VMs)."""
    manifest = pool.read_state(location, name, ssh, lock_timeout)
    where = 'pool state %s in %s' % (name, location)
    found = problems(state, manifest, name, where)
    if found:
        raise SnapshotError('cannot resume prefix %s from %s (nothing was changed): %s'
                            % (state.path, where, '; '.join(found)))
    names = state.vm_names
    before = dict((vm_name, power_state(conn, state.vm(vm_name))) for vm_name in names)
    if _resumed(conn, state, manifest):
        return Plan('power', before, before, [], None, values=dict(resumed=[]))
    steps = []
    for vm_name in names:
        if before[vm_name] == RUNNING:
            steps.append('%s: stop' % vm_name)
        steps += ['%s: %s onto a fresh overlay of %s' % (vm_name, disk.name, disk.backing)
                  for disk in snapshot_disks(state.vm(vm_name))]
        steps.append('%s: resume from %s' % (vm_name, manifest['vms'][vm_name]['memory']))
    steps.append('take the SSH key pair of %s' % where)

    def apply():
        with pool.locked_state(location, name, ssh, lock_timeout, shared=True) as target:
            incoming = tempfile.mkdtemp(prefix='.resume-', dir=state.layout.pool_imports)
            try:
                _resume(conn, state, manifest, target, name, incoming, where)
            finally:
                shutil.rmtree(incoming, ignore_errors=True)
        return dict(resumed=names, after=dict((vm_name, power_state(conn, state.vm(vm_name))) for vm_name in names))
    return Plan('power', before, dict((vm_name, RUNNING) for vm_name in names), steps, apply,
                values=dict(resumed=names))


def _fetch(target, name, manifest, incoming, where):
    """Bring the state's memory and key files into ``incoming``, each checked against the
    manifest; SnapshotError listing every file that does not match."""
    files = sorted(set([entry['memory'] for entry in manifest['vms'].values() if entry.get('memory')]
                       + [manifest['identity']['file']]))
    target.get(name, files, incoming)
    found, verified = {}, target.verified(name)

    def check(file_name):
        found[file_name] = file_problem(incoming, file_name, manifest['files'][file_name], verified)
    domain.in_parallel(check, files)  # hashlib lets go of the GIL: one file per core
    verified.save()
    wrong = [found[file_name] for file_name in files if found[file_name]]
    if wrong:
        raise SnapshotError('%s does not match its manifest (nothing was resumed): %s' % (where, '; '.join(wrong)))


def _definitions(conn, state, manifest, incoming):
    """{vm: (saved memory, definition moved to this prefix)}; SnapshotError naming every VM
    whose NICs do not have the saved guest's MACs (the prefix must have its addresses)."""
    found, wrong = {}, []
    for vm_name in state.vm_names:
        vm = state.vm(vm_name)
        memory = os.path.join(incoming, manifest['vms'][vm_name]['memory'])
        saved = saved_memory.read_header(memory)['xml']
        ours = sorted(nic.mac.lower() for nic in vm.nics)
        theirs = sorted(saved_memory.macs(saved))
        if ours != theirs:
            wrong.append('vm %s has MACs %s, the saved guest %s' % (vm_name, ', '.join(ours), ', '.join(theirs)))
            continue
        dom = lookup_domain(conn, vm.libvirt_name)
        if dom is None:
            raise SnapshotError('domain %s of vm %s is missing from libvirt: run lago_prefix with state=present '
                                'to define it again' % (vm.libvirt_name, vm_name))
        found[vm_name] = (memory, saved_memory.moved_definition(saved, dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))
    if wrong:
        raise SnapshotError('the saved guests need the addresses they were saved with (init the prefix on the '
                            'same subnets, with the same addresses; nothing was resumed): %s' % '; '.join(wrong))
    return found


def _resume(conn, state, manifest, target, name, incoming, where):
    _fetch(target, name, manifest, incoming, where)
    definitions = _definitions(conn, state, manifest, incoming)
    start_nets(conn, state)
    with Rollback() as undo:
        for vm_name in state.vm_names:
            vm = state.vm(vm_name)
            domain.destroy(lookup_domain(conn, vm.libvirt_name))
            for disk in snapshot_disks(vm):
                fresh = disk.path + '.new'
                qemu_img.create(fresh, fmt='qcow2', backing_file=disk.backing,
                                backing_format=qemu_img.image_format(disk.backing))
                os.rename(fresh, disk.path)
            undo.push('resumed domain %s' % vm.libvirt_name,
                      lambda dom_name=vm.libvirt_name: domain.destroy(lookup_domain(conn, dom_name)))

        def restore(vm_name):
            memory, xml = definitions[vm_name]
            moved = memory + '.restore'
            saved_memory.write_with_definition(memory, moved, xml)
            live_snapshot.restore(conn, moved, xml)
            remove_path(moved)
            remove_path(memory)
        # Every VM at once: each restore waits on its own qemu reading its image, not on the others.
        domain.in_parallel(restore, state.vm_names)
        _take_identity(state, manifest, incoming)
        undo.commit()


def _take_identity(state, manifest, incoming):
    """The prefix takes the state's SSH key pair and its guests' host keys."""
    layout = state.layout
    with open(os.path.join(incoming, manifest['identity']['file']), 'rb') as handle:
        atomic_write(layout.private_key, handle.read(), mode=0o600)
    atomic_write(layout.public_key, manifest['identity']['public'].strip() + '\n', mode=0o644)
    for vm_name in state.vm_names:
        state.vm(vm_name).host_key = manifest['vms'][vm_name]['host_key']
    prefix_vms.write_known_hosts(state)
    state.save()
