# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A prefix as lago_prefix and lago_prefix_info return it: its records, and with a
libvirt connection the live state of each VM and net."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lago.lago.plugins.module_utils import domain, network


def net_view(net, conn=None):
    """One net (a prefix_records.Net); with ``conn`` its live state: active, inactive or absent."""
    entry = dict(libvirt_name=net.libvirt_name, bridge=net.bridge, type=net.type, subnet=net.subnet,
                 gateway=net.gateway, management=net.management, dns_domain=net.dns_domain)
    if conn is not None:
        live = network.read_network(conn, net.libvirt_name)
        entry['state'] = 'absent' if live is None else ('active' if live['active'] else 'inactive')
    return entry


def vm_view(vm, conn=None):
    """One VM (a prefix_records.Vm); with ``conn`` its live state (running, shut off, ... or absent)."""
    entry = dict(
        libvirt_name=vm.libvirt_name, address=vm.address, management_net=vm.management_net,
        addresses=dict((nic.net, nic.ip) for nic in vm.nics),
        macs=dict((nic.net, nic.mac) for nic in vm.nics),
        vm_type=vm.vm_type, groups=vm.groups, memory=vm.memory, vcpu=vm.vcpu,
        disks=[dict(name=d.name, dev=d.dev, path=d.path, format=d.format, type=d.type) for d in vm.disks],
        ssh_user=vm.ssh_user)
    if vm.hypervisor:
        entry['hypervisor'] = vm.hypervisor
    if conn is not None:
        entry['state'] = power_state(conn, vm)
    return entry


def power_state(conn, vm):
    """The libvirt state name of the VM's domain, or 'absent'."""
    dom = domain.lookup_domain(conn, vm.libvirt_name)
    return 'absent' if dom is None else domain.state_name(dom)


def describe(state, conn=None):
    """The prefix (a prefix_state.PrefixState) as the modules return it."""
    layout = state.layout
    more = dict(hypervisors=state.hypervisors) if state.hypervisors else {}
    return dict(more, path=layout.path, uuid=state.uuid, short_id=state.short_id,
                ssh_key=layout.private_key, known_hosts=layout.known_hosts, virt_type=state.virt_type,
                nets=dict((name, net_view(net, conn)) for name, net in state.nets.items()),
                vms=dict((name, vm_view(vm, conn)) for name, vm in state.vms.items()))
