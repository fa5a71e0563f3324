# -*- coding: utf-8 -*-
"""Subnets the host uses (addresses, routes, libvirt networks): skipped or refused by acquire."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import host_subnets, lease_owner
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease as sl
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError


REAL_IP_JSON = host_subnets._ip_json


class FakeKernel(object):
    """What ``ip -j -4 addr`` / ``ip -j -4 route show table all`` print (None: ip missing) and /proc/net/route."""

    def __init__(self):
        self.addrs, self.routes = [], [{'dst': 'default', 'gateway': '192.0.2.1', 'dev': 'eth0', 'flags': []}]
        self.proc_route = PROC_ROUTE_HEADER

    def add_address(self, ifname, local, prefixlen, up=True):
        self.addrs.append({'ifname': ifname, 'flags': ['UP'] if up else [],
                           'addr_info': [{'family': 'inet', 'local': local, 'prefixlen': prefixlen, 'label': ifname}]})


PROC_ROUTE_HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n'


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    monkeypatch.setattr(host_subnets, '_ip_json', lambda args: fake.addrs if 'addr' in args else fake.routes)
    monkeypatch.setattr(host_subnets, '_read_proc_route', lambda: fake.proc_route)
    return fake


@pytest.fixture(autouse=True)
def _host_subnets_of_nobody(kernel):
    """Overrides the unit tests' empty host: here the real host_in_use reads a FakeKernel."""
    return kernel


@pytest.fixture
def lease_dir(tmp_path):
    return str(tmp_path / 'subnets')


@pytest.fixture
def make_owner(tmp_path):
    def make(name):
        return lease_owner.ensure_owner(str(tmp_path / name / 'uuid'))[0]
    return make


def test_subnet_with_an_address_on_a_down_interface_is_skipped(lease_dir, make_owner, kernel):
    kernel.add_address('dummy0', '192.168.200.5', 24, up=False)  # no route: only the address tells
    kernel.routes.append({'dst': '192.168.201.0/24', 'gateway': '192.0.2.9', 'dev': 'eth0', 'flags': []})
    kernel.routes.append({'type': 'blackhole', 'dst': '192.168.202.128/25', 'flags': []})
    lease = sl.acquire(lease_dir, make_owner('p1'))
    assert lease['subnet'] == '192.168.203.0/24'
    assert sl.acquire(lease_dir, make_owner('p2'), dry_run=True)['subnet'] == '192.168.204.0/24'
    assert [item['octet'] for item in sl.list_leases(lease_dir)] == [203]


def test_asking_for_a_subnet_in_use_names_what_holds_it(lease_dir, make_owner, kernel):
    kernel.add_address('dummy0', '192.168.200.5', 24)
    kernel.routes.append({'dst': '192.168.200.0/24', 'dev': 'dummy0', 'protocol': 'kernel', 'flags': []})
    kernel.routes.append({'type': 'local', 'dst': '192.168.200.5', 'dev': 'dummy0', 'table': 'local', 'flags': []})
    for dry_run in (True, False):
        with pytest.raises(LeaseError) as err:
            sl.acquire(lease_dir, make_owner('p1'), subnet='192.168.200.1', dry_run=dry_run)
        assert str(err.value) == (
            'subnet 192.168.200.0/24 is already in use on this host: address 192.168.200.5/24 on interface dummy0; '
            'route 192.168.200.0/24 dev dummy0; local route 192.168.200.5 dev dummy0 table local; '
            'ask for another subnet or remove that first')
    assert not os.path.exists(lease_dir) or sl.list_leases(lease_dir) == []


def test_default_route_and_other_subnets_do_not_count(lease_dir, make_owner, kernel):
    kernel.add_address('lo', '127.0.0.1', 8)
    kernel.add_address('eth0', '192.0.2.2', 24)
    kernel.routes.append({'dst': '0.0.0.0/0', 'dev': 'tun0', 'table': '100', 'flags': []})
    kernel.routes.append({'dst': '192.168.199.0/24', 'dev': 'eth1', 'flags': []})
    assert sl.acquire(lease_dir, make_owner('p1'))['subnet'] == '192.168.200.0/24'


def test_a_wider_host_network_covers_the_pool(lease_dir, make_owner, kernel):
    kernel.add_address('wlan0', '10.9.0.17', 16)
    pool = '10.9.1.0/24-10.9.2.0/24'
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, make_owner('p1'), pool=pool)
    assert str(err.value) == (
        'no free subnet in pool 10.9.1.0/24-10.9.2.0/24: all 2 subnets are leased or in use on this host '
        '(0 lease files in %s); in use on this host: 10.9.1.0/24 (address 10.9.0.17/16 on interface wlan0), '
        '10.9.2.0/24 (address 10.9.0.17/16 on interface wlan0)' % lease_dir)


