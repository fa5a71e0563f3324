# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot records: names, the layer tree of a disk, what compaction does next."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.lago.lago.plugins.module_utils import snapshot
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.prefix_records import Disk, Vm
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState

BASE = '/store/lab:debian12:r1'


def layer(backing, **extra):
    entry = dict(backing=backing, format='qcow2', sha256='0' * 64, size=1, frozen='t', owned=True, immutable=False)
    entry.update(extra)
    return entry


def vm_with(path, parent, layers, snapshots):
    disk = dict(name='root', dev='vda', path=path, parent=parent, format='qcow2', backing=BASE, layers=layers)
    return Vm(dict(libvirt_name='x-vm01', disks=[disk],
                   snapshots={name: dict(taken=taken, running=False, consistency='offline', disks={'root': top})
                              for name, (taken, top) in snapshots.items()}), 'vm01')


def state_of(**vms):
    return PrefixState(Layout('/p'), dict(version=1, path='/p', nets={}, vms={name: vm.data for name, vm in vms.items()}))


def linear():
    """s1 <- s2 <- s3 <- running image: the files images/r, r.s1, r.s2 frozen; r.s3 runs."""
    return vm_with('r.s3', 'r.s2',
                   {'r': layer(BASE), 'r.s1': layer('r'), 'r.s2': layer('r.s1')},
                   {'s1': ('2025-01-01T00:00:01Z', 'r'), 's2': ('2025-01-01T00:00:02Z', 'r.s1'),
                    's3': ('2025-01-01T00:00:03Z', 'r.s2')})


@pytest.mark.parametrize('name', ['s1', 'clean-install', 'v1+fix', 'A_1', 'x' * 64])
def test_valid_names(name):
    snapshot.check_name(name)


def test_pool_state_names_keep_their_dots():
    snapshot.check_name('v1.2', 'pool state')
    with pytest.raises(SnapshotError) as err:
        snapshot.check_name('-v1', 'pool state')
    assert "invalid pool state name '-v1'" in str(err.value)


@pytest.mark.parametrize('name', ['', '-s', '.hidden', 'a/b', 'a b', 'x' * 65, 's~2', 'a:b', None, 3, 'a.b', 's1.qcow2'])
def test_invalid_names_are_refused_by_name(name):
    with pytest.raises(SnapshotError) as err:
        snapshot.check_name(name)
    assert 'invalid snapshot name %r' % (name,) in str(err.value)


def test_chain_children_and_base():
    disk = linear().disks[0]
    assert snapshot.chain(disk, 'r.s2') == ['r.s2', 'r.s1', 'r']
    assert snapshot.base_of(disk, 'r.s1') == BASE
    assert snapshot.running_chain(disk) == ['r.s3', 'r.s2', 'r.s1', 'r']
    assert snapshot.children(disk) == {BASE: ['r'], 'r': ['r.s1'], 'r.s1': ['r.s2'], 'r.s2': ['r.s3']}


def test_nothing_to_compact_while_every_layer_is_a_snapshot():
    vm = linear()
    assert snapshot.next_compaction(vm, vm.disks[0]) is None


def test_removing_a_middle_snapshot_merges_its_layer_with_the_next():
    vm = linear()
    vm.remove_snapshot('s2')
    assert snapshot.next_compaction(vm, vm.disks[0]) == ('merge', 'r.s1', 'r.s2')


def test_removing_the_newest_snapshot_merges_into_the_running_image():
    vm = linear()
    vm.remove_snapshot('s3')
    assert snapshot.next_compaction(vm, vm.disks[0]) == ('merge', 'r.s2', 'r.s3')


