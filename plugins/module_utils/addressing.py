# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address and MAC of every NIC of a new VM, decided before it boots (the
nets hand them out as DHCP reservations by MAC, so start never polls leases).

Pure functions over plain data: a *net* is a prefix's net record (``type``,
``subnet`` as CIDR, ``dhcp`` as ``{start, end}`` addresses or None); the
*taken* NICs are the ``{net, ip}`` of the VMs the prefix already has.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.lago.lago.plugins.module_utils import values
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError


def taken_ips(nics, net_name):
    """The addresses ``nics`` use on net ``net_name``."""
    return {nic['ip'] for nic in nics if nic['net'] == net_name and nic.get('ip')}


def static_ip(net, wanted, place):
    """A static address of the init file, moved into the net's leased subnet by its last octet, as Lago did."""
    return str(values.host_address(wanted, ipaddress.IPv4Network(net['subnet']), place, move=True, octets=False))


def next_free_ip(net, taken, net_name):
    """The lowest address from .2 that no NIC uses and the DHCP range does not hand out."""
    subnet = ipaddress.IPv4Network(net['subnet'])
    dhcp = net.get('dhcp')
    low, high = (ipaddress.IPv4Address(dhcp['start']), ipaddress.IPv4Address(dhcp['end'])) if dhcp else (None, None)
    for host in list(subnet.hosts())[1:]:
        if str(host) in taken or (low is not None and low <= host <= high):
            continue
        return str(host)
    raise PrefixError('net %s (%s) has no free address left for another VM' % (net_name, net['subnet']))


def allocate_nics(owner_uuid, vm_name, nic_specs, nets, taken):
    """The NICs (``{net, mac, ip}``) of VM ``vm_name`` from its normalized ``nic_specs``.

    ``nets`` maps net names to net records; ``taken`` lists the NICs of the
    prefix's other VMs. A NIC on a bridge net gets no address and a MAC
    derived from the prefix, VM and NIC index; any other NIC gets its static
    address or the next free one, and Lago's MAC for that address.
    """
    nics = []
    for index, nic_spec in enumerate(nic_specs):
        net_name = nic_spec['net']
        net = nets[net_name]
        place = 'domains.%s.nics[%d].ip' % (vm_name, index)
        ip = None
        if net['type'] != 'bridge':
            used = taken_ips(list(taken) + nics, net_name)
            ip = static_ip(net, nic_spec['ip'], place) if nic_spec.get('ip') else next_free_ip(net, used, net_name)
            if ip in used:
                raise PrefixError('%s: address %s is already used on net %s' % (place, ip, net_name))
        mac = values.mac_for_ip(ip) if ip else values.mac_without_ip(owner_uuid, vm_name, index)
        nics.append(dict(net=net_name, mac=mac, ip=ip))
    return nics
