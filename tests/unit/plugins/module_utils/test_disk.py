# -*- coding: utf-8 -*-
"""disk pure parts: what a request needs, what conflicts, export naming."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import disk
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError

MIB = 1 << 20


def existing(fmt='qcow2', size=8 * MIB, backing_file=None):
    return dict(path='/p/d', format=fmt, size=size, backing_file=backing_file, backing_format=None)


def test_request_sizes_are_parsed_and_rounded_to_sectors():
    assert disk.DiskRequest('/p/d', size='8M').size == 8 * MIB
    assert disk.DiskRequest('/p/d', size=1000).size == 1024
    assert disk.DiskRequest('/p/d').size is None
    with pytest.raises(DiskError, match="'huge'"):
        disk.DiskRequest('/p/d', size='huge')


def test_plan_for_a_missing_disk_is_create():
    assert disk.action_for(None, disk.DiskRequest('/p/d', size='8M')) == 'create'


@pytest.mark.parametrize('size, action', [(None, None), ('8M', None), ('16M', 'grow')])
def test_plan_for_a_matching_disk(size, action):
    assert disk.action_for(existing(), disk.DiskRequest('/p/d', size=size)) == action


def test_shrinking_is_refused_even_with_force():
    for force in (False, True):
        with pytest.raises(DiskError) as err:
            disk.action_for(existing(), disk.DiskRequest('/p/d', size='4M'), force=force)
        assert 'shrinking' in str(err.value) and str(8 * MIB) in str(err.value)


@pytest.mark.parametrize('current, request_args, fragments', [
    (existing(fmt='raw'), dict(), ['format is raw, not qcow2']),
    (existing(), dict(backing_file='/s/t'), ['no backing file, not /s/t']),
    (existing(backing_file='/s/t'), dict(), ['overlay on /s/t, not a standalone disk']),
    (existing(backing_file='/s/a'), dict(backing_file='/s/b'), ['backing file is /s/a, not /s/b']),
    (existing(fmt='raw', backing_file='/s/a'), dict(backing_file='/s/b'), ['format is raw', 'backing file is /s/a']),
])
def test_conflicts_name_each_difference_unless_forced(current, request_args, fragments):
    request = disk.DiskRequest('/p/d', **request_args)
    with pytest.raises(DiskError) as err:
        disk.action_for(current, request)
    for fragment in fragments + ['force', '/p/d']:
        assert fragment in str(err.value)
    assert disk.action_for(current, request, force=True) == 'replace'


def test_same_backing_file_through_another_spelling_is_no_conflict():
    assert disk.conflicts(existing(backing_file='/s/./t'), disk.DiskRequest('/p/d', backing_file='/s/t')) == []
