# -*- coding: utf-8 -*-
"""Package files: local directories of packages, the same name with other content."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import repo_packages
from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError


def test_local_packages_errors(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no packages')
    with pytest.raises(RepoError) as err:
        repo_packages.local_packages([str(empty)], 'rpm')
    assert str(err.value) == 'local_rpm_dirs: %s holds no .rpm packages' % empty
    with pytest.raises(RepoError, match=r'local_deb_dirs: %s does not exist' % (tmp_path / 'nope')):
        repo_packages.local_packages([str(tmp_path / 'nope')], 'deb')
    with pytest.raises(RepoError, match='is not a directory'):
        repo_packages.local_packages([str(empty / 'readme.txt')], 'deb')


def test_same_name_other_content_is_refused(tmp_path):
    for sub, content in (('a', b'one'), ('b', b'two'), ('c', b'one')):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / 'x_1_all.deb').write_bytes(content)
    same = repo_packages.local_packages([str(tmp_path / 'a'), str(tmp_path / 'c')], 'deb')
    assert same == {'x_1_all.deb': str(tmp_path / 'a' / 'x_1_all.deb')}
    with pytest.raises(RepoError) as err:
        repo_packages.local_packages([str(tmp_path / 'a'), str(tmp_path / 'b')], 'deb')
    assert 'two different packages are named x_1_all.deb' in str(err.value)
    assert str(tmp_path / 'b' / 'x_1_all.deb') in str(err.value)
