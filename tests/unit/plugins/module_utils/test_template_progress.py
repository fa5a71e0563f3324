# -*- coding: utf-8 -*-
"""template_progress: what a fetch writes while it downloads, and what a playbook reads of it."""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import time

from ansible_collections.lago.lago.plugins.module_utils import template_progress, template_repo

NAME = 'lab:debian12:v1'


def test_a_running_download_shows_its_bytes_and_percent_then_nothing_once_it_ends(tmp_path):
    store = str(tmp_path)
    assert template_progress.status(store, NAME)['state'] == 'missing'
    reporter = template_progress.Reporter(os.path.join(store, NAME), NAME)
    reporter(50, 200, 1)
    reporter(150, 200, 2, 'retry 1 of 4 in 1.0s: cut short')
    view = template_progress.status(store, NAME)
    assert view == dict(name=NAME, state='downloading', received=150, total=200, percent=75, attempt=2,
                        note='retry 1 of 4 in 1.0s: cut short')
    reporter.done()
    assert os.listdir(store) == []
    (tmp_path / NAME).write_bytes(b'image')
    assert template_progress.status(store, NAME) == dict(name=NAME, state='stored')


def test_the_progress_of_a_process_that_is_gone_says_killed(tmp_path):
    gone = subprocess.Popen([sys.executable, '-c', 'pass'])
    gone.wait()
    reporter = template_progress.Reporter(str(tmp_path / NAME), NAME)
    reporter.record['pid'] = gone.pid
    reporter(10, None, 1)
    view = template_progress.status(str(tmp_path), NAME)
    assert view['state'] == 'killed' and view['percent'] is None


def test_downloads_waits_while_one_runs_and_returns_once_none_does(tmp_path):
    (tmp_path / NAME).write_bytes(b'image')
    began = time.monotonic()
    assert [view['state'] for view in template_progress.downloads(str(tmp_path), [NAME], wait=30)] == ['stored']
    assert time.monotonic() - began < 5, 'nothing runs: no wait'
    reporter = template_progress.Reporter(str(tmp_path / 'lab:other:v1'), 'lab:other:v1')
    reporter(1, 2, 1)
    began = time.monotonic()
    views = template_progress.downloads(str(tmp_path), [NAME, 'lab:other:v1'], wait=0.6)
    assert 0.5 <= time.monotonic() - began < 5
    assert [view['state'] for view in views] == ['stored', 'downloading']


def test_templates_needed_lists_each_store_entry_once_with_the_latest_version(tmp_path):
    repo = template_repo.parse_repository(dict(
        name='lab', sources=dict(local=dict(type='file', args=dict(root=str(tmp_path)))),
        templates=dict(debian12=dict(versions=dict(v1=dict(source='local', handle='d/v1', timestamp=1),
                                                   v2=dict(source='local', handle='d/v2', timestamp=2))))), 'repo.json')
    root = dict(type='template', template_type='lago', template_name='debian12')
    spec = dict(domains=dict(
        vm01=dict(disks=[dict(root), dict(type='empty')]),
        vm02=dict(disks=[dict(root)]),
        vm03=dict(disks=[dict(root, template_version='v1'), dict(type='template', template_type='qcow2', path='/x')])))
    (tmp_path / 'lab:debian12:v1').write_bytes(b'image')
    assert template_progress.templates_needed(spec, repo, str(tmp_path)) == [
        dict(name='lab:debian12:v2', template='debian12', version='v2', stored=False),
        dict(name='lab:debian12:v1', template='debian12', version='v1', stored=True)]
