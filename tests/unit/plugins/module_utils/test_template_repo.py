# -*- coding: utf-8 -*-
"""template_repo: repository validation, path safety, hashes, names, latest version."""

from __future__ import absolute_import, division, print_function

import copy

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_repo
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError

SHA1 = 'a' * 40
SHA256 = 'b' * 64

REPO = {
    'name': 'lab',
    'sources': {
        'local': {'type': 'file', 'args': {'root': '$LAGO_TEST_ROOT/images'}},
        'web': {'type': 'http', 'args': {'baseurl': 'http://127.0.0.1:1/repo/'}},
    },
    'templates': {
        'debian12': {'versions': {
            'v1': {'source': 'web', 'handle': 'debian12/v1.qcow2', 'timestamp': 100},
            'v2': {'source': 'web', 'handle': 'debian12/v2.qcow2', 'timestamp': 300},
            'v10': {'source': 'local', 'handle': 'd/v10', 'timestamp': 200},
        }},
        'empty': {'versions': {}},
    },
}


def repo(**changes):
    data = copy.deepcopy(REPO)
    data.update(changes)
    return data


def rejected(data, *fragments):
    with pytest.raises(TemplateError) as err:
        template_repo.parse_repository(data, 'R.json')
    for fragment in ('R.json',) + fragments:
        assert fragment in str(err.value)
    return str(err.value)


def test_parse_a_lago_repository():
    parsed = template_repo.parse_repository(repo(), 'R.json', '/base')
    assert parsed.name == 'lab'
    assert sorted(parsed.templates) == ['debian12', 'empty']


@pytest.mark.parametrize('key', ['name', 'sources', 'templates'])
def test_missing_top_level_key_is_named(key):
    data = repo()
    del data[key]
    rejected(data, "missing key '%s'" % key)


def test_missing_nested_keys_are_named():
    data = repo()
    del data['templates']['debian12']['versions']['v1']['handle']
    rejected(data, "'templates.debian12.versions.v1.handle'")
    data = repo()
    del data['sources']['web']['args']['baseurl']
    rejected(data, "'sources.web.args.baseurl'")
    data = repo()
    del data['templates']['empty']['versions']
    rejected(data, "'templates.empty.versions'")


def test_wrong_types_are_named():
    rejected(repo(templates=[]), "'templates' must be a mapping")
    data = repo()
    data['templates']['debian12']['versions']['v1']['timestamp'] = 'yesterday'
    rejected(data, 'timestamp', 'must be a number')
    rejected(['not', 'a', 'mapping'], "Lago's format")


def test_unknown_source_type_and_reference():
    data = repo()
    data['sources']['web']['type'] = 'ftp'
    rejected(data, 'sources.web.type', 'ftp')
    data = repo()
    data['templates']['debian12']['versions']['v1']['source'] = 'nowhere'
    rejected(data, "'nowhere'", 'local, web')


@pytest.mark.parametrize('handle', ['../etc/passwd', '/etc/passwd', 'a/../../b', '..', '.', ''])
def test_handle_escaping_its_root_is_refused(handle):
    data = repo()
    data['templates']['debian12']['versions']['v1']['handle'] = handle
    rejected(data, repr(handle))


@pytest.mark.parametrize('handle, normal', [('a/./b', 'a/b'), ('a/x/../b', 'a/b'), ('img', 'img')])
def test_safe_handle_normalizes(handle, normal):
    assert template_repo.safe_handle(handle) == normal


@pytest.mark.parametrize('name', ['../x', 'a/b', '.hidden', 'a:b', '', '..', 'x\\y'])
def test_unsafe_template_and_version_names_are_refused(name):
    data = repo()
    data['templates'][name] = {'versions': {}}
    rejected(data, repr(name))
    data = repo()
    data['templates']['debian12']['versions'][name] = {'source': 'web', 'handle': 'h', 'timestamp': 1}
    rejected(data, repr(name))
    rejected(repo(name=name), repr(name))


def test_latest_version_is_the_greatest_timestamp_not_the_greatest_name():
    versions = REPO['templates']['debian12']['versions']
    assert template_repo.latest_version(versions) == 'v2'
    assert template_repo.latest_version({}) is None
    assert template_repo.latest_version({'a': {'timestamp': 5}, 'b': {'timestamp': 5}}) == 'b'


def test_version_lookup_and_errors_listing_what_exists():
    parsed = template_repo.parse_repository(repo(), 'R.json')
    assert parsed.version('debian12').version == 'v2'
    assert parsed.version('debian12', 'v1').name == 'lab:debian12:v1'
    with pytest.raises(TemplateError) as err:
        parsed.version('centos')
    assert "'centos'" in str(err.value) and 'debian12, empty' in str(err.value)
    with pytest.raises(TemplateError) as err:
        parsed.version('debian12', 'v9')
    assert "'v9'" in str(err.value) and 'v1, v10, v2' in str(err.value)
    with pytest.raises(TemplateError, match='no versions'):
        parsed.version('empty')


def test_file_roots_expand_variables_and_anchor_relative_roots(monkeypatch):
    monkeypatch.setenv('LAGO_TEST_ROOT', '/srv/lago')
    parsed = template_repo.parse_repository(repo(), 'R.json', '/base')
    assert parsed.provider('local').root == '/srv/lago/images'
    data = repo()
    data['sources']['local']['args']['root'] = 'images'
    assert template_repo.parse_repository(data, 'R.json', '/base').provider('local').root == '/base/images'


def test_http_locations_are_quoted_below_the_base_url():
    parsed = template_repo.parse_repository(repo(), 'R.json')
    assert parsed.provider('web').location('a b/c:d') == 'http://127.0.0.1:1/repo/a%20b/c%3Ad'


@pytest.mark.parametrize('text, expected', [
    (SHA1, ('sha1', SHA1)),
    (SHA1.upper() + '\n', ('sha1', SHA1)),
    ('%s  image.qcow2\n' % SHA1, ('sha1', SHA1)),
    ('sha1:' + SHA1, ('sha1', SHA1)),
    ('sha256:' + SHA256, ('sha256', SHA256)),
    ('SHA256:' + SHA256, ('sha256', SHA256)),
])
def test_parse_hash(text, expected):
    assert template_repo.parse_hash(text, 'H') == expected


@pytest.mark.parametrize('text', ['', 'abc', 'sha256:' + SHA1, 'md5:' + 'c' * 32, SHA1[:-1] + 'g', '<html>'])
def test_parse_hash_rejects_garbage(text):
    with pytest.raises(TemplateError, match='does not hold a hash'):
        template_repo.parse_hash(text, 'H')


def test_format_hash_keeps_lago_plain_sha1():
    assert template_repo.format_hash('sha1', SHA1) == SHA1
    assert template_repo.format_hash('sha256', SHA256) == 'sha256:' + SHA256


def test_store_names():
    assert template_repo.store_name('r', 't', 'v') == 'r:t:v'
    assert template_repo.split_store_name('r:t:v') == ('r', 't', 'v')
    assert template_repo.split_store_name('r:t:v.hash') == ('r', 't', 'v.hash')
    assert template_repo.split_store_name('plain') is None


@pytest.mark.parametrize('name', ['v1.hash', 'v1.tmp', 'v1.users', 'v1.metadata', 'v1.lock'])
def test_names_that_look_like_store_files_are_refused(name):
    with pytest.raises(TemplateError, match='store file'):
        template_repo.safe_name(name, 'version')
