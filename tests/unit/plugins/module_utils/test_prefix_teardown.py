# -*- coding: utf-8 -*-
"""prefix_teardown: only what the state records goes; the directory only when init made it."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import errors, lease_owner, prefix_teardown, subnet_lease
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn
from ansible_collections.lago.lago.tests.unit.plugins.modules.module_helpers import UUID, listing


def make_state(tmp_path, path, created_dir):
    """A recorded prefix at ``path``: two VMs on one shared pool layer, a file disk of the user's,
    one leased net; every file it names exists."""
    layout = Layout(str(path))
    for sub in layout.subdirs() + [layout.pool_imports]:
        os.makedirs(sub, exist_ok=True)
    with open(layout.uuid_file, 'w') as handle:
        handle.write(UUID)
    lease_dir = str(tmp_path / 'subnets')
    state = PrefixState.new(layout, created_dir=created_dir, uuid=UUID, short_id=UUID[:8], lease_dir=lease_dir,
                            template_store=str(tmp_path / 'store'))
    lease = subnet_lease.acquire(lease_dir, state.owner)
    state.add_net('lan', dict(libvirt_name='%s-lan' % UUID[:8], leased=True, subnet=lease['subnet']))
    user_disk = str(tmp_path / 'users.img')
    shared = os.path.join(layout.pool_imports, 'base.qcow2')
    for path_ in (user_disk, shared, layout.private_key, layout.spec_file):
        open(path_, 'w').close()
    conn = FakeConn()
    conn.networkDefineXML('<network><name>%s-lan</name></network>' % UUID[:8])
    for name in ('vm01', 'vm02'):
        disks = [dict(name='root', path=layout.image(name, 'root', 'qcow2'), base_files=[shared])]
        if name == 'vm01':
            disks.append(dict(name='data', path=user_disk, owned=False))
        for disk in disks:
            open(disk['path'], 'a').close()
        open(layout.seed(name), 'w').close()
        state.add_vm(name, dict(libvirt_name='%s-%s' % (UUID[:8], name), disks=disks, seed=layout.seed(name)))
        conn.defineXML('<domain><name>%s-%s</name></domain>' % (UUID[:8], name))
    state.status = 'ready'
    state.save()
    return state, conn, user_disk, shared


def test_destroy_keeps_the_users_directory_and_files(tmp_path):
    path = tmp_path / 'mine'
    path.mkdir()
    (path / 'notes.txt').write_text('my notes')
    state, conn, user_disk, _shared = make_state(tmp_path, path, created_dir=False)
    open(state.layout.lock_file, 'w').close()
    removed = prefix_teardown.destroy(conn, state)
    assert listing(str(path)) == ['notes.txt'] and sorted(os.listdir(str(path))) == ['notes.txt']
    assert os.path.exists(user_disk), 'a file disk is the user\'s'
    assert conn.domains == {} and conn.networks == {}
    assert subnet_lease.list_leases(str(tmp_path / 'subnets')) == []
    assert 'lease 192.168.200.0/24' in removed and 'domain %s-vm01' % UUID[:8] in removed


def test_destroy_removes_the_directory_init_made(tmp_path):
    path = tmp_path / 'prefix'
    state, conn, user_disk, _shared = make_state(tmp_path, path, created_dir=True)
    (path / 'left-by-a-deploy.log').write_text('x')
    removed = prefix_teardown.destroy(conn, state)
    assert not os.path.exists(str(path)) and 'directory %s' % path in removed
    assert os.path.exists(user_disk)


def test_a_shared_pool_layer_stays_while_another_vm_uses_it(tmp_path):
    state, conn, _user_disk, shared = make_state(tmp_path, tmp_path / 'prefix', created_dir=True)
    prefix_teardown.teardown_vm(conn, state, state.vm('vm01'))
    assert os.path.exists(shared)
    state.remove_vm('vm01')
    assert 'layer %s' % shared in prefix_teardown.teardown_vm(conn, state, state.vm('vm02'))
    assert not os.path.exists(shared)


def test_a_failed_teardown_names_the_vm_and_keeps_the_state(tmp_path, monkeypatch):
    path = tmp_path / 'prefix'
    state, conn, _user_disk, _shared = make_state(tmp_path, path, created_dir=True)

    def stuck(flags=0):
        raise pytest.importorskip('libvirt').libvirtError('domain is stuck')
    conn.domains['%s-vm02' % UUID[:8]].undefineFlags = stuck
    with pytest.raises(errors.PrefixError) as err:
        prefix_teardown.destroy(conn, state)
    assert 'could not remove all of prefix %s: vm vm02: undefine of domain %s-vm02 failed' % (path, UUID[:8]) \
        in str(err.value)
    assert os.path.exists(state.layout.state_file), 'what is left stays recorded for the next destroy'
    assert conn.networks == {} and '%s-vm01' % UUID[:8] not in conn.domains, 'the rest was still removed'


def test_own_paths_are_the_layout_files_state_last(tmp_path):
    layout = Layout(str(tmp_path / 'p'))
    files, dirs = prefix_teardown.own_paths(layout)
    assert files[-1] == layout.state_file and layout.lock_file not in files
    assert set(layout.subdirs()) <= set(dirs) and os.path.join(layout.path, 'internal_repo') in dirs
    assert all(os.path.dirname(path) == layout.path for path in files + dirs)


def test_destroy_releases_a_lease_no_net_records(tmp_path):
    """A run killed between leasing a subnet and saving state.json: destroy still frees the lease,
    and only the prefix's own (another owner's lease stays)."""
    state, conn, _user_disk, _shared = make_state(tmp_path, tmp_path / 'prefix', created_dir=True)
    leaked = subnet_lease.acquire(state.lease_dir, state.owner)
    other_uuid = tmp_path / 'other-uuid'
    other_uuid.write_text('another-prefix')
    kept = subnet_lease.acquire(state.lease_dir, lease_owner.Owner(str(other_uuid), 'another-prefix'))
    removed = prefix_teardown.destroy(conn, state)
    assert 'lease %s' % leaked['subnet'] in removed
    assert [lease['subnet'] for lease in subnet_lease.list_leases(state.lease_dir)] == [kept['subnet']]
