# -*- coding: utf-8 -*-
"""The state pool: export a snapshot's chains, skip what the pool holds, move
the pool, use a pool on "another host" (rsync through a stand-in ssh), start
new prefixes from pool states, and refuse states that do not match their manifest."""

from __future__ import absolute_import, division, print_function

import hashlib
import json
import os
import shutil
import threading

import pytest

from ansible_collections.lago.lago.plugins.module_utils import pool
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState

from labrun import playbook
from prefixlib import leases
from snapshotlib import assert_chains_valid, backing_chain, marker, one_vm, set_marker, state_of

pytestmark = pytest.mark.lab

FAKE_SSH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'fake-ssh')


def pool_disk(location):
    return '{type: template, template_type: pool, path: "%s", name: root, dev: vda}' % location


def sha256(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def manifest_of(state_dir):
    with open(os.path.join(state_dir, 'manifest.json')) as handle:
        return json.load(handle)


def assert_matches_manifest(state_dir):
    manifest = manifest_of(state_dir)
    files = sorted(name for name in os.listdir(state_dir) if not name.startswith('.') and name != 'manifest.json')
    assert files == sorted(manifest['layers'])
    for name, entry in manifest['layers'].items():
        path = os.path.join(state_dir, name)
        assert (os.path.getsize(path), sha256(path)) == (entry['size'], entry['sha256']), name
        backing = backing_chain(path)[0].get('backing-filename')
        assert backing == entry['backing'], 'backing names inside the pool are relative file names'
    return manifest


@pytest.fixture
def prefixes(prefix_vars, write_init_file, tmp_path):
    """Make prefixes (extra vars per name); all destroyed at the end."""
    made = []

    def make(name, init_text, env=None):
        extra = dict(prefix_vars, lago_prefix_path=str(tmp_path / name),
                     lago_init_file=write_init_file(init_text, name='%s.LagoInitFile' % name))
        made.append(extra)
        return extra, playbook('init', extra, env=env)
    yield make
    for extra in made:
        playbook('destroy', extra).check()


def test_export_again_move_remote_and_bad_states(prefixes, ansible_module, tmp_path, prefix_vars):
    source, init = prefixes('source', one_vm())
    init.check()
    prefix = source['lago_prefix_path']
    assert not ansible_module('lago.lago.lago_snapshot', dict(prefix=prefix, name='ready')).get('failed')
    pool_dir = str(tmp_path / 'pool')

    def export(**args):
        args = dict(dict(pool=pool_dir, name='ready', prefix=prefix), **args)
        result = ansible_module('lago.lago.lago_snapshot_pool', args, check=args.pop('check', False), diff=True)
        assert not result.get('failed'), result.get('msg')
        return result

    predicted = export(check=True)
    assert predicted['changed'] and predicted['bytes_moved'] > 0 and not os.path.exists(os.path.join(pool_dir, 'ready'))
    first = export()
    assert first['changed'] and first['bytes_moved'] > 0 and len(first['moved']) == 2
    manifest = assert_matches_manifest(os.path.join(pool_dir, 'ready'))
    assert manifest['vms']['vm01']['disks']['root']['layer'] == 'vm01_root.qcow2'
    assert first['diff']['after']['pool_state']['layers'] == dict(
        (name, dict(format=entry['format'], backing=entry['backing'], source=entry['source']))
        for name, entry in manifest['layers'].items())
    assert predicted['diff'] == first['diff']  # check mode predicted what the export did
    again = export()
    assert (again['changed'], again['bytes_moved'], again['moved']) == (False, 0, [])

    # The pool can move: its chains name their layers by file name only.
    moved = str(tmp_path / 'moved' / 'pool')
    os.makedirs(os.path.dirname(moved))
    shutil.move(pool_dir, moved)
    assert_matches_manifest(os.path.join(moved, 'ready'))
    top = os.path.join(moved, 'ready', 'vm01_root.qcow2')
    assert [os.path.dirname(item['filename']) for item in backing_chain(top)] == [os.path.dirname(top)] * 2

    # A pool on "another host": the same layers, through rsync and ssh.
    remote = 'lab@otherhost:%s' % (tmp_path / 'remote-pool')
    first = export(pool=remote, pool_ssh=FAKE_SSH)
    assert first['changed'] and first['bytes_moved'] > 0
    again = export(pool=remote, pool_ssh=FAKE_SSH)
    assert (again['changed'], again['bytes_moved']) == (False, 0)
    remote_manifest = assert_matches_manifest(str(tmp_path / 'remote-pool' / 'ready'))
    assert remote_manifest['layers'] == manifest['layers']
    copy, init = prefixes('copy', one_vm(disk=pool_disk(remote + '/ready')), env={'LAGO_POOL_SSH': FAKE_SSH})
    init.check()
    assert_chains_valid(copy['lago_prefix_path'])
    disk = state_of(copy['lago_prefix_path'])['vms']['vm01']['disks'][0]
    assert os.path.basename(os.path.dirname(disk['backing'])).startswith('ready@')

    # A layer that does not match the manifest: the new prefix is refused, nothing is left.
    with open(os.path.join(moved, 'ready', 'vm01_root.qcow2'), 'ab') as handle:
        handle.write(b'\0')
    held = leases(prefix_vars['lago_lease_dir'])
    bad, init = prefixes('bad', one_vm(disk=pool_disk(moved + '/ready')))
    assert init.rc != 0
    assert 'does not match its manifest' in init.output and 'vm01_root.qcow2 has' in init.output, init.output[-3000:]
    assert not os.path.exists(bad['lago_prefix_path'])
    assert leases(prefix_vars['lago_lease_dir']) == held

    # An incomplete state (no manifest) is refused by name.
    os.remove(os.path.join(moved, 'ready', 'manifest.json'))
    _bad, init = prefixes('incomplete', one_vm(disk=pool_disk(moved + '/ready')))
    assert init.rc != 0 and 'is incomplete (no manifest.json)' in init.output

    gone = export(pool=remote, pool_ssh=FAKE_SSH, state='absent')
    assert gone['changed'] and not os.path.exists(str(tmp_path / 'remote-pool' / 'ready'))
    assert export(pool=remote, pool_ssh=FAKE_SSH, state='absent')['changed'] is False


@pytest.mark.slow
def test_a_prefix_boots_from_a_pool_state(prefixes, ansible_module, tmp_path):
    source, init = prefixes('source', one_vm())
    init.check()
    prefix = source['lago_prefix_path']
    playbook('start', source).check()
    set_marker(prefix, 'vm01', 'pooled')
    assert not ansible_module('lago.lago.lago_snapshot', dict(prefix=prefix, name='ready')).get('failed')
    pool_dir = str(tmp_path / 'pool')
    exported = ansible_module('lago.lago.lago_snapshot_pool', dict(pool=pool_dir, name='ready', prefix=prefix))
    assert exported['changed'], exported.get('msg')
    playbook('destroy', source).check()

    copy, init = prefixes('copy', one_vm(disk=pool_disk(pool_dir + '/ready')))
    init.check()
    playbook('start', copy).check()
    assert marker(copy['lago_prefix_path'], 'vm01') == 'pooled'
    set_marker(copy['lago_prefix_path'], 'vm01', 'changed')
    playbook('destroy', copy).check()
    assert_matches_manifest(os.path.join(pool_dir, 'ready'))  # the copy never wrote into the pool


def test_concurrent_and_cut_short_exports(prefixes, ansible_module, tmp_path, monkeypatch):
    source, init = prefixes('source', one_vm())
    init.check()
    prefix = source['lago_prefix_path']
    for name in ('s1', 's2'):
        assert not ansible_module('lago.lago.lago_snapshot', dict(prefix=prefix, name=name)).get('failed')
    pool_dir = str(tmp_path / 'pool')
    state_dir = os.path.join(pool_dir, 'shared')

    # Two exports of different snapshots into one state at once: the lock keeps them apart.
    results = {}
    threads = [threading.Thread(target=lambda snap=snap: results.update({snap: ansible_module(
        'lago.lago.lago_snapshot_pool', dict(pool=pool_dir, name='shared', prefix=prefix, snapshot=snap))}))
        for snap in ('s1', 's2')]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(not result.get('failed') for result in results.values()), results
    manifest = assert_matches_manifest(state_dir)
    assert manifest['origin']['snapshot'] in ('s1', 's2')

    # An export cut short (here: a new layer cannot be rebased) leaves a state without its manifest.
    assert not ansible_module('lago.lago.lago_snapshot', dict(prefix=prefix, name='s3')).get('failed')
    state = PrefixState.load(Layout(prefix))
    calls = []

    def failing_rebase(*args, **kwargs):
        calls.append(args)
        raise KeyboardInterrupt('cut short')
    monkeypatch.setattr(pool.qemu_img, 'rebase', failing_rebase)
    with pytest.raises(KeyboardInterrupt):
        with pool.locked_state(pool_dir, 'shared') as target:
            pool.plan_export_state(state, 's3', target, 'shared').apply()
    assert calls and not os.path.exists(os.path.join(state_dir, 'manifest.json'))
    assert not os.path.exists(os.path.join(state_dir, '.staging'))
    with pytest.raises(SnapshotError) as err:
        pool.read_state(pool_dir, 'shared')
    assert 'is incomplete' in str(err.value)
    monkeypatch.undo()
    again = ansible_module('lago.lago.lago_snapshot_pool', dict(pool=pool_dir, name='shared', prefix=prefix,
                                                                snapshot='s3'))
    assert again['changed'] and not again.get('failed'), again.get('msg')
    assert_matches_manifest(state_dir)
