# -*- coding: utf-8 -*-
"""The init keys Lago took, applied on a real VM: root-password (its SHA-512 hash in the
guest's /etc/shadow, the clear one nowhere: spec.json, state.json, the module results,
--diff and -vvv output), cpu_model (the CPU the domain XML asks for, seen inside the
guest), boot_time_sec (the VM's own SSH budget) and distro (the inventory's lago_distro);
and a CPU libvirt cannot give under TCG, refused before anything is made."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import passwords
from prefixlib import leases, libvirt_objects
from labrun import playbook, plain, run

pytestmark = [pytest.mark.lab]

PASSWORD = 'Clear-Pass-4-initkeys'
# vm01's own SSH budget: a loaded host boots a TCG guest in minutes. The module waits past it
# only while the guest visibly progresses, up to four times it; the test gives the module that long.
BOOT_TIME_SEC = 600
VM = '''
    domains:
      vm01:
        memory: 512
        root-password: %s
        cpu_model: %s
        boot_time_sec: %d
        distro: debian
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
    nets:
      lan: {type: nat, management: true}
'''


def ssh(path, address, *command):
    argv = ['ssh', '-i', os.path.join(path, 'id_rsa'), '-o', 'UserKnownHostsFile=%s' % os.path.join(path, 'known_hosts'),
            '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
            '-o', 'ConnectTimeout=5', 'root@%s' % address] + list(command)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def read(path):
    with open(path) as handle:
        return handle.read()


def prefix_args(prefix_vars, init_file, **more):
    args = dict(path=prefix_vars['lago_prefix_path'], init_file=init_file, virt_type='qemu',
                template_repo=prefix_vars['lago_template_repo'], template_store=prefix_vars['lago_template_store'],
                lease_dir=prefix_vars['lago_lease_dir'])
    args.update(more)
    return args


@pytest.mark.slow
@pytest.mark.timeout(4 * BOOT_TIME_SEC + 900)  # the module's own limit for a guest that keeps booting, and init
def test_root_password_cpu_model_boot_time_and_distro_on_a_real_vm(
        prefix_vars, write_init_file, ansible_module, tmp_path):
    init_file = write_init_file(VM % (PASSWORD, 'Westmere', BOOT_TIME_SEC))
    path = prefix_vars['lago_prefix_path']
    extra = dict(prefix_vars, lago_init_file=init_file)
    results = []
    try:
        made = ansible_module('lago.lago.lago_prefix', prefix_args(prefix_vars, init_file), diff=True)
        assert made['changed'] is True and not made.get('failed'), made
        assert made['diff']['after']['prefix']['domains']['vm01']['root-password'] == '********'
        results.append(made)
        # --diff and -vvv of the init playbook, run again: no change, and no clear password either
        again = playbook('init', extra, '--diff', '-vvv').check()
        assert again.changed() == 0, 'the same root-password again must be no change'
        assert PASSWORD not in again.output

        spec = json.loads(read(os.path.join(path, 'spec.json')))['domains']['vm01']
        state = json.loads(read(os.path.join(path, 'state.json')))
        hashed = spec['root-password']
        assert hashed.startswith('$6$') and passwords.verify(PASSWORD, hashed)
        for name in ('spec.json', 'state.json'):
            assert PASSWORD not in read(os.path.join(path, name)), name
        record = state['vms']['vm01']
        assert (record['cpu_model'], record['boot_time_sec'], record['distro']) == ('Westmere', BOOT_TIME_SEC, 'debian')

        # ssh_timeout 1: without boot_time_sec as the VM's own budget the wait gives up within 4 s.
        started = ansible_module('lago.lago.lago_prefix', prefix_args(prefix_vars, init_file, state='started',
                                                                      ssh_timeout=1), diff=True,
                                 timeout=4 * BOOT_TIME_SEC + 300)
        results.append(started)
        assert not started.get('failed'), started.get('msg')
        assert started['ssh_ready']['vm01'] > 4, started['ssh_ready']

        shadow = ssh(path, record['address'], 'getent', 'shadow', 'root').strip().split(':')
        assert shadow[1] == hashed and passwords.verify(PASSWORD, shadow[1])
        dumped = run(['virsh', '-c', 'qemu:///system', 'dumpxml', record['libvirt_name']]).check().stdout
        assert "<model fallback='forbid'>Westmere</model>" in dumped, dumped
        cpuinfo = ssh(path, record['address'], 'cat', '/proc/cpuinfo')
        model = [line for line in cpuinfo.splitlines() if line.startswith('model name')][0]
        assert 'Westmere' in model, cpuinfo

        inventory = tmp_path / 'lab.lago.yml'
        inventory.write_text('plugin: lago.lago.lago\nprefixes: [%s]\n' % path)
        listing = json.loads(run(['ansible-inventory', '-i', str(inventory), '--list']).check().stdout)
        assert plain(listing['_meta']['hostvars']['vm01']['lago_distro']) == 'debian'
        for result in results:
            assert PASSWORD not in json.dumps(result)
    finally:
        playbook('destroy', extra).check()
    assert leases(prefix_vars['lago_lease_dir']) == []


def test_host_passthrough_under_tcg_is_refused_and_leaves_nothing(prefix_vars, write_init_file, ansible_module):
    init_file = write_init_file(VM % (PASSWORD, 'host-passthrough', BOOT_TIME_SEC))
    objects = libvirt_objects('')
    result = ansible_module('lago.lago.lago_prefix', prefix_args(prefix_vars, init_file))
    assert result.get('failed') and 'domains.vm01.cpu_model: host-passthrough is not possible with virt_type qemu' \
        in result['msg'], result
    assert PASSWORD not in json.dumps(result)
    assert not os.path.exists(prefix_vars['lago_prefix_path'])
    assert leases(prefix_vars['lago_lease_dir']) == []
    assert libvirt_objects('') == objects
