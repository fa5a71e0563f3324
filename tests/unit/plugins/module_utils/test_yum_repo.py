# -*- coding: utf-8 -*-
"""yum .repo files: sections in order, their errors, which sections to synchronize."""

from __future__ import absolute_import, division, print_function

import pytest

from ansible_collections.lago.lago.plugins.module_utils import yum_repo
from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError


REPO_FILE = """\
[base]
name=Base $releasever
baseurl=http://mirror.example.invalid/base/$releasever/
  http://mirror2.example.invalid/base/$releasever/
gpgcheck=0

[updates]
name=Updates
baseurl=file:///srv/updates%20x/
enabled=1

[extras]
name=Extras
mirrorlist=http://mirror.example.invalid/extras
enabled=0

[broken]
name=No URL
enabled=true
"""


@pytest.fixture
def repo_file(tmp_path):
    path = tmp_path / 'lab.repo'
    path.write_text(REPO_FILE)
    return str(path)


def test_parse_sections_in_order(repo_file):
    parsed = yum_repo.parse_repo_file(repo_file)
    assert list(parsed) == ['base', 'updates', 'extras', 'broken']
    assert parsed['base']['baseurl'] == ['http://mirror.example.invalid/base/$releasever/',
                                         'http://mirror2.example.invalid/base/$releasever/']
    assert parsed['base']['enabled'] is True
    assert parsed['updates']['baseurl'] == ['file:///srv/updates%20x/']  # no interpolation
    assert parsed['extras']['enabled'] is False
    assert parsed['extras']['mirrorlist'] == 'http://mirror.example.invalid/extras'
    assert parsed['broken']['baseurl'] == []
    assert parsed['base']['options']['gpgcheck'] == '0'


def test_parse_errors(tmp_path):
    with pytest.raises(RepoError, match='does not exist'):
        yum_repo.parse_repo_file(str(tmp_path / 'missing.repo'))
    dup = tmp_path / 'dup.repo'
    dup.write_text('[a]\nbaseurl=file:///x\n[a]\nbaseurl=file:///y\n')
    with pytest.raises(RepoError, match=r'dup\.repo cannot be read.*a'):
        yum_repo.parse_repo_file(str(dup))
    bad = tmp_path / 'bad.repo'
    bad.write_text('[a]\nbaseurl=file:///x\nenabled=maybe\n')
    with pytest.raises(RepoError, match=r"section \[a\]: enabled='maybe'"):
        yum_repo.parse_repo_file(str(bad))


def test_choose_sections(repo_file):
    parsed = yum_repo.parse_repo_file(repo_file)
    assert yum_repo.choose_sections(parsed, ['updates', 'extras', 'updates'], repo_file) == ['updates', 'extras']
    with pytest.raises(RepoError) as err:
        yum_repo.choose_sections(parsed, ['updates', 'nosuch'], repo_file)
    assert "no section 'nosuch'" in str(err.value) and repo_file in str(err.value)
    assert 'it has: base, updates, extras, broken' in str(err.value)
    # default: the enabled ones; 'broken' has no URL, 'base' needs releasever
    with pytest.raises(RepoError, match=r'section \[base\] uses \$releasever'):
        yum_repo.choose_sections(parsed, None, repo_file)
    with pytest.raises(RepoError, match=r'section \[broken\] has no baseurl, mirrorlist or metalink'):
        yum_repo.choose_sections(parsed, None, repo_file, releasever='9')
    assert yum_repo.choose_sections(parsed, ['base', 'updates'], repo_file, releasever='9') == ['base', 'updates']


def test_choose_sections_none_enabled(tmp_path):
    path = tmp_path / 'off.repo'
    path.write_text('[a]\nbaseurl=file:///x\nenabled=0\n')
    with pytest.raises(RepoError, match='no enabled section'):
        yum_repo.choose_sections(yum_repo.parse_repo_file(str(path)), None, str(path))
