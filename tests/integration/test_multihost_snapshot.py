# -*- coding: utf-8 -*-
"""The rest of the flows on a prefix across the lab's two hypervisors (docs/MULTIHOST.md):
start returns only when every VM accepts a login through its hypervisor (with start's
progress lines), and a live snapshot and revert of web01 (hv1) and db01 (hv2) under one
name: a file written after the snapshot is gone after the revert on both, and the revert
waits until both accept SSH again. Destroy leaves nothing on any hypervisor."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import subnet_lease
from test_multihost_prefix import http_repo, leftovers, mh_vars, pinned_demo, play, _remove_parts  # noqa: F401 pylint: disable=unused-import

pytestmark = [pytest.mark.lab, pytest.mark.slow]

VMS = (('hv1', 'web01'), ('hv2', 'db01'))


def ssh_vm(prefix, address, *command):
    """A login to the VM at ``address`` through hv1 (its net's first hypervisor), strict, at once: no retry."""
    argv = ['ssh', '-i', os.path.join(prefix, 'id_rsa'), '-o', 'UserKnownHostsFile=%s' % os.path.join(prefix, 'known_hosts'),
            '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR',
            '-J', 'hv1', 'root@%s' % address] + list(command)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)


SSH_BUDGET = 300  # lago_ssh_timeout: the controller's wait for each VM, in start and in revert


@pytest.mark.timeout(2 * SSH_BUDGET + 900)  # the two waits, and the playbooks around them
def test_multihost_start_waits_then_snapshot_and_revert(hypervisors, lab_host_dirs, http_repo, tmp_path,  # noqa: F811
                                                        unique_name):
    inventory, _addresses = hypervisors
    work = pinned_demo(tmp_path)
    extra = mh_vars(lab_host_dirs, http_repo, unique_name)
    os.makedirs(lab_host_dirs['lease_dir'], exist_ok=True)
    prefix = os.path.join(work, '.lago')
    short_id = None
    try:
        play('init', extra, inventory, work).check()
        state = json.load(open(os.path.join(prefix, 'state.json')))
        short_id = state['short_id']
        started = play('start', extra, inventory, work).check()
        # start returned when both accepted a login: one try each, no wait of the test's own
        for _host, name in VMS:
            assert '%s: reachable over SSH after' % name in started.stdout, started.stdout[-3000:]
            logged = ssh_vm(prefix, state['vms'][name]['address'], 'hostname')
            assert logged.returncode == 0 and logged.stdout.strip() == name, (name, logged.stdout, logged.stderr)
            assert ssh_vm(prefix, state['vms'][name]['address'], 'echo before > /root/before && sync').returncode == 0

        snap = dict(extra, lago_snapshot_name='s1')
        taken = play('snapshot', snap, inventory, work).check()
        for host, name in VMS:
            assert 'snapshot s1 on %s: %s (live, ' % (host, name) in taken.stdout, taken.stdout[-3000:]
            assert taken.recap()[host]['changed'], taken.stdout[-3000:]
        for _host, name in VMS:
            wrote = ssh_vm(prefix, state['vms'][name]['address'], 'echo after > /root/after && sync && ls /root')
            assert wrote.returncode == 0 and 'after' in wrote.stdout.split(), (name, wrote.stdout, wrote.stderr)

        reverted = play('revert', snap, inventory, work).check()
        for host, name in VMS:
            assert reverted.recap()[host]['changed'], reverted.stdout[-3000:]
            assert '%s: reachable over SSH after' % name in reverted.stdout, reverted.stdout[-3000:]
            seen = ssh_vm(prefix, state['vms'][name]['address'], 'ls /root')
            assert seen.returncode == 0, (name, seen.stderr)
            assert 'before' in seen.stdout.split() and 'after' not in seen.stdout.split(), (name, seen.stdout)
        # each part records the snapshot of its own VM only
        for host, name in VMS:
            listed = subprocess.run(['ssh', host, 'cat', os.path.join(extra['lago_hypervisor_prefix_path'], 'state.json')],
                                    stdout=subprocess.PIPE, universal_newlines=True, timeout=60, check=True)
            part = json.loads(listed.stdout)
            assert sorted(part['vms']) == [name] and 's1' in json.dumps(part['vms'][name]), host
        play('destroy', extra, inventory, work).check()
    finally:
        play('destroy', extra, inventory, work)
        _remove_parts(inventory, extra['lago_hypervisor_prefix_path'], short_id)
    for host, _name in VMS:
        assert leftovers(host, short_id, extra['lago_hypervisor_prefix_path']) == [], host
    assert not os.path.exists(prefix)
    assert subnet_lease.leases_of(lab_host_dirs['lease_dir'], (os.path.join(prefix, 'uuid'), state['uuid'])) == []