def test_a_layer_nothing_sits_on_is_dropped():
    """After reverting to s1, s3's layer has no child: removing s3 drops it."""
    vm = vm_with('r.s1~2', 'r', {'r': layer(BASE), 'r.s1': layer('r'), 'r.s2': layer('r.s1')},
                 {'s1': ('1', 'r'), 's2': ('2', 'r.s1'), 's3': ('3', 'r.s2')})
    vm.remove_snapshot('s3')
    assert snapshot.next_compaction(vm, vm.disks[0]) == ('drop', 'r.s2', None)


def test_a_branch_point_stays_until_one_branch_is_left():
    vm = vm_with('r.s1~2', 'r', {'r': layer(BASE), 'r.s1': layer('r')}, {'s1': ('1', 'r'), 's2': ('2', 'r.s1')})
    vm.remove_snapshot('s1')
    assert snapshot.next_compaction(vm, vm.disks[0]) is None  # r has two children
    vm.remove_snapshot('s2')
    assert snapshot.next_compaction(vm, vm.disks[0]) == ('drop', 'r.s1', None)


@pytest.mark.parametrize('extra', [dict(immutable=True), dict(owned=False), dict(format='raw')])
def test_layers_that_must_not_be_written_are_never_merged_into(extra):
    vm = vm_with('r.s1', 'r', {'r': layer(None, **extra)}, {})
    assert snapshot.next_compaction(vm, vm.disks[0]) is None


def test_index_orders_by_time_and_lists_vms():
    state = state_of(vm01=linear(), vm02=vm_with('q', None, {}, {'s2': ('2025-01-01T00:00:00Z', 'q')}))
    assert snapshot.index(state) == {
        's2': dict(taken='2025-01-01T00:00:00Z', vms=['vm01', 'vm02']),
        's1': dict(taken='2025-01-01T00:00:01Z', vms=['vm01']),
        's3': dict(taken='2025-01-01T00:00:03Z', vms=['vm01'])}


def test_unknown_snapshot_lists_the_existing_ones():
    state = state_of(vm01=linear())
    with pytest.raises(SnapshotError) as err:
        snapshot.vms_with(state, 'nope')
    assert str(err.value) == "snapshot 'nope' does not exist in prefix /p; existing snapshots: s1, s2, s3"


def test_a_vm_without_the_snapshot_is_named():
    state = state_of(vm01=linear(), vm02=vm_with('q', None, {}, {}))
    with pytest.raises(SnapshotError) as err:
        snapshot.vms_with(state, 's1', ['vm01', 'vm02'])
    assert "snapshot 's1' was not taken of vm02; it exists for: vm01" in str(err.value)
    assert snapshot.vms_with(state, 's1') == ['vm01']


def test_a_vm_not_in_the_prefix_is_an_error():
    with pytest.raises(LagoError) as err:
        snapshot.having(state_of(vm01=linear()), 's4', ['vm09'])
    assert 'vms vm09 are not in the prefix (it has: vm01)' in str(err.value)


def test_overlay_names_avoid_frozen_layers(tmp_path):
    layout = Layout(str(tmp_path))
    image = layout.overlay('vm01', 'root', 's1')
    disk = Disk(dict(name='root', path=image, layers={}))
    assert snapshot.overlay_path(layout, 'vm01', disk, 's2') == layout.overlay('vm01', 'root', 's2')
    # reverting to s1 while s1's overlay is the running image reuses the name ...
    assert snapshot.overlay_path(layout, 'vm01', disk, 's1', replacing=image) == image
    # ... but once that image is frozen (as s2's layer) the new one is numbered.
    disk = Disk(dict(name='root', path=layout.overlay('vm01', 'root', 's2'), layers={image: {}}))
    assert snapshot.overlay_path(layout, 'vm01', disk, 's1', replacing=disk.path).endswith('vm01_root.s1~2.qcow2')


def test_replace_references_moves_every_use():
    vm = linear()
    disk = vm.disks[0]
    snapshot.replace_references(vm, disk, 'r.s2', 'r.s1')
    assert vm.snapshot('s3').disks['root'] == 'r.s1'
    assert disk.parent == 'r.s1'
