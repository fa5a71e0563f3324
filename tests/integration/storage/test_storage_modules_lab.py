# -*- coding: utf-8 -*-
"""lago_disk, lago_template and lago_template_info driven through ansible-playbook."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from storage_lab import make_image, run_module, sha, store_listing

pytestmark = pytest.mark.lab

MIB = 1 << 20


@pytest.fixture
def work(tmp_path):
    return str(tmp_path)


def test_empty_disk_check_mode_create_idempotence_grow_and_shrink(work):
    path = os.path.join(work, 'data.qcow2')
    args = dict(path=path, size='8M')
    planned = run_module(work, 'lago_disk', args, check=True)
    assert planned['changed'] is True and planned['action'] == 'created'
    assert planned['diff'] == {'before': {'disk': {}},
                               'after': {'disk': {'format': 'qcow2', 'size': 8 * MIB, 'backing_file': None}}}
    assert not os.path.exists(path)
    created = run_module(work, 'lago_disk', args)
    assert created['changed'] is True and created['disk']['size'] == 8 * MIB
    again = run_module(work, 'lago_disk', args)
    assert again['changed'] is False and again['action'] == 'none'
    grown = run_module(work, 'lago_disk', dict(args, size='16M'))
    assert grown['action'] == 'grown' and grown['diff']['before']['disk']['size'] == 8 * MIB
    assert grown['diff']['after']['disk']['size'] == 16 * MIB
    shrunk = run_module(work, 'lago_disk', dict(args, size='8M'))
    assert shrunk['failed'] is True and 'shrinking' in shrunk['msg'] and '16777216' in shrunk['msg']
    conflict = run_module(work, 'lago_disk', dict(args, size='16M', format='raw'))
    assert conflict['failed'] is True and 'format is qcow2, not raw' in conflict['msg']
    removed = run_module(work, 'lago_disk', dict(path=path, state='absent'))
    assert removed['changed'] is True and not os.path.exists(path)
    assert run_module(work, 'lago_disk', dict(path=path, state='absent'))['changed'] is False


def test_absent_removes_only_what_lago_disk_made(work):
    mine = os.path.join(work, 'mine.img')
    with open(mine, 'wb') as handle:
        handle.write(b'not lago_disk\'s')
    refused = run_module(work, 'lago_disk', dict(path=mine, state='absent'))
    # The error must name the path and say that it was not made by lago_disk and is left alone.
    assert refused['failed'] is True and refused['msg'].startswith('%s was not made by lago_disk' % mine)
    assert 'left alone' in refused['msg'] and open(mine, 'rb').read() == b'not lago_disk\'s'
    made = os.path.join(work, 'made.qcow2')
    assert run_module(work, 'lago_disk', dict(path=made, size='8M'))['changed'] is True
    assert os.path.exists(made + '.lago_disk')
    removed = run_module(work, 'lago_disk', dict(path=made, state='absent'))
    assert removed['changed'] is True and removed['action'] == 'removed'
    assert not os.path.exists(made) and not os.path.exists(made + '.lago_disk')


def test_bad_size_and_missing_backing_file_leave_nothing(work):
    path = os.path.join(work, 'disk.qcow2')
    bad_size = run_module(work, 'lago_disk', dict(path=path, size='ten gigs'))
    assert bad_size['failed'] is True and "'ten gigs'" in bad_size['msg']
    missing = os.path.join(work, 'missing.qcow2')
    no_backing = run_module(work, 'lago_disk', dict(path=path, backing_file=missing))
    assert no_backing['failed'] is True and missing in no_backing['msg'] and 'does not exist' in no_backing['msg']
    assert sorted(os.listdir(work)) == ['play.yml', 'result.json']


def test_template_disk_with_a_bad_owner_leaves_nothing(lab, work):
    store = os.path.join(work, 'store')
    path = os.path.join(work, 'vm.qcow2')
    missing = os.path.join(work, 'no-uuid')
    failed = run_module(work, 'lago_disk', dict(path=path, template='plain', template_repo=lab.repo_url,
                                                template_store=store, owner=missing))
    assert failed['failed'] is True and missing in failed['msg'] and 'uuid file' in failed['msg']
    assert sorted(os.listdir(work)) == ['play.yml', 'result.json']


def test_template_disk_fetches_registers_owner_and_detects_conflicts(lab, work):
    store = os.path.join(work, 'store')
    uuid = os.path.join(work, 'uuid')
    with open(uuid, 'w') as handle:
        handle.write('0123456789abcdef0123456789abcdef')
    path = os.path.join(work, 'vm01_root.qcow2')
    args = dict(path=path, template='plain', template_repo=lab.repo_url, template_store=store, owner=uuid,
                size='32M')
    planned = run_module(work, 'lago_disk', args, check=True)
    assert planned['changed'] is True and not os.path.exists(path) and store_listing(store) == []
    created = run_module(work, 'lago_disk', args)
    entry = os.path.join(store, 'lab:plain:v2')
    assert created['changed'] is True and created['template']['downloaded'] is True
    assert created['disk'] == {'format': 'qcow2', 'size': 32 * MIB, 'backing_file': entry}
    assert json.load(open(entry + '.users'))['users'] == {uuid: '0123456789abcdef0123456789abcdef'}
    again = run_module(work, 'lago_disk', args)
    assert again['changed'] is False and again['template']['downloaded'] is False
    # The same path asked on another template version: an error naming the difference.
    other = dict(args, template_version='v1')
    conflict = run_module(work, 'lago_disk', other)
    assert conflict['failed'] is True and 'backing file is %s' % entry in conflict['msg']
    assert 'lab:plain:v1' in conflict['msg'] and 'force' in conflict['msg']
    assert qemu_img.info(path, backing_chain=False)[0]['backing-filename'] == entry  # untouched
    replaced = run_module(work, 'lago_disk', dict(other, force=True))
    assert replaced['action'] == 'replaced' and replaced['disk']['backing_file'] == entry[:-1] + '1'


def test_export_layered_and_standalone(lab, work):
    store = os.path.join(work, 'store')
    path = os.path.join(work, 'vm.qcow2')
    made = run_module(work, 'lago_disk', dict(path=path, template='plain', template_version='v1',
                                              template_repo=lab.repo_url, template_store=store))
    assert made['changed'] is True
    exports = os.path.join(work, 'exports')
    os.mkdir(exports)
    layered = run_module(work, 'lago_disk', dict(path=path, state='exported', dest=exports))
    dest = os.path.join(exports, 'vm.qcow2')
    assert layered['changed'] is True and layered['export']['dest'] == dest
    metadata = json.load(open(dest + '.metadata'))
    assert metadata['base'] == './plain:v1' and metadata['distro'] == 'debian'
    assert open(dest + '.hash').read() == sha(dest) == layered['export']['hash']
    again = run_module(work, 'lago_disk', dict(path=path, state='exported', dest=exports))
    assert again['changed'] is False
    flat = os.path.join(work, 'flat.qcow2')
    standalone = run_module(work, 'lago_disk', dict(path=path, state='exported', dest=flat, standalone=True,
                                                    compress=True))
    assert standalone['changed'] is True and json.load(open(flat + '.metadata'))['base'] == 'None'
    foreign = os.path.join(work, 'foreign.qcow2')
    make_image(foreign, 'foreign')
    refused = run_module(work, 'lago_disk', dict(path=path, state='exported', dest=foreign))
    assert refused['failed'] is True and 'not an export' in refused['msg']
    assert not os.path.exists(foreign + '.metadata')


def test_template_module_present_absent_published_and_info(lab, work):
    store = os.path.join(work, 'store')
    base = dict(template='packed', template_repo=lab.repo_url, template_store=store)
    planned = run_module(work, 'lago_template', base, check=True)
    assert planned['changed'] is True and store_listing(store) == []
    fetched = run_module(work, 'lago_template', base)
    assert fetched['changed'] is True and fetched['version'] == 'v1'
    assert fetched['hash'].startswith('sha256:') and fetched['metadata'] == {'distro': 'debian'}
    assert run_module(work, 'lago_template', base)['changed'] is False

    uuid = os.path.join(work, 'uuid')
    with open(uuid, 'w') as handle:
        handle.write('0123456789abcdef0123456789abcdef')
    disk = run_module(work, 'lago_disk', dict(base, path=os.path.join(work, 'd.qcow2'), owner=uuid))
    assert disk['changed'] is True
    info = run_module(work, 'lago_template_info', dict(base))
    assert sorted(info['repository']['templates']) == ['packed']
    assert [(e['name'], e['in_use']) for e in info['store']] == [('lab:packed:v1', True)]
    refused = run_module(work, 'lago_template', dict(base, state='absent'))
    assert refused['failed'] is True and uuid in refused['msg']
    assert 'lab:packed:v1' in store_listing(store)
    os.unlink(uuid)  # the prefix is gone
    removed = run_module(work, 'lago_template', dict(base, state='absent'))
    assert removed['changed'] is True and removed['removed'] == ['lab:packed:v1'] and store_listing(store) == []

    repo = os.path.join(work, 'pub', 'repo.json')
    image = make_image(os.path.join(work, 'built.qcow2'), 'built')
    publish = dict(template='built', template_version='v1', template_repo=repo, image=image, state='published',
                   metadata={'distro': 'debian'}, compress=True)
    planned = run_module(work, 'lago_template', publish, check=True)
    assert planned['changed'] is True and not os.path.exists(repo)
    published = run_module(work, 'lago_template', publish)
    assert published['changed'] is True and published['diff']['after']['pub:built:v1']['handle'] == 'built/v1'
    assert run_module(work, 'lago_template', publish)['changed'] is False
    other = make_image(os.path.join(work, 'other.qcow2'), 'other')
    clash = run_module(work, 'lago_template', dict(publish, image=other))
    assert clash['failed'] is True and 'force' in clash['msg']
    fetched = run_module(work, 'lago_template', dict(template='built', template_repo=repo, template_store=store))
    assert fetched['changed'] is True and sha(fetched['path']) == sha(image)
