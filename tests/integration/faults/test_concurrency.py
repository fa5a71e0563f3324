# -*- coding: utf-8 -*-
"""Safe under concurrency: 8 prefixes initialized at once from one lease directory
(8 processes) while the host already uses two /24s of the pool, 2 of them started at
once, all 8 destroyed at once: no subnet handed out twice or over the host's, nothing
leaked. And the loser of a race on one prefix path with lock_timeout=0 is told
"prefix P is busy" and changes nothing. (Two runs on one path with the default lock
timeout, the second waiting and converging: tests/integration/prefix/test_prefix_concurrent.py.)"""

from __future__ import absolute_import, division, print_function

import hashlib
import ipaddress
import json
import os
import subprocess
import uuid

import pytest

from ansible_collections.lago.lago.plugins.module_utils import prefix_state
from faultlib import finish, run_module, spawn_module
from prefixlib import leases, left_behind, libvirt_objects
from snapshotlib import state_of

pytestmark = pytest.mark.lab

VMS = '''
    domains:
{domains}
    nets:
      lan: {{type: nat, management: true}}
'''
VM = '''      vm{index:02d}:
        memory: 512
        nics: [{{net: lan}}]
        disks: [{{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}}]
'''
HOST_TAKEN = ['192.168.200.0/24', '192.168.203.0/24']  # the first free /24s of the default pool
CLEAN = dict(directory=False, leases=[], libvirt=[], processes=[])


def init_text(vms=1):
    return VMS.format(domains=''.join(VM.format(index=index + 1) for index in range(vms)))


@pytest.fixture
def counts(figures):
    return figures('concurrency', prefixes_at_once=0, subnet_collisions=0, leaks=0, busy_losers=0, loser_changes=0)


def prefix_args(prefix_vars, path, init_file, **extra):
    args = dict(path=path, init_file=init_file, template_repo=prefix_vars['lago_template_repo'],
                template_store=prefix_vars['lago_template_store'], lease_dir=prefix_vars['lago_lease_dir'],
                virt_type='qemu')
    args.update(extra)
    return args


def destroy_args(prefix_vars, path, **extra):
    return dict(dict(path=path, state='absent', lease_dir=prefix_vars['lago_lease_dir']), **extra)


def all_at_once(module, args_list):
    return [finish(proc) for proc in [spawn_module(module, args) for args in args_list]]


@pytest.fixture
def host_bridge():
    """A bridge in the lab's network namespace holding addresses in HOST_TAKEN: the host uses those /24s."""
    name = 'lgtk%s' % uuid.uuid4().hex[:8]
    subprocess.run(['ip', 'link', 'add', 'name', name, 'type', 'bridge'], check=True)
    try:
        for subnet in HOST_TAKEN:
            address = ipaddress.IPv4Network(subnet).network_address + 1
            subprocess.run(['ip', 'addr', 'add', '%s/24' % address, 'dev', name], check=True)
        subprocess.run(['ip', 'link', 'set', name, 'up'], check=True)
        yield name
    finally:
        subprocess.run(['ip', 'link', 'del', name], check=True)


