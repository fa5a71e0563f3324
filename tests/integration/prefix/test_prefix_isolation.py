# -*- coding: utf-8 -*-
"""Two prefixes from the same init file at the same time: different subnets,
and neither sees the other's VMs."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from labrun import plain, playbook, run
from prefixlib import leases, libvirt_objects

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ONE_VM = '''
    domains:
      vm01:
        memory: 512
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
    nets:
      lan: {type: nat, management: true}
'''


def start_playbook(name, extra):
    """ansible-playbook lago.lago.<name> in the background."""
    return subprocess.Popen(['ansible-playbook', 'lago.lago.%s' % name, '-e', json.dumps(extra)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)


def finish(proc):
    out, _err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-4000:]


def test_two_prefixes_from_one_init_file(prefix_vars, write_init_file, tmp_path, lab_host_dirs):
    init_file = write_init_file(ONE_VM)
    prefixes = [dict(prefix_vars, lago_init_file=init_file, lago_prefix_path=str(tmp_path / name))
                for name in ('a', 'b')]
    states = []
    try:
        for verb in ('init', 'start'):
            for proc in [start_playbook(verb, extra) for extra in prefixes]:
                finish(proc)
        for extra in prefixes:
            with open(os.path.join(extra['lago_prefix_path'], 'state.json')) as handle:
                states.append(json.load(handle))
        subnets = [state['nets']['lan']['subnet'] for state in states]
        assert subnets[0] != subnets[1]

        for mine, other in ((0, 1), (1, 0)):
            inventory = tmp_path / ('%d.lago.yml' % mine)
            inventory.write_text('plugin: lago.lago.lago\nprefixes: [%s]\n' % prefixes[mine]['lago_prefix_path'])
            listed = run(['ansible-inventory', '-i', str(inventory), '--list']).check()
            hosts = json.loads(listed.stdout)['_meta']['hostvars']
            assert [plain(h['ansible_host']) for h in hosts.values()] == [states[mine]['vms']['vm01']['address']]
            # Its own VM answers; the other prefix's VM is out of reach.
            probe = ('timeout 5 bash -c "</dev/tcp/{own}/22" && echo own-ok; '
                     'timeout 5 bash -c "</dev/tcp/{other}/22" && echo other-reached || echo other-unreachable')
            result = run(['ansible', '-i', str(inventory), 'vm01', '-m', 'ansible.builtin.shell', '-a',
                          probe.format(own=states[mine]['vms']['vm01']['address'],
                                       other=states[other]['vms']['vm01']['address'])]).check()
            assert 'own-ok' in result.stdout and 'other-unreachable' in result.stdout, result.stdout
    finally:
        results = [playbook('destroy', extra) for extra in prefixes]
    for result in results:
        result.check()
    assert leases(lab_host_dirs['lease_dir']) == []
    for state in states:
        assert libvirt_objects(state['short_id']) == []
