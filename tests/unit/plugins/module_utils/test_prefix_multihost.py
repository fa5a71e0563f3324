# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller of a multi-host prefix: the hypervisors option checked, pins, placement,
one lease per net free of the hypervisors' routes, the record in state.json, the part each
hypervisor builds (nets as the first or a bridge, MTU lowered, every reservation on the
first) and the tunnels; nothing left when it is refused."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import placement, prefix_build, prefix_multihost, subnet_lease, vxlan
from ansible_collections.lago.lago.plugins.module_utils.host_subnets import InUse
from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import open_prefix
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import normalize_spec
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn

POOL = '10.213.0.0/24-10.213.9.0/24'


def spec(tmp_path, **pins):
    script = tmp_path / 'deploy.sh'
    script.write_text('#!/bin/sh\n')
    domains = {}
    for name in ('web01', 'db01'):
        vm = {'nics': [{'net': 'lan'}], 'disks': [{'type': 'empty', 'size': '1G', 'name': 'root'}], 'memory': 512}
        if pins.get(name):
            vm['hypervisor'] = pins[name]
        vm['metadata'] = {'deploy-scripts': [str(script)]}
        domains[name] = vm
    domains['db01']['nics'].append({'net': 'storage'})
    return normalize_spec({'domains': domains, 'nets': {'lan': {'management': True, 'dns_domain_name': 'lago.local'},
                                                        'storage': {}}})


def hypervisors(routes=()):
    return [dict(name=name, facts=dict(free_memory_mib=4096, vms=0), routes=list(routes),
                 ssh_host='192.168.250.1%d' % index, ssh_user='root', ssh_port=22, ssh_key='/k', known_hosts='/kh')
            for index, name in ((1, 'hv1'), (2, 'hv2'))]


def init(tmp_path, new_spec, hvs, check=False):
    options = prefix_build.Options(lease_dir=str(tmp_path / 'leases'), subnet_pool=POOL, virt_type='qemu')
    os.makedirs(options.lease_dir, exist_ok=True)
    conn = FakeConn()
    with open_prefix(str(tmp_path / 'prefix'), must_exist=False) as state:
        plan = prefix_multihost.plan_controller(conn, state, new_spec, options, hvs)
        values = dict(plan.values, changed=plan.changed)
        if plan.changed and not check:
            values.update(plan.apply())
        return values, state, options


def test_the_controller_records_placement_leases_and_reach(tmp_path):
    values, state, options = init(tmp_path, spec(tmp_path, web01='hv1', db01='hv2'), hypervisors())
    assert values['changed'] and state.ready
    assert dict((name, vm.hypervisor) for name, vm in state.vms.items()) == {'web01': 'hv1', 'db01': 'hv2'}
    assert state.hypervisors['hv2'] == dict(ssh_host='192.168.250.12', ssh_user='root', ssh_port=22, ssh_key='/k',
                                            known_hosts='/kh', path=state.path)
    assert state.net('lan').hypervisors == ['hv1', 'hv2'] and state.net('storage').hypervisors == ['hv2']
    assert len(subnet_lease.leases_of(options.lease_dir, state.owner)) == 2
    # Its known_hosts holds each VM's host key: SSH is strict from the start.
    with open(state.layout.known_hosts) as handle:
        lines = handle.read().splitlines()
    assert sorted(line.split()[0].split(',')[0] for line in lines) == ['db01', 'web01']
    assert oct(os.stat(state.layout.private_key).st_mode & 0o777) == '0o600'
    # No part of the prefix was built here (no disk, no seed).
    assert not os.listdir(os.path.join(state.path, 'images')) and not os.listdir(os.path.join(state.path, 'seeds'))


