# -*- coding: utf-8 -*-
"""Network descriptions: names, validation, XML round trip, live-update plans."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import network as nw
from ansible_collections.lago.lago.tests.unit.plugins.network_samples import SUBNET, nat
from ansible_collections.lago.lago.plugins.module_utils.errors import NetworkError, SpecError
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn

UUID = '0123456789abcdef0123456789abcdef'


# --- names -------------------------------------------------------------------

def test_names_carry_short_id_and_fit_bridge_limit():
    assert nw.derive_names(UUID, 'mgmt') == ('01234567-mgmt', '01234567-mgmt')
    assert nw.derive_names(UUID, 'management') == ('01234567-management', '0123-management')
    long_a = nw.derive_names(UUID, 'management-network-a')[1]
    long_b = nw.derive_names(UUID, 'management-network-b')[1]
    assert len(long_a) == len(long_b) == 15 and long_a != long_b
    assert long_a.startswith('0123-manag')


def test_explicit_bridge_is_kept():
    assert nw.derive_names(UUID, 'mgmt', bridge='br-lab') == ('01234567-mgmt', 'br-lab')


@pytest.mark.parametrize('name', ['my net', 'a/b', '-lead', '', 'x' * 64, 'ünï'])
def test_bad_network_name(name):
    with pytest.raises(SpecError, match='cannot make a valid bridge name'):
        nw.derive_names(UUID, name)


@pytest.mark.parametrize('bridge, why', [
    ('sixteen-chars-xx', 'it is longer than 15 characters'),
    ('br:0', "only letters, digits"),
    ('..', 'it is . or ..'),
    ('', 'it is empty'),
])
def test_bad_bridge_name_is_named(bridge, why):
    with pytest.raises(SpecError, match=r"bridge name %r is not valid: %s" % (bridge, why)):
        nw.derive_names(UUID, 'mgmt', bridge=bridge)


def test_mac_for_ip_is_lagos():
    assert nw.mac_for_ip('192.168.200.10') == '54:52:c0:a8:c8:0a'


# --- validation --------------------------------------------------------------

def test_describe_normalizes_addresses():
    desc = nat()
    assert desc['gateway'] == '192.168.200.1'
    assert desc['dhcp'] == {'start': '192.168.200.100', 'end': '192.168.200.254'}
    assert desc['hosts'] == [
        {'mac': '52:54:00:00:00:0a', 'ip': '192.168.200.10', 'name': 'vm01'},
        {'mac': '52:54:00:00:00:0b', 'ip': '192.168.200.11', 'name': None}]
    assert desc['dns_hosts'] == {'vm01': '192.168.200.10', 'vm01-alias': '192.168.200.10',
                                 'vm02': '192.168.200.11'}


@pytest.mark.parametrize('extra, message', [
    (dict(hosts=[{'mac': '52:54:00:00:00:01', 'ip': '10.0.0.5'}]),
     r'hosts\[0\]\.ip: 10\.0\.0\.5 is outside the subnet 192\.168\.200\.0/24'),
    (dict(hosts=[{'mac': '52:54:00:00:00:01', 'ip': 5}, {'mac': '52:54:00:00:00:02', 'ip': '192.168.200.5'}]),
     r'hosts\[1\]\.ip 192\.168\.200\.5 is used twice \(hosts\[0\] and hosts\[1\]\)'),
    (dict(hosts=[{'mac': '52:54:00:00:00:01', 'ip': 5}, {'mac': '52:54:00:00:00:01', 'ip': 6}]),
     r'hosts\[1\]\.mac 52:54:00:00:00:01 is used twice \(hosts\[0\] and hosts\[1\]\)'),
    (dict(hosts=[{'mac': 'nope', 'ip': 5}]), r"hosts\[0\]\.mac 'nope' is not a MAC address"),
    (dict(hosts=[{'mac': '52:54:00:00:00:01', 'ip': 1}]), r'hosts\[0\]\.ip: 192\.168\.200\.1 is the gateway of 192\.168\.200\.0/24'),
    (dict(hosts=[{'mac': '52:54:00:00:00:01', 'ip': 255}]), r'hosts\[0\]\.ip: 192\.168\.200\.255 is the broadcast address of 192\.168\.200\.0/24'),
    (dict(hosts=[{'mac': '52:54:00:00:00:01'}]), r'hosts\[0\] needs mac and ip'),
    (dict(hosts=[{'mac': '52:54:00:00:00:01', 'ip': 5, 'nam': 'x'}]), r'hosts\[0\] has unknown keys: nam'),
    (dict(dhcp={'start': 200, 'end': 100}), r'dhcp: the range 192\.168\.200\.200-192\.168\.200\.100 ends before it starts'),
    (dict(dhcp={'start': 100}), r'dhcp: needs start and end, last octets or addresses \(missing: end\)'),
    (dict(net_type='routed'), r"type 'routed' is unknown: use one of nat, isolated, bridge"),
    (dict(bridge='way-too-long-bridge'), r"bridge name 'way-too-long-bridge' is not valid"),
    (dict(dns=False), r'dns_domain and dns_hosts need dns enabled'),
    (dict(dns_hosts={'bad name': 5}), r"dns_hosts: 'bad name' is not a valid host name"),
    (dict(mtu=10), r'mtu 10 is out of range'),
    (dict(subnet='192.168.200.0/31'), r'too small'),
    (dict(subnet=None), r'type nat needs a subnet'),
])
def test_validation_messages(extra, message):
    with pytest.raises(SpecError, match=message):
        nat(**extra)


def test_check_without_subnet_needs_last_octets():
    spec = dict(name='mgmt', bridge='br', net_type='nat', hosts=[{'mac': '52:54:00:00:00:01', 'ip': 5}])
    nw.check(**spec)
    spec['hosts'][0]['ip'] = '192.168.200.5'
    with pytest.raises(SpecError, match=r'hosts\[0\]\.ip: 192\.168\.200\.5 is a full address but the subnet is leased'):
        nw.check(**spec)


def test_bridge_type_takes_no_ip_configuration():
    nw.check(name='l2', bridge='br', net_type='bridge', mtu=9000)
    desc = nw.describe('x-l2', 'x-l2', net_type='bridge', mtu=9000)
    assert desc['subnet'] is None and desc['dns'] is False and desc['mtu'] == 9000
    with pytest.raises(SpecError, match='type bridge has no IP configuration; remove dhcp, subnet'):
        nw.describe('x-l2', 'x-l2', net_type='bridge', subnet=SUBNET, dhcp={'start': 1, 'end': 2})


# --- plans -------------------------------------------------------------------

def current(desc, active=True, config=None):
    return dict(net=None, uuid='u', active=active, persistent=True,
                config=config or desc, live=desc if active else None)


def test_plan_new_network():
    assert nw.plan(None, nat(), 'present') == [('define',)]
    assert nw.plan(None, nat(), 'started') == [('define',), ('start',)]


def test_plan_unchanged_is_empty():
    assert nw.plan(current(nat()), nat(), 'started') == []
    assert nw.plan(current(nat()), nat(), 'present') == []
    assert nw.plan(current(nat(), active=False), nat(), 'stopped') == []


def test_plan_host_change_on_running_network_is_live():
    wanted = nat(hosts=[{'mac': '52:54:00:00:00:0d', 'ip': 20}])
    steps = nw.plan(current(nat()), wanted, 'started')
    assert [step[0] for step in steps] == ['update']
    assert steps[0][2] is True  # the definition changes with it


def test_plan_host_change_when_definition_differs_from_live():
    config = nat(mtu=9000)
    steps = nw.plan(current(nat(), config=config), nat(hosts=[]), 'started')
    assert [step[0] for step in steps] == ['update', 'define']


def test_plan_other_change_restarts_running_network():
    assert nw.plan(current(nat()), nat(mtu=9000), 'present') == [('define',), ('restart',)]


def test_plan_inactive_and_state_changes():
    assert nw.plan(current(nat(), active=False), nat(mtu=9000), 'started') == [('define',), ('start',)]
    assert nw.plan(current(nat()), nat(), 'stopped') == [('stop',)]
    assert nw.plan(current(nat()), nat(mtu=9000), 'stopped') == [('stop',), ('define',)]
    with pytest.raises(SpecError, match="state 'gone' is unknown"):
        nw.plan(None, nat(), 'gone')


# --- applying ----------------------------------------------------------------

def test_a_network_defined_anew_is_undone_by_the_rollback():
    conn = FakeConn()
    conn.fail_start = 'bridge busy'
    with pytest.raises(NetworkError, match='cannot start network 01234567-mgmt: bridge busy'):
        with Rollback() as undo:
            nw.apply_steps(conn, None, nat(), nw.plan(None, nat(), 'started'), undo)
    assert [call[0] for call in conn.calls] == ['define', 'start', 'undefine'] and conn.networks == {}


def test_an_existing_network_is_not_undefined_by_the_rollback():
    conn = FakeConn()
    nw.reconcile(conn, nat(), 'present')
    current = nw.read_network(conn, '01234567-mgmt')
    assert current['config'] == nat() and not current['active']
    conn.fail_start = 'bridge busy'
    with pytest.raises(NetworkError):
        with Rollback() as undo:
            nw.apply_steps(conn, current, nat(mtu=9000), nw.plan(current, nat(mtu=9000), 'started'), undo)
    assert nw.read_network(conn, '01234567-mgmt')['config']['mtu'] == 9000


def test_reconcile_reports_views_and_remove_undefines():
    conn = FakeConn()
    done = nw.reconcile(conn, nat(), 'started')
    assert done['steps'] == ['define', 'start'] and done['before'] == {}
    assert done['after'] == dict(nat(), active=True)
    assert nw.reconcile(conn, nat(), 'present')['changed'] is False
    assert nw.remove(conn, '01234567-mgmt')['before'] == dict(nat(), active=True)
    assert conn.networks == {} and nw.remove(conn, '01234567-mgmt') == dict(changed=False, before={})


def test_read_network_wraps_every_libvirt_error_naming_the_network_and_the_read():
    conn = FakeConn()
    nw.reconcile(conn, nat(), 'started')
    for method, what in [('isActive', 'whether it runs'), ('isPersistent', 'whether it is persistent'),
                         ('UUIDString', 'its uuid'), ('XMLDesc', 'its definition')]:
        conn.fail_calls = {method: 'internal error: boom'}
        with pytest.raises(NetworkError) as err:
            nw.read_network(conn, nat()['name'])
        assert str(err.value) == 'cannot read network %s (%s): internal error: boom' % (nat()['name'], what)
    conn.fail_calls = {'networkLookupByName': 'internal error: boom'}
    with pytest.raises(NetworkError) as err:
        nw.remove(conn, nat()['name'])
    assert str(err.value) == 'cannot look up network %s: internal error: boom' % nat()['name']


def test_rollback_of_a_defined_network_names_what_libvirt_refused():
    conn = FakeConn()
    conn.fail_start = 'cannot create bridge'
    conn.fail_calls = {'isActive': 'internal error: gone'}
    with pytest.raises(NetworkError) as err:
        with Rollback() as undo:
            nw.apply_steps(conn, None, nat(), [('define',), ('start',)], undo)
    assert 'cannot start network' in str(err.value)
    assert err.value.rollback_failures == [
        'network %s defined: cannot read network %s (whether it runs): internal error: gone' % (nat()['name'], nat()['name'])]
