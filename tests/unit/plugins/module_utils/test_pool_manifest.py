# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A pool state's manifest: file names, what an export moves, manifest checks; pool locations."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import pool, pool_manifest, pool_transfer
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import sha256_of

SHA = 'a' * 64


def chain():
    """Template, the init overlay, and a snapshot layer on it - bottom first."""
    return [
        dict(path='/store/lab:debian12:r1', format='qcow2', backing=None, size=100, source='file:/store/x:100:1'),
        dict(path='/p/images/vm01_root.qcow2', format='qcow2', backing='/store/lab:debian12:r1',
             backing_format='qcow2', size=10, source='sha256:' + '1' * 64),
        dict(path='/p/images/vm01_root.s1.qcow2', format='qcow2', backing='/p/images/vm01_root.qcow2',
             backing_format='qcow2', size=5, source='sha256:' + '2' * 64),
    ]


def exported(plan):
    """The manifest layers an export of ``plan`` writes (every layer hashed)."""
    layers = copy.deepcopy(plan['layers'])
    for entry in layers.values():
        entry.setdefault('size', 7)
        entry.setdefault('sha256', SHA)
    return layers


def test_pool_file_names_are_readable_and_unique():
    assert pool_manifest.pool_file_name('/store/lab:debian12:r1', set()) == 'lab_debian12_r1'
    assert pool_manifest.pool_file_name('/p/images/vm01_root.qcow2', {'vm01_root.qcow2'}) == 'vm01_root.qcow2~2'
    assert pool_manifest.pool_file_name('/x/.hidden', set()) == 'hidden'
    assert pool_manifest.pool_file_name('/x/manifest.json', set()) == 'layer.manifest.json'


def test_first_export_moves_every_layer_with_relative_backing_names():
    plan = pool_manifest.plan_export(chain())
    assert plan['moves'] == [layer['path'] for layer in chain()]
    assert plan['skipped'] == []
    assert plan['layers']['vm01_root.s1.qcow2']['backing'] == 'vm01_root.qcow2'
    assert plan['layers']['vm01_root.qcow2']['backing'] == 'lab_debian12_r1'
    assert plan['layers']['lab_debian12_r1']['backing'] is None


def test_unchanged_export_moves_nothing():
    first = pool_manifest.plan_export(chain())
    old = dict(layers=exported(first))
    again = pool_manifest.plan_export(chain(), old, present={name: 7 for name in old['layers']})
    assert again['moves'] == []
    assert sorted(again['skipped']) == sorted(old['layers'])
    assert again['layers'] == old['layers']


def test_a_changed_layer_is_moved_again_under_its_name():
    old = dict(layers=exported(pool_manifest.plan_export(chain())))
    layers = chain()
    layers[2]['source'] = 'sha256:' + '3' * 64
    plan = pool_manifest.plan_export(layers, old, present={name: 7 for name in old['layers']})
    assert plan['moves'] == ['/p/images/vm01_root.s1.qcow2']
    assert sorted(plan['skipped']) == ['lab_debian12_r1', 'vm01_root.qcow2']


@pytest.mark.parametrize('present', [{}, {'lab_debian12_r1': 6}])
def test_a_layer_missing_or_cut_short_in_the_pool_is_moved_again(present):
    old = dict(layers=exported(pool_manifest.plan_export(chain())))
    sizes = {name: 7 for name in old['layers']}
    sizes.pop('lab_debian12_r1')
    sizes.update(present)
    plan = pool_manifest.plan_export(chain(), old, sizes)
    assert plan['moves'] == ['/store/lab:debian12:r1']


def manifest():
    return dict(version=1, layers={
        'base': dict(size=1, sha256=SHA, format='qcow2', backing=None),
        'top': dict(size=1, sha256=SHA, format='qcow2', backing='base')},
        vms={'vm01': dict(disks={'root': dict(layer='top', dev='vda')})})


def test_a_good_manifest_passes_and_gives_chains():
    pool_manifest.check_manifest(manifest(), 'state s')
    assert pool_manifest.layers_under(manifest(), 'top') == ['top', 'base']
    assert pool_manifest.disk_of(manifest(), 'vm01', 'root', 'state s')['layer'] == 'top'


