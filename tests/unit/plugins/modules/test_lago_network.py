# -*- coding: utf-8 -*-
"""lago_network's execute(): changed, check mode, diff, rollback and bad input, over a fake libvirt."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import errors
from ansible_collections.lago.lago.plugins.modules import lago_network
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn

MAC1 = '52:54:00:aa:00:01'


@pytest.fixture
def conn(monkeypatch):
    fake = FakeConn()
    monkeypatch.setattr(lago_network, 'connect', lambda uri: fake)
    return fake


@pytest.fixture
def lease_dir(tmp_path):
    return str(tmp_path / 'subnets')


def params(lease_dir, **extra):
    """The module's parameters as AnsibleModule hands them over (defaults filled in)."""
    args = dict(name='mgmt', type='nat', owner=None, subnet=None, pool=None, bridge=None,
                dhcp=dict(start=100, end=254), hosts=[dict(mac=MAC1, ip=10, name=None)],
                dns=True, dns_domain='lago.local', dns_hosts={'vm01': 10}, mtu=None, state='started',
                libvirt_uri='qemu:///system', lease_dir=lease_dir, template_store='/unused')
    args.update(extra)
    return args


def run_module(make_run, check_mode=False, diff=False, **args):
    run = make_run(check_mode=check_mode, diff=diff, **args)
    return run.result(lago_network.execute(run))


def lease_files(lease_dir):
    return sorted(name for name in os.listdir(lease_dir) if name.endswith('.lease')) \
        if os.path.isdir(lease_dir) else []


def owner_dir(lease_dir, name='mgmt'):
    return os.path.join(lease_dir, 'owners', name)


def test_changed_then_unchanged(make_run, conn, lease_dir):
    first = run_module(make_run, **params(lease_dir))
    assert first['changed'] is True and first['actions'] == ['lease', 'define', 'start']
    net = first['network']
    assert (net['subnet'], net['gateway'], net['active']) == ('192.168.200.0/24', '192.168.200.1', True)
    assert net['hosts'] == [dict(mac=MAC1, ip='192.168.200.10', name=None)]
    assert net['lease'] == os.path.join(lease_dir, '200.lease') and lease_files(lease_dir) == ['200.lease']
    assert os.path.exists(net['owner']) and net['owner'] == os.path.join(owner_dir(lease_dir), 'uuid')
    assert conn.networks[net['name']].isActive()

    again = run_module(make_run, **params(lease_dir))
    assert again == dict(network=net, actions=[], changed=False)


def test_check_mode_predicts_and_makes_nothing(make_run, conn, lease_dir):
    checked = run_module(make_run, check_mode=True, **params(lease_dir))
    assert checked['changed'] is True and checked['actions'] == ['lease', 'define', 'start']
    assert checked['network']['subnet'] == '192.168.200.0/24'
    assert lease_files(lease_dir) == [] and not os.path.exists(owner_dir(lease_dir))
    assert conn.calls == [] and conn.networks == {}
    real = run_module(make_run, **params(lease_dir))
    assert real['network'] == checked['network']


def test_diff_only_under_diff_mode(make_run, conn, lease_dir):
    plain = run_module(make_run, **params(lease_dir, name='plain'))
    assert 'diff' not in plain
    shown = run_module(make_run, diff=True, **params(lease_dir, mtu=1400))
    name = shown['network']['name']
    assert shown['diff']['before'] == {name: {}}
    assert shown['diff']['after'][name]['mtu'] == 1400 and shown['diff']['after'][name]['active'] is True
    moved = run_module(make_run, diff=True, **params(lease_dir, mtu=1500))
    assert moved['actions'] == ['define', 'restart']
    assert (moved['diff']['before'][name]['mtu'], moved['diff']['after'][name]['mtu']) == (1400, 1500)


def test_define_failing_after_the_lease_leaves_no_lease_and_no_owner(make_run, conn, lease_dir):
    conn.fail_define = 'XML error: bad bridge'
    with pytest.raises(errors.NetworkError, match=r'cannot define network [0-9a-f]{8}-mgmt: XML error: bad bridge'):
        run_module(make_run, **params(lease_dir))
    assert lease_files(lease_dir) == [] and not os.path.exists(owner_dir(lease_dir))
    assert conn.networks == {}


def test_start_failing_undefines_the_new_network_too(make_run, conn, lease_dir):
    conn.fail_start = 'error creating bridge interface'
    with pytest.raises(errors.NetworkError, match='cannot start network .*: error creating bridge interface'):
        run_module(make_run, **params(lease_dir))
    assert [call[0] for call in conn.calls] == ['define', 'start', 'undefine']
    assert conn.networks == {} and lease_files(lease_dir) == [] and not os.path.exists(owner_dir(lease_dir))


def test_subnet_change_moves_the_lease(make_run, conn, lease_dir):
    run_module(make_run, **params(lease_dir, subnet='210'))
    moved = run_module(make_run, **params(lease_dir, subnet='192.168.211.1'))
    assert moved['actions'] == ['lease', 'define', 'restart', 'release']
    assert moved['network']['hosts'][0]['ip'] == '192.168.211.10'
    assert lease_files(lease_dir) == ['211.lease']


