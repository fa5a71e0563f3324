# -*- coding: utf-8 -*-
"""Template repositories and the store against a real HTTP server and real qemu-img."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_publish, template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError
from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of
from storage_lab import engine_in_subprocess, fetch_in_subprocess, make_image, sha, store_listing, write_repo

pytestmark = pytest.mark.lab


def fetch(repo, store, template, version=None):
    return template_store.fetch(store, template_repo.load_repository(repo).version(template, version))


def publish(*args, **kwargs):
    """template_publish's plan, applied unless ``check_mode``: its values with ``changed``."""
    check_mode = kwargs.pop('check_mode', False)
    plan = template_publish.plan_publish(*args, **kwargs)
    values = dict(plan.values, changed=plan.changed)
    if not check_mode:
        values.update(plan.apply())
    return values


def fails(call, *fragments):
    with pytest.raises(TemplateError) as err:
        call()
    for fragment in fragments:
        assert fragment in str(err.value)
    return str(err.value)


def test_fetch_latest_over_http(lab, store):
    entry = fetch(lab.repo_url, store, 'plain')
    assert entry['name'] == 'lab:plain:v2' and entry['downloaded'] is True
    assert sha(entry['path']) == sha(lab.images['two']) == entry['hash']
    assert entry['metadata'] == {'distro': 'debian', 'release': '12'}
    assert store_listing(store) == ['lab:plain:v2', 'lab:plain:v2.hash', 'lab:plain:v2.metadata',
                                    'lab:plain:v2.users', 'lab:plain:v2.verified']
    assert json.load(open(entry['path'] + '.users'))['users'] == {}
    info = json.loads(subprocess.check_output(['qemu-img', 'info', '--output=json', entry['path']]))
    assert info['format'] == 'qcow2'  # kept as it came, not converted to raw
    gets = lab.image_gets('plain/v2.qcow2')
    again = fetch(lab.repo_url, store, 'plain')
    assert again['downloaded'] is False and lab.image_gets('plain/v2.qcow2') == gets


def test_xz_is_tried_first_and_decompressed_while_streaming(lab, store):
    entry = fetch(lab.repo_url, store, 'packed', 'v1')
    assert lab.image_gets('packed/v1.qcow2.xz') == 1
    assert lab.image_gets('packed/v1.qcow2') == 0
    assert sha(entry['path']) == sha(lab.images['three'])
    assert entry['hash'] == 'sha256:' + sha(lab.images['three'], 'sha256')


def test_file_source_with_environment_variable_in_its_root(lab, store, tmp_path, monkeypatch):
    monkeypatch.setenv('LAGO_TEST_REPO_ROOT', lab.root)
    data = lab.repo_json(name='files', sources={'disk': {'type': 'file', 'args': {'root': '$LAGO_TEST_REPO_ROOT'}}})
    for spec in data['templates'].values():
        for version in spec['versions'].values():
            version['source'] = 'disk'
    repo = write_repo(str(tmp_path / 'files.json'), data)
    entry = fetch(repo, store, 'packed')
    assert entry['name'] == 'files:packed:v1'
    assert sha(entry['path']) == sha(lab.images['three'])


def test_unknown_template_or_version_lists_what_exists(lab, store):
    fails(lambda: fetch(lab.repo_url, store, 'centos'), "'centos'", 'broken, cut, cutxz, packed, plain')
    fails(lambda: fetch(lab.repo_url, store, 'plain', 'v9'), "'v9'", 'v1, v2')
    assert store_listing(store) == []


def test_hash_mismatch_keeps_nothing(lab, store):
    message = fails(lambda: fetch(lab.repo_url, store, 'broken'), 'lab:broken:v1', 'hash check')
    assert sha(lab.images['two']) in message and sha(lab.images['one']) in message
    assert store_listing(store) == []


@pytest.mark.parametrize('template', ['cut', 'cutxz'])
def test_download_cut_short_keeps_nothing(lab, store, template):
    fails(lambda: fetch(lab.repo_url, store, template), 'cut short')
    assert store_listing(store) == []
    # The next attempt starts from scratch and meets the same answer (no half file reused).
    fails(lambda: fetch(lab.repo_url, store, template), 'cut short')
    assert store_listing(store) == []


