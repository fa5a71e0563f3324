#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: lago_vxlan
short_description: The VXLAN tunnel that joins a lab net's bridges across hypervisors
version_added: 0.1.0
description:
  - Runs on a hypervisor of a multi-host prefix (docs/MULTIHOST.md) and manages one Linux
    vxlan device, C(vx<bridge>), attached to the bridge of a lab net's libvirt network.
  - Unicast only, no multicast group. Each peer gets one all-zeros forwarding entry
    (C(bridge fdb append)), so broadcasts (ARP, DHCP) reach every peer and the bridge
    learns where each VM is. UDP port 4789.
  - The net's libvirt network must run on this host first (its bridge must exist).
  - A device of that name that is not a vxlan device is an error, never changed.
author:
  - Lago developers (@lago-project)
extends_documentation_fragment:
  - lago.lago.lago
  - lago.lago.lago.attributes
  - lago.lago.lago.group_libvirt_uri
  - lago.lago.lago.group_template_store
  - lago.lago.lago.group_lease_dir
options:
  bridge:
    description: The bridge of the net's libvirt network on this host.
    type: str
    required: true
  vni:
    description:
      - The VXLAN network identifier, 1 to 16777215, the same on every hypervisor of the net.
      - Required with O(state=present).
    type: int
  local:
    description:
      - This hypervisor's underlay address (the tunnel's source).
      - Required with O(state=present).
    type: str
  peers:
    description: The underlay addresses of the net's other hypervisors (O(local) is ignored here).
    type: list
    elements: str
    default: []
  mtu:
    description: The device's MTU, the net's MTU less the 50 bytes of the encapsulation.
    type: int
    default: 1450
  state:
    description: C(present) makes the device match; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: lago.lago.lago_network
'''

EXAMPLES = r'''
- name: Join the lab net's bridge on hv2 to hv1 and hv3
  lago.lago.lago_vxlan:
    bridge: lg0f3c12ab0
    vni: 4242
    local: 192.168.250.12
    peers: [192.168.250.11, 192.168.250.13]
  delegate_to: hv2

- name: Take the tunnel away
  lago.lago.lago_vxlan:
    bridge: lg0f3c12ab0
    state: absent
'''

RETURN = r'''
device:
  description: The vxlan device's name.
  returned: always
  type: str
  sample: vxlg0f3c12ab0
vxlan:
  description: The device as it is afterwards (null when absent); in check mode, as it would be.
  returned: always
  type: dict
  sample: {device: vxlg0f3c12ab0, vni: 4242, local: 192.168.250.12, port: 4789, bridge: lg0f3c12ab0,
           mtu: 1450, peers: [192.168.250.11, 192.168.250.13], up: true}
'''

from ansible_collections.lago.lago.plugins.module_utils import values, vxlan
from ansible_collections.lago.lago.plugins.module_utils._runtime import run_module

ARGUMENT_SPEC = dict(
    bridge=dict(type='str', required=True),
    vni=dict(type='int'),
    local=dict(type='str'),
    peers=dict(type='list', elements='str', default=[]),
    mtu=dict(type='int', default=vxlan.DEFAULT_MTU - vxlan.OVERHEAD),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)
MODULE_KWARGS = dict(required_if=[('state', 'present', ('vni', 'local'))])


def execute(run):
    p = run.params
    values.check_bridge_name(p['bridge'], 'bridge')
    if p['state'] == 'present':
        values.ipv4(p['local'], 'local')
        for index, peer in enumerate(p['peers']):
            values.ipv4(peer, 'peers[%d]' % index)
    return run.carry_out(vxlan.plan_tunnel(p['bridge'], p['vni'], p['local'], p['peers'], p['mtu'], p['state']))


def main():
    run_module(ARGUMENT_SPEC, execute, **MODULE_KWARGS)


if __name__ == '__main__':
    main()
