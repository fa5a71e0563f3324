# -*- coding: utf-8 -*-
"""lago_snapshot on a prefix that never boots: offline chains checked block by
block with qemu-io, idempotence, check mode and diff, and bad input - each
with a message naming the problem and nothing changed."""

from __future__ import absolute_import, division, print_function

import hashlib
import os
import subprocess

import pytest

from labrun import playbook
from snapshotlib import assert_chains_valid, state_of

pytestmark = pytest.mark.lab

TWO_VMS = '''
    domains:
      vm01: &vm
        memory: 512
        nics: [{net: lan}]
        disks:
          - {type: template, template_name: debian12, name: root, dev: vda, format: qcow2}
          - {type: empty, name: data, dev: vdb, size: 1G}
      vm02: *vm
    nets:
      lan: {type: nat, management: true}
'''
OFFSET = '512M'  # the data disk is blank: a pattern there is the whole truth


def write_pattern(prefix, vm, value):
    """Write byte ``value`` over 64 KiB of the VM's data disk (what the guest would see)."""
    image = disk_of(prefix, vm, 'data')['path']
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P %d %s 64k' % (value, OFFSET), image],
                   check=True, stdout=subprocess.PIPE)


def read_pattern(prefix, vm):
    image = disk_of(prefix, vm, 'data')['path']
    out = subprocess.run(['qemu-io', '-r', '-f', 'qcow2', '-c', 'read -v %s 1' % OFFSET, image],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout
    return int(out.split()[1], 16)


def disk_of(prefix, vm, name):
    return next(disk for disk in state_of(prefix)['vms'][vm]['disks'] if disk['name'] == name)


def fingerprint(prefix):
    """state.json and every image file with its sha256: proof that nothing changed."""
    found = {}
    for root, _dirs, files in os.walk(prefix):
        for name in files:
            if name.endswith(('.lock', '.log')):
                continue
            path = os.path.join(root, name)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, prefix)] = hashlib.sha256(handle.read()).hexdigest()
    return found


@pytest.fixture
def stopped_prefix(prefix_vars, write_init_file):
    extra = dict(prefix_vars, lago_init_file=write_init_file(TWO_VMS))
    playbook('init', extra).check()
    yield prefix_vars['lago_prefix_path']
    playbook('destroy', extra).check()


@pytest.fixture
def snap(stopped_prefix, ansible_module):
    def run(name, check=False, **args):
        args.setdefault('prefix', stopped_prefix)
        args['name'] = name
        return ansible_module('lago.lago.lago_snapshot', args, check=check, diff=True)
    return run


def ok(result):
    assert not result.get('failed'), result.get('msg')
    return result


def test_three_offline_snapshots_and_the_middle_one_removed(stopped_prefix, snap):
    prefix = stopped_prefix
    for value, name in ((1, 's1'), (2, 's2'), (3, 's3')):
        write_pattern(prefix, 'vm01', value)
        write_pattern(prefix, 'vm02', value + 10)
        taken = ok(snap(name))['taken']
        assert taken['vm01']['mode'] == 'offline' and sorted(taken) == ['vm01', 'vm02']
    write_pattern(prefix, 'vm01', 4)
    vm01 = state_of(prefix)['vms']['vm01']
    assert vm01['disks'][1]['path'] == os.path.join(prefix, 'images', 'vm01_data.s3.qcow2')
    assert vm01['snapshots']['s1']['disks']['data'] == os.path.join(prefix, 'images', 'vm01_data.qcow2')

    assert ok(snap('s2', state='absent'))['changed']
    assert sorted(state_of(prefix)['vms']['vm01']['snapshots']) == ['s1', 's3']
    assert read_pattern(prefix, 'vm01') == 4, 'the running image is untouched'
    assert_chains_valid(prefix)
    for name, values in (('s1', (1, 11)), ('s3', (3, 13)), ('s1', (1, 11))):
        ok(snap(name, state='reverted'))
        assert (read_pattern(prefix, 'vm01'), read_pattern(prefix, 'vm02')) == values, name
        assert_chains_valid(prefix)
    # Reverting to s1 left s3 usable; a subset of VMs reverts alone.
    ok(snap('s3', state='reverted', vms=['vm02']))
    assert (read_pattern(prefix, 'vm01'), read_pattern(prefix, 'vm02')) == (1, 13)

    for name in ('s1', 's3'):
        ok(snap(name, state='absent'))
    for vm in ('vm01', 'vm02'):
        for disk in state_of(prefix)['vms'][vm]['disks']:
            assert disk['layers'] == {}
    assert (read_pattern(prefix, 'vm01'), read_pattern(prefix, 'vm02')) == (1, 13)
    assert sorted(os.listdir(os.path.join(prefix, 'images'))) == [
        'vm01_data.s1.qcow2', 'vm01_root.s1.qcow2', 'vm02_data.s3.qcow2', 'vm02_root.s3.qcow2']
    assert_chains_valid(prefix)


