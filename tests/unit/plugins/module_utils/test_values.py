# -*- coding: utf-8 -*-
"""The value rules: sizes, addresses, DHCP ranges, MACs, names, devices, locations."""

from __future__ import absolute_import, division, print_function

import ipaddress
import string

import pytest

from ansible_collections.lago.lago.plugins.module_utils import values
from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError

NET = ipaddress.IPv4Network('192.168.200.0/24')
UUID = '0123456789abcdef0123456789abcdef'


def message_of(func, *args, **kwargs):
    with pytest.raises(SpecError) as caught:
        func(*args, **kwargs)
    return str(caught.value)


# --- sizes -------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    (0, 0), (1073741824, 1073741824), ('1073741824', 1073741824), ('10G', 10 * 1024 ** 3),
    ('512M', 512 * 1024 ** 2), ('512m', 512 * 1024 ** 2), ('1.5G', 1536 * 1024 ** 2), ('64K', 65536),
    ('2T', 2 * 1024 ** 4), ('1P', 1024 ** 5), ('10GiB', 10 * 1024 ** 3), ('10gib', 10 * 1024 ** 3),
    ('10GB', 10 * 1024 ** 3), (' 3 M ', 3 * 1024 ** 2), ('100B', 100), ('0.5K', 512),
    ('0.3K', 308),  # 307.2 bytes: a fraction of a byte rounds up
    ('1.0000001M', 1048577),
])
def test_sizes(value, expected):
    assert values.parse_size(value) == expected


@pytest.mark.parametrize('value', ['abc', '10X', '', 'G', '-1G', '1..5G', '1,5G', '10 G B', '10iB', None, True, 1.5])
def test_bad_sizes_name_the_place_and_value(value):
    assert message_of(values.parse_size, value, 'disks[0].size') == (
        'disks[0].size: %r is not a size: give bytes or a number with a K, M, G or T suffix (10G, 512M, 1.5T)'
        % (value,))


def test_negative_size():
    assert message_of(values.parse_size, -5) == 'size: -5: a size cannot be negative'


def test_round_up():
    assert [values.round_up(size, 512) for size in (0, 1, 512, 513, 1025)] == [0, 512, 512, 1024, 1536]


def test_disk_size_floor_is_a_separate_check():
    assert values.check_disk_size(1024 ** 2, '1M', 'size') == 1024 ** 2
    assert message_of(values.check_disk_size, values.parse_size('1023K'), '1023K', 'd.size') == (
        "d.size: '1023K' is less than 1 MiB; a bare number means bytes, as in qemu-img (write 10G)")


# --- IPv4 ----------------------------------------------------------------------

def test_ipv4():
    assert values.ipv4(' 10.0.0.5 ', 'gw') == ipaddress.IPv4Address('10.0.0.5')
    for bad in ('10.0.0.300', 'lan', 5, None):
        assert message_of(values.ipv4, bad, 'gw') == 'gw: %r is not an IPv4 address' % (bad,)


def test_subnet():
    assert values.subnet('10.0.0.0/16') == ipaddress.IPv4Network('10.0.0.0/16')
    assert message_of(values.subnet, '192.168.200.0/31') == 'subnet: 192.168.200.0/31 is too small: at most /30'
    assert message_of(values.subnet, '10.0.0.1/24').startswith("subnet: '10.0.0.1/24' is not an IPv4 network: ")


def test_gateway_is_the_dot_one_of_its_24():
    assert values.subnet_of_gateway('10.0.5.1', 'nets.lan.gw') == ipaddress.IPv4Network('10.0.5.0/24')
    assert message_of(values.subnet_of_gateway, '10.0.5.254', 'nets.lan.gw') == (
        'nets.lan.gw: 10.0.5.254 cannot be the gateway: the gateway of a net is the .1 of its /24 (10.0.5.1)')


@pytest.mark.parametrize('value, net, kwargs, expected', [
    (10, NET, {}, '192.168.200.10'),
    ('10', NET, {}, '192.168.200.10'),
    ('192.168.200.10', NET, {}, '192.168.200.10'),
    ('10.1.1.10', NET, {'move': True}, '192.168.200.10'),  # Lago's move by the last octet
    ('192.168.200.254', NET, {}, '192.168.200.254'),
    (255, ipaddress.IPv4Network('10.0.0.0/16'), {}, '10.0.0.255'),  # a host address in a /16
    ('10.0.7.9', ipaddress.IPv4Network('10.0.0.0/16'), {}, '10.0.7.9'),
    (7, values.UNLEASED, {}, '0.0.0.7'),
    ('192.168.1.7', values.UNLEASED, {'move': True}, '0.0.0.7'),
])
def test_host_addresses(value, net, kwargs, expected):
    assert str(values.host_address(value, net, 'ip', **kwargs)) == expected


