# -*- coding: utf-8 -*-
"""reposetup's pure logic: .repo parsing, section choice, flavours, URLs, cache keys."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import repos, reposerver
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
    parsed = repos.parse_repo_file(repo_file)
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
        repos.parse_repo_file(str(tmp_path / 'missing.repo'))
    dup = tmp_path / 'dup.repo'
    dup.write_text('[a]\nbaseurl=file:///x\n[a]\nbaseurl=file:///y\n')
    with pytest.raises(RepoError, match=r'dup\.repo cannot be read.*a'):
        repos.parse_repo_file(str(dup))
    bad = tmp_path / 'bad.repo'
    bad.write_text('[a]\nbaseurl=file:///x\nenabled=maybe\n')
    with pytest.raises(RepoError, match=r"section \[a\]: enabled='maybe'"):
        repos.parse_repo_file(str(bad))


def test_choose_sections(repo_file):
    parsed = repos.parse_repo_file(repo_file)
    assert repos.choose_sections(parsed, ['updates', 'extras', 'updates'], repo_file) == ['updates', 'extras']
    with pytest.raises(RepoError) as err:
        repos.choose_sections(parsed, ['updates', 'nosuch'], repo_file)
    assert "no section 'nosuch'" in str(err.value) and repo_file in str(err.value)
    assert 'it has: base, updates, extras, broken' in str(err.value)
    # default: the enabled ones; 'broken' has no URL, 'base' needs releasever
    with pytest.raises(RepoError, match=r'section \[base\] uses \$releasever'):
        repos.choose_sections(parsed, None, repo_file)
    with pytest.raises(RepoError, match=r'section \[broken\] has no baseurl, mirrorlist or metalink'):
        repos.choose_sections(parsed, None, repo_file, releasever='9')
    assert repos.choose_sections(parsed, ['base', 'updates'], repo_file, releasever='9') == ['base', 'updates']


def test_choose_sections_none_enabled(tmp_path):
    path = tmp_path / 'off.repo'
    path.write_text('[a]\nbaseurl=file:///x\nenabled=0\n')
    with pytest.raises(RepoError, match='no enabled section'):
        repos.choose_sections(repos.parse_repo_file(str(path)), None, str(path))


def test_sync_path_depends_on_urls_releasever_and_arch(repo_file):
    parsed = repos.parse_repo_file(repo_file)
    one = repos.sync_path('/cache', 'base', parsed['base'], '9')
    assert os.path.dirname(one) == '/cache' and os.path.basename(one).startswith('base-')
    assert one == repos.sync_path('/cache', 'base', parsed['base'], '9')
    assert one != repos.sync_path('/cache', 'base', parsed['base'], '8')
    assert one != repos.sync_path('/cache', 'base', parsed['base'], '9', 'aarch64')
    assert one != repos.sync_path('/cache', 'base', parsed['updates'], '9')
    assert '/' not in os.path.basename(repos.sync_path('/cache', 'a/../b', parsed['base']))


def test_resolve_flavours():
    assert repos.resolve_flavours('auto', True, False) == ['rpm']
    assert repos.resolve_flavours('auto', False, True) == ['deb']
    assert repos.resolve_flavours('auto', True, True) == ['rpm', 'deb']
    assert repos.resolve_flavours('both', False, False) == ['rpm', 'deb']
    assert repos.resolve_flavours('deb', True, False) == ['deb']
    with pytest.raises(RepoError, match='nothing to build'):
        repos.resolve_flavours('auto', False, False)
    with pytest.raises(RepoError, match="flavour 'apk'"):
        repos.resolve_flavours('apk', True, True)


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


def test_local_packages_errors(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'readme.txt').write_text('no packages')
    with pytest.raises(RepoError) as err:
        repos.local_packages([str(empty)], 'rpm')
    assert str(err.value) == 'local_rpm_dirs: %s holds no .rpm packages' % empty
    with pytest.raises(RepoError, match=r'local_deb_dirs: %s does not exist' % (tmp_path / 'nope')):
        repos.local_packages([str(tmp_path / 'nope')], 'deb')
    with pytest.raises(RepoError, match='is not a directory'):
        repos.local_packages([str(empty / 'readme.txt')], 'deb')


def test_same_name_other_content_is_refused(tmp_path):
    for sub, content in (('a', b'one'), ('b', b'two'), ('c', b'one')):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / 'x_1_all.deb').write_bytes(content)
    same = repos.local_packages([str(tmp_path / 'a'), str(tmp_path / 'c')], 'deb')
    assert same == {'x_1_all.deb': str(tmp_path / 'a' / 'x_1_all.deb')}
    with pytest.raises(RepoError) as err:
        repos.local_packages([str(tmp_path / 'a'), str(tmp_path / 'b')], 'deb')
    assert 'two different packages are named x_1_all.deb' in str(err.value)
    assert str(tmp_path / 'b' / 'x_1_all.deb') in str(err.value)


def test_build_repo_refuses_packages_of_an_unbuilt_flavour(tmp_path):
    with pytest.raises(RepoError, match='.deb packages were given but the repository is built for rpm only'):
        repos.build_repo(str(tmp_path / 'r'), {}, {'x_1_all.deb': '/x'}, ['rpm'])
    assert not (tmp_path / 'r').exists()


def test_server_argv_and_url():
    argv = reposerver.server_argv('/p/internal_repo', '192.168.200.1', 8585, python='/usr/bin/python3')
    assert argv[:2] == ['/usr/bin/python3', '-c'] and 'class RepoRequestHandler' in argv[2]
    assert argv[3:] == ['/p/internal_repo', '192.168.200.1', '8585']
    assert reposerver.url_of('fd00::1', 8585) == 'http://[fd00::1]:8585/'


def test_server_bad_port(tmp_path):
    with pytest.raises(RepoError, match='port 70000 is not a TCP port'):
        reposerver.start(str(tmp_path), '127.0.0.1', 70000)
