# -*- coding: utf-8 -*-
"""The prefix lifecycle on real VMs: init, start, inventory, stop, start, destroy."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from prefixlib import leases, libvirt_objects
from labrun import playbook, run

pytestmark = [pytest.mark.lab, pytest.mark.slow]

TWO_VMS = '''
    domains:
      vm01: &vm
        memory: 512
        vcpu: 1
        vm-type: default
        groups: [web]
        nics:
          - net: lan
          - net: storage
        disks:
          - template_name: debian12
            type: template
            name: root
            dev: vda
            format: qcow2
        metadata:
          deploy-scripts:
            - $LAGO_INITFILE_PATH/hello.sh
        artifacts: [/var/log/hello.log]
      vm02:
        <<: *vm
        groups: [db]
    nets:
      lan:
        type: nat
        management: true
        dhcp: {start: 100, end: 254}
      storage:
        type: nat
'''


def ssh(state, layout_path, vm, *command):
    vm_state = state['vms'][vm]
    argv = ['ssh', '-i', os.path.join(layout_path, 'id_rsa'),
            '-o', 'UserKnownHostsFile=%s' % os.path.join(layout_path, 'known_hosts'),
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes',
            '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5',
            'root@%s' % vm_state['address']] + list(command)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=60, check=False)


def test_two_vms_two_nets_full_cycle(prefix_vars, write_init_file, tmp_path, lab_host_dirs):
    (tmp_path / 'hello.sh').write_text('#!/bin/sh\necho hello > /var/log/hello.log\n')
    extra = dict(prefix_vars, lago_init_file=write_init_file(TWO_VMS))
    path = prefix_vars['lago_prefix_path']
    inventory = tmp_path / 'lab.lago.yml'
    inventory.write_text('plugin: lago.lago.lago\nprefixes: [%s]\n' % path)
    store = lab_host_dirs['template_store']
    stored_before = set(os.listdir(store)) if os.path.isdir(store) else set()
    try:
        first = playbook('init', extra).check()
        # The init itself, and the fetch of the template when the store did not have it yet.
        fetched = any(name.endswith('.hash') for name in set(os.listdir(store)) - stored_before)
        assert first.changed() == 1 + fetched
        assert playbook('init', extra).check().changed() == 0, 'a second init must report no change'
        with open(os.path.join(path, 'state.json')) as handle:
            state = json.load(handle)
        assert sorted(state['vms']) == ['vm01', 'vm02']
        assert state['nets']['lan']['subnet'] != state['nets']['storage']['subnet']
        assert os.path.exists(os.path.join(path, 'scripts', 'vm01', '01-hello.sh'))

        playbook('start', extra).check()
        ping = run(['ansible', '-i', str(inventory), 'all', '-m', 'ansible.builtin.ping']).check()
        assert ping.stdout.count('SUCCESS') == 2, ping.output
        # Each VM knows the other by name on the management net.
        seen = ssh(state, path, 'vm01', 'getent hosts vm02 && timeout 5 bash -c "</dev/tcp/vm02/22" && hostname')
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.split()[0] == state['vms']['vm02']['address']
        assert seen.stdout.split()[-1] == 'vm01'

        assert playbook('stop', extra).check().changed() == 1
        status = playbook('status', extra).check()
        assert 'vm vm01: shut off at ' in status.stdout and 'vm vm02: shut off at ' in status.stdout, status.stdout
        playbook('start', extra).check()
        again = ssh(state, path, 'vm02', 'hostname')
        assert again.stdout.strip() == 'vm02', again.stderr
    finally:
        destroyed = playbook('destroy', extra)
    destroyed.check()
    assert not os.path.exists(path)
    assert leases(lab_host_dirs['lease_dir']) == []
    assert libvirt_objects(state['short_id']) == []
    for users in __import__('glob').glob(os.path.join(lab_host_dirs['template_store'], '*.users')):
        with open(users) as handle:
            assert path not in handle.read()
