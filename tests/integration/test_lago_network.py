# -*- coding: utf-8 -*-
"""lago_network for real: ansible -> module -> the lab's libvirtd, leases in a temp dir."""

from __future__ import absolute_import, division, print_function

import os
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import lease_owner
from ansible_collections.lago.lago.plugins.module_utils import network as nw
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease as sl
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import libvirt, lookup_network

from labrun import REPO

pytestmark = pytest.mark.lab

MODULE = 'lago.lago.lago_network'
MAC1, MAC2, MAC3 = '52:54:00:aa:00:01', '52:54:00:aa:00:02', '52:54:00:aa:00:03'


@pytest.fixture
def conn(libvirt_uri):
    """A connection of the test's own (not the engine's cached one: a test may restart libvirtd)."""
    handle = libvirt.open(libvirt_uri)
    yield handle
    handle.close()


@pytest.fixture
def net_name(unique_name, libvirt_uri):
    """A unique network name; every libvirt network carrying it goes away after the test."""
    yield unique_name
    handle = libvirt.open(libvirt_uri)
    try:
        for net in handle.listAllNetworks():
            if unique_name in net.name():
                if net.isActive():
                    net.destroy()
                if net.isPersistent():
                    net.undefine()
    finally:
        handle.close()


@pytest.fixture
def lease_dir(tmp_path):
    return str(tmp_path / 'subnets')


def lease_files(lease_dir):
    return sorted(name for name in os.listdir(lease_dir) if name.endswith('.lease')) \
        if os.path.isdir(lease_dir) else []


def ours(conn, name):
    """Names of libvirt networks of test network ``name``."""
    return [net.name() for net in conn.listAllNetworks() if net.name().endswith('-' + name)]


def bridge_ipv4(bridge):
    out = subprocess.check_output(['ip', '-4', '-o', 'addr', 'show', 'dev', bridge], universal_newlines=True)
    return [field for line in out.splitlines() for field in [line.split()[3]]]


def dnsmasq_pid(libvirt_name):
    with open('/run/libvirt/network/%s.pid' % libvirt_name) as handle:
        pid = int(handle.read().strip())
    with open('/proc/%d/cmdline' % pid, 'rb') as handle:
        assert b'dnsmasq' in handle.read()
    return pid


def dnsmasq_file(libvirt_name, kind):
    with open('/var/lib/libvirt/dnsmasq/%s.%s' % (libvirt_name, kind)) as handle:
        return handle.read()


def args_for(name, lease_dir, **extra):
    args = dict(name=name, lease_dir=lease_dir, state='started', dhcp=dict(start=100, end=254),
                hosts=[dict(mac=MAC1, ip=10, name='vm01')], dns_domain='lago.local',
                dns_hosts={'vm01': 10})
    args.update(extra)
    return args


def test_nat_network_lifecycle(ansible_module, conn, net_name, lease_dir):
    args = args_for(net_name, lease_dir)
    first = ansible_module(MODULE, args, diff=True)
    assert first['changed'] and first['actions'] == ['lease', 'define', 'start'], first
    net = first['network']
    assert net['name'].endswith('-' + net_name) and len(net['bridge']) <= 15
    assert (net['subnet'], net['gateway']) == ('192.168.200.0/24', '192.168.200.1')
    assert net['dhcp'] == dict(start='192.168.200.100', end='192.168.200.254')
    assert net['hosts'] == [dict(mac=MAC1, ip='192.168.200.10', name='vm01')]
    assert first['diff']['before'] == {net['name']: {}} and first['diff']['after'][net['name']]['subnet'] == net['subnet']
    assert lease_files(lease_dir) == ['200.lease']
    assert sl.list_leases(lease_dir)[0]['owner'] == net['owner'] and os.path.exists(net['owner'])

    lv = lookup_network(conn, net['name'])
    assert lv.isActive() and lv.isPersistent()
    assert bridge_ipv4(net['bridge']) == ['192.168.200.1/24']
    dnsmasq_pid(net['name'])
    assert '192.168.200.10\tvm01' in dnsmasq_file(net['name'], 'addnhosts')

    second = ansible_module(MODULE, args)
    assert not second['changed'] and second['actions'] == [] and second['network'] == net

    checked = ansible_module(MODULE, dict(name=net_name, lease_dir=lease_dir, state='absent'), check=True)
    assert checked['changed'] and checked['actions'] == ['remove', 'release', 'remove owner']
    assert lookup_network(conn, net['name']).isActive() and lease_files(lease_dir) == ['200.lease']

    gone = ansible_module(MODULE, dict(name=net_name, lease_dir=lease_dir, state='absent'))
    assert gone['changed'] and gone['network']['name'] == net['name']
    assert ours(conn, net_name) == [] and lease_files(lease_dir) == []
    assert not os.path.exists(net['owner'])
    assert not ansible_module(MODULE, dict(name=net_name, lease_dir=lease_dir, state='absent'))['changed']


