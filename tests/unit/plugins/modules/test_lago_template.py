# -*- coding: utf-8 -*-
"""lago_template's execute(): fetch, remove and publish on tmp dirs with a file template repository."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.modules import lago_template

from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import listing, module_params


def run_template(make_run, check_mode=False, diff=False, **given):
    run = make_run(check_mode=check_mode, diff=diff, **module_params(lago_template.ARGUMENT_SPEC, **given))
    return run.result(lago_template.execute(run))


def without_diff(result):
    return dict((key, value) for key, value in result.items() if key != 'diff')


def test_present_check_mode_predicts_the_fetch(make_run, tmp_path, repo):
    store = str(tmp_path / 'store')
    args = dict(template='base', template_repo=repo.path, template_store=store)
    planned = run_template(make_run, check_mode=True, diff=True, **args)
    assert planned['changed'] is True and planned['version'] == 'v2' and not os.path.exists(store)
    fetched = run_template(make_run, **args)
    assert 'diff' not in fetched and fetched['downloaded'] is True
    assert fetched['hash'] == planned['hash'] == open(os.path.join(repo.root, 'base', 'v2.hash')).read()
    assert fetched['path'] == planned['path'] == os.path.join(store, 'lab:base:v2')
    assert planned['diff'] == {'before': {'lab:base:v2': {'present': False}},
                               'after': {'lab:base:v2': {'present': True, 'hash': fetched['hash'], 'users': []}}}
    again = run_template(make_run, diff=True, **args)
    assert again['changed'] is False and again['downloaded'] is False
    assert again['diff']['before'] == again['diff']['after'] == planned['diff']['after']


def test_absent_refuses_while_a_live_prefix_uses_it(make_run, tmp_path, repo, owner):
    store = str(tmp_path / 'store')
    args = dict(template='base', template_repo=repo.path, template_store=store)
    for version in ('v1', 'v2'):
        run_template(make_run, template_version=version, **args)
    template_store.add_user(store, 'lab:base:v1', owner)
    with pytest.raises(LagoError) as err:
        run_template(make_run, state='absent', **args)
    assert 'lab:base:v1' in str(err.value) and owner in str(err.value) and 'force' in str(err.value)
    assert os.path.isfile(os.path.join(store, 'lab:base:v2'))  # refused before removing any
    os.unlink(owner)
    planned = run_template(make_run, check_mode=True, state='absent', **args)
    assert planned == dict(changed=True, removed=['lab:base:v1', 'lab:base:v2'])
    assert os.path.isfile(os.path.join(store, 'lab:base:v1'))
    assert run_template(make_run, state='absent', **args) == planned
    assert [name for name in listing(store) if not name.startswith('.locks/')] == []  # locks stay, empty
    assert run_template(make_run, state='absent', **args) == dict(changed=False, removed=[])


def test_absent_names_a_bad_template_version(make_run, tmp_path, repo):
    with pytest.raises(LagoError) as err:
        run_template(make_run, state='absent', template='base', template_version='../x', template_repo=repo.path,
                     template_store=str(tmp_path / 'store'))
    assert 'template_version' in str(err.value) and "'../x'" in str(err.value)


def test_published_check_mode_real_run_and_again(make_run, tmp_path):
    image = str(tmp_path / 'built.qcow2')
    subprocess.check_call(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '8M'])
    repo_path = str(tmp_path / 'pub' / 'repo.json')
    args = dict(state='published', template='built', template_version='v1', template_repo=repo_path, image=image,
                metadata={'distro': 'debian'}, timestamp=5)
    planned = run_template(make_run, check_mode=True, diff=True, **args)
    assert planned['changed'] is True and planned['action'] == 'created' and not os.path.exists(repo_path)
    published = run_template(make_run, diff=True, **args)
    assert without_diff(published) == without_diff(planned)
    assert published['diff'] == planned['diff']
    assert published['diff']['after']['pub:built:v1']['handle'] == 'built/v1'
    assert json.load(open(repo_path))['templates']['built']['versions']['v1']['timestamp'] == 5
    again = run_template(make_run, **args)
    assert again['changed'] is False and again['action'] == 'unchanged' and 'diff' not in again


def test_published_without_a_repository_path_names_template_repo(make_run, tmp_path):
    with pytest.raises(LagoError) as err:
        run_template(make_run, state='published', template='t', template_version='v1', image=str(tmp_path / 'i'),
                     metadata={'distro': 'd'})
    assert 'template_repo' in str(err.value)
    assert listing(str(tmp_path)) == []
