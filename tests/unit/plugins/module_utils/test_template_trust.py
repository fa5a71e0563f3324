# -*- coding: utf-8 -*-
"""The store never trusts a cached image blindly: pinned sha256, re-verification at use,
self-contained templates only (real qemu-img, a real file repository)."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import template_publish, template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError
from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of


def qcow2(path, backing=None):
    args = ['qemu-img', 'create', '-q', '-f', 'qcow2']
    if backing:
        args += ['-F', 'raw', '-b', backing]
    subprocess.check_call(args + [str(path), '16M'])
    return str(path)


@pytest.fixture
def repo(tmp_path):
    """A file repository with template t version v1 (a real qcow2), published by the collection."""
    image = qcow2(tmp_path / 'image.qcow2')
    repo_path = str(tmp_path / 'repo' / 'repo.json')
    os.makedirs(os.path.dirname(repo_path))
    plan = template_publish.plan_publish(repo_path, image, 't', 'v1', {'distro': 'x'})
    plan.apply()
    return dict(path=repo_path, image=image, sha256=sha256_of(image), store=str(tmp_path / 'store'))


def version(repo, pin=None):
    wanted = template_repo.load_repository(repo['path']).version('t', 'v1')
    return wanted.pin(pin) if pin else wanted


def owner(tmp_path, name='prefix'):
    path = tmp_path / name
    path.write_text('uuid-of-%s' % name)
    return str(path)


def test_publish_pins_the_sha256_in_the_repository_json(repo):
    with open(repo['path']) as handle:
        spec = json.load(handle)['templates']['t']['versions']['v1']
    assert spec['sha256'] == repo['sha256']
    assert version(repo).expected_hash() == ('sha256', repo['sha256'])


def test_a_pin_that_differs_from_the_repository_is_refused(repo):
    with pytest.raises(TemplateError, match='differs from the sha256 %s its repository pins' % repo['sha256']):
        version(repo, 'c' * 64)
    with pytest.raises(TemplateError, match="sha256 must be a sha256 hex digest .* not 'nope'"):
        version(repo, 'nope')


def test_a_bad_sha256_in_the_repository_names_its_key(repo):
    with open(repo['path']) as handle:
        data = json.load(handle)
    data['templates']['t']['versions']['v1']['sha256'] = 'xyz'
    with pytest.raises(TemplateError, match=r'templates\.t\.versions\.v1\.sha256 must be a sha256'):
        template_repo.parse_repository(data, 'R.json')


def test_an_altered_image_under_the_pin_is_not_stored(repo):
    # The served image changes after publishing: the pinned JSON catches it, the .hash beside it would not.
    served = os.path.join(os.path.dirname(repo['path']), 't', 'v1')
    with open(served, 'r+b') as handle:
        handle.seek(1 << 20)
        handle.write(b'tampered')
    with open(served + '.hash', 'w') as handle:
        handle.write('sha256:%s' % sha256_of(served))
    with pytest.raises(TemplateError, match='failed its hash check: sha256 %s expected \\(pinned' % repo['sha256']):
        template_store.fetch(repo['store'], version(repo))
    assert os.listdir(repo['store']) == ['.locks']


def test_a_corrupted_entry_nobody_uses_is_fetched_again(repo):
    first = template_store.fetch(repo['store'], version(repo))
    assert first['downloaded'] and first['replaced'] is None
    again = template_store.fetch(repo['store'], version(repo))
    assert not again['downloaded'], 'an intact entry is reused'
    with open(first['path'], 'r+b') as handle:
        handle.seek(4096)
        handle.write(b'bitrot')
    plan = template_store.plan_use(repo['store'], version(repo))
    assert plan.changed and 'again: its content changed since it was fetched' in plan.steps[0]
    assert 'damaged' in plan.before
    third = template_store.fetch(repo['store'], version(repo))
    assert third['downloaded'] and 'content changed' in third['replaced']
    assert sha256_of(third['path']) == repo['sha256']


def test_a_corrupted_entry_in_use_is_an_error_naming_it_and_its_users(repo, tmp_path):
    user = owner(tmp_path)
    template_store.plan_use(repo['store'], version(repo), owner=user).apply()
    path = template_store.entry_path(repo['store'], version(repo).name)
    with open(path, 'ab') as handle:
        handle.write(b'appended')
    with pytest.raises(TemplateError) as err:
        template_store.plan_use(repo['store'], version(repo))
    assert 'is damaged' in str(err.value) and user in str(err.value) and path in str(err.value)
    assert os.path.exists(path), 'an image prefixes sit on is never deleted'


def test_a_touched_but_intact_entry_stays_trusted(repo):
    entry = template_store.fetch(repo['store'], version(repo))
    os.utime(entry['path'], (1, 1))
    assert template_store.damage(repo['store'], entry['name']) is None
    with open(entry['path'] + '.verified') as handle:
        assert json.load(handle)['mtime_ns'] == 1000000000  # re-hashed once, then recorded


def test_an_unchanged_entry_is_not_hashed_again_a_replaced_one_is(repo, monkeypatch):
    """Same inode, size and mtime as at its last check: trusted without reading it; another file
    put in its place with the same size and mtime (cp -p, a rename over it) is hashed."""
    entry = template_store.fetch(repo['store'], version(repo))
    hashed = []
    real_hash_file = template_store.hash_file
    monkeypatch.setattr(template_store, 'hash_file', lambda path, algorithm: hashed.append(path) or
                        real_hash_file(path, algorithm))
    assert template_store.damage(repo['store'], entry['name']) is None
    assert hashed == [], 'an entry unchanged since its last check is not read again'
    stat = os.stat(entry['path'])
    other = entry['path'] + '.other'
    with open(entry['path'], 'rb') as source, open(other, 'wb') as copy:
        data = bytearray(source.read())
        data[-1] ^= 0xff
        copy.write(bytes(data))
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.rename(other, entry['path'])
    assert 'content changed' in template_store.damage(repo['store'], entry['name'])
    assert hashed == [entry['path']]


def test_an_entry_is_checked_against_a_pin_given_later(repo):
    entry = template_store.fetch(repo['store'], version(repo))
    assert template_store.damage(repo['store'], entry['name'], 'd' * 64) == \
        'its sha256 is %s, not the pinned %s' % (repo['sha256'], 'd' * 64)


def test_a_template_with_a_backing_file_is_refused(tmp_path):
    host_file = str(tmp_path / 'host.raw')
    with open(host_file, 'wb') as handle:
        handle.truncate(16 << 20)
    chained = qcow2(tmp_path / 'chained.qcow2', backing=host_file)
    with pytest.raises(TemplateError, match='has a backing file .*host.raw.*self-contained'):
        template_publish.plan_publish(str(tmp_path / 'r.json'), chained, 't', 'v1', {'distro': 'x'})
    assert not os.path.exists(str(tmp_path / 'r.json'))
    # and one that reaches the store some other way (a hand-written repository)
    repo_dir = tmp_path / 'hand'
    (repo_dir / 't').mkdir(parents=True)
    subprocess.check_call(['cp', chained, str(repo_dir / 't' / 'v1')])
    (repo_dir / 't' / 'v1.hash').write_text('sha256:%s' % sha256_of(chained))
    (repo_dir / 'repo.json').write_text(json.dumps(dict(
        name='hand', sources=dict(local=dict(type='file', args=dict(root=str(repo_dir)))),
        templates=dict(t=dict(versions=dict(v1=dict(source='local', handle='t/v1', timestamp=1)))))))
    store = str(tmp_path / 'store')
    wanted = template_repo.load_repository(str(repo_dir / 'repo.json')).version('t', 'v1')
    with pytest.raises(TemplateError, match='template hand:t:v1 has a backing file'):
        template_store.fetch(store, wanted)
    assert os.listdir(store) == ['.locks']