def test_check_mode_creates_nothing(ansible_module, conn, net_name, lease_dir):
    result = ansible_module(MODULE, args_for(net_name, lease_dir), check=True, diff=True)
    assert result['changed'] and result['actions'] == ['lease', 'define', 'start']
    assert result['network']['subnet'] == '192.168.200.0/24'
    assert result['diff']['after'][result['network']['name']]['active'] is True
    assert ours(conn, net_name) == [] and lease_files(lease_dir) == []
    assert not os.path.exists(result['network']['owner'])
    # The names check mode predicted are the ones a real run uses.
    real = ansible_module(MODULE, args_for(net_name, lease_dir))
    assert real['network']['name'] == result['network']['name']


def test_dhcp_host_change_is_applied_live(ansible_module, conn, net_name, lease_dir):
    net = ansible_module(MODULE, args_for(net_name, lease_dir))['network']
    pid = dnsmasq_pid(net['name'])
    hosts = [dict(mac=MAC1, ip=11, name='vm01'), dict(mac=MAC2, ip=12, name='vm02')]
    dns_hosts = {'vm01': 11, 'vm02': 12}
    planned = ansible_module(MODULE, args_for(net_name, lease_dir, hosts=hosts, dns_hosts=dns_hosts), check=True)
    assert planned['changed'] and planned['actions'] == ['update']
    assert '192.168.200.12' not in dnsmasq_file(net['name'], 'hostsfile')

    result = ansible_module(MODULE, args_for(net_name, lease_dir, hosts=hosts, dns_hosts=dns_hosts), diff=True)
    assert result['changed'] and result['actions'] == ['update']
    assert result['diff']['before'][net['name']]['hosts'][0]['ip'] == '192.168.200.10'
    assert dnsmasq_pid(net['name']) == pid  # not restarted
    assert dnsmasq_file(net['name'], 'hostsfile').splitlines() == [
        '%s,192.168.200.11,vm01' % MAC1, '%s,192.168.200.12,vm02' % MAC2]
    assert '192.168.200.12\tvm02' in dnsmasq_file(net['name'], 'addnhosts')
    # The persistent definition changed with it.
    config = nw.read_network(conn, net['name'])['config']
    assert [host['ip'] for host in config['hosts']] == ['192.168.200.11', '192.168.200.12']
    again = ansible_module(MODULE, args_for(net_name, lease_dir, hosts=hosts, dns_hosts=dns_hosts))
    assert not again['changed']


def test_set_host_reserves_an_address_live(ansible_module, conn, net_name, lease_dir):
    """What a VM test needs: one more reservation on a running network."""
    net = ansible_module(MODULE, args_for(net_name, lease_dir))['network']
    pid = dnsmasq_pid(net['name'])
    mac = nw.mac_for_ip('192.168.200.20')
    assert nw.set_host(conn, net['name'], mac, '192.168.200.20', 'vm20') is True
    assert nw.set_host(conn, net['name'], mac, '192.168.200.20', 'vm20') is False
    assert '%s,192.168.200.20,vm20' % mac in dnsmasq_file(net['name'], 'hostsfile')
    assert dnsmasq_pid(net['name']) == pid


def test_other_change_restarts_and_subnet_change_moves_lease(ansible_module, conn, net_name, lease_dir):
    net = ansible_module(MODULE, args_for(net_name, lease_dir, subnet='210'))['network']
    assert net['subnet'] == '192.168.210.0/24' and lease_files(lease_dir) == ['210.lease']
    moved = ansible_module(MODULE, args_for(net_name, lease_dir, subnet='192.168.211.1', mtu=1400))
    assert moved['changed'] and moved['actions'] == ['lease', 'define', 'restart', 'release']
    assert moved['network']['hosts'][0]['ip'] == '192.168.211.10'
    assert lease_files(lease_dir) == ['211.lease']
    assert bridge_ipv4(net['bridge']) == ['192.168.211.1/24']
    mtu = subprocess.check_output(['cat', '/sys/class/net/%s/mtu' % net['bridge']]).strip()
    assert mtu == b'1400'


