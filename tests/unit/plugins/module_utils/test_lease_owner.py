# -*- coding: utf-8 -*-
"""Lease owners: reading, creating (also racing), standalone owners, removal."""

from __future__ import absolute_import, division, print_function

import errno
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import lease_owner
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError


@pytest.fixture
def lease_dir(tmp_path):
    return str(tmp_path / 'subnets')


def test_owner_errors(tmp_path):
    with pytest.raises(LeaseError, match='does not exist'):
        lease_owner.read_owner(str(tmp_path / 'nope' / 'uuid'))
    bad = tmp_path / 'uuid'
    bad.write_text('not-a-uuid\n')
    with pytest.raises(LeaseError, match='does not hold a 32-character hex uuid'):
        lease_owner.read_owner(str(bad))


def test_standalone_owner_is_deterministic(lease_dir):
    planned, created = lease_owner.standalone_owner(lease_dir, 'net1', create=False)
    assert not created and not os.path.exists(planned.path)
    owner, created = lease_owner.standalone_owner(lease_dir, 'net1')
    assert created and owner == planned
    assert lease_owner.read_owner(owner.path) == owner
    assert lease_owner.standalone_owner(lease_dir, 'net2', create=False)[0].uuid != owner.uuid
    assert lease_owner.remove_owner(owner)
    assert not os.path.exists(os.path.dirname(owner.path))


def test_ensure_owner_loser_of_a_race_returns_the_winners_uuid(tmp_path, monkeypatch):
    path = str(tmp_path / 'p' / 'uuid')
    real_link = os.link

    def link_after_winner(src, dst):
        with open(dst, 'w') as handle:  # the other process got there first
            handle.write('a' * 32 + '\n')
        return real_link(src, dst)

    monkeypatch.setattr(lease_owner.os, 'link', link_after_winner)
    owner, created = lease_owner.ensure_owner(path)
    assert (owner.uuid, created) == ('a' * 32, False)
    assert os.listdir(str(tmp_path / 'p')) == ['uuid']


def test_ensure_owner_without_hard_links_creates_exclusively(tmp_path, monkeypatch):
    def no_links(_src, _dst):
        raise OSError(errno.EPERM, 'Operation not permitted')

    monkeypatch.setattr(lease_owner.os, 'link', no_links)
    owner, created = lease_owner.ensure_owner(str(tmp_path / 'p' / 'uuid'), 'b' * 32)
    assert created and lease_owner.read_owner(owner.path) == owner
    assert os.listdir(str(tmp_path / 'p')) == ['uuid']
    assert lease_owner.ensure_owner(owner.path) == (owner, False)
