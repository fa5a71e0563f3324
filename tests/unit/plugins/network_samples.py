# -*- coding: utf-8 -*-
"""A NAT network description with every feature, shared by the network unit tests."""

from __future__ import absolute_import, division, print_function

from ansible_collections.lago.lago.plugins.module_utils import network as nw

SUBNET = '192.168.200.0/24'


def nat(**extra):
    args = dict(name='01234567-mgmt', bridge='01234567-mgmt', net_type='nat', subnet=SUBNET,
                dhcp={'start': 100, 'end': 254},
                hosts=[{'mac': '52:54:00:00:00:0A', 'ip': 10, 'name': 'vm01'},
                       {'mac': '52:54:00:00:00:0b', 'ip': '192.168.200.11'}],
                dns_domain='lago.local', dns_hosts={'vm01': 10, 'vm01-alias': 10, 'vm02': 11},
                mtu=1400)
    args.update(extra)
    return nw.describe(**args)
