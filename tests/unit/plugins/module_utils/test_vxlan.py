# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One lab net across hypervisors: the pure part (names, VNI, the network each
host gets, the steps from the device as it is to the device as wanted). The
devices themselves are proven by tests/integration/test_multihost_net.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.lago.lago.plugins.module_utils import network, vxlan
from ansible_collections.lago.lago.plugins.module_utils.errors import NetworkError

UUID = '0f3c12ab' * 4


def lan(mtu=None):
    return network.describe('0f3c12ab-lan', 'lg0f3c12ab0', 'nat', subnet='192.168.203.0/24', dhcp={'start': 100, 'end': 254},
                            hosts=[dict(mac='54:52:c0:a8:cb:02', ip='192.168.203.2', name='web01'),
                                   dict(mac='54:52:c0:a8:cb:03', ip='192.168.203.3', name='db01')],
                            dns_domain='lago.local', mtu=mtu)


def test_device_names_fit_linux_and_differ_per_bridge():
    assert vxlan.device_name('lg0f3c12ab0') == 'vxlg0f3c12ab0'
    long_names = [vxlan.device_name('b' * 14 + suffix) for suffix in 'xy']
    assert all(len(name) == 15 and name.startswith('vx') for name in long_names)
    assert long_names[0] != long_names[1]


def test_the_vni_is_the_same_for_every_host_and_differs_per_net_and_prefix():
    assert vxlan.vni(UUID, 'lan') == vxlan.vni(UUID, 'lan')
    assert len({vxlan.vni(UUID, 'lan'), vxlan.vni(UUID, 'storage'), vxlan.vni('1' * 32, 'lan')}) == 3
    assert all(1 <= vxlan.vni('%032x' % seed, 'lan') <= 2 ** 24 - 1 for seed in range(200))


def test_the_first_host_keeps_dhcp_and_dns_the_others_get_a_plain_bridge_all_with_the_lower_mtu():
    nets = vxlan.host_networks(lan(), ['hv2', 'hv1'])
    first, other = nets['hv2'], nets['hv1']
    assert first == dict(lan(), mtu=1450)
    assert [host['name'] for host in first['hosts']] == ['web01', 'db01']  # every VM's reservation, on one host
    assert other == dict(name='0f3c12ab-lan', bridge='lg0f3c12ab0', type='bridge', subnet=None, gateway=None, dhcp=None,
                         hosts=[], dns=False, dns_domain=None, dns_hosts={}, mtu=1450)
    assert vxlan.host_networks(lan(mtu=9000), ['hv1', 'hv2'])['hv2']['mtu'] == 8950


def test_a_net_on_one_host_is_left_as_it_is():
    assert vxlan.host_networks(lan(), ['hv1']) == {'hv1': lan()}


@pytest.mark.parametrize('hosts', [[], ['hv1', 'hv1']])
def test_hosts_must_be_given_once_each(hosts):
    with pytest.raises(NetworkError) as caught:
        vxlan.host_networks(lan(), hosts)
    assert 'net 0f3c12ab-lan: hypervisors must be given once each' in str(caught.value)


def want(peers=('192.168.250.12',), **changes):
    wanted = vxlan.wanted('lg0f3c12ab0', 4242, '192.168.250.11', list(peers) + ['192.168.250.11'], 1450)
    wanted.update(changes)
    return wanted


def test_wanted_drops_the_local_address_from_the_peers_and_sorts_them():
    assert want(['192.168.250.13', '192.168.250.12'])['peers'] == ['192.168.250.12', '192.168.250.13']
    with pytest.raises(NetworkError) as caught:
        vxlan.wanted('lg0', 2 ** 24, '192.168.250.11', [], 1450)
    assert 'vni 16777216 is out of range' in str(caught.value)


def test_steps_from_nothing_make_the_whole_device():
    assert vxlan.steps(None, want()) == ['create vxlg0f3c12ab0 (vni 4242, local 192.168.250.11, port 4789)',
                                         'add peer 192.168.250.12', 'set mtu 1450', 'attach to lg0f3c12ab0', 'set up']


def test_a_device_as_wanted_needs_nothing_and_peers_change_in_place():
    assert vxlan.steps(want(), want()) == []
    assert vxlan.steps(want(), want(['192.168.250.13'])) == ['add peer 192.168.250.13', 'remove peer 192.168.250.12']
    assert vxlan.steps(want(up=False, bridge=None), want()) == ['attach to lg0f3c12ab0', 'set up']


def test_another_vni_or_local_address_makes_the_device_again():
    assert vxlan.steps(want(vni=7), want())[:2] == [
        'delete vxlg0f3c12ab0', 'create vxlg0f3c12ab0 (vni 4242, local 192.168.250.11, port 4789)']


def test_absent():
    assert vxlan.steps(want(), None) == ['delete vxlg0f3c12ab0']
    assert vxlan.steps(None, None) == []
