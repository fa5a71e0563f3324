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
        for the owner; a subnet leased by another live owner, or in use on the host (an address
        or route of any interface, or another libvirt network), is an error naming what holds it.
      - Without it the network keeps the subnet it already has, or leases the first free one
        that the host does not use already (see docs/PREFIX.md, Subnet leases).
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

from ansible_collections.lago.lago.plugins.module_utils import network, network_ops
from ansible_collections.lago.lago.plugins.module_utils._runtime import LEASE_ARGS, LIBVIRT_ARGS, run_module
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
    state=dict(type='str', choices=list(network_ops.STATES), default='present'),
)
ARGUMENT_SPEC.update(LIBVIRT_ARGS)
ARGUMENT_SPEC.update(LEASE_ARGS)


def execute(run):
    p = run.params
    # Bad input fails here, before the owner, a lease or libvirt is touched.
    request = network_ops.NetworkRequest(
        p['name'], p['state'], net_type=p['type'], owner=p['owner'], subnet=p['subnet'], pool=p['pool'],
        bridge=p['bridge'], dhcp=p['dhcp'], hosts=p['hosts'], dns=p['dns'], dns_domain=p['dns_domain'],
        dns_hosts=p['dns_hosts'], mtu=p['mtu'], lease_dir=p['lease_dir'])
    return run.carry_out(network_ops.plan_network(connect(p['libvirt_uri']), request))


def main():
    run_module(ARGUMENT_SPEC, execute, libraries=('libvirt-python', 'lxml'))


if __name__ == '__main__':
    main()
