# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A prefix across several hypervisors, as the controller plans it (docs/MULTIHOST.md).

A multi-host prefix is the controller's prefix plus one ordinary "part"
prefix per hypervisor. The controller (this module) checks the pins, places
every VM, leases each net's /24 once in its own lease directory (free of its
own and every participating hypervisor's routes), gives every NIC its MAC and
address, makes the prefix's key pair and each VM's host key (so its
known_hosts is strict from the start), and records it all in its state.json:
``hypervisors`` (how to reach each one and where its part is), each VM's
``hypervisor`` and each net's ``hypervisors`` (the first: gateway, DHCP, DNS).
It makes no libvirt object and no disk.

``part_of`` says what one hypervisor must build: the init spec of its VMs,
the nets as the controller leased them (the first hypervisor of a net holds
the reservation and DNS name of every VM of the net; the others a plain
bridge; the MTU lowered for the tunnel) and the NICs; ``tunnels_of`` the
lago_vxlan arguments that join its bridges to the other hypervisors'.
prefix_build builds a part as a single-host prefix with the same uuid.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import ipaddress

from ansible_collections.lago.lago.plugins.module_utils import (
    placement, prefix_build, prefix_teardown, prefix_vms, spec_diff, vxlan)
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json, write_json
from ansible_collections.lago.lago.plugins.module_utils.host_subnets import InUse
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import Problems
from ansible_collections.lago.lago.plugins.module_utils.spec_secrets import seal_passwords
from ansible_collections.lago.lago.plugins.module_utils.values import fail

# How the controller (and branch mhreach's jump host) reaches a hypervisor, and where its part is.
REACH_KEYS = ('ssh_host', 'ssh_user', 'ssh_port', 'ssh_key', 'known_hosts')


def _reach(entry, place, problems, default_path):
    """The recorded entry of one hypervisor: REACH_KEYS and path."""
    record = dict((key, entry.get(key) or None) for key in REACH_KEYS)
    record['ssh_port'] = int(entry.get('ssh_port') or 22)
    record['ssh_user'] = entry.get('ssh_user') or 'root'
    record['path'] = entry.get('path') or default_path
    if not record['ssh_host']:
        problems.check(fail, place + '.ssh_host', 'how the hypervisor is reached is missing (its ansible_host)')
    return record


def _facts(entry, place, problems):
    facts = entry.get('facts') or {}
    result = {}
    for key in ('free_memory_mib', 'vms'):
        value = facts.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.check(fail, '%s.facts.%s' % (place, key), 'must be a whole number >= 0, not %r' % (value,))
        result[key] = value
    return result


def _routes(entry, place, problems):
    routes = []
    for index, value in enumerate(entry.get('routes') or []):
        try:
            routes.append(ipaddress.IPv4Network(value, strict=False))
        except (ValueError, TypeError):
            problems.check(fail, '%s.routes[%d]' % (place, index), 'not an IPv4 address or network: %r' % (value,))
    return routes


def read_hypervisors(entries, default_path):
    """The ``hypervisors`` option, checked: (records {name: REACH_KEYS + path}, facts {name: facts},
    in_use [host_subnets.InUse of their routes and addresses]); SpecError naming each bad key."""
    problems = Problems()
    records, facts, in_use = {}, {}, []
    for index, entry in enumerate(entries or []):
        place = 'hypervisors[%d]' % index
        name = entry.get('name') if isinstance(entry, dict) else None
        if not name:
            problems.check(fail, place + '.name', 'each hypervisor needs its inventory name')
            continue
        if name in records:
            problems.check(fail, place + '.name', 'hypervisor %s is given twice' % name)
            continue
        records[name] = _reach(entry, '%s (%s)' % (place, name), problems, default_path)
        facts[name] = _facts(entry, '%s (%s)' % (place, name), problems)
        in_use += [InUse(net, 'a route or address of hypervisor %s (%s)' % (name, net), ())
                   for net in _routes(entry, place, problems)]
    problems.raise_found()
    return records, facts, in_use


