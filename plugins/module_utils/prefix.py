# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prefix on disk: its layout, its state file, and taking it apart.

See docs/PREFIX.md. Everything a prefix owns is recorded in state.json as it
is created, so destroy (and the rollback of a failed init) removes exactly
what is recorded and nothing else.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil

from ansible_collections.lago.lago.plugins.module_utils import domain, network, reposerver, subnet_lease, template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import remove_path
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import (  # noqa: F401 pylint: disable=unused-import
    STATE_VERSION, Layout, PrefixState, read_state_file)


def load_state(layout):
    """The raw state dict (callers move to PrefixState.load)."""
    return read_state_file(layout)


def save_state(layout, state):
    PrefixState(layout, state).save()


def owner_of(state):
    """The lease owner of a prefix: its uuid file and uuid."""
    return subnet_lease.Owner(os.path.join(state['path'], 'uuid'), state['uuid'])


def teardown_vm(conn, state, vm):
    """Remove one VM's libvirt domain, its store users and its files. Returns what was removed."""
    removed = []
    if domain.remove(conn, vm['libvirt_name']):
        removed.append('domain %s' % vm['libvirt_name'])
    for disk in vm.get('disks', []):
        if disk.get('store_entry'):
            template_store.remove_user(state['template_store'], disk['store_entry'], owner_of(state).path)
        if disk.get('owned', True) and remove_path(disk['path']):
            removed.append('disk %s' % disk['path'])
        for path, layer in sorted(disk.get('layers', {}).items()):
            if layer.get('owned', True) and remove_path(path):
                removed.append('layer %s' % path)
        for path in disk.get('base_files', []):
            if not _shared(state, vm, path) and remove_path(path):
                removed.append('layer %s' % path)
    for snapshot in vm.get('snapshots', {}).values():
        if snapshot.get('memory') and remove_path(snapshot['memory']):
            removed.append('memory state %s' % snapshot['memory'])
    for path in (vm.get('seed'),):
        if path and remove_path(path):
            removed.append('seed %s' % path)
    return removed


def _shared(state, vm, base_file):
    """True when a VM other than ``vm`` sits on ``base_file`` too."""
    return any(base_file in disk.get('base_files', []) for other in state.get('vms', {}).values()
               if other is not vm for disk in other.get('disks', []))


def teardown_net(conn, state, net):
    """Remove one net's libvirt network and release its lease."""
    removed = []
    if network.remove(conn, net['libvirt_name'])['changed']:
        removed.append('network %s' % net['libvirt_name'])
    if net.get('leased') and net.get('subnet'):
        if subnet_lease.release(state['lease_dir'], owner_of(state), net['subnet']):
            removed.append('lease %s' % net['subnet'])
    return removed


def teardown(conn, layout, state, remove_dir=True):
    """Stop the prefix's repository server, take apart everything ``state`` records; then the directory.

    Keeps going after an error so one stuck object does not strand the rest;
    the errors are raised together at the end.
    """
    removed, errors = [], []
    try:
        stopped = reposerver.stop(layout.path)
        if stopped['changed']:
            removed.append('repository server %s' % stopped['record'].get('pid'))
    except (LagoError, IOError, OSError, ValueError) as err:
        errors.append('repository server: %s' % err)
    for name, vm in sorted(state.get('vms', {}).items()):
        try:
            removed += teardown_vm(conn, state, vm)
        except LagoError as err:
            errors.append('vm %s: %s' % (name, err))
    for name, net in sorted(state.get('nets', {}).items()):
        try:
            removed += teardown_net(conn, state, net)
        except LagoError as err:
            errors.append('net %s: %s' % (name, err))
    if errors:
        raise PrefixError('could not remove all of prefix %s: %s' % (layout.path, '; '.join(errors)))
    if remove_dir and os.path.isdir(layout.path):
        shutil.rmtree(layout.path)
        removed.append('directory %s' % layout.path)
    return removed


def describe(layout, state, conn=None):
    """The prefix as modules return it; with ``conn`` the live state of VMs and nets."""
    nets = {}
    for name, net in sorted(state['nets'].items()):
        entry = dict(libvirt_name=net['libvirt_name'], bridge=net['bridge'], type=net['type'],
                     subnet=net.get('subnet'), gateway=net.get('gateway'),
                     management=net.get('management', False), dns_domain=net.get('dns_domain'))
        if conn is not None:
            live = network.read_network(conn, net['libvirt_name'])
            entry['state'] = 'absent' if live is None else ('active' if live['active'] else 'inactive')
        nets[name] = entry
    vms = {}
    for name, vm in sorted(state['vms'].items()):
        entry = dict(
            libvirt_name=vm['libvirt_name'], address=vm['address'], management_net=vm['management_net'],
            addresses={nic['net']: nic.get('ip') for nic in vm['nics']},
            macs={nic['net']: nic['mac'] for nic in vm['nics']},
            vm_type=vm['vm_type'], groups=vm['groups'], memory=vm['memory'], vcpu=vm['vcpu'],
            disks=[dict(name=d['name'], dev=d['dev'], path=d['path'], format=d['format'], type=d['type'])
                   for d in vm['disks']],
            ssh_user=vm['ssh_user'])
        if conn is not None:
            dom = domain.lookup_domain(conn, vm['libvirt_name'])
            entry['state'] = 'absent' if dom is None else domain.state_name(dom)
        vms[name] = entry
    return dict(path=layout.path, uuid=state['uuid'], short_id=state['short_id'],
                ssh_key=layout.private_key, known_hosts=layout.known_hosts,
                virt_type=state['virt_type'], nets=nets, vms=vms)
