# -*- coding: utf-8 -*-
"""Crash consistency: the module SIGKILLed at each named fault point (faults.point,
LAGO_FAULT_POINT), then run again without the hook, must converge (init completes,
destroy completes); after destroy nothing of the prefix is left: no lease, no libvirt
object, no file, no process. Also libvirtd restarted in the middle of start and of
destroy, and a prefix on a full file system (ENOSPC).

Init and destroy never boot a VM; one small VM boots once, for start."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import time

import pytest

from faultlib import finish, restart_libvirtd, run_module, spawn_module
from prefixlib import leases, left_behind, libvirt_objects
from snapshotlib import assert_chains_valid, state_of

pytestmark = pytest.mark.lab

# Two nets (two leases), two disks: every "after each" point has a second pass.
INIT = '''
    domains:
      vm01:
        memory: 512
        nics: [{net: lan}, {net: data}]
        disks:
          - {template_name: debian12, type: template, name: root, dev: vda, format: qcow2}
          - {type: empty, name: scratch, dev: vdb, size: 1G}
    nets:
      lan: {type: nat, management: true}
      data: {type: nat}
'''
ONE_NET = '''
    domains:
      vm01:
        memory: 512
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
    nets:
      lan: {type: nat, management: true}
'''
INIT_POINTS = ['init.after_layout', 'init.after_lease', 'init.after_lease:2', 'init.after_disks', 'init.after_seeds',
               'init.after_domain_define', 'init.before_ready']
DESTROY_POINTS = ['destroy.after_domains', 'destroy.after_nets', 'destroy.before_state_removed']


@pytest.fixture
def counts(figures):
    return figures('kill_points', kills_injected=0, runs_converged=0, leftovers=0, reruns_failed=0, libvirtd_restarts=0,
                   start_failed_on_restart=0, destroy_failed_on_restart=0, destroy_done_before_restart=0,
                   enospc_failures_clear=0)


def prefix_args(prefix_vars, init_file, path=None, **extra):
    args = dict(path=path or prefix_vars['lago_prefix_path'], init_file=init_file,
                template_repo=prefix_vars['lago_template_repo'], template_store=prefix_vars['lago_template_store'],
                lease_dir=prefix_vars['lago_lease_dir'], virt_type='qemu')
    args.update(extra)
    return args


def destroy_args(prefix_vars, path=None):
    return dict(path=path or prefix_vars['lago_prefix_path'], state='absent', lease_dir=prefix_vars['lago_lease_dir'])


def killed(counts, module, args, point):
    run = run_module(module, args, fault=point)
    assert run.killed, 'fault point %s was not reached (the run was not killed): %r' % (point, run)
    counts['kills_injected'] += 1
    return run


def converges(counts, module, args):
    run = run_module(module, args)
    if not run.ok:
        counts['reruns_failed'] += 1
    assert run.ok, 'the run after the kill did not converge: %r' % run
    counts['runs_converged'] += 1
    return run


def short_id_of(path):
    try:
        with open(os.path.join(path, 'state.json')) as handle:
            return json.load(handle).get('short_id')
    except (IOError, OSError, ValueError):
        return None


def assert_nothing_left(counts, prefix_vars, short_id, path=None):
    path = path or prefix_vars['lago_prefix_path']
    left = left_behind(path, short_id or 'no-such-prefix', prefix_vars['lago_lease_dir'])
    clean = dict(directory=False, leases=[], libvirt=[], processes=[])
    if left != clean:
        counts['leftovers'] += sum(len(value) if isinstance(value, list) else int(value) for value in left.values())
    assert left == clean, 'the destroyed prefix left: %s' % left


@pytest.mark.parametrize('point', INIT_POINTS)
def test_init_and_destroy_killed(point, prefix_vars, write_init_file, counts):
    path = prefix_vars['lago_prefix_path']
    args = prefix_args(prefix_vars, write_init_file(INIT))
    destroy_point = DESTROY_POINTS[INIT_POINTS.index(point) % len(DESTROY_POINTS)]
    short_id = None
    try:
        killed(counts, 'lago_prefix', args, point)
        short_id = short_id_of(path)
        done = converges(counts, 'lago_prefix', args)
        assert done.result['changed'], done
        short_id = done.result['prefix']['short_id']
        state = state_of(path)
        assert state['status'] == 'ready' and sorted(state['vms']) == ['vm01']
        assert libvirt_objects(short_id) == sorted('%s-%s' % (short_id, name) for name in ('data', 'lan', 'vm01'))
        assert len(leases(prefix_vars['lago_lease_dir'])) == 2, 'one lease per net, none from the killed run'
        assert sorted(disk['name'] for disk in state['vms']['vm01']['disks']) == ['root', 'scratch']
        again = run_module('lago_prefix', args)
        assert again.ok and not again.result['changed'], 'a third run finds it built: %r' % again
        killed(counts, 'lago_prefix', destroy_args(prefix_vars), destroy_point)
        converges(counts, 'lago_prefix', destroy_args(prefix_vars))
    finally:
        run_module('lago_prefix', destroy_args(prefix_vars))
    assert_nothing_left(counts, prefix_vars, short_id)


def test_snapshot_and_pool_export_killed(prefix_vars, write_init_file, counts, tmp_path):
    """Offline snapshot take and revert killed between the two disks, pool export killed after a file is copied."""
    path = prefix_vars['lago_prefix_path']
    args = prefix_args(prefix_vars, write_init_file(INIT))
    pool_dir = str(tmp_path / 'pool')
    short_id = None
    try:
        made = run_module('lago_prefix', args)
        assert made.ok, made
        short_id = made.result['prefix']['short_id']
        snap = dict(prefix=path, name='snap1')
        killed(counts, 'lago_snapshot', snap, 'snapshot.take_between_disks')
        taken = converges(counts, 'lago_snapshot', snap)
        assert taken.result['changed'], taken
        assert_chains_valid(path)
        assert sorted(state_of(path)['vms']['vm01']['snapshots']) == ['snap1']
        revert = dict(prefix=path, name='snap1', state='reverted')
        killed(counts, 'lago_snapshot', revert, 'snapshot.revert_between_disks')
        converges(counts, 'lago_snapshot', revert)
        assert_chains_valid(path)
        for disk in state_of(path)['vms']['vm01']['disks']:
            assert os.path.exists(disk['path']), 'the disk the state names exists: %s' % disk
        export = dict(pool=pool_dir, name='snap1', prefix=path)
        killed(counts, 'lago_snapshot_pool', export, 'pool.export_after_copy')
        exported = converges(counts, 'lago_snapshot_pool', export)
        assert exported.result['changed'], exported
        state_dir = os.path.join(pool_dir, 'snap1')
        with open(os.path.join(state_dir, 'manifest.json')) as handle:
            manifest = json.load(handle)
        assert sorted(os.listdir(state_dir)) == sorted(list(manifest['layers']) + ['manifest.json']), \
            'the pool state holds its manifest and layers, nothing the killed export staged'
        for name, entry in manifest['layers'].items():
            assert os.path.getsize(os.path.join(state_dir, name)) == entry['size'], name
    finally:
        run_module('lago_prefix', destroy_args(prefix_vars))
    assert_nothing_left(counts, prefix_vars, short_id)


def wait_until(predicate, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_start_killed_and_libvirtd_restarted(prefix_vars, write_init_file, counts):
    """Start killed after the nets, then after the domain; then libvirtd restarted while
    start waits for SSH, and while destroy runs: the next run converges each time."""
    args = prefix_args(prefix_vars, write_init_file(ONE_NET))
    short_id = None
    try:
        made = run_module('lago_prefix', args)
        assert made.ok, made
        short_id = made.result['prefix']['short_id']
        start = dict(args, state='started', wait_for_ssh=False)
        killed(counts, 'lago_prefix', start, 'start.after_nets')
        assert libvirt_objects(short_id) == ['%s-lan' % short_id, '%s-vm01' % short_id]
        killed(counts, 'lago_prefix', start, 'start.after_domain')
        # libvirtd goes away while start waits for the SSH login.
        waiting = spawn_module('lago_prefix', dict(args, state='started', ssh_timeout=300))
        time.sleep(3)
        restart_libvirtd()
        counts['libvirtd_restarts'] += 1
        first = finish(waiting)
        if not first.ok:
            counts['start_failed_on_restart'] += 1
        done = converges(counts, 'lago_prefix', dict(args, state='started', ssh_timeout=300))
        assert done.result['prefix']['vms']['vm01']['state'] == 'running', done
        # libvirtd goes away in the middle of destroy: as soon as the domain is gone.
        destroying = spawn_module('lago_prefix', destroy_args(prefix_vars))
        wait_until(lambda: '%s-vm01' % short_id not in libvirt_objects(short_id) or destroying.poll() is not None, 120)
        restart_libvirtd()
        counts['libvirtd_restarts'] += 1
        cut = finish(destroying)
        counts['destroy_done_before_restart' if cut.ok else 'destroy_failed_on_restart'] += 1
        converges(counts, 'lago_prefix', destroy_args(prefix_vars))
    finally:
        run_module('lago_prefix', destroy_args(prefix_vars))
    assert_nothing_left(counts, prefix_vars, short_id)


def test_full_file_system(prefix_vars, write_init_file, counts, tmp_path):
    """A prefix on a 512 KiB tmpfs (mounted in the lab's mount namespace only): init fails
    naming the step and ENOSPC, and leaves nothing behind."""
    small = str(tmp_path / 'small')
    os.makedirs(small)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=512k,mode=0755', 'lago-enospc', small], check=True)
    try:
        path = os.path.join(small, 'prefix')
        before = libvirt_objects('')
        failed = run_module('lago_prefix', prefix_args(prefix_vars, write_init_file(INIT), path=path))
        assert failed.rc != 0 and failed.result and failed.result.get('failed'), failed
        assert 'init of prefix %s failed at step' % path in failed.msg, failed.msg
        assert 'No space left on device' in failed.msg, failed.msg
        assert 'everything this run created was removed again' in failed.msg, failed.msg
        counts['enospc_failures_clear'] += 1
        assert os.listdir(small) == [], 'nothing of the prefix is left on the full file system'
        assert leases(prefix_vars['lago_lease_dir']) == []
        assert libvirt_objects('') == before
    finally:
        subprocess.run(['umount', small], check=True)
    assert not os.path.ismount(small)


@pytest.mark.parametrize('point,signal_name', [('init.after_lease:2', 'INT'), ('init.after_domain_define', 'TERM')])
def test_init_interrupted_rolls_back_at_once(point, signal_name, prefix_vars, write_init_file, counts):
    """Ctrl-C (SIGINT) or a cancelled job (SIGTERM) in the middle of init: the run itself undoes what it
    made before it exits, with no next run: no lease, no libvirt object, no directory."""
    path = prefix_vars['lago_prefix_path']
    args = prefix_args(prefix_vars, write_init_file(INIT))
    objects_before = libvirt_objects('')  # every domain and network of the lab
    try:
        run = run_module('lago_prefix', args, fault=point, signal_name=signal_name)
        counts['kills_injected'] += 1
        assert not run.ok and run.rc != -9, run
        assert 'interrupted' in run.msg.lower(), run.msg
        assert_nothing_left(counts, prefix_vars, None)
        assert leases(prefix_vars['lago_lease_dir']) == []
        assert libvirt_objects('') == objects_before, 'the interrupted init left libvirt objects behind'
        assert not os.path.exists(path)
    finally:
        run_module('lago_prefix', destroy_args(prefix_vars))
