# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Taking a prefix apart: what destroy (and the rollback of a failed init) removes.

Everything a prefix owns is recorded in state.json as it is made, so only what
is recorded goes: the repository server, each VM's domain, disks, layers,
memory states and seed, each net's libvirt network and lease, then the
prefix's own files (prefix_state.Layout). The directory itself goes only when
init made it (``PrefixState.created_dir``): a directory the user made stays,
with the user's files in it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

from ansible_collections.lago.lago.plugins.module_utils import (
    domain, faults, lease_owner, network, reposerver, subnet_lease, template_store, values)
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain
from ansible_collections.lago.lago.plugins.module_utils.repos import REPO_DIR


def teardown_vm(conn, state, vm):
    """Remove one VM (a prefix_records.Vm): its domain, its store users and its files. Returns what was removed."""
    removed = []
    if domain.remove(conn, vm.libvirt_name):
        removed.append('domain %s' % vm.libvirt_name)
    for disk in vm.disks:
        if disk.store_entry:
            template_store.remove_user(state.template_store, disk.store_entry, state.owner.path)
        if disk.owned and remove_path(disk.path):
            removed.append('disk %s' % disk.path)
        for path, layer in sorted(disk.layers.items()):
            if layer.owned and remove_path(path):
                removed.append('layer %s' % path)
        for path in disk.base_files:
            if not _shared(state, vm, path) and remove_path(path):
                removed.append('layer %s' % path)
    for snapshot in vm.snapshots.values():
        if snapshot.memory and remove_path(snapshot.memory):
            removed.append('memory state %s' % snapshot.memory)
    if vm.seed and remove_path(vm.seed):
        removed.append('seed %s' % vm.seed)
    return removed


def _shared(state, vm, base_file):
    """True when a VM other than ``vm`` sits on ``base_file`` too."""
    return any(base_file in disk.base_files for other in state.vms.values() if other != vm for disk in other.disks)


def teardown_net(conn, state, net):
    """Remove one net (a prefix_records.Net): its libvirt network, and its lease."""
    removed = []
    if network.remove(conn, net.libvirt_name)['changed']:
        removed.append('network %s' % net.libvirt_name)
    if net.leased and net.subnet:
        if subnet_lease.release(state.lease_dir, state.owner, net.subnet):
            removed.append('lease %s' % net.subnet)
    return removed


def own_paths(layout):
    """What the collection makes directly in a prefix directory: files first, then directories.
    state.json comes last of the files; the lock file is not among them."""
    files = [path for path in layout.own_files() if path != layout.state_file]
    files += [reposerver.record_path(layout.path), layout.state_file]
    return files, layout.subdirs() + [os.path.join(layout.path, REPO_DIR)]


def remove_own_files(layout):
    """Remove the prefix's own files and directories, and nothing else of its directory. Returns what was removed."""
    files, dirs = own_paths(layout)
    removed = []
    for path in dirs:
        if os.path.isdir(path):
            shutil.rmtree(path)
            removed.append('directory %s' % path)
    for path in files:
        if remove_path(path):
            removed.append('file %s' % path)
    return removed


