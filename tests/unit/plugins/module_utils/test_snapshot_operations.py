# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plans of the offline snapshot operations (take, revert, remove) on a prefix with real
qcow2 images; libvirt is a stand-in that only says whether a domain runs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import PrefixState
from ansible_collections.lago.lago.plugins.module_utils.snapshot_remove import plan_remove
from ansible_collections.lago.lago.plugins.module_utils.snapshot_revert import plan_revert
from ansible_collections.lago.lago.plugins.module_utils.snapshot_take import plan_take

from ansible_collections.lago.lago.tests.unit.plugins.offline_prefix import fake_libvirt, make_prefix

CONN = object()


@pytest.fixture
def virt(monkeypatch):
    return fake_libvirt(monkeypatch)


@pytest.fixture
def state(tmp_path, virt):
    return make_prefix(tmp_path / 'prefix', virt, vms=('vm01', 'vm02'))


def applied(plan):
    """Apply ``plan`` and check its prediction was the real outcome."""
    result = plan.apply()
    assert result.pop('after') == plan.after
    return result


def backing_of(path):
    return qemu_img.info(path, backing_chain=False)[0].get('backing-filename')


def test_take_plan_predicts_the_new_overlays_and_changes_nothing(state):
    image = state.vm('vm01').disk('root').path
    plan = plan_take(CONN, state, 's1')
    assert plan.changed
    assert plan.before['vm01'] == dict(snapshots=[], images={'root': image, 'data': state.vm('vm01').disk('data').path},
                                       state='shut off')
    assert plan.after['vm01']['snapshots'] == ['s1']
    assert plan.after['vm01']['images']['root'] == state.layout.overlay('vm01', 'root', 's1')
    assert plan.after['vm01']['images']['data'] == state.layout.overlay('vm01', 'data', 's1')
    assert any(step.startswith('vm02: offline snapshot s1') for step in plan.steps)
    # planning changed neither the state nor the files
    assert state.vm('vm01').snapshot('s1') is None
    assert PrefixState.load(state.layout).vm('vm01').snapshot('s1') is None
    assert not os.path.exists(state.layout.overlay('vm01', 'root', 's1'))


def test_take_applies_what_it_planned(state, virt):
    image = state.vm('vm01').disk('root').path
    result = applied(plan_take(CONN, state, 's1', ['vm01']))
    assert result['taken']['vm01']['mode'] == 'offline'
    assert result['taken']['vm01']['layers']['root'] == image
    saved = PrefixState.load(state.layout).vm('vm01')
    overlay = state.layout.overlay('vm01', 'root', 's1')
    assert saved.disk('root').path == overlay and saved.disk('root').parent == image
    assert backing_of(overlay) == image
    layer = saved.disk('root').layer(image)
    assert len(layer.sha256) == 64 and layer.size == os.path.getsize(image)
    assert virt.domains['00000000-vm01'].sources['vda'] == (overlay, 'qcow2')
    assert virt.domains['00000000-vm01'].sources['vdb'] == (state.layout.overlay('vm01', 'data', 's1'), 'qcow2')
    assert PrefixState.load(state.layout).vm('vm02').snapshot('s1') is None


def test_take_again_plans_nothing_unless_forced(state):
    applied(plan_take(CONN, state, 's1'))
    again = plan_take(CONN, state, 's1')
    assert not again.changed and again.before == again.after
    forced = plan_take(CONN, state, 's1', ['vm01'], force=True)
    assert forced.changed and forced.steps[0] == 'vm01: remove snapshot s1 to take it again'
    applied(forced)
    assert PrefixState.load(state.layout).vm('vm01').snapshot('s1') is not None


def test_take_a_running_vm_is_planned_live(state, virt):
    virt.domains['00000000-vm01'].running = True
    plan = plan_take(CONN, state, 's1', ['vm01'])
    assert plan.before['vm01']['state'] == 'running'
    assert plan.steps[0].startswith('vm01: live snapshot s1')


def test_revert_plan_predicts_images_and_power_and_applies_them(state, virt):
    applied(plan_take(CONN, state, 's1'))
    applied(plan_take(CONN, state, 's2'))
    plan = plan_revert(CONN, state, 's1', ['vm01'])
    assert plan.after['vm01']['snapshots'] == ['s1', 's2']
    assert plan.after['vm01']['state'] == 'shut off'  # it was off when s1 was taken
    result = applied(plan)
    assert result['reverted'] == dict(reverted=['vm01'], resumed=[], booted=[])
    root = PrefixState.load(state.layout).vm('vm01').disk('root')
    assert backing_of(root.path) == state.layout.image('vm01', 'root', 'qcow2')
    # s2's layers stay: reverting to s2 still works
    applied(plan_revert(CONN, state, 's2', ['vm01']))


def test_revert_refuses_a_damaged_layer_and_names_it(state):
    applied(plan_take(CONN, state, 's1'))
    image = state.vm('vm01').disk('root').parent
    with open(image, 'ab') as handle:
        handle.write(b'x')
    with pytest.raises(SnapshotError) as err:
        plan_revert(CONN, state, 's1')
    assert 'cannot revert to snapshot \'s1\' (nothing was changed)' in str(err.value)
    assert 'layer %s fails its checksum' % image in str(err.value)


def test_revert_to_an_unknown_snapshot_lists_the_existing_ones(state):
    applied(plan_take(CONN, state, 's1'))
    with pytest.raises(SnapshotError) as err:
        plan_revert(CONN, state, 'nope')
    assert 'existing snapshots: s1' in str(err.value)


def test_remove_plans_the_merges_and_keeps_the_other_snapshots(state):
    applied(plan_take(CONN, state, 's1'))
    applied(plan_take(CONN, state, 's2'))
    s1_layer = state.layout.overlay('vm01', 'root', 's1')  # the image s2 froze
    plan = plan_remove(CONN, state, 's1', ['vm01'])
    assert plan.after['vm01']['snapshots'] == ['s2']
    assert 'vm01: merged layer %s into %s' % (state.layout.image('vm01', 'root', 'qcow2'), s1_layer) in plan.steps
    result = applied(plan)
    assert 'merged layer %s into %s' % (state.layout.image('vm01', 'root', 'qcow2'), s1_layer) in result['removed']['vm01']
    vm = PrefixState.load(state.layout).vm('vm01')
    assert sorted(vm.disk('root').layers) == [s1_layer]
    assert backing_of(s1_layer) == vm.disk('root').backing  # merged onto the template
    assert not os.path.exists(state.layout.image('vm01', 'root', 'qcow2'))
    applied(plan_revert(CONN, state, 's2', ['vm01']))  # the remaining snapshot still reverts


def test_remove_what_is_not_there_changes_nothing(state):
    plan = plan_remove(CONN, state, 's1')
    assert not plan.changed and plan.before == plan.after == {}