@pytest.mark.parametrize('where, bad', [('handle', '../../etc/passwd'), ('handle', '/etc/passwd'),
                                        ('template', '../outside'), ('version', '../../v1')])
def test_names_escaping_their_root_are_refused(lab, store, tmp_path, where, bad):
    data = lab.repo_json()
    if where == 'handle':
        data['templates']['plain']['versions']['v1']['handle'] = bad
    elif where == 'template':
        data['templates'][bad] = data['templates'].pop('plain')
    else:
        data['templates']['plain']['versions'][bad] = data['templates']['plain']['versions'].pop('v1')
    repo = write_repo(str(tmp_path / 'bad.json'), data)
    fails(lambda: fetch(repo, store, 'packed'), repr(bad), str(tmp_path / 'bad.json'))
    assert store_listing(store) == []
    assert not os.path.exists(os.path.join(os.path.dirname(store), 'outside'))


@pytest.mark.parametrize('break_it, fragment', [
    (lambda d: d.pop('templates'), "missing key 'templates'"),
    (lambda d: d['sources']['web'].pop('args'), "missing key 'sources.web.args'"),
    (lambda d: d['templates']['plain']['versions']['v1'].pop('timestamp'),
     "missing key 'templates.plain.versions.v1.timestamp'"),
    (lambda d: d['sources']['web'].update(type='ftp'), "'ftp'"),
])
def test_repository_not_in_lago_format_names_the_key(lab, store, tmp_path, break_it, fragment):
    data = lab.repo_json()
    break_it(data)
    repo = write_repo(str(tmp_path / 'bad.json'), data)
    fails(lambda: fetch(repo, store, 'plain'), fragment)
    assert store_listing(store) == []


def test_repository_that_is_not_json_or_missing(lab, store, tmp_path):
    (tmp_path / 'junk.json').write_text('<html>not json</html>')
    fails(lambda: template_repo.load_repository(str(tmp_path / 'junk.json')), 'not valid JSON')
    fails(lambda: template_repo.load_repository(lab.url + '/nowhere.json'), 'does not exist')
    fails(lambda: template_repo.load_repository(str(tmp_path / 'nowhere.json')), 'cannot read')


