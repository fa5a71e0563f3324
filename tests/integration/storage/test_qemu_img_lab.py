# -*- coding: utf-8 -*-
"""qemu_img against the real qemu-img: layering, conversion, snapshots, and its errors."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError
from storage_lab import make_image, sha

pytestmark = pytest.mark.lab

MIB = 1 << 20


@pytest.fixture
def base(tmp_path):
    return make_image(str(tmp_path / 'base.qcow2'), 'base')


def test_create_empty_in_both_formats(tmp_path):
    qemu_img.create(str(tmp_path / 'd.qcow2'), size='8M')
    qemu_img.create(str(tmp_path / 'd.raw'), size=MIB, fmt='raw', preallocation='falloc')
    assert qemu_img.info(str(tmp_path / 'd.qcow2'))[0]['virtual-size'] == 8 * MIB
    assert qemu_img.image_format(str(tmp_path / 'd.raw')) == 'raw'
    assert os.path.getsize(str(tmp_path / 'd.raw')) == MIB


def test_overlay_records_its_backing_format_and_chain(tmp_path, base):
    overlay = str(tmp_path / 'overlay.qcow2')
    qemu_img.create(overlay, backing_file=base, backing_format='qcow2', size='16M')
    chain = qemu_img.info(overlay)
    assert [layer['filename'] for layer in chain] == [overlay, base]
    assert chain[0]['backing-filename-format'] == 'qcow2'
    assert chain[0]['virtual-size'] == 16 * MIB
    assert qemu_img.backing_path(chain[0], overlay) == base


def test_missing_backing_file_carries_qemu_message_and_leaves_nothing(tmp_path):
    overlay = str(tmp_path / 'overlay.qcow2')
    with pytest.raises(DiskError) as err:
        qemu_img.create(overlay, backing_file=str(tmp_path / 'nope.qcow2'), backing_format='qcow2')
    assert 'nope.qcow2' in str(err.value) and 'No such file' in str(err.value)
    assert not os.path.exists(overlay)


def test_info_of_a_missing_image_says_so(tmp_path):
    with pytest.raises(DiskError, match='Could not open'):
        qemu_img.info(str(tmp_path / 'missing.qcow2'))


def test_rebase_commit_and_convert(tmp_path, base):
    other = make_image(str(tmp_path / 'other.qcow2'), 'other')
    top = str(tmp_path / 'top.qcow2')
    qemu_img.create(top, backing_file=base, backing_format='qcow2')
    # Safe rebase onto another base keeps what the guest sees.
    flat_before = str(tmp_path / 'flat1.raw')
    qemu_img.convert(top, flat_before, out_format='raw')
    qemu_img.rebase(top, other, 'qcow2')
    flat_after = str(tmp_path / 'flat2.raw')
    qemu_img.convert(top, flat_after, out_format='raw')
    assert sha(flat_before) == sha(flat_after)
    # Unsafe rebase only renames the backing file.
    os.rename(other, str(tmp_path / 'renamed.qcow2'))
    qemu_img.rebase(top, 'renamed.qcow2', 'qcow2', unsafe=True)
    assert qemu_img.info(top)[1]['filename'].endswith('renamed.qcow2')
    # Commit writes the top's data down; flatten leaves no backing file.
    qemu_img.commit(top)
    qemu_img.rebase(top, '')
    assert len(qemu_img.info(top)) == 1
    packed = str(tmp_path / 'packed.qcow2')
    qemu_img.convert(top, packed, compress=True)
    assert qemu_img.check(packed)['rc'] == 0


def test_convert_keeps_only_the_top_layer_on_a_backing_file(tmp_path, base):
    top = str(tmp_path / 'top.qcow2')
    qemu_img.create(top, backing_file=base, backing_format='qcow2')
    layer = str(tmp_path / 'layer.qcow2')
    qemu_img.convert(top, layer, backing_file=base, backing_format='qcow2')
    assert qemu_img.info(layer)[0]['backing-filename'] == base
    assert os.path.getsize(layer) < os.path.getsize(base)


def test_resize_grows_and_refuses_silent_shrink(tmp_path):
    disk = str(tmp_path / 'd.qcow2')
    qemu_img.create(disk, size='4M')
    qemu_img.resize(disk, '8M')
    assert qemu_img.info(disk)[0]['virtual-size'] == 8 * MIB
    with pytest.raises(DiskError, match='shrink'):
        qemu_img.resize(disk, '4M')
    qemu_img.resize(disk, '4M', shrink=True)
    assert qemu_img.info(disk)[0]['virtual-size'] == 4 * MIB


def test_check_of_raw_is_an_error_with_qemu_message(tmp_path):
    disk = str(tmp_path / 'd.raw')
    qemu_img.create(disk, size='1M', fmt='raw')
    with pytest.raises(DiskError, match='does not support checks'):
        qemu_img.check(disk)


def test_internal_snapshots(tmp_path, base):
    assert qemu_img.snapshot_list(base) == []
    qemu_img.snapshot_create(base, 'clean')
    qemu_img.snapshot_create(base, 'second')
    assert [snap['name'] for snap in qemu_img.snapshot_list(base)] == ['clean', 'second']
    qemu_img.snapshot_apply(base, 'clean')
    qemu_img.snapshot_delete(base, 'second')
    assert [snap['name'] for snap in qemu_img.snapshot_list(base)] == ['clean']
    with pytest.raises(DiskError, match='snapshot'):
        qemu_img.snapshot_apply(base, 'second')