def test_exhausted_pool_says_which_subnets_the_host_uses(lease_dir, make_owner, kernel):
    pool = '10.9.1.0/24-10.9.3.0/24'
    first = make_owner('p1')
    sl.acquire(lease_dir, first, pool=pool)
    kernel.routes.append({'dst': '10.9.2.0/24', 'dev': 'tun0', 'flags': []})
    hops = [{'gateway': '192.0.2.7', 'dev': 'eth0'}, {'gateway': '192.0.2.8', 'dev': 'eth1'}]
    kernel.routes.append({'dst': '10.9.3.0/24', 'nexthops': hops, 'flags': []})
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, make_owner('p2'), pool=pool)
    message = str(err.value)
    assert 'all 3 subnets are leased or in use on this host (1 lease files in %s)' % lease_dir in message
    assert '%s: 1' % first.path in message
    assert ('in use on this host: 10.9.2.0/24 (route 10.9.2.0/24 dev tun0), '
            '10.9.3.0/24 (route 10.9.3.0/24 dev eth0 dev eth1)') in message


def test_own_interfaces_and_leases_held_already_do_not_count(lease_dir, make_owner, kernel):
    owner = make_owner('p1')
    assert sl.acquire(lease_dir, owner)['subnet'] == '192.168.200.0/24'
    kernel.add_address('lagobr0', '192.168.200.1', 24)  # the owner's network came up on its lease
    again = sl.acquire(lease_dir, owner, subnet=200)
    assert again['subnet'] == '192.168.200.0/24' and not again['new']
    assert sl.release(lease_dir, owner, 200)
    assert sl.acquire(lease_dir, owner)['subnet'] == '192.168.201.0/24'
    assert sl.acquire(lease_dir, owner, subnet=200, own=('lagobr0',))['new']
    assert sl.acquire(lease_dir, make_owner('p2'), host=False)['subnet'] == '192.168.202.0/24'


def test_without_ip_the_routes_of_proc_net_route_count(lease_dir, make_owner, kernel):
    kernel.addrs = kernel.routes = None
    kernel.proc_route = PROC_ROUTE_HEADER + (
        'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n'
        'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n'
        'virbr9\t00C8A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n')
    assert [entry.holder for entry in host_subnets.host_in_use()] == ['route 192.0.2.0/24 dev eth0', 'route 192.168.200.0/24 dev virbr9']
    assert sl.acquire(lease_dir, make_owner('p1'))['subnet'] == '192.168.201.0/24'


def test_real_kernel_tables_are_read():
    if host_subnets.shutil.which('ip') is None and not os.path.exists('/usr/sbin/ip'):
        pytest.skip('ip (iproute2) is not installed')
    addresses = host_subnets.addresses_in_use(REAL_IP_JSON(['-4', 'addr', 'show']))
    assert 'address 127.0.0.1/8 on interface lo' in [entry.holder for entry in addresses]
    routes = REAL_IP_JSON(['-4', 'route', 'show', 'table', 'all'])
    assert isinstance(routes, list)
    assert all(entry.network.prefixlen > 0 for entry in host_subnets.routes_in_use(routes))
    assert REAL_IP_JSON(['-4', 'no-such-object']) is None


NET_XML = """<network><name>%s</name><bridge name='%s'/>
  <ip address='%s' %s/><ip family='ipv6' address='fd00::1' prefix='64'/></network>"""


def test_subnets_of_libvirt_networks_count_when_a_connection_is_given(lease_dir, make_owner):
    from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn
    conn = FakeConn()
    conn.networkDefineXML(NET_XML % ('default', 'virbr0', '192.168.200.1', "netmask='255.255.255.0'"))
    conn.networkDefineXML(NET_XML % ('lab', 'labbr0', '192.168.201.1', "prefix='24'"))
    conn.networkDefineXML("<network><name>l2</name><bridge name='l2br'/></network>")
    conn.networks['lab'].create()
    owner = make_owner('p1')
    assert sl.acquire(lease_dir, owner, dry_run=True)['subnet'] == '192.168.200.0/24'
    assert sl.acquire(lease_dir, owner, conn=conn)['subnet'] == '192.168.202.0/24'
    with pytest.raises(LeaseError) as err:
        sl.acquire(lease_dir, owner, subnet=201, conn=conn)
    assert str(err.value) == ('subnet 192.168.201.0/24 is already in use on this host: libvirt network lab (bridge labbr0); '
                              'ask for another subnet or remove that first')
    assert sl.acquire(lease_dir, owner, subnet=201, conn=conn, own=('lab', 'labbr0'))['new']
