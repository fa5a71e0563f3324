# -*- coding: utf-8 -*-
"""A stock libvirt: qemu runs as Debian's libvirt-qemu with the DAC driver and dynamic
ownership, and the prefix lives in the 0700 home of a non-root user of group libvirt.

The user is made by the test (lab only) and removed with its home at the end.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import pwd
import stat
import subprocess
import uuid

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_access
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect, lookup_domain
from labrun import playbook
from prefixlib import leases, libvirt_objects

pytestmark = pytest.mark.lab

ONE_VM = '''
    domains:
      vm01:
        memory: 512
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
    nets:
      lan: {type: nat, management: true}
'''


def qemu_user():
    identity = qemu_access.connection_identity(connect('qemu:///system'))
    return None if identity is None else pwd.getpwuid(identity[0])


def test_the_lab_runs_a_stock_libvirt():
    """libvirtd runs qemu as libvirt-qemu (not root) and qemu.conf sets no user, group or security driver."""
    user = qemu_user()
    assert user is not None and user.pw_name == 'libvirt-qemu', user
    with open('/etc/libvirt/qemu.conf') as handle:  # the lab's own copy, inside its mount namespace
        settings = [line.split('=')[0].strip() for line in handle if line.strip() and not line.startswith('#')]
    assert not set(settings) & {'user', 'group', 'security_driver', 'dynamic_ownership'}, settings


@pytest.fixture
def home_user():
    """A non-root user of group libvirt with a 0700 home and a 0755 ``lab`` directory in it."""
    name = 'lagot%s' % uuid.uuid4().hex[:6]
    home = '/home/%s' % name
    subprocess.run(['useradd', '--create-home', '--home-dir', home, '--groups', 'libvirt',
                    '--shell', '/usr/sbin/nologin', name], check=True)
    try:
        os.chmod(home, 0o700)
        lab = os.path.join(home, 'lab')
        subprocess.run(['runuser', '-u', name, '--', 'mkdir', '-m', '0755', lab], check=True)
        yield dict(name=name, home=home, lab=lab)
    finally:
        subprocess.run(['userdel', '--remove', name], check=False)
    assert not os.path.exists(home)


def _args(prefix_vars, path, init_file, **extra):
    args = dict(path=path, init_file=init_file, template_repo=prefix_vars['lago_template_repo'],
                template_store=prefix_vars['lago_template_store'], lease_dir=prefix_vars['lago_lease_dir'],
                virt_type='qemu')
    args.update(extra)
    return args


def _named_users(path):
    return sorted(ident for tag, _perm, ident in qemu_access.read_acl(path) if tag == qemu_access.USER)


def test_a_home_that_blocks_qemu_is_named_and_nothing_is_left(home_user, prefix_vars, write_init_file,
                                                              ansible_module):
    before = libvirt_objects('')
    path = os.path.join(home_user['lab'], 'prefix')
    result = ansible_module('lago.lago.lago_prefix', _args(prefix_vars, path, write_init_file(ONE_VM)))
    assert result.get('failed'), result
    message = result['msg']
    for fragment in ('qemu runs as libvirt-qemu', 'directory %s (mode 0700, owner %s)' % (home_user['home'], home_user['name']),
                     'setfacl -m u:libvirt-qemu:x %s' % home_user['home'], 'removed again'):
        assert fragment in message, (fragment, message)
    assert not os.path.exists(path), os.listdir(path)
    assert leases(prefix_vars['lago_lease_dir']) == []
    assert libvirt_objects('') == before
    # The user's home is never changed without being asked.
    assert stat.S_IMODE(os.stat(home_user['home']).st_mode) == 0o700
    assert _named_users(home_user['home']) == []


def _owner(path):
    info = os.stat(path)
    return (pwd.getpwuid(info.st_uid).pw_name, stat.S_IMODE(info.st_mode))


def test_a_prefix_in_a_home_qemu_may_pass_boots_and_answers_ssh(home_user, prefix_vars, write_init_file):
    """The verb playbooks, as a user runs them: init, start (waits for SSH), a login, stop, destroy."""
    qemu = qemu_user()
    qemu_access.grant_search(home_user['home'], qemu.pw_uid)  # what the error message says to run (setfacl)
    path = os.path.join(home_user['lab'], 'prefix')
    extra = dict(prefix_vars, lago_prefix_path=path, lago_init_file=write_init_file(ONE_VM))
    try:
        playbook('init', extra).check()
        with open(os.path.join(path, 'state.json')) as handle:
            state = json.load(handle)
        vm = state['vms']['vm01']
        disk, seed = vm['disks'][0], vm['seed']
        # The 0700 prefix: the qemu user may pass (search only), no one else; the group bits show the ACL mask.
        assert _named_users(path) == [qemu.pw_uid]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o710
        for directory in (os.path.dirname(disk['path']), os.path.dirname(seed)):
            assert qemu_access.can_search(directory, qemu.pw_uid, {qemu.pw_gid}), directory
        assert _owner(seed) == ('root', 0o600)

        playbook('start', extra).check()
        assert lookup_domain(connect('qemu:///system'), vm['libvirt_name']).isActive()
        # Dynamic ownership: libvirt handed the VM's image, its seed and the template under it (the backing
        # file, in the store) to qemu while it runs.
        assert _owner(disk['path'])[0] == 'libvirt-qemu'
        assert _owner(seed)[0] == 'libvirt-qemu'
        assert _owner(disk['backing'])[0] == 'libvirt-qemu', _owner(disk['backing'])
        login = subprocess.run(
            ['ssh', '-i', os.path.join(path, 'id_rsa'), '-o', 'UserKnownHostsFile=%s' % os.path.join(path, 'known_hosts'),
             '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
             'root@%s' % vm['address'], 'id -un'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)
        assert login.returncode == 0 and login.stdout.split() == ['root'], login.stderr

        assert playbook('stop', extra).check().changed() == 1
        # libvirt gives the running image back when the VM stops; the seed (read-only, which libvirt never
        # restores) is given back by the collection: the prefix's secret again.
        assert _owner(disk['path'])[0] == 'root'
        assert _owner(seed) == ('root', 0o600)
    finally:
        playbook('destroy', extra).check()
    assert not os.path.exists(path)
