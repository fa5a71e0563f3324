# -*- coding: utf-8 -*-
"""The prefix's internal repository: its path, the URLs guests use, a flavour it is not built for."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import repos
from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError


def test_repo_path_and_urls(tmp_path):
    assert repos.repo_path('/p', 'internal') == '/p/internal_repo/internal'
    for bad in ('', '../x', 'a/b', '.hidden'):
        with pytest.raises(RepoError, match='not a valid repository name'):
            repos.repo_path('/p', bad)
    urls = repos.repo_urls('192.168.200.1', 'internal')
    assert urls['url'] == 'http://192.168.200.1:8585/internal/'
    assert urls['apt_source'] == 'deb [trusted=yes] http://192.168.200.1:8585/internal/ ./'
    assert 'baseurl=http://192.168.200.1:8585/internal/\n' in urls['yum_repo']
    assert repos.repo_urls('fd00::1', 'r', 9000, ['deb']) == {
        'url': 'http://[fd00::1]:9000/r/', 'apt_source': 'deb [trusted=yes] http://[fd00::1]:9000/r/ ./'}


def test_build_repo_refuses_packages_of_an_unbuilt_flavour(tmp_path):
    with pytest.raises(RepoError, match='.deb packages were given but the repository is built for rpm only'):
        repos.build_repo(str(tmp_path / 'r'), {}, {'x_1_all.deb': '/x'}, ['rpm'])
    assert not (tmp_path / 'r').exists()