@pytest.mark.parametrize('value, net, kwargs, expected', [
    ('10.1.1.5', NET, {}, 'ip: 10.1.1.5 is outside the subnet 192.168.200.0/24'),
    (1, NET, {}, 'ip: 192.168.200.1 is the gateway of 192.168.200.0/24'),
    ('192.168.200.0', NET, {}, 'ip: 192.168.200.0 is the network address of 192.168.200.0/24'),
    (255, NET, {}, 'ip: 192.168.200.255 is the broadcast address of 192.168.200.0/24'),
    ('10.9.9.1', NET, {'move': True}, 'ip: 192.168.200.1 is the gateway of 192.168.200.0/24'),
    (3, ipaddress.IPv4Network('10.0.0.0/30'), {}, 'ip: 10.0.0.3 is the broadcast address of 10.0.0.0/30'),
    (300, NET, {}, 'ip: 300 is not a last octet: use 2 to 254'),
    ('192.168.200.5', values.UNLEASED, {},
     'ip: 192.168.200.5 is a full address but the subnet is leased: give its last octet, or set subnet'),
    (0, values.UNLEASED, {}, 'ip: 0: .0 is the network address of the leased subnet; use 2 to 254'),
    ('10.0.0.1', values.UNLEASED, {'move': True}, 'ip: 10.0.0.1: .1 is the gateway of the leased subnet; use 2 to 254'),
    (255, values.UNLEASED, {}, 'ip: 255: .255 is the broadcast address of the leased subnet; use 2 to 254'),
    ('lan-ip', NET, {}, "ip: 'lan-ip' is not an IPv4 address or a last octet"),
    (True, NET, {}, 'ip: True is not an IPv4 address or a last octet'),
    (5, NET, {'octets': False}, 'ip: 5 is not an IPv4 address'),
    ('5', NET, {'octets': False}, "ip: '5' is not an IPv4 address"),
])
def test_bad_host_addresses(value, net, kwargs, expected):
    assert message_of(values.host_address, value, net, 'ip', **kwargs) == expected


def test_dhcp_range():
    start, end = values.dhcp_range({'start': 100, 'end': '192.168.200.254'}, NET, 'dhcp')
    assert (str(start), str(end)) == ('192.168.200.100', '192.168.200.254')
    start, end = values.dhcp_range({'start': '10.1.1.100', 'end': 120}, values.UNLEASED, 'dhcp', move=True)
    assert (start.packed[3], end.packed[3]) == (100, 120)
    start, end = values.dhcp_range({'start': 9, 'end': 9}, NET, 'dhcp')
    assert start == end


@pytest.mark.parametrize('value, net, expected', [
    ({'start': 200, 'end': 100}, NET, 'dhcp: the range 192.168.200.200-192.168.200.100 ends before it starts'),
    ({'start': 200, 'end': 100}, values.UNLEASED, 'dhcp: the range .200-.100 ends before it starts'),
    ({'start': 100}, NET, 'dhcp: needs start and end, last octets or addresses (missing: end)'),
    ({'start': '', 'end': None}, NET, 'dhcp: needs start and end, last octets or addresses (missing: start, end)'),
    ({'start': 1, 'end': 9, 'step': 2}, NET, 'dhcp.step: unknown key: a DHCP range has start and end'),
    ([100, 200], NET, 'dhcp: must be a mapping {start, end}, not [100, 200]'),
    # Neither end can be the gateway, so no range covers it.
    ({'start': 1, 'end': 100}, NET, 'dhcp.start: 192.168.200.1 is the gateway of 192.168.200.0/24'),
    ({'start': 1, 'end': 100}, values.UNLEASED, 'dhcp.start: 1: .1 is the gateway of the leased subnet; use 2 to 254'),
    ({'start': 100, 'end': '10.0.0.5'}, NET, 'dhcp.end: 10.0.0.5 is outside the subnet 192.168.200.0/24'),
])
def test_bad_dhcp_ranges(value, net, expected):
    assert message_of(values.dhcp_range, value, net, 'dhcp') == expected


# --- MACs ----------------------------------------------------------------------

def test_mac_for_ip_is_lagos():
    assert values.mac_for_ip('192.168.200.10') == '54:52:c0:a8:c8:0a'


def test_mac_without_ip_is_stable_and_distinct():
    mac = values.mac_without_ip(UUID, 'vm01', 1)
    assert mac == values.mac_without_ip(UUID, 'vm01', 1)
    assert mac.startswith('54:53:') and values.MAC_RE.match(mac)
    others = {values.mac_without_ip(UUID, 'vm01', 0), values.mac_without_ip(UUID, 'vm02', 1),
              values.mac_without_ip('f' * 32, 'vm01', 1)}
    assert mac not in others and len(others) == 3


