# -*- coding: utf-8 -*-
"""Snapshots of a running and of a stopped VM, on one real VM: marker files
written over SSH come back with every revert; removing the middle of three
snapshots keeps both neighbours; a memory snapshot resumes the guest."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from labrun import playbook
from snapshotlib import assert_chains_valid, guest, marker, one_vm, set_marker, state_of

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_live_and_offline_snapshots(prefix_vars, write_init_file, ansible_module):
    extra = dict(prefix_vars, lago_init_file=write_init_file(one_vm()))
    prefix = prefix_vars['lago_prefix_path']

    def snap(name, **args):
        args.update(prefix=prefix, name=name)
        result = ansible_module('lago.lago.lago_snapshot', args, diff=True)
        assert not result.get('failed'), result.get('msg')
        return result

    try:
        playbook('init', extra).check()
        playbook('start', extra).check()
        set_marker(prefix, 'vm01', 'one')
        taken = snap('s1')['taken']['vm01']
        assert (taken['mode'], taken['consistency']) == ('live', 'flushed')
        assert snap('s1')['changed'] is False, 'taking an existing snapshot again changes nothing'
        set_marker(prefix, 'vm01', 'two')
        snap('s2')
        set_marker(prefix, 'vm01', 'three')
        # A process started before the memory snapshot must still run after its revert.
        sleeper = guest(prefix, 'vm01', 'nohup sleep 100000 >/dev/null 2>&1 & echo $!').strip()
        uptime = float(guest(prefix, 'vm01', 'cut -d" " -f1 /proc/uptime'))
        s3 = snap('s3', memory=True)
        assert s3['taken']['vm01']['consistency'] == 'memory'
        assert os.path.exists(s3['snapshot']['vm01']['memory'])
        set_marker(prefix, 'vm01', 'four')
        guest(prefix, 'vm01', 'kill %s' % sleeper)

        # The middle snapshot goes while the VM runs: its layer merges live.
        removed = snap('s2', state='absent')
        assert removed['changed'] and removed['removed']['vm01'], removed
        assert removed['diff']['after']['snapshots']['vm01']['snapshots'] == ['s1', 's3']
        assert marker(prefix, 'vm01') == 'four', 'removing a snapshot does not touch the running guest'
        assert_chains_valid(prefix)

        reverted = snap('s3', state='reverted')
        assert reverted['reverted'] == dict(reverted=['vm01'], resumed=['vm01'], booted=[])
        assert marker(prefix, 'vm01') == 'three'
        assert guest(prefix, 'vm01', 'kill -0 %s && echo alive' % sleeper).strip() == 'alive'
        assert float(guest(prefix, 'vm01', 'cut -d" " -f1 /proc/uptime')) >= uptime, 'the guest resumed, not rebooted'

        reverted = snap('s1', state='reverted')
        assert reverted['reverted']['booted'] == ['vm01'] and 'vm01' in reverted['ssh_ready']
        assert marker(prefix, 'vm01') == 'one'
        assert snap('s3', state='reverted')['reverted']['resumed'] == ['vm01'], 'the same memory snapshot twice'
        assert marker(prefix, 'vm01') == 'three'
        assert_chains_valid(prefix)

        # Offline, through Lago's verbs: snapshot the stopped VM, change the marker, revert, start.
        stopped = ansible_module('lago.lago.lago_prefix', dict(path=prefix, state='stopped', stop_timeout=2))
        assert stopped['changed'], stopped
        snapshot = playbook('snapshot', dict(extra, lago_snapshot_name='cold')).check()
        assert snapshot.changed() == 1
        record = state_of(prefix)['vms']['vm01']['snapshots']['cold']
        assert (record['running'], record['consistency']) == (False, 'offline')
        assert snap('s3', state='reverted')['reverted']['resumed'] == ['vm01'], 'memory snapshots outlive others'
        set_marker(prefix, 'vm01', 'five')
        assert playbook('revert', dict(extra, lago_snapshot_name='cold')).check().changed() == 1
        assert snap('cold', state='reverted')['diff']['after']['snapshots']['vm01']['state'] == 'shut off', \
            'taken stopped, it stays stopped'
        playbook('start', extra).check()
        assert marker(prefix, 'vm01') == 'three'
        assert_chains_valid(prefix)
        # Removing every snapshot leaves one image on the template.
        for name in ('s1', 's3', 'cold'):
            snap(name, state='absent')
        disk = state_of(prefix)['vms']['vm01']['disks'][0]
        assert disk['layers'] == {} and disk['parent'] == disk['backing']
        assert marker(prefix, 'vm01') == 'three'
        images = sorted(os.listdir(os.path.join(prefix, 'images')))
        assert images == [os.path.basename(disk['path'])], images
    finally:
        playbook('destroy', extra).check()
    assert not os.path.exists(prefix)