def test_eight_prefixes_at_once(prefix_vars, write_init_file, tmp_path, counts, host_bridge):
    init_file = write_init_file(init_text())
    paths = [str(tmp_path / ('p%d' % index)) for index in range(8)]
    lease_dir = prefix_vars['lago_lease_dir']
    short_ids = {}
    try:
        made = all_at_once('lago_prefix', [prefix_args(prefix_vars, path, init_file) for path in paths])
        for run in made:
            assert run.ok and run.result['changed'], run
        counts['prefixes_at_once'] = len(made)
        subnets = {}
        for path, run in zip(paths, made):
            short_ids[path] = run.result['prefix']['short_id']
            state = state_of(path)
            subnets[path] = ipaddress.IPv4Network(state['nets']['lan']['subnet'])
            assert libvirt_objects(short_ids[path]) == ['%s-lan' % short_ids[path], '%s-vm01' % short_ids[path]]
        taken = [ipaddress.IPv4Network(subnet) for subnet in HOST_TAKEN]
        distinct = set(subnets.values())
        collisions = (len(subnets) - len(distinct)) + sum(1 for net in distinct if any(net.overlaps(t) for t in taken))
        counts['subnet_collisions'] += collisions
        assert collisions == 0, 'subnets handed out twice or over the host\'s %s: %s' % (HOST_TAKEN, subnets)
        assert len(leases(lease_dir)) == 8, leases(lease_dir)
        for path in paths:
            octet = subnets[path].network_address.packed[2]
            with open(os.path.join(lease_dir, '%d.lease' % octet)) as handle:
                assert json.load(handle)[1] == state_of(path)['uuid'], 'each lease names the prefix that uses it'
        # Two of them started at once: both nets come up beside the host's bridge, both VMs run.
        started = all_at_once('lago_prefix', [prefix_args(prefix_vars, path, init_file, state='started', wait_for_ssh=False)
                                              for path in paths[:2]])
        for run in started:
            assert run.ok and run.result['changed'], run
            view = run.result['prefix']
            assert view['vms']['vm01']['state'] == 'running' and view['nets']['lan']['state'] == 'active', view
    finally:
        gone = all_at_once('lago_prefix', [destroy_args(prefix_vars, path) for path in paths])
    for run in gone:
        assert run.ok, run
    for path in paths:
        left = left_behind(path, short_ids.get(path) or 'no-such-prefix', lease_dir)
        if left != CLEAN:
            counts['leaks'] += 1
        assert left == CLEAN, '%s left: %s' % (path, left)


def fingerprint(path, short_id, lease_dir):
    """Every file of the prefix with its sha256 (the lock file aside), its libvirt objects and the leases."""
    files = {}
    for root, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(root, name)
            if full == prefix_state.Layout(path).lock_file:
                continue
            with open(full, 'rb') as handle:
                files[os.path.relpath(full, path)] = hashlib.sha256(handle.read()).hexdigest()
    return dict(files=files, libvirt=libvirt_objects(short_id), leases=leases(lease_dir))


def test_same_path_loser_is_busy(prefix_vars, write_init_file, counts):
    path = prefix_vars['lago_prefix_path']
    lease_dir = prefix_vars['lago_lease_dir']
    args = prefix_args(prefix_vars, path, write_init_file(init_text(vms=3)), lock_timeout=0)
    short_id = None
    try:
        runs = all_at_once('lago_prefix', [args, args])
        winners = [run for run in runs if run.ok]
        losers = [run for run in runs if not run.ok]
        assert len(winners) == 1 and winners[0].result['changed'], runs
        short_id = winners[0].result['prefix']['short_id']
        assert len(losers) == 1, runs
        loser = losers[0]
        assert 'prefix %s is busy: held by pid' % path in loser.msg and 'nothing was changed' in loser.msg, loser
        assert not loser.result.get('changed'), loser
        counts['busy_losers'] += 1
        # What the loser left is exactly what the winner built.
        state = state_of(path)
        assert state['status'] == 'ready' and sorted(state['vms']) == ['vm01', 'vm02', 'vm03']
        assert len(leases(lease_dir)) == 1
        assert libvirt_objects(short_id) == sorted('%s-%s' % (short_id, name) for name in ('lan', 'vm01', 'vm02', 'vm03'))
        # A run holding the lock (this test, as another run would): init and destroy with lock_timeout=0 change nothing.
        before = fingerprint(path, short_id, lease_dir)
        with prefix_state.open_prefix(path, what='test holding the lock'):
            for loser_args in (args, destroy_args(prefix_vars, path, lock_timeout=0)):
                loser = run_module('lago_prefix', loser_args)
                assert not loser.ok and 'prefix %s is busy: held by pid %d' % (path, os.getpid()) in loser.msg, loser
                assert not loser.result.get('changed'), loser
                counts['busy_losers'] += 1
                if fingerprint(path, short_id, lease_dir) != before:
                    counts['loser_changes'] += 1
                assert fingerprint(path, short_id, lease_dir) == before, 'the busy loser changed the prefix'
    finally:
        gone = run_module('lago_prefix', destroy_args(prefix_vars, path))
    assert gone.ok, gone
    left = left_behind(path, short_id or 'no-such-prefix', lease_dir)
    if left != CLEAN:
        counts['leaks'] += 1
    assert left == CLEAN, left