def test_the_parts_split_the_net_and_lower_its_mtu(tmp_path):
    values, state, _options = init(tmp_path, spec(tmp_path, web01='hv1', db01='hv2'), hypervisors())
    parts = values['parts']
    assert sorted(parts) == ['hv1', 'hv2']
    one, two = parts['hv1'], parts['hv2']
    assert one['uuid'] == two['uuid'] == state.uuid
    assert sorted(one['spec']['domains']) == ['web01'] and sorted(two['spec']['domains']) == ['db01']
    assert 'hypervisor' not in two['spec']['domains']['db01']
    assert 'deploy-scripts' not in two['spec']['domains']['db01']['metadata']
    assert [os.path.basename(path) for path in state.vm('db01').metadata['deploy-scripts']] == ['01-deploy.sh']
    assert sorted(one['spec']['nets']) == ['lan'] and sorted(two['spec']['nets']) == ['lan', 'storage']
    lan = state.net('lan')
    assert one['nets']['lan']['mtu'] == two['nets']['lan']['mtu'] == vxlan.tunnel_mtu(None)
    assert not one['nets']['lan']['bridge_only'] and two['nets']['lan']['bridge_only']
    # The first holds db01's reservation too; the bridge holds none.
    assert one['nets']['lan']['remote_hosts'] == [dict(mac=state.vm('db01').nics[0].mac, ip=state.vm('db01').address,
                                                       name='db01')]
    assert two['nets']['lan']['remote_hosts'] == [] and two['nets']['lan']['subnet'] == lan.subnet
    # A net on one hypervisor only: as on one host.
    assert two['nets']['storage']['mtu'] == state.net('storage').mtu and not two['nets']['storage']['bridge_only']
    assert two['vms']['db01']['nics'] == [nic.to_dict() for nic in state.vm('db01').nics]
    assert one['tunnels'] == [dict(net='lan', bridge=lan.bridge, vni=vxlan.vni(state.uuid, 'lan'), local='192.168.250.11',
                                   peers=['192.168.250.12'], mtu=1450)]
    assert [tunnel['peers'] for tunnel in two['tunnels']] == [['192.168.250.11']]


def test_unpinned_vms_are_placed_and_an_unchanged_rerun_changes_nothing(tmp_path):
    first, state, _options = init(tmp_path, spec(tmp_path), hypervisors())
    assert sorted(vm.hypervisor for vm in state.vms.values()) == ['hv1', 'hv2']
    again, _state, _options = init(tmp_path, spec(tmp_path), hypervisors())
    assert not again['changed'] and again['parts'] == first['parts']


def test_leases_avoid_the_hypervisors_routes(tmp_path):
    routes = ['10.213.0.0/23', '10.213.2.7/32']
    _values, state, _options = init(tmp_path, spec(tmp_path, web01='hv1'), hypervisors(routes))
    for net in state.nets.values():
        assert not any(ipaddress.IPv4Network(net.subnet).overlaps(ipaddress.IPv4Network(route, strict=False))
                       for route in routes), net.subnet


def test_check_mode_makes_nothing(tmp_path):
    values, _state, _options = init(tmp_path, spec(tmp_path, web01='hv1'), hypervisors(), check=True)
    assert values['changed'] and values['parts'] is None
    assert not (tmp_path / 'prefix').exists() and not os.listdir(str(tmp_path / 'leases'))


@pytest.mark.parametrize('pins, hvs, message', [
    (dict(db01='hv9'), hypervisors(), "domains.db01.hypervisor: VM db01 is pinned to unknown hypervisor 'hv9' "
                                      "(hypervisors: hv1, hv2)"),
    ({}, [dict(hypervisors()[0], routes=['nonsense'])], "hypervisors[0].routes[0]: not an IPv4 address or network: "
                                                        "'nonsense'"),
    ({}, [dict(hypervisors()[0], facts=dict(free_memory_mib=-1, vms=0))],
     'hypervisors[0] (hv1).facts.free_memory_mib: must be a whole number >= 0, not -1'),
    ({}, hypervisors() + hypervisors()[:1], 'hypervisors[2].name: hypervisor hv1 is given twice'),
])
def test_bad_input_is_refused_naming_it_with_nothing_left(tmp_path, pins, hvs, message):
    with pytest.raises(SpecError) as caught:
        init(tmp_path, spec(tmp_path, **pins), hvs)
    assert message in str(caught.value)
    assert not (tmp_path / 'prefix').exists() and not os.listdir(str(tmp_path / 'leases'))