@pytest.mark.parametrize('change, expected', [
    (lambda m: m.update(version=2), 'expected a mapping with version 1'),
    (lambda m: m.update(layers={}), 'no layers'),
    (lambda m: m['layers'].update({'../x': m['layers']['base']}), "layer name '../x' is not a plain file name"),
    (lambda m: m['layers']['top'].update(sha256='xyz'), 'layer top needs an integer size and a sha256'),
    (lambda m: m['layers']['top'].update(backing='gone'), 'layer top sits on gone, which is not in the manifest'),
    (lambda m: m['vms']['vm01']['disks']['root'].update(layer='gone'),
     "vm vm01 disk root names layer 'gone', which is not in the manifest"),
    (lambda m: m.update(files={'vm01.mem': dict(size=1)}), 'file vm01.mem needs an integer size and a sha256'),
    (lambda m: m.update(files={'top': dict(size=1, sha256=SHA)}), "file name 'top' is not a plain file name of its own"),
    (lambda m: m['vms']['vm01'].update(memory='vm01.mem'),
     "vm vm01 names saved memory 'vm01.mem', which is not in the manifest"),
    (lambda m: m.update(identity=dict(file='id_rsa')), 'the identity names a key file that is not in the manifest'),
])
def test_bad_manifests_are_named(change, expected):
    broken = manifest()
    change(broken)
    with pytest.raises(SnapshotError) as err:
        pool_manifest.check_manifest(broken, 'pool state s')
    assert str(err.value) == 'pool state s: manifest is not valid: ' + expected


def test_missing_vm_or_disk_lists_what_the_state_has():
    with pytest.raises(SnapshotError) as err:
        pool_manifest.disk_of(manifest(), 'vm02', 'root', 'state s')
    assert str(err.value) == 'state s has no vm vm02 (it has: vm01)'
    with pytest.raises(SnapshotError) as err:
        pool_manifest.disk_of(manifest(), 'vm01', 'data', 'state s')
    assert str(err.value) == 'state s: vm vm01 has no disk data (it has: root)'


def test_manifest_id_follows_the_layers_only():
    other = manifest()
    other['vms'] = {}
    assert pool_manifest.manifest_id(other) == pool_manifest.manifest_id(manifest())
    other['layers']['top']['sha256'] = 'b' * 64
    assert pool_manifest.manifest_id(other) != pool_manifest.manifest_id(manifest())


def test_split_state_and_open_pool():
    assert pool.split_state('/srv/pool/installed/') == ('/srv/pool', 'installed')
    assert pool.split_state('me@host:/srv/pool/installed') == ('me@host:/srv/pool', 'installed')
    with pytest.raises(SnapshotError) as err:
        pool.split_state('installed')
    assert "'installed' does not name a state in a pool" in str(err.value)
    remote = pool_transfer.open_pool('me@host:/srv/pool', ssh='ssh -p 2222')
    assert (remote.host, remote.root, remote.ssh) == ('me@host', '/srv/pool', ['ssh', '-p', '2222'])
    assert pool_transfer.open_pool('/srv/pool').root == '/srv/pool'


def test_remote_pool_commands_end_their_options_with_double_dash(monkeypatch, tmp_path):
    # Whatever follows the options (host, files) is never read as one by ssh or rsync.
    ran = []
    monkeypatch.setattr(pool_transfer, 'run', lambda argv, **kwargs: ran.append(argv) or (0, '', ''))
    remote = pool_transfer.open_pool('me@host:/srv/pool', ssh='ssh -p 2222')
    remote.read_manifest('s1')
    staged = tmp_path / 'staged'
    staged.mkdir()
    (staged / 'layer').write_text('x')
    remote.put('s1', str(staged), ['layer'])
    fetched = tmp_path / 'fetched'
    fetched.mkdir()
    (fetched / 'layer').write_text('x')  # as rsync would have left it
    remote.get('s1', ['layer'], str(fetched))
    ssh_calls = [argv for argv in ran if argv[0] == 'ssh']
    rsync_calls = [argv for argv in ran if argv[0] == 'rsync']
    assert ssh_calls and all(argv[3:5] == ['--', 'me@host'] for argv in ssh_calls)
    assert rsync_calls and all('--' in argv and all(arg.startswith('--') for arg in argv[argv.index('-e') + 2:argv.index('--')])
                               for argv in rsync_calls)
    assert rsync_calls[0][-1] == 'me@host:/srv/pool/s1/'
    # Options go before '--' (after it they would be file names).
    fetch = rsync_calls[-1]
    assert fetch[fetch.index('--') + 1:] == ['me@host:/srv/pool/s1/', str(fetched) + '/']
    assert fetch[fetch.index('--') - 1].startswith('--files-from=')
    assert "mkdir -p -- /srv/pool/s1" in ssh_calls[1][-1]


