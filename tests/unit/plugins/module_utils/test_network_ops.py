# -*- coding: utf-8 -*-
"""network_ops: a network with its owner and lease as one Plan, over a fake libvirt."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import lease_owner
from ansible_collections.lago.lago.plugins.module_utils import network_ops as ops
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease as sl
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError, SpecError
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn


@pytest.fixture
def lease_dir(tmp_path):
    return str(tmp_path / 'subnets')


def request(lease_dir, **extra):
    args = dict(state='started', lease_dir=lease_dir, dhcp=dict(start=100, end=200),
                hosts=[dict(mac='52:54:00:aa:00:01', ip=10, name=None)])
    args.update(extra)
    return ops.NetworkRequest('mgmt', **args)


def leases(lease_dir):
    return [lease['octet'] for lease in sl.list_leases(lease_dir)]


def test_request_checks_options_before_anything():
    with pytest.raises(SpecError, match="state 'gone' is unknown: use one of present, started, stopped, absent"):
        ops.NetworkRequest('mgmt', state='gone')
    with pytest.raises(LeaseError, match=r'subnet 192\.168\.100\.0/24 is outside the pool 10\.1\.0\.0/24-10\.1\.9\.0/24'):
        ops.NetworkRequest('mgmt', subnet='192.168.100.1', pool='10.1.0.0/24-10.1.9.0/24')
    with pytest.raises(SpecError, match=r'hosts\[0\] has unknown keys: nam'):
        ops.NetworkRequest('mgmt', hosts=[dict(mac='52:54:00:aa:00:01', ip=5, nam='x')])
    # Options an absent network does not use are not checked.
    assert ops.NetworkRequest('mgmt', state='absent', mtu=1).state == 'absent'
    assert ops.NetworkRequest('mgmt', subnet='10.1.3.7', pool='10.1.0.0/16').subnet == '10.1.3.0/24'


def test_planning_makes_nothing(lease_dir):
    conn = FakeConn()
    plan = ops.plan_network(conn, request(lease_dir))
    assert plan.steps == ['lease', 'define', 'start'] and plan.before == {}
    assert plan.after['subnet'] == '192.168.200.0/24' and plan.values['actions'] == plan.steps
    assert plan.values['network']['lease'] == os.path.join(lease_dir, '200.lease')
    assert conn.calls == [] and not os.path.exists(lease_dir)


def test_apply_takes_the_next_subnet_when_the_predicted_one_went_meanwhile(lease_dir, tmp_path):
    conn = FakeConn()
    plan = ops.plan_network(conn, request(lease_dir))
    other = lease_owner.ensure_owner(str(tmp_path / 'other' / 'uuid'))[0]
    sl.acquire(lease_dir, other, subnet='200')
    applied = plan.apply()
    assert applied['after']['subnet'] == '192.168.201.0/24'
    assert applied['network']['lease'] == os.path.join(lease_dir, '201.lease')
    assert applied['network']['hosts'][0]['ip'] == '192.168.201.10'
    assert applied['actions'] == ['lease', 'define', 'start'] and leases(lease_dir) == [200, 201]


def test_lease_of_a_vanished_standalone_owner_is_taken_again(lease_dir):
    conn = FakeConn()
    req = request(lease_dir)
    owner = ops.plan_network(conn, req).apply()['network']['owner']
    os.remove(owner)  # its lease is stale now: anyone may take it
    plan = ops.plan_network(conn, req)
    assert plan.steps == ['lease']
    assert plan.apply()['actions'] == ['lease'] and os.path.exists(owner)
    assert ops.plan_network(conn, req).steps == []


def test_bridge_type_takes_no_lease(lease_dir):
    conn = FakeConn()
    req = ops.NetworkRequest('l2', net_type='bridge', state='started', lease_dir=lease_dir, mtu=9000)
    applied = ops.plan_network(conn, req).apply()
    assert applied['actions'] == ['define', 'start'] and applied['network']['lease'] is None
    assert applied['network']['subnet'] is None and leases(lease_dir) == []
    assert os.path.exists(applied['network']['owner'])
    gone = ops.plan_network(conn, ops.NetworkRequest('l2', state='absent', lease_dir=lease_dir))
    assert gone.steps == ['remove', 'remove owner']
    gone.apply()
    assert conn.networks == {} and not os.path.exists(applied['network']['owner'])


def test_absent_releases_the_asked_subnet_of_a_prefix_owner(lease_dir, tmp_path):
    owner = lease_owner.ensure_owner(str(tmp_path / 'prefix' / 'uuid'))[0]
    sl.acquire(lease_dir, owner, subnet='205')
    sl.acquire(lease_dir, owner, subnet='206')  # another network of the prefix: not this one's
    plan = ops.plan_network(FakeConn(), ops.NetworkRequest('mgmt', state='absent', owner=owner.path,
                                                           subnet='205', lease_dir=lease_dir))
    assert plan.steps == ['release']
    plan.apply()
    assert leases(lease_dir) == [206] and os.path.exists(owner.path)


def test_subnets_of_other_libvirt_networks_are_skipped_but_not_its_own(lease_dir):
    conn = FakeConn()
    conn.networkDefineXML("<network><name>default</name><bridge name='virbr0'/>"
                          "<ip address='192.168.200.1' netmask='255.255.255.0'/></network>")
    req = request(lease_dir)
    plan = ops.plan_network(conn, req)
    assert plan.after['subnet'] == '192.168.201.0/24'
    applied = plan.apply()
    assert applied['after']['subnet'] == '192.168.201.0/24' and leases(lease_dir) == [201]
    # Its lease lost, the network takes its own subnet again: its own libvirt network does not count.
    os.remove(os.path.join(lease_dir, '201.lease'))
    assert ops.plan_network(conn, req).steps == ['lease']
    assert ops.plan_network(conn, req).apply()['after']['subnet'] == '192.168.201.0/24'
    with pytest.raises(LeaseError, match=r'subnet 192\.168\.200\.0/24 is already in use on this host: '
                                         r'libvirt network default \(bridge virbr0\)'):
        ops.plan_network(conn, request(lease_dir, subnet='192.168.200.0/24'))
