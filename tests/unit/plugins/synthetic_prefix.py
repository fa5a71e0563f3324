# -*- coding: utf-8 -*-
"""Synthetic prefixes for the tests of the host view, the inventory plugin and the lago_hosts lookup.

A prefix here is a directory with a state.json as docs/PREFIX.md describes it (the
format lago_prefix writes), a uuid, a key pair and a known_hosts: no disk, no libvirt.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import uuid


def vm_state(short_id, name, number, nets=('lan',), vm_type='default', groups=(), ssh_user='root',
             metadata=None):
    nics = [{'net': net, 'mac': '52:54:00:%s:%02x:%02x' % (short_id[:2], index, number),
             'ip': '192.168.%d.%d' % (200 + index, number + 1)}
            for index, net in enumerate(nets)]
    return {
        'libvirt_name': 'lago-%s-%s' % (short_id, name),
        'vm_type': vm_type,
        'groups': list(groups),
        'memory': 1024,
        'vcpu': 1,
        'ssh_user': ssh_user,
        'management_net': nets[0],
        'address': nics[0]['ip'],
        'nics': nics,
        'disks': [{'name': 'root', 'dev': 'vda', 'type': 'empty', 'format': 'qcow2',
                   'path': '/prefix/images/%s_root.qcow2' % name}],
        'seed': '/prefix/seeds/%s.iso' % name,
        'host_key': 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey %s' % name,
        'metadata': metadata if metadata is not None else {},
        'artifacts': ['/var/log'],
        'snapshots': {},
    }


def net_state(short_id, name, index, management):
    return {
        'libvirt_name': 'lago-%s-%s' % (short_id, name), 'bridge': 'lg%s%d' % (short_id, index),
        'type': 'nat', 'management': management, 'subnet': '192.168.%d.0/24' % (200 + index),
        'gateway': '192.168.%d.1' % (200 + index), 'leased': True,
        'dhcp': {'start': '192.168.%d.100' % (200 + index), 'end': '192.168.%d.254' % (200 + index)},
        'dns_domain': 'lago.local', 'mtu': 1500,
    }


def make_prefix(path, vms, nets=('lan',), libvirt_uri='qemu:///system'):
    """A prefix directory at ``path`` with ``vms`` ({name: vm_state(...)})."""
    prefix_uuid = uuid.uuid4().hex
    os.makedirs(path)
    state = {
        'version': 1, 'uuid': prefix_uuid, 'short_id': prefix_uuid[:8], 'path': str(path),
        'libvirt_uri': libvirt_uri, 'virt_type': 'qemu', 'template_repo': '/repo.json',
        'template_store': '/var/lib/lago/store', 'lease_dir': '/var/lib/lago/subnets',
        'nets': {net: net_state(prefix_uuid[:8], net, index, index == 0) for index, net in enumerate(nets)},
        'vms': vms,
    }
    write_state(path, state)
    with open(os.path.join(path, 'uuid'), 'w') as handle:
        handle.write(prefix_uuid)
    for name, mode in (('id_rsa', 0o600), ('id_rsa.pub', 0o644), ('known_hosts', 0o644)):
        with open(os.path.join(path, name), 'w') as handle:
            handle.write('synthetic\n')
        os.chmod(os.path.join(path, name), mode)
    return state


def write_state(path, state):
    with open(os.path.join(path, 'state.json'), 'w') as handle:
        json.dump(state, handle, indent=2)


def read_state(path):
    with open(os.path.join(path, 'state.json')) as handle:
        return json.load(handle)


def make_two_vm_prefix(path):
    """prefix ``path``: vm01 (engine, on lan+storage), vm02 (host, on lan, user cloud)."""
    short_id = 'aaaa0000'
    make_prefix(path, {
        'vm01': vm_state(short_id, 'vm01', 1, nets=('lan', 'storage'), vm_type='ovirt-engine',
                         groups=['engines', 'web-servers'],
                         metadata={'deploy-scripts': ['/p/scripts/vm01/01-setup.sh'], 'distro': 'el8'}),
        'vm02': vm_state(short_id, 'vm02', 2, vm_type='ovirt-host', ssh_user='cloud',
                         metadata={'distro': 'debian'}),
    }, nets=('lan', 'storage'))
    return path


def spread_over_hypervisors(path, placement, hypervisors, net_hypervisors=None):
    """Make prefix ``path`` a multi-host one, as lago_prefix records it (docs/MULTIHOST.md):
    ``placement`` {vm: hypervisor}, ``hypervisors`` {name: {ssh_host, ssh_user, ssh_port,
    ssh_key, known_hosts}}, ``net_hypervisors`` {net: [first, others...]} (default: every
    net on the hypervisors of the placement, in name order)."""
    state = read_state(path)
    state['hypervisors'] = hypervisors
    for name, hypervisor in placement.items():
        state['vms'][name]['hypervisor'] = hypervisor
    for net in state['nets']:
        state['nets'][net]['hypervisors'] = list((net_hypervisors or {}).get(net) or sorted(set(placement.values())))
    write_state(path, state)
    return state


# --- reading ansible-inventory --list output ----------------------------------

def trusted(obj):
    """ansible-inventory writes strings that are not trusted as templates (all
    of state.json) as {"__ansible_unsafe": "..."}; the tests compare the values."""
    return obj['__ansible_unsafe'] if set(obj) == {'__ansible_unsafe'} else obj


def ok(result):
    rc, listing, stderr = result
    assert rc == 0, stderr
    return listing


def failed(result):
    rc, _listing, stderr = result
    assert rc != 0, 'ansible-inventory succeeded'
    return stderr


def hosts_of(listing, group):
    """Every host in ``group`` and its children."""
    entry = listing.get(group, {})
    hosts = set(entry.get('hosts', []))
    for child in entry.get('children', []):
        hosts |= hosts_of(listing, child)
    return hosts


def hostvars(listing):
    return listing['_meta']['hostvars']