def test_remote_pool_lock_ends_the_ssh_options_with_double_dash(monkeypatch):
    seen = []

    class Refused(Exception):
        pass

    def popen(argv, **kwargs):
        seen.append(argv)
        raise Refused()
    monkeypatch.setattr(pool_transfer.subprocess, 'Popen', popen)
    remote = pool_transfer.open_pool('me@host:/srv/pool', ssh='ssh')
    with pytest.raises(Refused):
        with remote.lock('s1'):
            pass
    assert seen[0][:3] == ['ssh', '--', 'me@host'] and seen[0][3].startswith('mkdir -p -- ')


@pytest.mark.parametrize('location', ['-oProxyCommand=sh -c x:/srv/pool', 'me@host:-x', '-pool'])
def test_open_pool_refuses_a_location_starting_with_a_dash(location):
    with pytest.raises(SnapshotError) as err:
        pool_transfer.open_pool(location)
    assert str(err.value).startswith('pool location %r' % location)
    assert 'would take for an option' in str(err.value)


def test_a_manifest_with_saved_memory_and_a_key_passes():
    good = manifest()
    good.update(files={'vm01.s1.mem': dict(size=3, sha256=SHA), 'id_rsa': dict(size=2, sha256=SHA)},
                identity=dict(file='id_rsa', public='ssh-rsa AAAA lago'))
    good['vms']['vm01'].update(memory='vm01.s1.mem', host_key='ssh-ed25519 AAAA vm01')
    pool_manifest.check_manifest(good, 'state s')


def test_other_files_move_once_and_are_skipped_when_the_pool_holds_them():
    files = [dict(path='/p/images/vm01.s1.mem', source='sha256:' + '3' * 64), dict(path='/p/id_rsa', source='file:k')]
    first = pool_manifest.plan_files(files, used={'vm01_root.qcow2'})
    assert first['names'] == {'/p/images/vm01.s1.mem': 'vm01.s1.mem', '/p/id_rsa': 'id_rsa'}
    assert first['moves'] == ['/p/images/vm01.s1.mem', '/p/id_rsa'] and first['skipped'] == []
    old = dict(files=dict((name, dict(entry, size=7, sha256=SHA)) for name, entry in first['files'].items()))
    again = pool_manifest.plan_files(files, old, present={'vm01.s1.mem': 7, 'id_rsa': 7})
    assert (again['moves'], sorted(again['skipped'])) == ([], ['id_rsa', 'vm01.s1.mem'])
    changed = pool_manifest.plan_files([dict(files[0], source='sha256:' + '4' * 64)], old, present={'vm01.s1.mem': 7})
    assert changed['moves'] == ['/p/images/vm01.s1.mem'], 'new RAM under the same name is moved again'
    clash = pool_manifest.plan_files(files[:1], used={'vm01.s1.mem'})
    assert clash['names'] == {'/p/images/vm01.s1.mem': 'vm01.s1.mem~2'}, 'never the name of a layer'


def test_a_local_pool_file_hashed_before_is_not_read_again_until_it_changes(tmp_path, monkeypatch):
    """The record of a local pool state: the same file (inode), size and mtime is trusted; a file
    written since, or another put in its place with the same size and mtime, is hashed; a file
    fetched from another host is always hashed."""
    local = pool_transfer.LocalPool(str(tmp_path / 'pool'))
    directory = local.state_dir('s1')
    os.makedirs(directory)
    path = os.path.join(directory, 'vm01.mem')
    with open(path, 'wb') as handle:
        handle.write(b'saved RAM' * 100)
    entry = dict(size=900, sha256=sha256_of(path))
    hashed = []
    monkeypatch.setattr(pool_manifest, 'sha256_of', lambda name: hashed.append(name) or sha256_of(name))

    first = local.verified('s1')
    assert pool_manifest.file_problem(directory, 'vm01.mem', entry, first) is None and hashed == [path]
    first.save()
    assert pool_manifest.file_problem(directory, 'vm01.mem', entry, local.verified('s1')) is None
    assert hashed == [path], 'unchanged since it was hashed: not read again'

    stat = os.stat(path)
    other = path + '.other'
    with open(other, 'wb') as handle:
        handle.write(b'SAVED RAM' * 100)
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.rename(other, path)  # same size and mtime, another inode
    problem = pool_manifest.file_problem(directory, 'vm01.mem', entry, local.verified('s1'))
    assert 'fails its sha256' in problem and len(hashed) == 2

    remote = pool_transfer.RemotePool('hv1', '/pool', ssh='ssh')
    assert not remote.verified('s1').known(path, 'vm01.mem', entry['sha256'])
