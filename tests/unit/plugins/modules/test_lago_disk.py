# -*- coding: utf-8 -*-
"""lago_disk's execute() on tmp dirs with real qemu-img and a file template repository."""

from __future__ import absolute_import, division, print_function

import json
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError
from ansible_collections.lago.lago.plugins.modules import lago_disk

from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import listing, module_params
from ansible_collections.lago.lago.tests.unit.plugins.offline_prefix import fake_libvirt, make_prefix

MIB = 1 << 20


def run_disk(make_run, check_mode=False, diff=False, **given):
    run = make_run(check_mode=check_mode, diff=diff, **module_params(lago_disk.ARGUMENT_SPEC, **given))
    return run.result(lago_disk.execute(run)), run


def test_empty_disk_check_mode_predicts_the_real_run_and_diff_only_under_diff(make_run, tmp_path):
    path = str(tmp_path / 'data.qcow2')
    planned, _run = run_disk(make_run, check_mode=True, diff=True, path=path, size='8M')
    assert planned['changed'] is True and planned['action'] == 'created' and not os.path.exists(path)
    made, _run = run_disk(make_run, path=path, size='8M')
    assert 'diff' not in made
    assert made == dict((key, value) for key, value in planned.items() if key != 'diff')
    assert made['disk'] == {'format': 'qcow2', 'size': 8 * MIB, 'backing_file': None}
    assert planned['diff'] == {'before': {'disk': {}}, 'after': {'disk': made['disk']}}
    again, _run = run_disk(make_run, diff=True, path=path, size='8M')
    assert again['changed'] is False and again['action'] == 'none'
    assert again['diff']['before'] == again['diff']['after']


def test_grow_then_shrink_is_refused_naming_both_sizes(make_run, tmp_path):
    path = str(tmp_path / 'data.qcow2')
    run_disk(make_run, path=path, size='8M')
    grown, _run = run_disk(make_run, diff=True, path=path, size='16M')
    assert grown['action'] == 'grown' and grown['diff']['after']['disk']['size'] == 16 * MIB
    with pytest.raises(LagoError) as err:
        run_disk(make_run, path=path, size='8M')
    assert 'shrinking' in str(err.value) and str(16 * MIB) in str(err.value)
    assert qemu_img.info(path, backing_chain=False)[0]['virtual-size'] == 16 * MIB


@pytest.mark.parametrize('given, fragments', [
    (dict(size='ten gigs'), ['size', "'ten gigs'"]),
    (dict(type='empty', template='base'), ['template is only for type=template']),
    (dict(backing_file='/nowhere/golden.qcow2'), ['backing file /nowhere/golden.qcow2', 'does not exist']),
])
def test_bad_input_names_the_option_and_leaves_nothing(make_run, tmp_path, given, fragments):
    work = tmp_path / 'work'
    work.mkdir()
    with pytest.raises(LagoError) as err:
        run_disk(make_run, path=str(work / 'disk.qcow2'), **given)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert listing(str(work)) == []


def test_template_disk_fetches_records_the_owner_and_predicts_in_check_mode(make_run, tmp_path, repo, owner):
    store = str(tmp_path / 'store')
    path = str(tmp_path / 'vm.qcow2')
    args = dict(path=path, template='base', template_repo=repo.path, template_store=store, owner=owner, size='32M')
    planned, _run = run_disk(make_run, check_mode=True, diff=True, **args)
    assert planned['changed'] is True and not os.path.exists(path) and not os.path.exists(store)
    made, _run = run_disk(make_run, diff=True, **args)
    entry = os.path.join(store, 'lab:base:v2')
    assert made['disk'] == planned['disk'] == {'format': 'qcow2', 'size': 32 * MIB, 'backing_file': entry}
    assert made['diff']['after'] == planned['diff']['after']
    assert made['diff']['after']['lab:base:v2']['users'] == [owner]
    assert made['template']['downloaded'] is True and made['template']['hash'] == planned['template']['hash']
    assert json.load(open(entry + '.users'))['users'] == {owner: '0123456789abcdef0123456789abcdef'}
    again, _run = run_disk(make_run, **args)
    assert again['changed'] is False and again['template']['downloaded'] is False


def test_a_bad_owner_fails_before_anything_is_fetched(make_run, tmp_path, repo):
    store = str(tmp_path / 'store')
    missing = str(tmp_path / 'no-uuid')
    with pytest.raises(LagoError) as err:
        run_disk(make_run, path=str(tmp_path / 'vm.qcow2'), template='base', template_repo=repo.path,
                 template_store=store, owner=missing)
    assert missing in str(err.value) and 'uuid file' in str(err.value)
    assert not os.path.exists(store) and not os.path.exists(str(tmp_path / 'vm.qcow2'))