def test_absent_in_check_mode_then_for_real(make_run, conn, lease_dir):
    name = run_module(make_run, **params(lease_dir))['network']['name']
    absent = params(lease_dir, state='absent')
    checked = run_module(make_run, check_mode=True, diff=True, **absent)
    assert checked['actions'] == ['remove', 'release', 'remove owner']
    assert checked['diff']['after'] == {name: {}} and checked['diff']['before'][name]['active'] is True
    assert name in conn.networks and lease_files(lease_dir) == ['200.lease']
    gone = run_module(make_run, **absent)
    assert gone['changed'] and gone['network']['name'] == name
    assert conn.networks == {} and lease_files(lease_dir) == [] and not os.path.exists(owner_dir(lease_dir))
    assert run_module(make_run, **absent) == dict(network=gone['network'], actions=[], changed=False)


def test_a_prefix_owner_is_read_not_made(make_run, conn, lease_dir, tmp_path):
    owner = tmp_path / 'prefix' / 'uuid'
    owner.parent.mkdir()
    owner.write_text('ab' * 16 + '\n')
    net = run_module(make_run, **params(lease_dir, owner=str(owner), state='present'))['network']
    assert net['name'] == 'abababab-mgmt' and net['owner'] == str(owner) and net['active'] is False
    run_module(make_run, **params(lease_dir, owner=str(owner), state='absent'))
    assert owner.exists() and lease_files(lease_dir) == []


BAD_INPUT = [
    (dict(subnet='205', hosts=[dict(mac=MAC1, ip='10.1.1.5', name=None)]), errors.SpecError,
     'hosts[0].ip: 10.1.1.5 is outside the subnet 192.168.205.0/24'),
    (dict(hosts=[dict(mac=MAC1, ip='192.168.200.5', name=None)]), errors.SpecError,
     'hosts[0].ip: 192.168.200.5 is a full address but the subnet is leased'),
    (dict(dhcp=dict(start=200, end=100)), errors.SpecError, 'dhcp: the range'),
    (dict(name='bad name'), errors.SpecError, "name 'bad name' cannot make a valid bridge name"),
    (dict(bridge='this-is-too-long'), errors.SpecError, "bridge name 'this-is-too-long' is not valid"),
    (dict(subnet='10.0.0.0/24'), errors.LeaseError, 'subnet 10.0.0.0/24 is outside the pool'),
    (dict(pool='10.0.0.0/8'), errors.LeaseError, "pool '10.0.0.0/8' must span /24s inside one /16"),
    (dict(type='bridge'), errors.SpecError, 'type bridge has no IP configuration; remove dhcp'),
    (dict(mtu=10), errors.SpecError, 'mtu 10 is out of range'),
]


@pytest.mark.parametrize('extra, error, message', BAD_INPUT, ids=[case[2].split()[0] for case in BAD_INPUT])
def test_bad_input_names_the_option_and_touches_nothing(make_run, monkeypatch, lease_dir, extra, error, message):
    monkeypatch.setattr(lago_network, 'connect', lambda uri: pytest.fail('libvirt reached with bad input'))
    with pytest.raises(error) as caught:
        run_module(make_run, **params(lease_dir, **extra))
    assert message in str(caught.value)
    assert not os.path.exists(lease_dir)


def test_missing_owner_file_is_named(make_run, conn, lease_dir):
    with pytest.raises(errors.LeaseError, match='owner uuid file /nonexistent/prefix/uuid does not exist'):
        run_module(make_run, **params(lease_dir, owner='/nonexistent/prefix/uuid'))
    assert conn.calls == [] and lease_files(lease_dir) == []


@pytest.mark.parametrize('method, operation', [
    ('networkLookupByName', 'cannot look up network'),
    ('isActive', 'cannot read network [0-9a-f]{8}-mgmt \\(whether it runs\\)'),
    ('XMLDesc', 'cannot read network [0-9a-f]{8}-mgmt \\(its (definition|running XML)\\)'),
])
def test_a_libvirt_error_reading_the_network_is_a_network_error_naming_it(make_run, conn, lease_dir, method, operation):
    # Before: the raw libvirtError escaped (a traceback, no LagoError for the runtime to report).
    run_module(make_run, **params(lease_dir))
    leases = lease_files(lease_dir)
    conn.fail_calls[method] = 'internal error: connection reset'
    with pytest.raises(errors.NetworkError, match=r'^%s.*: internal error: connection reset$' % operation):
        run_module(make_run, **params(lease_dir, mtu=1400))
    assert lease_files(lease_dir) == leases


def test_a_libvirt_error_after_the_define_still_rolls_the_new_network_back(make_run, conn, lease_dir):
    # Before: the uuid was read before the undo was registered, so the defined network stayed.
    conn.fail_calls['UUIDString'] = 'internal error: lost the daemon'
    with pytest.raises(errors.NetworkError, match='cannot read the uuid of network [0-9a-f]{8}-mgmt: internal error: '
                                                  'lost the daemon'):
        run_module(make_run, **params(lease_dir))
    assert [call[0] for call in conn.calls] == ['define', 'undefine']
    assert conn.networks == {} and lease_files(lease_dir) == [] and not os.path.exists(owner_dir(lease_dir))
