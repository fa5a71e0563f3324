# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement of a multi-host prefix's VMs: pins checked against the inventory's
hypervisors, and the policy (recorded, pinned, then most free memory, fewest
VMs, name) as a pure function of the facts gathered from each host."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.lago.lago.plugins.module_utils import placement
from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.spec_normalize import normalize_spec


def spec(**pins):
    """A normalized spec of web01, db01 and app01 (1024 MiB each), pinned as given."""
    domains = {}
    for name in ('web01', 'db01', 'app01'):
        vm = {'nics': [{'net': 'lan'}], 'disks': [{'type': 'template', 'template_name': 'debian12'}]}
        if name in pins:
            vm['hypervisor'] = pins[name]
        domains[name] = vm
    return normalize_spec({'domains': domains, 'nets': {'lan': {}}})


def facts(**hosts):
    return dict((host, dict(free_memory_mib=free, vms=vms)) for host, (free, vms) in hosts.items())


def test_the_key_is_kept_only_when_set():
    normalized = spec(web01='hv1.example.com')
    assert normalized['domains']['web01']['hypervisor'] == 'hv1.example.com'
    assert 'hypervisor' not in normalized['domains']['db01']
    assert 'hypervisor' not in normalize_spec(dict(domains=dict(vm01=dict(
        nics=[{'net': 'lan'}], disks=[{'type': 'empty', 'size': '1G'}], hypervisor=None)), nets={'lan': {}}))['domains']['vm01']


@pytest.mark.parametrize('value, message', [
    ('hv 1', "domains.web01.hypervisor: invalid hypervisor name 'hv 1': it must be an inventory host name"),
    (3, 'domains.web01.hypervisor: invalid hypervisor name 3'),
    ('-hv', "domains.web01.hypervisor: invalid hypervisor name '-hv'"),
])
def test_a_bad_hypervisor_name_is_refused_naming_the_vm(value, message):
    with pytest.raises(SpecError) as caught:
        spec(web01=value)
    assert message in str(caught.value)


def test_pins_to_unknown_hypervisors_name_each_vm_and_the_known_ones():
    with pytest.raises(SpecError) as caught:
        placement.check_pins(spec(web01='hv1', db01='hv9', app01='hvx'), ['hv2', 'hv1'])
    message = str(caught.value)
    assert message.startswith('2 problems: ')
    assert "domains.app01.hypervisor: VM app01 is pinned to unknown hypervisor 'hvx' (hypervisors: hv1, hv2)" in message
    assert "domains.db01.hypervisor: VM db01 is pinned to unknown hypervisor 'hv9' (hypervisors: hv1, hv2)" in message
    assert 'web01' not in message


def test_without_hypervisors_any_pin_is_refused_and_none_is_fine():
    placement.check_pins(spec(), [])
    with pytest.raises(SpecError) as caught:
        placement.check_pins(spec(db01='hv1'), [])
    assert str(caught.value).startswith("domains.db01.hypervisor: VM db01 is pinned to unknown hypervisor 'hv1' "
                                        "(no hypervisors are named: name them in the inventory group lago_hypervisors")


def test_a_single_host_prefix_places_every_vm_here():
    assert placement.place(spec()['domains'], {}) == {'web01': None, 'db01': None, 'app01': None}


def test_unpinned_vms_go_to_the_most_free_memory_counting_earlier_placements():
    # app01 first (name order) to hv1 (more free memory); then hv1 has 4096 - 1024 = 3072 < 3500: db01 to hv2;
    # then hv2 has 2476 < 3072: web01 to hv1.
    assert placement.place(spec()['domains'], facts(hv1=(4096, 5), hv2=(3500, 0))) == {
        'app01': 'hv1', 'db01': 'hv2', 'web01': 'hv1'}


def test_equal_memory_goes_to_the_fewest_vms_then_the_first_name():
    # app01: equal memory, hv2 has fewer VMs; db01: hv1 has more memory left; web01: equal again
    # (7168 each), hv2 has fewer VMs (2 against 4)
    assert placement.place(spec()['domains'], facts(hv2=(8192, 1), hv1=(8192, 3))) == {
        'app01': 'hv2', 'db01': 'hv1', 'web01': 'hv2'}
    # equal memory and VM counts: the name decides, then the memory the first placement took
    assert placement.place(spec()['domains'], facts(hv2=(8192, 0), hv1=(8192, 0))) == {
        'app01': 'hv1', 'db01': 'hv2', 'web01': 'hv1'}


def test_pins_are_honoured_and_counted_before_the_policy():
    # web01 pinned to hv1 takes 1024 MiB there first: the others then see hv1 with less
    assert placement.place(spec(web01='hv1')['domains'], facts(hv1=(2048, 0), hv2=(2048, 0))) == {
        'web01': 'hv1', 'app01': 'hv2', 'db01': 'hv1'}


def test_recorded_vms_stay_and_are_not_counted_twice():
    # db01 is on hv2 already (its memory and its domain are in hv2's facts): it stays, and the
    # others see hv2 as gathered
    assert placement.place(spec()['domains'], facts(hv1=(3000, 0), hv2=(4000, 1)), placed={'db01': 'hv2'}) == {
        'db01': 'hv2', 'app01': 'hv2', 'web01': 'hv1'}
    # a VM recorded on a host that is no longer among the facts is placed again
    assert placement.place(spec()['domains'], facts(hv1=(9000, 0)), placed={'db01': 'hv7'})['db01'] == 'hv1'


def test_placement_never_refuses_for_lack_of_memory():
    assert set(placement.place(spec()['domains'], facts(hv1=(100, 0), hv2=(50, 0))).values()) <= {'hv1', 'hv2'}


class FakeConn(object):
    def getFreeMemory(self):
        return 3 * 1024 * 1024 * 1024 + 5

    def listAllDomains(self):
        return ['a', 'b']


def test_hypervisor_facts_are_free_memory_in_mib_and_the_number_of_domains():
    assert placement.hypervisor_facts(FakeConn()) == dict(free_memory_mib=3072, vms=2)
