# -*- coding: utf-8 -*-
"""templates pure parts: repository validation, path safety, hashes, latest version."""

from __future__ import absolute_import, division, print_function

import copy
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import templates
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
        templates.parse_repository(data, 'R.json')
    for fragment in ('R.json',) + fragments:
        assert fragment in str(err.value)
    return str(err.value)


def test_parse_a_lago_repository():
    parsed = templates.parse_repository(repo(), 'R.json', '/base')
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
    assert templates.safe_handle(handle) == normal


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
    assert templates.latest_version(versions) == 'v2'
    assert templates.latest_version({}) is None
    assert templates.latest_version({'a': {'timestamp': 5}, 'b': {'timestamp': 5}}) == 'b'


def test_version_lookup_and_errors_listing_what_exists():
    parsed = templates.parse_repository(repo(), 'R.json')
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
    parsed = templates.parse_repository(repo(), 'R.json', '/base')
    assert parsed.provider('local').root == '/srv/lago/images'
    data = repo()
    data['sources']['local']['args']['root'] = 'images'
    assert templates.parse_repository(data, 'R.json', '/base').provider('local').root == '/base/images'


def test_http_locations_are_quoted_below_the_base_url():
    parsed = templates.parse_repository(repo(), 'R.json')
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
    assert templates.parse_hash(text, 'H') == expected


@pytest.mark.parametrize('text', ['', 'abc', 'sha256:' + SHA1, 'md5:' + 'c' * 32, SHA1[:-1] + 'g', '<html>'])
def test_parse_hash_rejects_garbage(text):
    with pytest.raises(TemplateError, match='does not hold a hash'):
        templates.parse_hash(text, 'H')


def test_format_hash_keeps_lago_plain_sha1():
    assert templates.format_hash('sha1', SHA1) == SHA1
    assert templates.format_hash('sha256', SHA256) == 'sha256:' + SHA256


def test_store_names():
    assert templates.store_name('r', 't', 'v') == 'r:t:v'
    assert templates.split_store_name('r:t:v') == ('r', 't', 'v')
    assert templates.split_store_name('r:t:v.hash') == ('r', 't', 'v.hash')
    assert templates.split_store_name('plain') is None


def test_users_are_live_only_while_their_uuid_file_holds_the_same_uuid(tmp_path):
    store = str(tmp_path / 'store')
    os.makedirs(store)
    name = 'r:t:v'
    open(os.path.join(store, name), 'w').close()
    alive, gone, reused = (str(tmp_path / n) for n in ('alive', 'gone', 'reused'))
    for path in (alive, gone, reused):
        with open(path, 'w') as handle:
            handle.write('uuid-of-%s\n' % os.path.basename(path))
    for path in (alive, gone, reused):
        assert templates.add_user(store, name, path) is True
    assert templates.add_user(store, name, alive) is False
    os.unlink(gone)
    with open(reused, 'w') as handle:
        handle.write('another-prefix')
    assert templates.live_users(store, name) == [alive]
    assert templates.remove_user(store, name, alive) is True
    assert templates.live_users(store, name) == []


def test_add_user_needs_a_uuid_file(tmp_path):
    store = str(tmp_path)
    open(os.path.join(store, 'r:t:v'), 'w').close()
    with pytest.raises(TemplateError, match='uuid file'):
        templates.add_user(store, 'r:t:v', str(tmp_path / 'missing'))


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(metadata={}), 'distro'),
    (dict(metadata=None), 'distro'),
    (dict(name='../x'), "'../x'"),
    (dict(version='a/b'), "'a/b'"),
    (dict(repo_path='http://host/repo.json'), 'local repository'),
    (dict(timestamp='now'), 'timestamp'),
    (dict(hash_algorithm='md5'), 'md5'),
    (dict(image='/nonexistent/image'), '/nonexistent/image'),
])
def test_publish_refuses_bad_requests_before_touching_anything(tmp_path, kwargs, fragment):
    image = tmp_path / 'img'
    image.write_bytes(b'x')
    args = dict(repo_path=str(tmp_path / 'repo' / 'repo.json'), image=str(image), name='t', version='v1',
                metadata={'distro': 'debian'})
    args.update(kwargs)
    with pytest.raises(TemplateError) as err:
        templates.publish(**args)
    assert fragment in str(err.value)
    assert not (tmp_path / 'repo').exists()


@pytest.mark.parametrize('name', ['v1.hash', 'v1.tmp', 'v1.users', 'v1.metadata', 'v1.lock'])
def test_names_that_look_like_store_files_are_refused(name):
    with pytest.raises(TemplateError, match='store file'):
        templates.safe_name(name, 'version')