@pytest.mark.parametrize('mac, valid', [
    ('52:54:00:00:00:0a', True), ('52:54:00:00:00:0A', False), ('52:54:00:00:00', False),
    ('52:54:00:00:00:0a\n', False), ('52-54-00-00-00-0a', False)])
def test_mac_syntax(mac, valid):
    assert bool(values.MAC_RE.match(mac)) is valid


# --- names ---------------------------------------------------------------------

@pytest.mark.parametrize('name', ['VM01', 'a', 'a' * 63, 'host-0', '0host'])
def test_valid_vm_names(name):
    assert values.vm_name(name, 'domains.x') == name


@pytest.mark.parametrize('name', ['vm_01', 'vm.01', '-vm', 'vm-', 'a' * 64, 'vm 01', 'vm01\n', '', None])
def test_invalid_vm_names(name):
    assert message_of(values.vm_name, name, 'domains.x') == (
        'domains.x: invalid VM name %r: it must be a valid host name (letters, digits and "-", at most 63, '
        'not starting or ending with "-")' % (name,))


@pytest.mark.parametrize('name, valid', [
    ('lan', True), ('my_net.2-a', True), ('x' * 63, True), ('x' * 64, False), ('my net', False),
    ('a/b', False), ('-lead', False), ('', False), ('ünï', False), ('lan\n', False), (5, False)])
def test_net_names(name, valid):
    if valid:
        assert values.net_name(name) == name
    else:
        assert message_of(values.net_name, name, 'nets.x') == (
            "nets.x: net name %r cannot make a valid bridge name: use 1 to 63 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit" % (name,))


@pytest.mark.parametrize('name, valid', [
    ('root', True), ('vda', True), ('data1_x-y', True), ('x' * 64, True), ('x' * 65, False),
    ('a/b', False), ('.hidden', False), ('a+b', False)])
def test_disk_names(name, valid):
    if valid:
        assert values.disk_name(name) == name
    else:
        assert message_of(values.disk_name, name, 'disks[0].name') == (
            'disks[0].name: invalid disk name %r: use letters, digits, "_" and "-" '
            '(at most 64, starting with a letter or digit)%s'
            % (name, ' ("." is refused: images/<vm>_<disk>.<snapshot>.qcow2 would clash)' if '.' in name else ''))


@pytest.mark.parametrize('name', ['root.s1', 'data.1', 'a.b.c'])
def test_a_dot_in_a_disk_name_is_refused_naming_the_key_and_the_clash(name):
    # images/<vm>_root.s1.qcow2 is also the overlay of disk root at snapshot s1.
    message = message_of(values.disk_name, name, 'domains.web01.disks[1].name')
    assert message.startswith('domains.web01.disks[1].name: invalid disk name %r' % name)
    assert '"." is refused' in message and 'would clash' in message


@pytest.mark.parametrize('name, valid', [
    ('s1', True), ('v1+fix', True), ('x' * 64, True), ('x' * 65, False), ('s~2', False), ('', False), (None, False),
    ('s.1', False), ('before.upgrade', False)])
def test_snapshot_names(name, valid):
    if valid:
        assert values.snapshot_name(name) == name
    else:
        message = message_of(values.snapshot_name, name, 'snapshot', 'name')
        assert message.startswith('name: invalid snapshot name %r: use letters, digits, "_", "+" and "-" '
                                  '(at most 64, starting with a letter or digit)' % (name,))
        assert ('"." is refused' in message) == ('.' in (name or ''))


@pytest.mark.parametrize('name, valid', [
    ('s1', True), ('v1.2+fix', True), ('x' * 64, True), ('x' * 65, False), ('s~2', False), ('', False), (None, False),
    ('.hidden', False)])
def test_pool_state_names_may_hold_dots(name, valid):
    if valid:
        assert values.pool_state_name(name) == name
    else:
        assert message_of(values.pool_state_name, name) == (
            'invalid pool state name %r: use letters, digits, ".", "_", "+" and "-" '
            '(at most 64, starting with a letter or digit)' % (name,))


def test_dns_domains():
    assert values.dns_domain('lab.test.', 'd') == 'lab.test'
    assert values.dns_domain('a-1.b' + '.c' * 100, 'd')
    for bad in ('bad_domain', 'a..b', '-a.b', 'x.' * 127 + 'xy', 'lab\n', 5):
        assert message_of(values.dns_domain, bad, 'd') == 'd: %r is not a valid DNS domain name' % (bad,)