def test_eight_processes_fetch_one_version_once(lab, store):
    gets = lab.image_gets('plain/v1.qcow2')
    procs = [fetch_in_subprocess(lab.repo_url, store, 'plain', 'v1') for _fetcher in range(8)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 8, [err for _out, err in outputs]
    entries = [json.loads(out) for out, _err in outputs]
    assert lab.image_gets('plain/v1.qcow2') - gets == 1
    assert sum(entry['downloaded'] for entry in entries) == 1
    assert len(set(entry['path'] for entry in entries)) == 1
    assert sha(entries[0]['path']) == sha(lab.images['one']) == entries[0]['hash']
    assert store_listing(store) == ['lab:plain:v1', 'lab:plain:v1.hash', 'lab:plain:v1.metadata',
                                    'lab:plain:v1.users', 'lab:plain:v1.verified']


def test_users_guard_removal(lab, store, tmp_path):
    entry = fetch(lab.repo_url, store, 'plain', 'v1')
    uuid_file = tmp_path / 'uuid'
    uuid_file.write_text('0123456789abcdef0123456789abcdef')
    assert template_store.add_user(store, entry['name'], str(uuid_file)) is True
    fails(lambda: template_store.remove_entry(store, entry['name']), str(uuid_file), 'force')
    assert os.path.exists(entry['path'])
    uuid_file.write_text('fedcba9876543210fedcba9876543210')  # the prefix was re-created: another one
    assert template_store.remove_entry(store, entry['name']) is True
    assert store_listing(store) == []


def test_publish_then_fetch_through_http(lab, store, tmp_path):
    pub = os.path.join(lab.root, 'pub')
    repo_path = os.path.join(pub, 'repo.json')
    image = make_image(str(tmp_path / 'built.qcow2'), 'built')
    first = publish(repo_path, image, 'built', 'v1', {'distro': 'debian'}, compress=True, timestamp=10)
    assert first['action'] == 'created' and first['path'] == os.path.join(pub, 'built', 'v1.xz')
    assert sorted(os.listdir(os.path.join(pub, 'built'))) == ['v1.hash', 'v1.metadata', 'v1.xz']
    data = json.load(open(repo_path))
    assert data['sources'] == {'local': {'type': 'file', 'args': {'root': pub}}}
    assert data['templates']['built']['versions']['v1'] == {'source': 'local', 'handle': 'built/v1', 'timestamp': 10,
                                                            'sha256': sha256_of(image)}
    # Served over HTTP the same directory is a repository with an http source.
    data['sources'] = {'web': {'type': 'http', 'args': {'baseurl': lab.url + '/pub'}}}
    data['templates']['built']['versions']['v1']['source'] = 'web'
    write_repo(os.path.join(pub, 'http.json'), data)
    entry = fetch(lab.url + '/pub/http.json', store, 'built')
    assert sha(entry['path']) == sha(image) and entry['metadata'] == {'distro': 'debian'}


def test_publish_is_idempotent_and_guards_versions(tmp_path):
    repo_path = str(tmp_path / 'repo' / 'repo.json')
    image = make_image(str(tmp_path / 'a.qcow2'), 'a')
    other = make_image(str(tmp_path / 'b.qcow2'), 'b')
    meta = {'distro': 'debian'}
    assert publish(repo_path, image, 't', 'v1', meta)['action'] == 'created'
    before = open(repo_path).read()
    again = publish(repo_path, image, 't', 'v1', meta)
    assert again['changed'] is False and open(repo_path).read() == before
    fails(lambda: publish(repo_path, other, 't', 'v1', meta), "'v1'", 'force')
    assert sha(str(tmp_path / 'repo' / 't' / 'v1')) == sha(image) and open(repo_path).read() == before
    planned = publish(repo_path, other, 't', 'v1', meta, force=True, check_mode=True)
    assert planned['action'] == 'replaced' and sha(str(tmp_path / 'repo' / 't' / 'v1')) == sha(image)
    replaced = publish(repo_path, other, 't', 'v1', meta, force=True, compress=True)
    assert replaced['action'] == 'replaced'
    assert sorted(os.listdir(str(tmp_path / 'repo' / 't'))) == ['v1.hash', 'v1.metadata', 'v1.xz']
    updated = publish(repo_path, other, 't', 'v1', dict(meta, release='12'))
    assert updated['action'] == 'updated'
    assert json.load(open(str(tmp_path / 'repo' / 't' / 'v1.metadata'))) == dict(meta, release='12')


def test_publish_refuses_a_repository_not_in_lago_format(tmp_path):
    repo_path = write_repo(str(tmp_path / 'repo.json'), {'name': 'x', 'sources': {}})
    image = make_image(str(tmp_path / 'a.qcow2'), 'a')
    fails(lambda: publish(repo_path, image, 't', 'v1', {'distro': 'd'}), "missing key 'templates'")
    assert sorted(os.listdir(str(tmp_path))) == ['a.qcow2', 'repo.json']


def test_concurrent_publishers_keep_every_version(tmp_path):
    repo_path = str(tmp_path / 'repo' / 'repo.json')
    image = make_image(str(tmp_path / 'a.qcow2'), 'a')
    code = ('import sys\n'
            'from ansible_collections.lago.lago.plugins.module_utils import template_publish\n'
            'template_publish.plan_publish(sys.argv[1], sys.argv[2], "t", sys.argv[3], {"distro": "d"}).apply()\n')
    procs = [engine_in_subprocess(code, repo_path, image, 'v%d' % n) for n in range(4)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    assert sorted(json.load(open(repo_path))['templates']['t']['versions']) == ['v0', 'v1', 'v2', 'v3']
