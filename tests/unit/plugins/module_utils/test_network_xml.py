# -*- coding: utf-8 -*-
"""network_xml: libvirt network XML from descriptions and back, live host-entry updates."""

from __future__ import absolute_import, division, print_function

import pytest
from lxml import etree

from ansible_collections.lago.lago.plugins.module_utils import network as nw
from ansible_collections.lago.lago.tests.unit.plugins.network_samples import SUBNET, nat
from ansible_collections.lago.lago.plugins.module_utils import network_xml as nx


# --- XML ---------------------------------------------------------------------

@pytest.mark.parametrize('desc', [
    nat(),
    nat(net_type='isolated', dhcp=None, mtu=None, dns_domain=None, dns_hosts=None),
    nat(hosts=[], dns=False, dns_domain=None, dns_hosts=None),
    nw.describe('x-l2', 'x-l2', net_type='bridge'),
])
def test_build_parse_round_trip(desc):
    assert nx.parse_xml(nx.build_xml(desc)) == desc


def test_build_keeps_uuid_and_escapes_nothing_by_hand():
    xml = nx.build_xml(nat(), uuid='235f6d1c-541c-41c1-8f9b-8c62178c8a38')
    assert '<uuid>235f6d1c-541c-41c1-8f9b-8c62178c8a38</uuid>' in xml
    assert '<forward mode="nat"/>' in xml and '<mtu size="1400"/>' in xml


def test_the_bridge_has_no_spanning_tree():
    """With STP the kernel holds every new port (a VM's tap) out of forwarding for 2 x 2 s."""
    bridge = etree.fromstring(nx.build_xml(nat()).encode()).find('bridge')
    assert (bridge.get('stp'), bridge.get('delay')) == ('off', '0')


def test_parse_libvirts_own_xml():
    xml = """<network>
      <name>01234567-mgmt</name>
      <uuid>235f6d1c-541c-41c1-8f9b-8c62178c8a38</uuid>
      <forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>
      <bridge name='01234567-mgmt' stp='on' delay='0'/>
      <mac address='52:54:00:14:14:44'/>
      <ip address='192.168.200.1' netmask='255.255.255.0'>
        <dhcp><host mac='52:54:00:00:00:05' name='vm1' ip='192.168.200.5'/></dhcp>
      </ip>
      <ip family='ipv6' address='fd00::1' prefix='64'/>
    </network>"""
    desc = nx.parse_xml(xml)
    assert desc == dict(name='01234567-mgmt', bridge='01234567-mgmt', type='nat', subnet=SUBNET,
                        gateway='192.168.200.1', dhcp=None,
                        hosts=[dict(mac='52:54:00:00:00:05', ip='192.168.200.5', name='vm1')],
                        dns=True, dns_domain=None, dns_hosts={}, mtu=None)


# --- live updates ------------------------------------------------------------

def test_host_updates_delete_modify_add_in_order():
    before = nat()
    after = nat(hosts=[{'mac': '52:54:00:00:00:0a', 'ip': 12, 'name': 'vm01'},
                       {'mac': '52:54:00:00:00:0c', 'ip': 13}],
                dns_hosts={'vm01': 12, 'vm01-alias': 12, 'vm02': 11})
    calls = nx.host_updates(before, after)
    assert [(cmd, section) for cmd, section, _xml in calls] == [
        ('delete', 'ip-dhcp-host'), ('modify', 'ip-dhcp-host'), ('add-last', 'ip-dhcp-host'),
        ('delete', 'dns-host'), ('add-last', 'dns-host')]
    assert 'mac="52:54:00:00:00:0b"' in calls[0][2]
    assert 'ip="192.168.200.12"' in calls[1][2]
    assert '<hostname>vm01-alias</hostname>' in calls[4][2]