def test_network_survives_libvirtd_restart(ansible_module, conn, net_name, lease_dir):
    started = ansible_module(MODULE, args_for(net_name, lease_dir))['network']
    defined = ansible_module(MODULE, args_for(net_name + 'b', lease_dir, state='present'))['network']
    try:
        subprocess.check_call([os.path.join(REPO, 'hack', 'lab'), 'restart-libvirtd'])
        fresh = libvirt.open('qemu:///system')
        assert lookup_network(fresh, started['name']).isActive()
        assert lookup_network(fresh, started['name']).isPersistent()
        assert not lookup_network(fresh, defined['name']).isActive()
        assert bridge_ipv4(started['bridge']) == ['192.168.200.1/24']
        assert not ansible_module(MODULE, args_for(net_name, lease_dir))['changed']
        assert not ansible_module(MODULE, args_for(net_name + 'b', lease_dir, state='present'))['changed']
        fresh.close()
    finally:
        ansible_module(MODULE, dict(name=net_name + 'b', lease_dir=lease_dir, state='absent'))


def test_stopped_then_started(ansible_module, conn, net_name, lease_dir):
    net = ansible_module(MODULE, args_for(net_name, lease_dir))['network']
    stopped = ansible_module(MODULE, args_for(net_name, lease_dir, state='stopped'))
    assert stopped['actions'] == ['stop'] and not lookup_network(conn, net['name']).isActive()
    assert lease_files(lease_dir) == ['200.lease']
    assert ansible_module(MODULE, args_for(net_name, lease_dir, state='present'))['changed'] is False
    assert ansible_module(MODULE, args_for(net_name, lease_dir))['actions'] == ['start']


def test_isolated_and_bridge_types(ansible_module, conn, net_name, lease_dir):
    iso = ansible_module(MODULE, dict(name=net_name, lease_dir=lease_dir, type='isolated', state='started'))
    assert iso['network']['type'] == 'isolated'
    assert b'<forward' not in lookup_network(conn, iso['network']['name']).XMLDesc(0).encode()
    assert bridge_ipv4(iso['network']['bridge']) == ['192.168.200.1/24']

    l2 = ansible_module(MODULE, dict(name=net_name + 'l2', lease_dir=lease_dir, type='bridge',
                                     state='started', mtu=9000))
    try:
        assert l2['changed'] and l2['actions'] == ['define', 'start']
        assert l2['network']['subnet'] is None and l2['network']['lease'] is None
        assert bridge_ipv4(l2['network']['bridge']) == []
        assert lease_files(lease_dir) == ['200.lease']
        assert not ansible_module(MODULE, dict(name=net_name + 'l2', lease_dir=lease_dir, type='bridge',
                                               state='started', mtu=9000))['changed']
    finally:
        ansible_module(MODULE, dict(name=net_name + 'l2', lease_dir=lease_dir, state='absent'))


def test_networks_of_a_prefix_owner(ansible_module, conn, net_name, lease_dir, tmp_path):
    prefix = tmp_path / 'prefix'
    prefix.mkdir()
    (prefix / 'uuid').write_text('ab' * 16)
    owner = str(prefix / 'uuid')
    first = ansible_module(MODULE, dict(name=net_name, owner=owner, lease_dir=lease_dir, state='present'))
    second = ansible_module(MODULE, dict(name=net_name + 'x', owner=owner, lease_dir=lease_dir,
                                         pool='192.168.220.0/24-192.168.229.0/24', state='present'))
    try:
        assert first['network']['name'] == 'abababab-' + net_name
        assert (first['network']['subnet'], second['network']['subnet']) == ('192.168.200.0/24', '192.168.220.0/24')
        assert {lease['owner'] for lease in sl.list_leases(lease_dir)} == {owner}
        ansible_module(MODULE, dict(name=net_name, owner=owner, lease_dir=lease_dir, state='absent'))
        assert lease_files(lease_dir) == ['220.lease'] and os.path.exists(owner)
    finally:
        ansible_module(MODULE, dict(name=net_name + 'x', owner=owner, lease_dir=lease_dir, state='absent'))
    assert lease_files(lease_dir) == [] and ours(conn, net_name + 'x') == []


