#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lago_network
short_description: A libvirt network on a leased /24, as Lago builds them
version_added: 0.1.0
description:
  - Manages one persistent libvirt network, standalone or as part of a Lago prefix.
  - Its /24 comes from the subnet leases shared by every prefix on the host
    (Lago's C(<lease_dir>/<third octet>.lease) files), or is given with O(subnet).
    The host's address on the bridge (the gateway) is always the subnet's C(.1).
  - The libvirt network is named C(<owner short id>-<name>) and its bridge gets a
    name of at most 15 characters derived from that.
  - DHCP and DNS host entries of a running network are changed live, without
    restarting it; any other change redefines the network and restarts it when
    it runs (guests attached to it then need to be reattached).
  - Bad input fails before anything is touched, and a failure after a subnet was
    leased releases it again, so nothing is left behind.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago
  - lago.lago.lago.libvirt
  - lago.lago.lago.leases
  - lago.lago.lago.attributes
  - lago.lago.lago.group_template_store
options:
  name:
    description:
      - The network's name inside its owner (Lago's net name), e.g. C(lago-mgmt).
      - Letters, digits, C(-), C(_) and C(.); it becomes part of the libvirt and bridge names.
    type: str
    required: true
  type:
    description:
      - C(nat) gives guests the host's routes through NAT.
      - C(isolated) has the gateway address, DHCP and DNS, but no forward.
      - C(bridge) is Lago's bridge network, a plain layer-2 bridge that libvirt creates,
        with no address on the host, no DHCP and no DNS; it takes no subnet lease.
        It does not attach to an existing host bridge.
    type: str
    choices: [nat, isolated, bridge]
    default: nat
  owner:
    description:
      - Path of the owning prefix's C(uuid) file (32 hex characters); leases and the
        libvirt name's short id belong to it.
      - Without it the network owns itself, through C(<lease_dir>/owners/<name>/uuid),
        which this module creates and O(state=absent) removes.
    type: path
  subnet:
    description:
      - The /24 to use, as its third octet (V(201)), its CIDR (V(192.168.201.0/24)) or an
        address in it (Lago's C(gw), V(192.168.201.1)). It must be in O(pool) and is leased
        for the owner; a subnet leased by another live owner is an error.
      - Without it the network keeps the subnet it already has, or leases the first free one.
    type: str
  pool:
    description:
      - The /24s to lease from, as V(A.B.C.0/24-A.B.D.0/24) or as a CIDR of /16 to /24
        (V(10.20.0.0/16)); the range must stay inside one /16.
      - Defaults to Lago's pool, 192.168.200.0/24 to 192.168.255.0/24.
    type: str
  bridge:
    description:
      - The Linux bridge name, at most 15 characters. Derived from the owner and O(name)
        when not given.
    type: str
  dhcp:
    description:
      - The dynamic DHCP range (Lago's C(dhcp)). Without it only O(hosts) get addresses.
    type: dict
    suboptions:
      start:
        description: First address of the range, as a last octet (V(100)) or a full address.
        type: raw
        required: true
      end:
        description: Last address of the range, as a last octet (V(254)) or a full address.
        type: raw
        required: true
  hosts:
    description:
      - Static DHCP reservations, so every guest's address is known before it boots.
      - Each MAC, address and name may appear once. Addresses are last octets, or full
        addresses when O(subnet) is given.
    type: list
    elements: dict
    default: []
    suboptions:
      mac:
        description: The guest NIC's MAC address.
        type: str
        required: true
      ip:
        description: The address reserved for it (last octet or full address).
        type: raw
        required: true
      name:
        description: The host name handed out with the address.
        type: str
  dns:
    description:
      - Whether the network runs libvirt's DNS server. Lago turns it off on every
        network but the management one, so guests get a single resolver.
    type: bool
    default: true
  dns_domain:
    description:
      - A local DNS domain the network answers for and never forwards (Lago's management
        network domain).
    type: str
  dns_hosts:
    description:
      - DNS host records, as a mapping of host name to address (last octet or full address).
    type: dict
    default: {}
  mtu:
    description:
      - The bridge MTU; libvirt's default when not given.
    type: int
  state:
    description:
      - V(present) defines the persistent network (it survives a libvirtd restart) and
        leaves a running one running.
      - V(started) also starts it, V(stopped) stops it.
      - V(absent) stops and undefines it and releases its lease (and the standalone owner).
    type: str
    choices: [present, started, stopped, absent]
    default: present
notes:
  - In check mode on a network that does not exist yet, the reported subnet is the one
    a lease would get now; another run may take it first.
seealso:
  - name: libvirt network XML format
    description: What the generated definition means.
    link: https://libvirt.org/formatnetwork.html
'''

EXAMPLES = r'''
- name: A NAT network with a DHCP range and two reserved addresses
  lago.lago.lago_network:
    name: mgmt
    state: started
    dhcp: {start: 100, end: 254}
    hosts:
      - {mac: "54:52:c0:a8:c8:0a", ip: 10, name: vm01}
      - {mac: "54:52:c0:a8:c8:0b", ip: 11, name: vm02}
    dns_domain: lago.local
    dns_hosts: {vm01: 10, vm02: 11}
  register: net

- name: The network of a prefix, on a given subnet
  lago.lago.lago_network:
    name: storage
    owner: /srv/lab/.lago/default/uuid
    subnet: 192.168.210.1
    type: isolated
    dns: false
    mtu: 9000
    state: started

- name: A plain layer-2 bridge (no address, no DHCP)
  lago.lago.lago_network:
    name: l2
    type: bridge
    state: started

- name: Leases from another pool, kept in a private lease directory
  lago.lago.lago_network:
    name: lab
    pool: 10.77.0.0/16
    lease_dir: /var/tmp/my-leases
    state: started

- name: Remove it and release its lease
  lago.lago.lago_network:
    name: mgmt
    state: absent
'''

RETURN = r'''
network:
  description:
    - The network as it is after the task (as it would be, in check mode).
    - For O(state=absent), only its names.
  returned: always
  type: dict
  contains:
    name:
      description: The libvirt network name.
      type: str
      sample: 3f2a9c1e-mgmt
    bridge:
      description: The Linux bridge name.
      type: str
      sample: 3f2a9c1e-mgmt
    type:
      description: nat, isolated or bridge.
      type: str
    subnet:
      description: The subnet in CIDR notation (null for type bridge).
      type: str
      sample: 192.168.200.0/24
    gateway:
      description: The host's address on the bridge.
      type: str
      sample: 192.168.200.1
    dhcp:
      description: The dynamic range as full addresses, or null.
      type: dict
      sample: {start: 192.168.200.100, end: 192.168.200.254}
    hosts:
      description: Static DHCP reservations, sorted by address.
      type: list
      elements: dict
      sample: [{mac: "54:52:c0:a8:c8:0a", ip: 192.168.200.10, name: vm01}]
    dns:
      description: Whether the network runs a DNS server.
      type: bool
    dns_domain:
      description: The local DNS domain, or null.
      type: str
    dns_hosts:
      description: DNS host records, host name to address.
      type: dict
    mtu:
      description: The MTU, or null for libvirt's default.
      type: int
    active:
      description: Whether the network runs.
      type: bool
    owner:
      description: Path of the owner's uuid file.
      type: str
    lease:
      description: Path of the subnet's lease file (null for type bridge).
      type: str
actions:
  description: What was (or, in check mode, would be) done, in order.
  returned: always
  type: list
  elements: str
  sample: [lease, define, start]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lago.lago.plugins.module_utils import network, subnet_lease
from ansible_collections.lago.lago.plugins.module_utils.common import (
    LEASE_ARGS, LIBVIRT_ARGS, diff_of, lago_errors, new_module, require_libraries)
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect

ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    type=dict(type='str', choices=list(network.TYPES), default='nat'),
    owner=dict(type='path'),
    subnet=dict(type='str'),
    pool=dict(type='str'),
    bridge=dict(type='str'),
    dhcp=dict(type='dict', options=dict(start=dict(type='raw', required=True),
                                        end=dict(type='raw', required=True))),
    hosts=dict(type='list', elements='dict', default=[],
               options=dict(mac=dict(type='str', required=True),
                            ip=dict(type='raw', required=True),
                            name=dict(type='str'))),
    dns=dict(type='bool', default=True),
    dns_domain=dict(type='str'),
    dns_hosts=dict(type='dict', default={}),
    mtu=dict(type='int'),
    state=dict(type='str', choices=['present', 'started', 'stopped', 'absent'], default='present'),
)
ARGUMENT_SPEC.update(LIBVIRT_ARGS)
ARGUMENT_SPEC.update(LEASE_ARGS)


class Request(object):
    """The task's parameters, checked, plus what it did so far (for the undo on failure)."""

    def __init__(self, params, check_mode):
        self.p = params
        self.check_mode = check_mode
        self.lease_dir = params['lease_dir']
        self.pool = subnet_lease.parse_pool(params['pool'])
        self.subnet = None
        if params['subnet'] is not None:
            self.subnet = self.pool.cidr(subnet_lease.parse_subnet(params['subnet'], self.pool))
        self.actions = []
        self.undo = []
        self.owner = None
        self.names = None

    def spec(self, subnet):
        """Arguments of network.describe() apart from the names."""
        p = self.p
        hosts = [dict((k, v) for k, v in host.items() if v is not None) for host in p['hosts']]
        return dict(net_type=p['type'], subnet=subnet, dhcp=p['dhcp'], hosts=hosts, dns=p['dns'],
                    dns_domain=p['dns_domain'], dns_hosts=p['dns_hosts'], mtu=p['mtu'])

    def validate(self):
        """Every check that needs neither the owner, nor a lease, nor libvirt."""
        network.derive_names('0' * 32, self.p['name'], self.p['bridge'])
        if self.p['state'] != 'absent':
            spec = self.spec(self.subnet)
            network.check(name=self.p['name'], bridge=self.p['bridge'] or 'placeholder', **spec)

    def resolve_owner(self):
        p = self.p
        if p['owner']:
            self.owner = subnet_lease.read_owner(p['owner'])
        else:
            create = p['state'] != 'absent' and not self.check_mode
            self.owner, created = subnet_lease.standalone_owner(self.lease_dir, p['name'], create)
            if created:
                self.undo.append(lambda: subnet_lease.remove_owner(self.owner))
        self.names = network.derive_names(self.owner.uuid, p['name'], p['bridge'])

    @property
    def standalone(self):
        return not self.p['owner']


def _lease(req, current):
    """Lease (or keep) the network's subnet; None for type bridge."""
    if req.p['type'] == 'bridge':
        return None
    actual = current and (current['live'] or current['config'])
    wanted = req.subnet or (actual and actual['subnet'])
    if wanted is None and req.standalone:
        # A standalone owner has this one network: a lease it holds is this network's.
        held = subnet_lease.leases_of(req.lease_dir, req.owner, req.pool)
        wanted = held[0]['subnet'] if held else None
    lease = subnet_lease.acquire(req.lease_dir, req.owner, wanted, req.pool, dry_run=req.check_mode)
    if lease['new']:
        req.actions.append('lease')
        if not req.check_mode:
            req.undo.append(lambda: subnet_lease.release(req.lease_dir, req.owner, lease['subnet']))
    return lease


def _release(req, subnets):
    """Release the owner's leases among ``subnets``; the ones released (or to release)."""
    held = set(lease['octet'] for lease in subnet_lease.leases_of(req.lease_dir, req.owner))
    wanted = dict((subnet_lease.subnet_octet(subnet)[1], subnet) for subnet in subnets if subnet)
    done = []
    for octet in sorted(set(wanted) & held):
        if not req.check_mode:
            subnet_lease.release(req.lease_dir, req.owner, octet)
        done.append(wanted[octet])
    return done


def _present(req, conn):
    libvirt_name, bridge = req.names
    current = network.read_network(conn, libvirt_name)
    actual = current and (current['live'] or current['config'])
    lease = _lease(req, current)
    wanted = network.describe(libvirt_name, bridge, **req.spec(lease and lease['subnet']))
    result = network.reconcile(conn, wanted, req.p['state'], req.check_mode)
    req.actions.extend(result['steps'])
    req.undo = []  # the network stands on its lease now: keep both whatever happens next
    # A subnet given up for another (or for type bridge) goes back to the pool.
    if actual and actual['subnet'] and actual['subnet'] != wanted['subnet']:
        if _release(req, [actual['subnet']]):
            req.actions.append('release')
    net = dict(result['after'], owner=req.owner.path, lease=lease and lease['path'])
    return dict(changed=bool(req.actions), network=net, diff=diff_of(result['before'], result['after']))


def _absent(req, conn):
    libvirt_name, bridge = req.names
    result = network.remove(conn, libvirt_name, req.check_mode)
    if result['changed']:
        req.actions.append('remove')
    subnets = [result['before'].get('subnet'), req.subnet]
    if req.standalone:
        subnets += [lease['subnet'] for lease in subnet_lease.leases_of(req.lease_dir, req.owner, req.pool)]
    if _release(req, subnets):
        req.actions.append('release')
    if req.standalone and os.path.exists(req.owner.path):
        req.actions.append('remove owner')
        if not req.check_mode:
            subnet_lease.remove_owner(req.owner)
    return dict(changed=bool(req.actions), network=dict(name=libvirt_name, bridge=bridge),
                diff=diff_of(result['before'], {}))


def _run(req):
    req.validate()
    req.resolve_owner()
    try:
        conn = connect(req.p['libvirt_uri'])
        if req.p['state'] == 'absent':
            return _absent(req, conn)
        return _present(req, conn)
    except BaseException:
        # Nothing of a failed run stays behind: no lease, no owner file.
        for undo in reversed(req.undo):
            undo()
        raise


def main():
    module = new_module(AnsibleModule, argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    require_libraries(module, 'libvirt-python', 'lxml')
    with lago_errors(module):
        req = Request(module.params, module.check_mode)
        result = _run(req)
    if not module._diff:
        result.pop('diff')
    module.exit_json(actions=req.actions, **result)


if __name__ == '__main__':
    main()
