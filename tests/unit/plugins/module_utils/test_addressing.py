# -*- coding: utf-8 -*-
"""Addresses and MACs of a new VM's NICs, from plain net records and the NICs already taken."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import addressing, values
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError, SpecError

UUID = '0123456789abcdef0123456789abcdef'
NETS = {
    'lan': {'type': 'nat', 'subnet': '192.168.200.0/24',
            'dhcp': {'start': '192.168.200.4', 'end': '192.168.200.250'}},
    'storage': {'type': 'nat', 'subnet': '192.168.201.0/24', 'dhcp': None},
    'l2': {'type': 'bridge', 'subnet': None, 'dhcp': None},
}


def test_addresses_macs_and_bridge_nics():
    nics = addressing.allocate_nics(UUID, 'vm01', [{'net': 'lan', 'ip': None}, {'net': 'storage', 'ip': '10.0.0.9'},
                                                   {'net': 'l2', 'ip': None}], NETS, [])
    assert nics == [
        {'net': 'lan', 'mac': values.mac_for_ip('192.168.200.2'), 'ip': '192.168.200.2'},
        # A static address moves into the leased subnet by its last octet.
        {'net': 'storage', 'mac': '54:52:c0:a8:c9:09', 'ip': '192.168.201.9'},
        {'net': 'l2', 'mac': values.mac_without_ip(UUID, 'vm01', 2), 'ip': None},
    ]


def test_free_addresses_skip_taken_ones_and_the_dhcp_range():
    taken = [{'net': 'lan', 'ip': '192.168.200.2'}, {'net': 'storage', 'ip': '192.168.201.3'}]
    nics = addressing.allocate_nics(UUID, 'vm02', [{'net': 'lan'}, {'net': 'lan'}, {'net': 'storage'}], NETS, taken)
    assert [nic['ip'] for nic in nics] == ['192.168.200.3', '192.168.200.251', '192.168.201.2']


def test_next_free_ip_of_a_full_net():
    taken = {'192.168.200.%d' % octet for octet in (2, 3, 251, 252, 253, 254)}
    with pytest.raises(PrefixError) as caught:
        addressing.next_free_ip(NETS['lan'], taken, 'lan')
    assert str(caught.value) == 'net lan (192.168.200.0/24) has no free address left for another VM'


def test_a_static_address_already_taken():
    taken = [{'net': 'lan', 'ip': '192.168.200.2'}]
    with pytest.raises(PrefixError) as caught:
        addressing.allocate_nics(UUID, 'vm03', [{'net': 'lan', 'ip': '10.1.1.2'}], NETS, taken)
    assert str(caught.value) == 'domains.vm03.nics[0].ip: address 192.168.200.2 is already used on net lan'


def test_a_static_gateway_address_is_refused():
    with pytest.raises(SpecError) as caught:
        addressing.static_ip(NETS['lan'], '10.1.1.1', 'domains.vm01.nics[0].ip')
    assert str(caught.value) == 'domains.vm01.nics[0].ip: 192.168.200.1 is the gateway of 192.168.200.0/24'


def test_taken_ips():
    nics = [{'net': 'lan', 'ip': '192.168.200.5'}, {'net': 'lan', 'ip': None}, {'net': 'storage', 'ip': '1.2.3.4'}]
    assert addressing.taken_ips(nics, 'lan') == {'192.168.200.5'}