def _other_owner_leases(tmp_path, lease_dir, subnets, pool=None):
    other = lease_owner.ensure_owner(str(tmp_path / 'other' / 'uuid'))[0]
    for subnet in subnets:
        sl.acquire(lease_dir, other, subnet=subnet, pool=pool)
    return other


BAD_INPUT = [
    ('ip outside subnet', dict(subnet='205', hosts=[dict(mac=MAC1, ip='10.1.1.5')]), None,
     'hosts[0].ip: 10.1.1.5 is outside the subnet 192.168.205.0/24'),
    ('duplicate ip', dict(hosts=[dict(mac=MAC1, ip=5), dict(mac=MAC2, ip=5)]), None,
     'hosts[1].ip 0.0.0.5 is used twice (hosts[0] and hosts[1])'),
    ('duplicate mac', dict(hosts=[dict(mac=MAC1, ip=5), dict(mac=MAC1.upper(), ip=6)]), None,
     'hosts[1].mac %s is used twice (hosts[0] and hosts[1])' % MAC1),
    ('full address on leased subnet', dict(hosts=[dict(mac=MAC1, ip='192.168.200.5')]), None,
     'is a full address but the subnet is leased'),
    ('unknown type', dict(type='routed'), None, 'value of type must be one of: nat, isolated, bridge, got: routed'),
    ('bad name', dict(name='bad name'), None, "name 'bad name' cannot make a valid bridge name"),
    ('bad bridge', dict(bridge='this-is-too-long'), None,
     "bridge name 'this-is-too-long' is not valid: it is longer than 15 characters"),
    ('subnet outside pool', dict(subnet='10.0.0.0/24'), None,
     'subnet 10.0.0.0/24 is outside the pool 192.168.200.0/24-192.168.255.0/24'),
    ('bad pool', dict(pool='10.0.0.0/8'), None, "pool '10.0.0.0/8' must span /24s inside one /16"),
    ('subnet taken', dict(subnet='192.168.200.1'), ['200'], 'subnet 192.168.200.0/24 is leased to '),
    ('pool exhausted', dict(pool='192.168.240.0/24-192.168.241.0/24'), ['240', '241'],
     'no free subnet in pool 192.168.240.0/24-192.168.241.0/24: all 2 subnets are leased (2 lease files in '),
    ('missing owner', dict(owner='/nonexistent/prefix/uuid'), None,
     'owner uuid file /nonexistent/prefix/uuid does not exist'),
    ('bridge type with dhcp', dict(type='bridge'), None, 'type bridge has no IP configuration; remove dhcp'),
]


@pytest.mark.parametrize('case, extra, taken, message', BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_fails_clearly_and_leaves_nothing(ansible_module, conn, net_name, lease_dir, tmp_path,
                                                    case, extra, taken, message):
    other = _other_owner_leases(tmp_path, lease_dir, taken or [], extra.get('pool'))
    args = args_for(net_name, lease_dir, hosts=[], dns_hosts={})
    args.update(extra)
    result = ansible_module(MODULE, args)
    assert result.get('failed') and message in result['msg'], result
    assert ours(conn, net_name) == []
    assert lease_files(lease_dir) == sorted('%s.lease' % octet for octet in taken or [])
    assert {lease['owner'] for lease in sl.list_leases(lease_dir)} <= {other.path}
    assert not os.path.exists(os.path.join(lease_dir, 'owners', net_name))
    if case == 'pool exhausted':
        assert '%s: 240, 241' % other.path in result['msg']


def test_libvirt_failure_after_lease_releases_it(ansible_module, conn, net_name, lease_dir):
    """The bridge name is taken by another interface: start fails after lease and define."""
    clash = net_name + 'br'
    subprocess.check_call(['ip', 'link', 'add', clash, 'type', 'veth', 'peer', 'name', clash + 'p'])
    try:
        result = ansible_module(MODULE, args_for(net_name, lease_dir, bridge=clash))
    finally:
        subprocess.check_call(['ip', 'link', 'del', clash])
    assert result.get('failed') and 'cannot start network' in result['msg'], result
    assert 'error creating bridge interface %s' % clash in result['msg']
    assert ours(conn, net_name) == [] and lease_files(lease_dir) == []
    assert not os.path.exists(os.path.join(lease_dir, 'owners', net_name))