def order_of(records):
    """The hypervisors in the order a net's hosts are listed: the order they were given."""
    return list(records)


# ------------------------------------------------------------------ planning

def plan_controller(conn, state, new_spec, options, hypervisors):
    """The controller's side of multi-host ``lago_prefix state=present``, as a Plan named ``prefix``.

    ``hypervisors``: the module's list (name, facts, routes, ssh_*, path). A
    new prefix is planned, leased and recorded; an existing one whose init
    spec is unchanged is left alone. values: changes, prefix and parts
    ({hypervisor: part_of}; None in check mode on a new prefix).
    """
    records, facts, in_use = read_hypervisors(hypervisors, state.path)
    placement.check_pins(new_spec, records)
    if state.layout.initialized and state.ready:
        old_spec = read_json(state.layout.spec_file)
        new_spec = seal_passwords(new_spec, old_spec)
        diff = spec_diff.spec_diff(old_spec, new_spec)
        if diff['changed'] or sorted(state.hypervisors) != sorted(records):
            raise PrefixError('prefix %s spans hypervisors %s: changes of a multi-host prefix (its VMs, nets or '
                              'hypervisors) are not applied yet; destroy it and init it again'
                              % (state.path, ', '.join(sorted(state.hypervisors))))
        return Plan('prefix', old_spec, old_spec, [], values=dict(changes=diff, parts=parts(state, old_spec), prefix=None))
    new_spec = seal_passwords(new_spec)
    diff = spec_diff.spec_diff(None, new_spec)
    hosts = sorted(records)
    what = 'create the controller of a prefix on hypervisors %s' % ', '.join(hosts)
    if state.layout.initialized:
        what = 'finish the interrupted init: remove what it made, ' + what

    def create():
        _create(conn, state, new_spec, options, records, facts, in_use)
        return dict(parts=parts(state, new_spec))
    return Plan('prefix', {}, new_spec, [what], create, values=dict(changes=diff, prefix=None, parts=None))


def _create(conn, state, new_spec, options, records, facts, in_use):
    layout = state.layout
    if layout.initialized:
        prefix_teardown.teardown(conn, state)
        prefix_teardown.remove_own_files(layout)
    options = copy.copy(options)
    options.also_in_use = tuple(options.also_in_use) + tuple(in_use)
    step = ['layout']
    try:
        with Rollback() as undo:
            undo.push('prefix files of %s' % layout.path, lambda: _undo(conn, state))
            prefix_build.new_layout(state, options)
            state.hypervisors = records
            step[0] = 'leases'
            prefix_build.lease_subnets(conn, state, new_spec, options)
            step[0] = 'placement and addresses'
            where = placement.place(new_spec['domains'], facts)
            prefix_build.add_vms(state, new_spec, options)
            for name, vm in state.vms.items():
                vm.hypervisor = where[name]
                vm.host_key = prefix_vms.host_key_pair(layout, name)[1]
                step[0] = 'deploy scripts of %s' % name
                prefix_vms.copy_scripts(state, name, new_spec['domains'][name])
            for name, net in state.nets.items():
                net.hypervisors = [host for host in order_of(records)
                                   if any(vm.hypervisor == host and any(nic.net == name for nic in vm.nics)
                                          for vm in state.vms.values())]
            state.save()
            step[0] = 'known_hosts'
            prefix_vms.write_known_hosts(state)
            write_json(layout.spec_file, new_spec, mode=0o600)  # may hold a root password
            state.status = 'ready'
            state.save()
            undo.commit()
    except (LagoError, OSError) as err:
        raise prefix_build.init_failed(layout, step[0], err)


def _undo(conn, state):
    if state.layout.initialized:
        prefix_teardown.teardown(conn, state)
    prefix_teardown.remove_own_files(state.layout)


# --------------------------------------------------------------------- parts

