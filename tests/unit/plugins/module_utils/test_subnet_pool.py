# -*- coding: utf-8 -*-
"""Subnet pools: which /24s a pool spans, which /24 a value names."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import subnet_pool
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError


@pytest.mark.parametrize('spec, expected', [
    (None, ('192.168', 200, 255)),
    ('10.20.0.0/16', ('10.20', 0, 255)),
    ('192.168.200.0/21', ('192.168', 200, 207)),
    ('10.0.5.0/24-10.0.9.0/24', ('10.0', 5, 9)),
    ('10.0.5.0 - 10.0.9.0', ('10.0', 5, 9)),
])
def test_parse_pool(spec, expected):
    assert tuple(subnet_pool.parse_pool(spec)) == expected


@pytest.mark.parametrize('spec, message', [
    ('10.0.0.0/8', 'inside one /16'),
    ('10.0.250.0/24-10.1.3.0/24', 'inside one /16'),
    ('10.0.9.0/24-10.0.5.0/24', 'ends before it starts'),
    ('10.0.5.0/25-10.0.9.0/24', 'is not a /24 network'),
    ('nonsense', 'neither a range of /24s nor a CIDR'),
])
def test_parse_pool_errors(spec, message):
    with pytest.raises(LeaseError, match=message):
        subnet_pool.parse_pool(spec)


@pytest.mark.parametrize('value', [201, '201', '192.168.201.0/24', '192.168.201.1', '192.168.201.77'])
def test_parse_subnet_forms(value):
    assert subnet_pool.parse_subnet(value) == 201


@pytest.mark.parametrize('value, message', [
    ('10.0.0.1', 'subnet 10.0.0.0/24 is outside the pool 192.168.200.0/24-192.168.255.0/24'),
    (199, 'subnet 192.168.199.0/24 is outside the pool'),
    ('192.168.201.0/23', 'must be a /24'),
    ('300', 'not a third octet'),
    ('x.y', 'neither a third octet nor an IPv4 /24'),
])
def test_parse_subnet_errors(value, message):
    with pytest.raises(LeaseError, match=message):
        subnet_pool.parse_subnet(value)
