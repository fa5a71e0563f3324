# -*- coding: utf-8 -*-
"""A state moved between the lab's hypervisors (docs/MULTIHOST.md): a snapshot of hv1's part
exported by lago_snapshot_pool on hv1 to a pool on hv2 with the existing ``user@host:path``
transfer (ssh from hv1 to hv2 with the lab's key and strict known_hosts, through
``pool_ssh``), then a new multi-host prefix whose one VM, pinned to hv2, has its disk
``template_type: pool`` from that state: booted on hv2 (its disk backed by the pool's
layers there) and SSH-able from the controller through hv2. Each prefix leaves nothing behind."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

import labrun
from ansible_collections.lago.lago.plugins.module_utils import subnet_lease
from test_multihost_prefix import PRIVATE, http_repo, leftovers, mh_vars, play, ssh, _remove_parts  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.lab, pytest.mark.slow]

INIT = '''
domains:
  %(vm)s:
    memory: 512
    vcpu: 1
    hypervisor: %(hypervisor)s
    nics:
      - net: lab
    disks:
      - %(disk)s
nets:
  lab:
    type: nat
    management: true
'''
TEMPLATE = '{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}'


def lab_ssh_files():
    """The lab's key and known_hosts of its hypervisors (hack/lab), which the hypervisors see too."""
    base = os.path.join('/var/lib/lago-lab', os.environ.get('LAGO_LAB', 'lago-lab'), 'hv')
    return os.path.join(base, 'id_ed25519'), os.path.join(base, 'known_hosts')


def write_init(tmp_path, name, **values):
    work = tmp_path / name
    work.mkdir()
    (work / 'LagoInitFile').write_text(INIT % values)
    return str(work)


def test_a_state_moves_from_hv1_to_hv2_and_boots_there(hypervisors, lab_host_dirs, http_repo, tmp_path,  # noqa: F811
                                                       unique_name):
    inventory, addresses = hypervisors
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    pool = '%s/pool-%s' % (PRIVATE, unique_name)
    key, known_hosts = lab_ssh_files()
    source_dir = write_init(tmp_path, 'source', vm='src', hypervisor='hv1', disk=TEMPLATE)
    source = dict(mh_vars(lab_host_dirs, http_repo, unique_name + 's'), lago_snapshot_name='s1')
    moved_dir = write_init(tmp_path, 'moved', vm='mover', hypervisor='hv2',
                           disk='{type: template, template_type: pool, path: "%s/ready", template_name: src, '
                                'name: root, dev: vda}' % pool)
    moved = mh_vars(lab_host_dirs, http_repo, unique_name + 'm')
    ids, uuids = {}, {}
    try:
        play('init', source, inventory, source_dir).check()
        made = json.load(open(os.path.join(source_dir, '.lago', 'state.json')))
        ids['source'], uuids['source'] = made['short_id'], made['uuid']
        play('snapshot', source, inventory, source_dir).check()
        export = dict(pool='root@%s:%s' % (addresses['hv2'], pool), name='ready', snapshot='s1',
                      prefix=source['lago_hypervisor_prefix_path'],
                      pool_ssh='ssh -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes'
                               % (key, known_hosts))
        exported = labrun.run(['ansible', 'hv1', '-i', inventory, '-m', 'lago.lago.lago_snapshot_pool',
                               '-a', json.dumps(export)])
        assert exported.rc == 0 and 'CHANGED' in exported.stdout, exported.output[-3000:]
        manifest = ssh('hv2', 'cat', pool + '/ready/manifest.json')
        assert manifest.returncode == 0, manifest.stderr
        layers = json.loads(manifest.stdout)['layers']
        assert layers and ssh('hv1', 'test', '-e', pool).returncode != 0  # on hv2 only
        again = labrun.run(['ansible', 'hv1', '-i', inventory, '-m', 'lago.lago.lago_snapshot_pool',
                            '-a', json.dumps(export)])
        assert again.rc == 0 and 'CHANGED' not in again.stdout, again.output[-3000:]
        play('destroy', source, inventory, source_dir).check()

        play('init', moved, inventory, moved_dir).check()
        state = json.load(open(os.path.join(moved_dir, '.lago', 'state.json')))
        ids['moved'], uuids['moved'] = state['short_id'], state['uuid']
        assert state['vms']['mover']['hypervisor'] == 'hv2'
        started = play('start', moved, inventory, moved_dir).check()
        assert 'mover: reachable over SSH after' in started.stdout, started.stdout[-3000:]
        prefix = os.path.join(moved_dir, '.lago')
        logged = subprocess.run(
            ['ssh', '-i', os.path.join(prefix, 'id_rsa'), '-o', 'UserKnownHostsFile=%s' % os.path.join(prefix, 'known_hosts'),
             '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-J', 'hv2',
             'root@%s' % state['vms']['mover']['address'], 'hostname'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
        assert logged.returncode == 0 and logged.stdout.strip() == 'mover', (logged.stdout, logged.stderr)
        # its disk on hv2 is backed by the state's layers in hv2's pool (copied into its store or used in place)
        part = json.loads(ssh('hv2', 'cat', moved['lago_hypervisor_prefix_path'] + '/state.json').stdout)
        root = part['vms']['mover']['disks'][0]['path']
        chain = ssh('hv2', 'qemu-img', 'info', '-U', '--backing-chain', '--output=json', root)
        assert chain.returncode == 0, chain.stderr
        assert len(json.loads(chain.stdout)) >= 2, chain.stdout
        play('destroy', moved, inventory, moved_dir).check()
    finally:
        play('destroy', source, inventory, source_dir)
        play('destroy', moved, inventory, moved_dir)
        _remove_parts(inventory, source['lago_hypervisor_prefix_path'], ids.get('source'))
        _remove_parts(inventory, moved['lago_hypervisor_prefix_path'], ids.get('moved'))
        ssh('hv2', 'rm', '-rf', pool)
    for which, extra in (('source', source), ('moved', moved)):
        for host in ('hv1', 'hv2'):
            assert leftovers(host, ids.get(which), extra['lago_hypervisor_prefix_path']) == [], (which, host)
    assert ssh('hv2', 'test', '-e', pool).returncode != 0
    for work in (source_dir, moved_dir):
        prefix = os.path.join(work, '.lago')
        assert not os.path.exists(prefix)
    assert [lease for lease in subnet_lease.list_leases(lab_host_dirs['lease_dir'])
            if lease['uuid'] in uuids.values()] == []
