# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which hypervisor each VM of a multi-host prefix runs on (docs/MULTIHOST.md).

The hypervisors are the inventory's (the group ``lago_hypervisors``); none
named means a single-host prefix: every VM runs where the modules run, as
before. A VM may be pinned with the domain key ``hypervisor``; the others
are placed by one policy, a pure function over facts gathered from each
hypervisor (``hypervisor_facts``):

1. a VM already recorded on a hypervisor stays there;
2. a pinned VM goes where it is pinned;
3. the others, in order of name, each go to the hypervisor with the most
   free memory, counting what this placement already put there; a tie goes
   to the one with the fewest VMs, then to the first by name.

Placement never refuses for lack of memory (as in a single-host prefix, the
memory of the VMs is not compared with the host's): qemu says when it cannot.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lago.lago.plugins.module_utils.host_subnets import host_in_use, libvirt_in_use
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import Problems
from ansible_collections.lago.lago.plugins.module_utils.values import fail

MIB = 1024 * 1024


def check_pins(spec, hypervisors):
    """SpecError naming every VM pinned to a hypervisor not in ``hypervisors`` (all at once)."""
    known = sorted(hypervisors or ())
    problems = Problems()
    for name, vm in sorted(spec['domains'].items()):
        pin = vm.get('hypervisor')
        if pin is None or pin in known:
            continue
        if known:
            why = 'hypervisors: %s' % ', '.join(known)
        else:
            why = ('no hypervisors are named: name them in the inventory group lago_hypervisors '
                   '(docs/MULTIHOST.md), or drop the key to run the VM here')
        problems.check(fail, 'domains.%s.hypervisor' % name, 'VM %s is pinned to unknown hypervisor %r (%s)'
                       % (name, pin, why))
    problems.raise_found()


def place(domains, facts, placed=None):
    """{vm: hypervisor} for every VM of ``domains`` (the normalized spec's).

    ``facts``: {hypervisor: {'free_memory_mib': int, 'vms': int}}, as gathered
    (empty: a single-host prefix, every VM None); ``placed``: {vm: hypervisor}
    already recorded in the state. Pins must have passed ``check_pins``.
    """
    if not facts:
        return dict((name, None) for name in domains)
    placed = placed or {}
    free = dict((host, fact['free_memory_mib']) for host, fact in facts.items())
    count = dict((host, fact['vms']) for host, fact in facts.items())
    result = {}

    def put(name, host, counted):
        result[name] = host
        if not counted:
            free[host] -= domains[name]['memory']
            count[host] += 1
    for name in sorted(domains):
        if placed.get(name) in facts:
            put(name, placed[name], True)  # its domain is among the host's VMs already
    for name in sorted(set(domains) - set(result)):
        if domains[name].get('hypervisor') is not None:
            put(name, domains[name]['hypervisor'], False)
    for name in sorted(set(domains) - set(result)):
        put(name, min(facts, key=lambda host: (-free[host], count[host], host)), False)
    return result


def hypervisor_facts(conn):
    """What placement needs to know of the hypervisor behind ``conn``: its free memory and number of VMs."""
    return dict(free_memory_mib=conn.getFreeMemory() // MIB, vms=len(conn.listAllDomains()))


def hypervisor_report(conn):
    """What the controller of a multi-host prefix needs of this hypervisor: ``facts`` (hypervisor_facts)
    and ``routes``, the IPv4 networks of its own addresses and routes and of its libvirt networks, running
    or only defined (a leased /24 must avoid them all: a defined network starts with its subnet later)."""
    in_use = host_in_use() + libvirt_in_use(conn)
    return dict(facts=hypervisor_facts(conn), routes=sorted(set(str(entry.network) for entry in in_use)))
