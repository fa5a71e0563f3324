# -*- coding: utf-8 -*-
"""The VM side of collect: artifact names, the plan, and the tarball."""

from __future__ import absolute_import, division, print_function

import io
import os
import tarfile

import pytest

from ansible_collections.lago.lago.plugins.module_utils import artifacts
from ansible_collections.lago.lago.plugins.module_utils.artifacts import ArtifactError


def members(path):
    with tarfile.open(path) as tar:
        return {member.name: (tar.extractfile(member).read() if member.isreg() else member.type)
                for member in tar.getmembers()}


@pytest.fixture
def tree(tmp_path):
    logs = tmp_path / 'var' / 'log'
    (logs / 'sub').mkdir(parents=True)
    (logs / 'a.log').write_text('a\n')
    (logs / 'sub' / 'b.log').write_text('b\n')
    os.symlink('a.log', str(logs / 'link'))
    (tmp_path / 'single.conf').write_text('conf\n')
    return tmp_path


@pytest.mark.parametrize('path, name', [
    ('/var/log', '_var_log'),
    ('/var/log/', '_var_log'),
    ('/var/log/lago-demo.log', '_var_log_lago-demo.log'),
    ('/etc//ovirt-engine', '_etc_ovirt-engine'),
])
def test_names_are_lagos(path, name):
    assert artifacts.artifact_name(path) == name


def test_plan_keeps_order_drops_repeats_and_lists_missing(tree):
    logs, conf, gone = str(tree / 'var' / 'log'), str(tree / 'single.conf'), str(tree / 'gone')
    entries, missing = artifacts.plan([logs, gone, conf, logs + '/'])
    assert entries == [(logs, artifacts.artifact_name(logs)), (conf, artifacts.artifact_name(conf))]
    assert missing == [gone]


def test_plan_refuses_relative_paths():
    with pytest.raises(ArtifactError, match="'var/log' is not absolute"):
        artifacts.plan(['var/log'])


def test_archive_holds_each_path_under_its_name(tree, tmp_path):
    logs, conf = str(tree / 'var' / 'log'), str(tree / 'single.conf')
    dest = str(tmp_path / 'out.tar.gz')
    issues = artifacts.write_archive(dest, [(logs, 'LOGS'), (conf, 'CONF')])
    assert issues == []
    got = members(dest)
    assert got['LOGS/a.log'] == b'a\n' and got['LOGS/sub/b.log'] == b'b\n' and got['CONF'] == b'conf\n'
    assert got['LOGS/link'] == tarfile.SYMTYPE and got['LOGS'] == tarfile.DIRTYPE
    assert oct(os.stat(dest).st_mode & 0o777) == '0o600'


def test_a_linked_artifact_is_followed_and_the_archive_never_holds_itself(tree):
    logs = str(tree / 'var' / 'log')
    os.symlink(logs, str(tree / 'loglink'))
    dest = os.path.join(logs, 'inside.tar.gz')
    artifacts.write_archive(dest, [(str(tree / 'loglink'), 'L')])
    got = members(dest)
    assert got['L/a.log'] == b'a\n'
    assert 'L/inside.tar.gz' not in got


def test_unreadable_and_vanishing_files_are_issues_not_errors(tree, tmp_path, monkeypatch):
    logs = str(tree / 'var' / 'log')
    real_open = open

    def flaky_open(path, *args, **kwargs):
        if str(path).endswith('b.log'):
            raise IOError(13, 'Permission denied')
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(artifacts, 'open', flaky_open, raising=False)
    dest = str(tmp_path / 'out.tar.gz')
    issues = artifacts.write_archive(dest, [(logs, 'L')])
    assert issues == [dict(path=os.path.join(logs, 'sub', 'b.log'), issue='not archived: Permission denied')]
    assert members(dest)['L/a.log'] == b'a\n'


def test_a_file_that_shrinks_is_padded_so_the_archive_stays_readable():
    reader = artifacts._ExactReader(io.BytesIO(b'abc'), 5)
    assert reader.read(4) == b'abc\0' and reader.read() == b'\0' and reader.short


def test_an_unwritable_archive_is_an_error_and_leaves_nothing(tree, tmp_path):
    dest = str(tmp_path / 'missing-dir' / 'out.tar.gz')
    with pytest.raises(ArtifactError, match='cannot write the artifacts archive'):
        artifacts.write_archive(dest, [(str(tree / 'single.conf'), 'C')])
    assert not os.path.exists(dest)
