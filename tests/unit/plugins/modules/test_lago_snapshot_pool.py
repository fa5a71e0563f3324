# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lago_snapshot_pool's execute(): export to and removal from a local pool, with real qcow2 layers."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import pool
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.snapshot_take import plan_take
from ansible_collections.lago.lago.plugins.modules import lago_snapshot_pool

from ansible_collections.lago.lago.tests.unit.plugins.offline_prefix import fake_libvirt, make_prefix


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    virt = fake_libvirt(monkeypatch)
    state = make_prefix(tmp_path / 'prefix', virt, vms=('vm01',), data=False)
    plan_take(None, state, 's1').apply()
    return state.path


@pytest.fixture
def export(make_run, prefix, tmp_path):
    def run_once(check_mode=False, diff=True, **params):
        options = dict(pool=str(tmp_path / 'pool'), state='present', prefix=prefix, snapshot='s1', vms=None,
                       pool_ssh=None)
        options.update(params)
        name = options.pop('name', 'shared')
        run = make_run(check_mode=check_mode, diff=diff, **options)
        run.params['name'] = name  # make_run's FakeModule takes name= as the module's name
        return run.result(lago_snapshot_pool.execute(run))
    return run_once


def test_check_mode_predicts_the_export_and_moves_nothing(export, tmp_path):
    predicted = export(check_mode=True)
    assert predicted['changed'] and predicted['manifest'] is None
    assert predicted['bytes_moved'] > 0
    assert not os.path.exists(tmp_path / 'pool' / 'shared')
    real = export()
    assert real['changed'] and real['bytes_moved'] > 0
    assert sorted(real['moved']) == sorted(predicted['moved']) == ['lab_debian12_r1', 'vm01_root.qcow2']
    assert predicted['diff'] == real['diff']
    assert real['diff']['after']['pool_state']['vms'] == {'vm01': {'root': 'vm01_root.qcow2'}}
    assert real['diff']['after']['pool_state']['layers']['vm01_root.qcow2']['backing'] == 'lab_debian12_r1'
    manifest = pool.read_state(str(tmp_path / 'pool'), 'shared')
    assert manifest['layers'] == real['manifest']['layers']


def test_an_unchanged_export_moves_zero_bytes(export):
    export()
    again = export()
    assert not again['changed'] and again['bytes_moved'] == 0 and again['moved'] == []
    assert again['diff']['before'] == again['diff']['after']
    assert 'diff' not in export(diff=False)


def test_absent_removes_the_state_once(export, tmp_path):
    export()
    assert export(check_mode=True, state='absent')['changed']
    assert os.path.isdir(tmp_path / 'pool' / 'shared')
    removed = export(state='absent')
    assert removed['changed'] and removed['diff']['after'] == {'pool_state': {}}
    assert not os.path.exists(tmp_path / 'pool' / 'shared')
    assert not export(state='absent')['changed']


def test_absent_from_a_pool_that_does_not_exist_makes_nothing(export, tmp_path):
    assert not export(state='absent', pool=str(tmp_path / 'nowhere'))['changed']
    assert not os.path.exists(tmp_path / 'nowhere')


def test_unknown_snapshot_is_named(export):
    with pytest.raises(SnapshotError) as err:
        export(snapshot='nope')
    assert "snapshot 'nope' does not exist" in str(err.value)


@pytest.mark.parametrize('location, part', [
    ('-oProxyCommand=touch /tmp/owned:/srv/pool', "pool location '-oProxyCommand=touch /tmp/owned:/srv/pool' starts with"),
    ('-pool', "pool location '-pool' starts with \"-\""),
    ('-lroot@host:/srv/pool', "pool location '-lroot@host:/srv/pool' starts with"),
    ('me@-oProxyCommand=x:/srv/pool', "its host '-oProxyCommand=x'"),
    ('me@host:-rf', "its path '-rf'"),
])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_a_location_ssh_would_take_for_an_option_is_refused_before_any_command(
        export, monkeypatch, tmp_path, location, part, state):
    # Before: it reached ssh as an option, and the error said "could not lock state within 300s"
    # (or, as a local path, the pool was made in the current directory).
    monkeypatch.chdir(tmp_path)
    ran = []
    monkeypatch.setattr('subprocess.Popen', lambda *args, **kwargs: ran.append(args) or pytest.fail('ran %r' % (args,)))
    with pytest.raises(SnapshotError) as err:
        export(pool=location, state=state)
    assert part in str(err.value) and 'would take for an option' in str(err.value)
    assert 'could not lock' not in str(err.value) and ran == []
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('-')]
