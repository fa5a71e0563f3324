# -*- coding: utf-8 -*-
"""lago.lago.user_path: a user's path resolved against the controller's working directory."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lago.lago.plugins.filter.user_path import FilterModule, user_path


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    return os.getcwd()


def test_relative_path_is_joined_to_the_working_directory(cwd):
    assert user_path('LagoInitFile') == os.path.join(cwd, 'LagoInitFile')
    assert user_path('debs/') == os.path.join(cwd, 'debs')
    assert user_path('./lab/../lab2') == os.path.join(cwd, 'lab2')
    assert user_path('.lago') == os.path.join(cwd, '.lago')


def test_absolute_paths_urls_and_empty_pass_unchanged(cwd):
    for value in ('/srv/lab', '/var/lib/lago/repo/repo.json', 'https://example.org/repo/repo.json',
                  'http://10.0.0.1:8585/repo.json', 'file:///srv/repo.json', ''):
        assert user_path(value) == value


def test_home_and_environment_are_expanded(cwd, monkeypatch):
    monkeypatch.setenv('HOME', '/home/someone')
    monkeypatch.setenv('LAB_ROOT', '/srv/labs')
    assert user_path('~/lab') == '/home/someone/lab'
    assert user_path('$LAB_ROOT/one') == '/srv/labs/one'
    monkeypatch.setenv('LAB_NAME', 'two')
    assert user_path('labs/$LAB_NAME') == os.path.join(cwd, 'labs', 'two')


def test_a_list_is_resolved_item_by_item(cwd):
    assert user_path(['debs', '/abs/rpms', '']) == [os.path.join(cwd, 'debs'), '/abs/rpms', '']
    assert user_path([]) == []


def test_follows_the_working_directory_of_the_call(tmp_path, monkeypatch):
    one, two = tmp_path / 'one', tmp_path / 'two'
    one.mkdir()
    two.mkdir()
    monkeypatch.chdir(str(one))
    first = user_path('x')
    monkeypatch.chdir(str(two))
    assert (first, user_path('x')) == (str(one / 'x'), str(two / 'x'))


@pytest.mark.parametrize('value', [3, None, {'path': 'x'}, ['ok', 5]])
def test_anything_but_paths_is_an_error_naming_the_value(cwd, value):
    with pytest.raises(AnsibleFilterError) as err:
        user_path(value)
    assert 'lago.lago.user_path: expected a path or a list of paths' in str(err.value)


def test_registered_under_its_name():
    assert FilterModule().filters() == {'user_path': user_path}