def part_of(state, spec, host):
    """What hypervisor ``host`` builds of the controller's prefix ``state`` (its init ``spec``).

    A dict: hypervisor, path, uuid, spec (the init spec of its VMs and their
    nets, no pins, no deploy scripts: those are the controller's), nets ({name: subnet, gateway, dhcp, mtu, bridge_only,
    remote_hosts}), vms ({name: nics, host_key}), tunnels (tunnels_of).
    """
    names = [name for name, vm in state.vms.items() if vm.hypervisor == host]
    used = sorted(set(nic.net for name in names for nic in state.vm(name).nics))
    domains = {}
    for name in names:
        domains[name] = dict((key, value) for key, value in copy.deepcopy(spec['domains'][name]).items()
                             if key != 'hypervisor')
        # Deploy scripts stay on the controller (deploy runs from there): copied into its prefix.
        if 'deploy-scripts' in (domains[name].get('metadata') or {}):
            domains[name]['metadata'] = dict((key, value) for key, value in domains[name]['metadata'].items()
                                             if key != 'deploy-scripts')
    nets = {}
    for name in used:
        net = state.net(name)
        spread = len(net.hypervisors) > 1
        remote = [dict(mac=nic.mac, ip=nic.ip, name=vm_name) for vm_name, vm in state.vms.items()
                  if vm.hypervisor != host for nic in vm.nics if nic.net == name and nic.ip]
        nets[name] = dict(subnet=net.subnet, gateway=net.gateway, dhcp=net.dhcp,
                          mtu=vxlan.tunnel_mtu(net.mtu) if spread else net.mtu,
                          bridge_only=spread and net.hypervisors[0] != host,
                          remote_hosts=remote if net.hypervisors[0] == host else [])
    return dict(hypervisor=host, path=state.hypervisors[host]['path'], uuid=state.uuid,
                spec=dict(domains=domains, nets=dict((name, copy.deepcopy(spec['nets'][name])) for name in used)),
                nets=nets, vms=dict((name, dict(nics=[nic.to_dict() for nic in state.vm(name).nics],
                                                host_key=state.vm(name).host_key)) for name in names),
                tunnels=tunnels_of(state, host))


def check_part(part, spec):
    """A ``part`` option (part_of's dict) for the init ``spec``: SpecError naming every missing or wrong key."""
    problems = Problems()
    for key in ('hypervisor', 'uuid', 'nets', 'vms'):
        wrong = not isinstance(part.get(key), dict) if key in ('nets', 'vms') else not part.get(key)
        if wrong:
            problems.check(fail, 'part.%s' % key, 'missing: give the part as the controller returned it (parts.<hypervisor>)')
    problems.raise_found()
    for name in sorted(spec['nets']):
        if not isinstance(part['nets'].get(name), dict):
            problems.check(fail, 'part.nets.%s' % name, 'net %s of the spec is not in the part' % name)
    for name in sorted(spec['domains']):
        nics = (part['vms'].get(name) or {}).get('nics') if isinstance(part['vms'].get(name), dict) else None
        if not nics or len(nics) != len(spec['domains'][name]['nics']):
            problems.check(fail, 'part.vms.%s.nics' % name, 'VM %s of the spec has no NICs (as many as its '
                                                            'spec) in the part' % name)
    problems.raise_found()


def tunnels_of(state, host):
    """The lago_vxlan arguments (bridge, vni, local, peers, mtu) of each net of ``host`` spread over several hypervisors."""
    records = state.hypervisors
    result = []
    for name, net in state.nets.items():
        if host not in net.hypervisors or len(net.hypervisors) < 2:
            continue
        result.append(dict(net=name, bridge=net.bridge, vni=vxlan.vni(state.uuid, name),
                           local=records[host]['ssh_host'], mtu=vxlan.tunnel_mtu(net.mtu),
                           peers=[records[other]['ssh_host'] for other in net.hypervisors if other != host]))
    return result


def parts(state, spec):
    """{hypervisor: part_of} for every hypervisor of the prefix with a VM placed on it."""
    hosts = set(vm.hypervisor for vm in state.vms.values())
    return dict((host, part_of(state, spec, host)) for host in sorted(state.hypervisors) if host in hosts)
