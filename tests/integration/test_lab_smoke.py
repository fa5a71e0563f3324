# -*- coding: utf-8 -*-
"""Lab smoke test: the lab templates boot under libvirt, applies its NoCloud
seed, and accepts an SSH login with the seeded key and a strictly checked
host key."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from lablib import BootedVM, Cleanup, lab_connection, make_nat_network, template_image
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import lookup_domain

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.parametrize('template', ['debian12', 'debian12-cloudinit'])
def test_template_boots_with_seed(template, lab_template_repo, lab_dir, unique_name):
    """Both seed consumers: the small lago-nocloud agent and stock cloud-init."""
    conn = lab_connection()
    cleanup = Cleanup()
    try:
        make_nat_network(conn, unique_name, 231, cleanup)
        vm = BootedVM(lab_dir, unique_name + '-vm', template_image(lab_template_repo, template), unique_name,
                      '192.168.231.10', '192.168.231.1')
        vm.start(conn, cleanup)
        vm.wait_for_ssh()
        result = vm.ssh('hostname; cat /etc/ssh/ssh_host_ed25519_key.pub; ip -o link')
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == unique_name + '-vm'
        with open(vm.known_hosts) as handle:
            assert lines[1].split()[1] == handle.read().split()[2]
        nic = [line for line in lines[2:] if vm.mac in line]
        assert nic and ': eth0:' in nic[0], result.stdout
    finally:
        cleanup.run()
    assert lookup_domain(conn, unique_name + '-vm') is None
    assert not os.path.exists(os.path.join('/sys/class/net', unique_name))