def test_idempotence_force_check_mode_and_diff(stopped_prefix, snap):
    prefix = stopped_prefix
    predicted = ok(snap('s1', check=True))
    assert predicted['changed'] and 's1' in predicted['diff']['after']['snapshots']['vm01']['snapshots']
    assert predicted['diff']['after']['snapshots']['vm01']['images']['root'].endswith('vm01_root.s1.qcow2')
    assert 'snapshots' not in state_of(prefix)['vms']['vm01'] or not state_of(prefix)['vms']['vm01']['snapshots']

    first = ok(snap('s1', vms=['vm01']))
    assert first['changed'] and list(first['taken']) == ['vm01']
    assert first['diff']['before']['snapshots']['vm01']['snapshots'] == [] and first['diff']['after']['snapshots']['vm01']['snapshots'] == ['s1']
    assert predicted['diff']['after']['snapshots']['vm01']['images'] == first['diff']['after']['snapshots']['vm01']['images']
    again = ok(snap('s1', vms=['vm01']))
    assert again['changed'] is False and again['diff']['before'] == again['diff']['after']
    assert list(ok(snap('s1'))['taken']) == ['vm02'], 'present completes the VMs that lack it'
    before = state_of(prefix)['vms']['vm01']['snapshots']['s1']['taken']
    forced = ok(snap('s1', force=True, vms=['vm01']))
    assert forced['changed'] and state_of(prefix)['vms']['vm01']['snapshots']['s1']['taken'] > before

    unchanged = fingerprint(prefix)
    assert ok(snap('s1', check=True, state='reverted'))['changed'], 'a revert always discards the writes since'
    for args in (dict(state='absent'), dict(name='s2')):
        name = args.pop('name', 's1')
        result = ok(snap(name, check=True, **args))
        assert result['changed'] and result['diff']['before'] != result['diff']['after'], args
    assert fingerprint(prefix) == unchanged, 'check mode changes nothing'
    assert ok(snap('nope', state='absent'))['changed'] is False


def failure(result, *expected):
    assert result.get('failed'), result
    for text in expected:
        assert text in result['msg'], (text, result['msg'])
    return result['msg']


def test_bad_input_is_named_and_changes_nothing(stopped_prefix, snap, tmp_path):
    prefix = stopped_prefix
    ok(snap('s1'))
    ok(snap('s2', vms=['vm01']))
    unchanged = fingerprint(prefix)

    failure(snap('nope', state='reverted'), "snapshot 'nope' does not exist", 'existing snapshots: s1, s2')
    failure(snap('s2', state='reverted', vms=['vm02']), "snapshot 's2' was not taken of vm02", 'it exists for: vm01')
    failure(snap('s1', vms=['vm09']), 'vms vm09 are not in the prefix (it has: vm01, vm02)')
    failure(snap('bad/name'), "invalid snapshot name 'bad/name'")
    missing = snap('s1', state='reverted')
    assert not missing.get('failed')
    unchanged = fingerprint(prefix)

    layer = state_of(prefix)['vms']['vm01']['snapshots']['s1']['disks']['root']
    with open(layer, 'ab') as handle:
        handle.write(b'\0')
    failure(snap('s1', state='reverted'), 'cannot revert', 'vm vm01, disk root: layer %s fails its checksum' % layer,
            'nothing was changed')
    with open(layer, 'rb+') as handle:
        handle.truncate(os.path.getsize(layer) - 1)
    assert fingerprint(prefix) == unchanged

    os.rename(layer, layer + '.away')
    failure(snap('s1', state='reverted'), 'vm vm01, disk root: layer %s is missing' % layer)
    os.rename(layer + '.away', layer)
    assert fingerprint(prefix) == unchanged
    ok(snap('s1', state='reverted'))
    assert_chains_valid(prefix)

    failure(snap('s1', prefix=str(tmp_path / 'nowhere')), 'is not an initialized lago prefix')
    assert not os.path.exists(str(tmp_path / 'nowhere'))


def test_records_survive_a_libvirtd_restart(stopped_prefix, snap, ansible_module):
    prefix = stopped_prefix
    write_pattern(prefix, 'vm01', 7)
    ok(snap('s1'))
    write_pattern(prefix, 'vm01', 8)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    subprocess.check_call([os.path.join(repo, 'hack', 'lab'), 'restart-libvirtd'])
    listed = ok(ansible_module('lago.lago.lago_snapshot_info', dict(prefix=prefix)))
    assert list(listed['snapshots']) == ['s1'] and listed['snapshots']['s1']['vms'] == ['vm01', 'vm02']
    chain = listed['vms']['vm01']['snapshots'][0]['disks']['data']['chain']
    assert [item['path'] for item in chain] == [os.path.join(prefix, 'images', 'vm01_data.qcow2')]
    assert listed['vms']['vm01']['state'] == 'shut off'
    ok(snap('s1', state='reverted'))
    assert read_pattern(prefix, 'vm01') == 7