@pytest.mark.parametrize('bridge, why', [
    ('sixteen-chars-xx', 'it is longer than 15 characters'),
    ('br:0', "only letters, digits, '-', '_' and '.' are allowed"),
    ('br0\n', "only letters, digits, '-', '_' and '.' are allowed"),
    ('..', 'it is . or ..'),
    ('', 'it is empty'),
    (None, 'it is empty'),
])
def test_bad_bridge_names(bridge, why):
    assert message_of(values.check_bridge_name, bridge, 'bridge') == (
        'bridge: bridge name %r is not valid: %s' % (bridge, why))


def test_libvirt_names():
    assert values.short_id(UUID) == '01234567'
    assert values.libvirt_name('01234567', 'vm01') == '01234567-vm01'
    assert values.derive_names(UUID, 'mgmt') == ('01234567-mgmt', '01234567-mgmt')
    assert values.derive_names(UUID, 'management') == ('01234567-management', '0123-management')
    assert values.derive_names(UUID, 'mgmt', bridge='br-lab') == ('01234567-mgmt', 'br-lab')
    long_a = values.derive_names(UUID, 'management-network-a')[1]
    long_b = values.derive_names(UUID, 'management-network-b')[1]
    assert len(long_a) == len(long_b) == 15 and long_a != long_b and long_a.startswith('0123-manag')
    assert 'cannot make a valid bridge name' in message_of(values.derive_names, UUID, 'my net')
    assert message_of(values.derive_names, UUID, 'mgmt', bridge='x' * 16) == (
        "bridge name '%s' is not valid: it is longer than 15 characters" % ('x' * 16))


# --- disk devices ----------------------------------------------------------------

@pytest.mark.parametrize('dev, valid', [
    ('vda', True), ('sdb', True), ('hdc', True), ('vdaa', True), ('vdzz', True),
    ('eth0', False), ('vd', False), ('vdaaa', False), ('xvda', False), ('vda1', False), ('vda\n', False)])
def test_disk_devs(dev, valid):
    if valid:
        assert values.disk_dev(dev) == dev
    else:
        assert message_of(values.disk_dev, dev, 'disks[0].dev') == (
            'disks[0].dev: %r is not a disk device name such as vda or sdb' % dev)


def test_next_free_dev():
    assert values.next_free_dev([]) == 'vda'
    assert values.next_free_dev(['vda', 'sda', 'vdc']) == 'vdb'
    assert values.next_free_dev(dev for dev in ['vda', 'vdb']) == 'vdc'
    # Past vdz comes vdaa, never 'vd{'.
    assert values.next_free_dev(['vd' + letter for letter in string.ascii_lowercase]) == 'vdaa'
    everything = ['vd' + first + second for first in [''] + list(string.ascii_lowercase)
                  for second in string.ascii_lowercase]
    assert values.next_free_dev(everything[:-1]) == 'vdzz'
    assert message_of(values.next_free_dev, everything) == 'no virtio device name is left: vda to vdzz are all used'


# --- locations -------------------------------------------------------------------

@pytest.mark.parametrize('location, remote', [
    ('host:/srv/pool', True), ('user@host:/srv/pool', True), ('host:relative', True),
    ('/srv/po:ol', False), ('./a:b', False), ('~/pool', False), ('pool/state', False), ('$LAGO_PREFIX_PATH/p', False),
    ('a@b@c:/x', False),
])
def test_remote_locations(location, remote):
    assert values.is_remote_location(location) is remote


@pytest.mark.parametrize('location', ['/srv/pool', './-pool', 'me@host:/srv/pool', 'host:pool', 'a-b@c-d:/x-y'])
def test_locations_that_no_command_reads_as_an_option(location):
    assert values.location(location, 'pool') == location


@pytest.mark.parametrize('location, fragment', [
    ('-oProxyCommand=x:/p', "pool: location '-oProxyCommand=x:/p' starts with \"-\""),
    ('-p', "pool: location '-p' starts with \"-\", which ssh, rsync and other commands would take for an option; "
           "write ./-p for a local directory of that name"),
    ('-l@host:/p', "pool: location '-l@host:/p' starts with \"-\""),
    ('me@-host:/p', "pool: location 'me@-host:/p': its host '-host' starts with"),
    ('me@host:--delete', "pool: location 'me@host:--delete': its path '--delete' starts with"),
    ('', "pool: location must be a path or [user@]host:/path, not ''"),
    (None, 'pool: location must be a path or [user@]host:/path, not None'),
])
def test_a_location_starting_with_a_dash_is_refused_naming_it(location, fragment):
    assert message_of(values.location, location, 'pool').startswith(fragment)