def teardown(conn, state):
    """Stop the prefix's repository server and take apart every VM and net ``state`` records.

    The VMs are not shut down but stopped hard, all at once: their disks are
    deleted next, so nothing a guest could still write matters.

    Keeps going after an error so one stuck object does not strand the rest;
    the errors are raised together at the end (state.json is then untouched,
    so the next destroy can finish). The prefix's files stay: see destroy().
    """
    removed, errors = [], []
    try:
        stopped = reposerver.stop(state.path)
        if stopped['changed']:
            removed.append('repository server %s' % stopped['record'].get('pid'))
    except (LagoError, IOError, OSError, ValueError) as err:
        errors.append('repository server: %s' % err)
    try:
        # Their disks go next: pull every plug at once rather than wait for each guest in turn.
        domain.in_parallel(domain.destroy, [dom for dom in (lookup_domain(conn, vm.libvirt_name)
                                                            for vm in state.vms.values()) if dom is not None])
    except LagoError as err:
        errors.append('stopping the domains: %s' % err)
    for name, vm in state.vms.items():
        try:
            removed += teardown_vm(conn, state, vm)
        except LagoError as err:
            errors.append('vm %s: %s' % (name, err))
    faults.point('destroy.after_domains')
    for name, net in state.nets.items():
        try:
            removed += teardown_net(conn, state, net)
        except LagoError as err:
            errors.append('net %s: %s' % (name, err))
    faults.point('destroy.after_nets')
    if state.lease_dir and state.uuid:
        # Leases no net records: a run killed between leasing and saving state.json left them.
        try:
            removed += ['lease %s' % subnet for subnet in subnet_lease.release_all(state.lease_dir, state.owner)]
        except LagoError as err:
            errors.append('leases: %s' % err)
    if errors:
        raise PrefixError('could not remove all of prefix %s: %s' % (state.path, '; '.join(errors)))
    return removed


def destroy(conn, state):
    """teardown(), then the prefix's own files; the directory too when init made it.

    Call it holding the prefix's lock: the lock file goes last (with the
    directory, or alone from a directory the user made).
    """
    layout = state.layout
    removed = teardown(conn, state)
    faults.point('destroy.before_state_removed')
    if state.created_dir:
        if os.path.isdir(layout.path):
            shutil.rmtree(layout.path)
            removed.append('directory %s' % layout.path)
        return removed
    removed += remove_own_files(layout)
    remove_path(layout.lock_file)
    return removed


def salvage_names(conn, layout):
    """(owner or None, libvirt domain names, libvirt network names) of a prefix whose state.json
    is damaged: what its uuid file names (every libvirt name of a prefix starts ``<short id>-``)."""
    try:
        owner = lease_owner.read_owner(layout.uuid_file)
    except LagoError:
        return None, [], []
    start = values.libvirt_name(values.short_id(owner.uuid), '')
    domains = sorted(dom.name() for dom in conn.listAllDomains() if dom.name().startswith(start))
    nets = sorted(net.name() for net in conn.listAllNetworks() if net.name().startswith(start))
    return owner, domains, nets


def salvage(conn, layout, lease_dir):
    """Destroy a prefix whose state.json cannot be read, from what does not need it: its repository
    server, the libvirt domains and networks its short id names, the leases its uuid holds, its own
    files; its directory too when nothing else is left in it (a directory the user filled stays).
    Call it holding the prefix's lock. Returns what was removed."""
    removed = []
    stopped = reposerver.stop(layout.path)
    if stopped['changed']:
        removed.append('repository server %s' % stopped['record'].get('pid'))
    owner, domains, nets = salvage_names(conn, layout)
    for name in domains:
        if domain.remove(conn, name):
            removed.append('domain %s' % name)
    for name in nets:
        if network.remove(conn, name)['changed']:
            removed.append('network %s' % name)
    if owner is not None and lease_dir:
        removed += ['lease %s' % subnet for subnet in subnet_lease.release_all(lease_dir, owner)]
    removed += remove_own_files(layout)
    remove_path(layout.lock_file)
    if os.path.isdir(layout.path) and not os.listdir(layout.path):
        os.rmdir(layout.path)
        removed.append('directory %s' % layout.path)
    return removed


def plan_destroy(state):
    """What destroy() would remove, as shown before it runs (names only, nothing is touched)."""
    what = ['domain %s' % vm.libvirt_name for vm in state.vms.values()]
    what += ['network %s' % net.libvirt_name for net in state.nets.values()]
    what += ['lease %s' % net.subnet for net in state.nets.values() if net.leased and net.subnet]
    what.append(('directory %s' if state.created_dir else 'the prefix files in %s') % state.path)
    return what
