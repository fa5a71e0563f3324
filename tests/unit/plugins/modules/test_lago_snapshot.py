# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lago_snapshot's execute(): changed, check mode, diff, idempotence (offline VMs, libvirt a stand-in)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, PrefixError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.plugins.modules import lago_snapshot

from ansible_collections.lago.lago.tests.unit.plugins.offline_prefix import fake_libvirt, make_prefix


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    virt = fake_libvirt(monkeypatch)
    monkeypatch.setattr(lago_snapshot, 'connect', lambda _uri: object())
    return make_prefix(tmp_path / 'prefix', virt, vms=('vm01', 'vm02')).path


@pytest.fixture
def snap(make_run, prefix):
    def run_once(check_mode=False, diff=True, **params):
        options = dict(prefix=prefix, name='s1', state='present', vms=None, memory=False, force=False, start=True,
                       wait_for_ssh=True, ssh_timeout=10, libvirt_uri='qemu:///system')
        options.update(params)
        name = options.pop('name')
        run = make_run(check_mode=check_mode, diff=diff, **options)
        run.params['name'] = name  # make_run's FakeModule takes name= as the module's name
        return run.result(lago_snapshot.execute(run))
    return run_once


@pytest.mark.parametrize('state, prepare', [('present', []), ('reverted', ['present']), ('absent', ['present'])])
def test_check_mode_predicts_the_real_run(snap, prefix, state, prepare):
    for earlier in prepare:
        snap(state=earlier)
    files = sorted(os.listdir(os.path.join(prefix, 'images')))
    predicted = snap(check_mode=True, state=state)
    assert predicted['changed']
    assert sorted(os.listdir(os.path.join(prefix, 'images'))) == files  # check mode made nothing
    real = snap(state=state)
    assert real['changed']
    assert predicted['diff']['before'] == real['diff']['before']
    assert predicted['diff']['after'] == real['diff']['after']


def test_take_then_nothing_to_do(snap, prefix):
    first = snap()
    assert first['changed'] and sorted(first['taken']) == ['vm01', 'vm02']
    assert first['taken']['vm01']['mode'] == 'offline'
    assert first['snapshot']['vm01']['disks']['root']['layer'].endswith('images/vm01_root.qcow2')
    assert first['diff']['after']['snapshots']['vm01']['snapshots'] == ['s1']
    again = snap()
    assert not again['changed'] and again['taken'] == {}
    assert again['diff']['before'] == again['diff']['after']
    removed = snap(state='absent')
    assert removed['changed'] and sorted(removed['removed']) == ['vm01', 'vm02']
    assert not snap(state='absent')['changed']
    assert PrefixState.load(Layout(prefix)).vm('vm01').snapshots == {}


def test_diff_only_under_diff_mode(snap):
    assert 'diff' not in snap(diff=False)


def test_revert_always_reverts_and_returns_the_vms(snap):
    snap()
    reverted = snap(state='reverted')
    assert reverted['changed']
    assert reverted['reverted'] == dict(reverted=['vm01', 'vm02'], resumed=[], booted=[])
    assert 'ssh_ready' not in reverted  # nothing was started
    assert snap(state='reverted')['changed']


def test_unknown_vm_is_an_error(snap):
    with pytest.raises(PrefixError) as err:
        snap(vms=['vm09'])
    assert 'vms vm09 are not in the prefix' in str(err.value)


@pytest.mark.parametrize('name', ['s1.qcow2', 'before.upgrade'])
def test_a_snapshot_name_with_a_dot_is_refused_before_anything_changes(snap, prefix, name):
    # Its overlays images/<vm>_<disk>.<name>.qcow2 could be the image of a disk named <disk>.<name>.
    images = sorted(os.listdir(os.path.join(prefix, 'images')))
    state = open(os.path.join(prefix, 'state.json')).read()
    with pytest.raises(LagoError) as err:
        snap(name=name)
    assert 'invalid snapshot name %r' % name in str(err.value) and '"." is refused' in str(err.value)
    assert sorted(os.listdir(os.path.join(prefix, 'images'))) == images
    assert open(os.path.join(prefix, 'state.json')).read() == state
