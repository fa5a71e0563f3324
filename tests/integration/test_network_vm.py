# -*- coding: utf-8 -*-
"""A lago_network NAT network on a leased subnet hands its reserved address to
a booted VM over DHCP, and goes away with its lease."""

from __future__ import absolute_import, division, print_function

import glob
import os

import pytest

from lablib import BootedVM, Cleanup, lab_connection
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_network

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_reserved_address_reaches_a_booted_vm(ansible_module, lab_template_image, lab_dir, unique_name):
    lease_dir = os.path.join(lab_dir, 'subnets')
    mac = '52:54:00:4c:41:47'
    args = dict(name=unique_name, type='nat', lease_dir=lease_dir, pool='192.168.233.0/24-192.168.234.0/24',
                dhcp=dict(start=100, end=200), hosts=[dict(mac=mac, ip=42, name='dhcpvm')], state='started')
    created = ansible_module('lago.lago.lago_network', args)
    assert created['changed'] and not created.get('failed'), created
    net = created['network']
    assert net['subnet'] == '192.168.233.0/24'
    conn = lab_connection()
    cleanup = Cleanup()
    try:
        vm = BootedVM(lab_dir, unique_name + '-vm', lab_template_image, net['name'], '192.168.233.42',
                      net['gateway'], dhcp=True, mac=mac)
        vm.start(conn, cleanup)
        vm.wait_for_ssh()
        shown = vm.ssh('ip -4 -o addr show eth0')
        assert '192.168.233.42/24' in shown.stdout and 'dynamic' in shown.stdout, shown.stdout
    finally:
        cleanup.run()
        removed = ansible_module('lago.lago.lago_network', dict(args, state='absent'))
    assert removed['changed'], removed
    assert lookup_network(conn, net['name']) is None
    assert glob.glob(os.path.join(lease_dir, '*.lease')) == []