def build_part(tmp_path, part, state):
    """The part ``part`` built as prefix_build builds it on its hypervisor (here a FakeConn)."""
    with open(state.layout.private_key) as handle:
        private = handle.read()
    with open(state.layout.public_key) as handle:
        public = handle.read()
    host_keys = {}
    for name in part['vms']:
        with open(state.layout.host_key(name)) as handle:
            host_keys[name] = handle.read()
    options = prefix_build.Options(lease_dir=str(tmp_path / 'no-leases-here'), virt_type='qemu', part=part,
                                   part_keys=dict(private_key=private, public_key=public, host_keys=host_keys))
    conn = FakeConn()
    with open_prefix(str(tmp_path / part['hypervisor']), must_exist=False) as built:
        plan = prefix_build.plan_present(conn, built, normalize_spec(part['spec']), options)
        plan.apply()
        return built, conn


def test_a_part_is_a_single_host_prefix_with_the_controllers_choices(tmp_path):
    values, state, _options = init(tmp_path, spec(tmp_path, web01='hv1', db01='hv2'), hypervisors())
    one, conn1 = build_part(tmp_path, values['parts']['hv1'], state)
    two, conn2 = build_part(tmp_path, values['parts']['hv2'], state)
    assert one.uuid == two.uuid == state.uuid and one.short_id == state.short_id
    assert not (tmp_path / 'no-leases-here').exists()
    assert one.part_of == 'hv1' and two.vm('db01').nics[0].to_dict() == state.vm('db01').nics[0].to_dict()
    assert two.vm('db01').host_key == state.vm('db01').host_key
    lan = prefix_build._net_description(one, 'lan')
    assert lan['subnet'] == state.net('lan').subnet and lan['mtu'] == 1450
    assert sorted(host['name'] for host in lan['hosts']) == ['db01', 'web01']
    assert sorted(lan['dns_hosts']) == ['db01', 'web01']
    bridge = prefix_build._net_description(two, 'lan')
    assert bridge['type'] == 'bridge' and bridge['mtu'] == 1450 and not bridge.get('hosts')
    assert [net.name() for net in conn1.listAllNetworks()] == [state.net('lan').libvirt_name]
    assert two.net('lan').mtu == 1450  # what the seeds carry (make_seed: the net's MTU)
    with open(two.layout.private_key) as handle, open(state.layout.private_key) as mine:
        assert handle.read() == mine.read()


def test_a_hypervisor_reports_its_memory_domains_routes_and_libvirt_subnets(monkeypatch):
    class Defined(object):
        """A libvirt network only defined (not running): no bridge, no route, yet its subnet is taken."""
        def XMLDesc(self, flags=0):  # noqa: N802 (libvirt's name)
            return ('<network><name>other-lab</name><bridge name="virbr9"/>'
                    '<ip address="192.168.77.1" netmask="255.255.255.0"/></network>')

        def isActive(self):  # noqa: N802
            return False

        def isPersistent(self):  # noqa: N802
            return True

    class Conn(object):
        def getFreeMemory(self):  # noqa: N802
            return 3 * 1024 * 1024 * 1024 + 5

        def listAllDomains(self):  # noqa: N802
            return ['a', 'b']

        def listAllNetworks(self):  # noqa: N802
            return [Defined()]
    found = [InUse(ipaddress.IPv4Network('192.168.250.0/24'), 'lagohv', ('lagohv',)),
             InUse(ipaddress.IPv4Network('10.0.0.0/8'), 'route', ()),
             InUse(ipaddress.IPv4Network('192.168.250.0/24'), 'route', ())]
    monkeypatch.setattr(placement, 'host_in_use', lambda: found)
    assert placement.hypervisor_report(Conn()) == dict(facts=dict(free_memory_mib=3072, vms=2),
                                                       routes=['10.0.0.0/8', '192.168.250.0/24', '192.168.77.0/24'])


@pytest.mark.parametrize('change, message', [
    (lambda part: part.pop('uuid'), 'part.uuid: missing'),
    (lambda part: part['nets'].pop('lan'), 'part.nets.lan: net lan of the spec is not in the part'),
    (lambda part: part['vms']['web01'].update(nics=[]), 'part.vms.web01.nics: VM web01 of the spec has no NICs'),
])
def test_a_bad_part_is_refused_naming_the_key(tmp_path, change, message):
    values, _state, _options = init(tmp_path, spec(tmp_path, web01='hv1', db01='hv2'), hypervisors())
    part = values['parts']['hv1']
    change(part)
    with pytest.raises(SpecError) as caught:
        prefix_multihost.check_part(part, normalize_spec(part['spec']))
    assert message in str(caught.value)
