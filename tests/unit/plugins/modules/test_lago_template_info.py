# -*- coding: utf-8 -*-
"""lago_template_info's execute(): the repository and the store, never a change."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.modules import lago_template_info

from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import module_params


def run_info(make_run, check_mode=False, **given):
    run = make_run(check_mode=check_mode, diff=True, **module_params(lago_template_info.ARGUMENT_SPEC, **given))
    return run.result(lago_template_info.execute(run))


def test_repository_and_store_with_users(make_run, tmp_path, repo, owner):
    store = str(tmp_path / 'store')
    assert run_info(make_run, template_store=store) == dict(changed=False, repository=None, store=[], downloading=[],
                                                            diff=dict(before={}, after={}))
    template_store.fetch(store, template_repo.load_repository(repo.path).version('base', 'v1'))
    template_store.add_user(store, 'lab:base:v1', owner)
    for check_mode in (True, False):
        info = run_info(make_run, check_mode=check_mode, template_repo=repo.path, template_store=store,
                        template='base')
        assert info['changed'] is False
        assert info['repository']['templates']['base']['latest'] == 'v2'
        assert [(entry['name'], entry['in_use']) for entry in info['store']] == [('lab:base:v1', True)]
        assert info['store'][0]['users'] == [dict(path=owner, uuid='0123456789abcdef0123456789abcdef', live=True)]
    other = run_info(make_run, template_repo=repo.path, template_store=store, template='other')
    assert other['repository']['templates'] == {} and other['store'] == []


def test_a_missing_repository_is_named(make_run, tmp_path):
    missing = str(tmp_path / 'nowhere.json')
    with pytest.raises(LagoError) as err:
        run_info(make_run, template_repo=missing, template_store=str(tmp_path / 'store'))
    assert missing in str(err.value) and 'cannot read' in str(err.value)


def test_the_templates_an_init_file_needs_and_their_downloads(make_run, tmp_path, repo):
    store = str(tmp_path / 'store')
    init_file = tmp_path / 'LagoInitFile'
    init_file.write_text('domains:\n  vm01:\n    nics: [{net: lan}]\n    disks:\n'
                         '      - {type: template, template_name: base, name: root, dev: vda}\n'
                         'nets:\n  lan: {type: nat, management: true}\n')
    info = run_info(make_run, template_repo=repo.path, template_store=store, init_file=str(init_file),
                    prefix_path=str(tmp_path / 'prefix'), downloads=['lab:base:v2'])
    assert info['needed'] == [dict(name='lab:base:v2', template='base', version='v2', stored=False)]
    assert info['downloads'] == [dict(name='lab:base:v2', state='missing')]
    assert info['changed'] is False and not (tmp_path / 'prefix').exists()


def test_an_init_file_needs_a_repository(make_run, tmp_path):
    with pytest.raises(LagoError) as err:
        run_info(make_run, template_store=str(tmp_path / 'store'), init_file=str(tmp_path / 'LagoInitFile'))
    assert 'init_file needs template_repo' in str(err.value)
