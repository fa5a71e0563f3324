# -*- coding: utf-8 -*-
"""dnf reposync's shared cache: the directory of a section."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import repo_sync, yum_repo
from ansible_collections.lago.lago.tests.unit.plugins.module_utils.test_yum_repo import REPO_FILE


@pytest.fixture
def repo_file(tmp_path):
    path = tmp_path / 'lab.repo'
    path.write_text(REPO_FILE)
    return str(path)


def test_sync_path_depends_on_urls_releasever_and_arch(repo_file):
    parsed = yum_repo.parse_repo_file(repo_file)
    one = repo_sync.sync_path('/cache', 'base', parsed['base'], '9')
    assert os.path.dirname(one) == '/cache' and os.path.basename(one).startswith('base-')
    assert one == repo_sync.sync_path('/cache', 'base', parsed['base'], '9')
    assert one != repo_sync.sync_path('/cache', 'base', parsed['base'], '8')
    assert one != repo_sync.sync_path('/cache', 'base', parsed['base'], '9', 'aarch64')
    assert one != repo_sync.sync_path('/cache', 'base', parsed['updates'], '9')
    assert '/' not in os.path.basename(repo_sync.sync_path('/cache', 'a/../b', parsed['base']))
