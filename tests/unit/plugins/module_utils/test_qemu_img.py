# -*- coding: utf-8 -*-
"""qemu_img pure parts: sizes (values.parse_size, sectors) and how argv lists are built."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError


@pytest.mark.parametrize('value, expected', [
    (1073741824, 1073741824),
    ('1073741824', 1073741824),
    ('10G', 10 * 1024 ** 3),
    ('512M', 512 * 1024 ** 2),
    ('512m', 512 * 1024 ** 2),
    ('1.5G', 1536 * 1024 ** 2),
    ('64K', 65536),
    ('2T', 2 * 1024 ** 4),
    ('10GiB', 10 * 1024 ** 3),
    ('10GB', 10 * 1024 ** 3),
    (' 3 M ', 3 * 1024 ** 2),
    ('0.5K', 512),
    ('0.3K', 308),  # a fraction of a byte rounds up
    (0, 0),
])
def test_parse_size(value, expected):
    assert qemu_img.parse_size(value) == expected


@pytest.mark.parametrize('value', ['abc', '10X', '', 'G', '-1G', '1..5G', '1,5G', None, True, -5, 1.5, '10 G B'])
def test_parse_size_rejects_and_names_the_value(value):
    with pytest.raises(DiskError) as err:
        qemu_img.parse_size(value)
    assert str(err.value).startswith('size: %r' % (value,))


def test_round_to_sector():
    assert qemu_img.round_to_sector(1) == 512
    assert qemu_img.round_to_sector(512) == 512
    assert qemu_img.round_to_sector(1025) == 1536


@pytest.mark.parametrize('name, protocol', [
    ('nbd:localhost:10809', True), ('http://host/x.qcow2', True), ('json:{}', True),
    ('/var/lib/lago/store/repo:el:v1', False), ('./el:v1', False), ('base.qcow2', False)])
def test_is_protocol(name, protocol):
    assert qemu_img.is_protocol(name) is protocol


def test_backing_path_resolves_against_the_image_directory():
    info = {'backing-filename': '../store/base.qcow2', 'full-backing-filename': 'whatever'}
    assert qemu_img.backing_path(info, '/prefix/images/disk.qcow2') == '/prefix/store/base.qcow2'
    assert qemu_img.backing_path({'backing-filename': '/abs/b'}, 'rel/disk') == '/abs/b'
    assert qemu_img.backing_path({}, '/x') is None


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake_run(argv, check=True):
        seen.append(argv)
        return 0, '[]', ''
    monkeypatch.setattr(qemu_img, 'run', fake_run)
    return seen


def test_create_overlay_always_passes_the_backing_format(calls):
    qemu_img.create('/p/disk.qcow2', backing_file='/s/base', backing_format='qcow2')
    assert calls == [['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', '/s/base', '-F', 'qcow2', '/p/disk.qcow2']]


def test_create_overlay_without_backing_format_is_refused(calls):
    with pytest.raises(DiskError, match='backing format'):
        qemu_img.create('/p/disk.qcow2', backing_file='/s/base')
    assert calls == []


def test_create_empty_with_size_and_preallocation(calls):
    qemu_img.create('/p/d.raw', size='1G', fmt='raw', preallocation='falloc')
    assert calls == [['qemu-img', 'create', '-q', '-f', 'raw', '-o', 'preallocation=falloc', '/p/d.raw',
                      str(1024 ** 3)]]


def test_create_empty_needs_a_size(calls):
    with pytest.raises(DiskError, match='needs a size'):
        qemu_img.create('/p/d.qcow2')


def test_rebase_unsafe_and_flatten(calls):
    qemu_img.rebase('/p/d', './el:v1', 'qcow2', unsafe=True)
    qemu_img.rebase('/p/d', '')
    assert calls == [['qemu-img', 'rebase', '-q', '-u', '-b', './el:v1', '-F', 'qcow2', '/p/d'],
                     ['qemu-img', 'rebase', '-q', '-b', '', '/p/d']]


def test_convert_compressed_layered(calls):
    qemu_img.convert('/p/d', '/o/d', compress=True, backing_file='/s/b', backing_format='qcow2')
    assert calls == [['qemu-img', 'convert', '-O', 'qcow2', '-c', '-B', '/s/b', '-F', 'qcow2', '/p/d', '/o/d']]


def test_snapshot_calls(calls):
    qemu_img.snapshot_create('/p/d', 's1')
    qemu_img.snapshot_apply('/p/d', 's1')
    qemu_img.snapshot_delete('/p/d', 's1')
    assert [c[1:3] for c in calls] == [['snapshot', '-c'], ['snapshot', '-a'], ['snapshot', '-d']]