def test_an_overlay_that_fails_after_the_owner_was_recorded_is_rolled_back(make_run, tmp_path, repo, owner):
    store = str(tmp_path / 'store')
    path = str(tmp_path / 'vm.qcow2')
    # The template is fetched only during the run: its size (16M) is learnt then, and 8M is too small.
    with pytest.raises(LagoError) as err:
        run_disk(make_run, path=path, template='base', template_repo=repo.path, template_store=store,
                 owner=owner, size='8M')
    assert 'smaller than its backing file' in str(err.value)
    assert not os.path.exists(path) and not os.path.exists(path + '.lago_disk')
    users = os.path.join(store, 'lab:base:v2.users')
    assert json.load(open(users))['users'] == {}  # the store keeps the image, not the user


def test_absent_and_exported(make_run, tmp_path):
    path = str(tmp_path / 'vm.qcow2')
    run_disk(make_run, path=path, size='8M')
    dest = str(tmp_path / 'out.qcow2')
    planned, _run = run_disk(make_run, check_mode=True, path=path, state='exported', dest=dest)
    assert planned['changed'] is True and planned['action'] == 'exported' and not os.path.exists(dest)
    exported, _run = run_disk(make_run, diff=True, path=path, state='exported', dest=dest)
    assert exported['changed'] is True and exported['export']['hash'] == open(dest + '.hash').read()
    assert exported['diff']['after']['export'] == {'dest': dest, 'status': 'current'}
    again, _run = run_disk(make_run, path=path, state='exported', dest=dest)
    assert again['changed'] is False and again['export']['hash'] == exported['export']['hash']
    planned, _run = run_disk(make_run, check_mode=True, path=path, state='absent')
    assert planned['changed'] is True and os.path.exists(path)
    removed, _run = run_disk(make_run, path=path, state='absent')
    assert removed['action'] == 'removed' and not os.path.exists(path)
    assert not os.path.exists(path + '.lago_disk')
    assert run_disk(make_run, path=path, state='absent')[0]['changed'] is False


# --- state=absent removes only what lago_disk made --------------------------

def test_absent_refuses_a_users_file_naming_the_path_and_it_survives(make_run, tmp_path):
    # Before: any file at the path was deleted.
    path = tmp_path / 'thesis.img'
    path.write_bytes(b'my only copy')
    for check_mode in (True, False):
        with pytest.raises(LagoError) as err:
            run_disk(make_run, check_mode=check_mode, path=str(path), state='absent')
        # The error must name the path, say lago_disk did not make it and that it is left alone.
        assert str(err.value).startswith('%s was not made by lago_disk (there is no ownership record %s.lago_disk); '
                                         'it is left alone' % (path, path))
    assert path.read_bytes() == b'my only copy'


def test_absent_refuses_a_users_image_put_where_lago_disks_image_was(make_run, tmp_path):
    path = str(tmp_path / 'data.qcow2')
    run_disk(make_run, path=path, size='8M')
    os.rename(path, path + '.mine')
    qemu_img.create(path + '.users', size=MIB, fmt='qcow2')
    os.rename(path + '.users', path)  # another file (inode) at the path, the old record beside it
    with pytest.raises(LagoError) as err:
        run_disk(make_run, path=path, state='absent')
    assert str(err.value).startswith('%s was not made by lago_disk (its ownership record %s.lago_disk names '
                                     'another file)' % (path, path))
    assert os.path.exists(path)


def test_absent_removes_the_image_lago_disk_made_with_its_record(make_run, tmp_path):
    path = str(tmp_path / 'data.qcow2')
    made, _run = run_disk(make_run, path=path, size='8M')
    assert made['action'] == 'created' and os.path.exists(path + '.lago_disk')
    grown, _run = run_disk(make_run, path=path, size='16M')
    assert grown['action'] == 'grown'
    planned, _run = run_disk(make_run, check_mode=True, path=path, state='absent')
    assert planned['action'] == 'removed' and os.path.exists(path)
    removed, _run = run_disk(make_run, path=path, state='absent')
    assert removed['changed'] and removed['action'] == 'removed'
    assert listing(str(tmp_path)) == []


def test_absent_removes_an_export_with_its_hash_and_metadata(make_run, tmp_path):
    path = str(tmp_path / 'vm.qcow2')
    run_disk(make_run, path=path, size='8M')
    dest = str(tmp_path / 'out.qcow2')
    run_disk(make_run, path=path, state='exported', dest=dest)
    removed, _run = run_disk(make_run, path=dest, state='absent')
    assert removed['action'] == 'removed'
    assert listing(str(tmp_path)) == ['vm.qcow2', 'vm.qcow2.lago_disk']


def test_a_prefix_image_is_refused_naming_the_prefix_and_the_disk(make_run, tmp_path, monkeypatch):
    # lago_disk with force would replace (or with state=absent remove) a VM's running overlay.
    state = make_prefix(tmp_path / 'prefix', fake_libvirt(monkeypatch))
    root = state.layout.image('vm01', 'root', 'qcow2')
    before = open(root, 'rb').read()
    for given in (dict(state='absent'), dict(size='128M', force=True, format='raw'), dict(size='128M')):
        with pytest.raises(LagoError) as err:
            run_disk(make_run, path=root, **given)
        assert str(err.value).startswith('%s belongs to lago prefix %s (VM vm01 disk root): lago_disk leaves it alone'
                                         % (root, state.path))
    assert open(root, 'rb').read() == before
