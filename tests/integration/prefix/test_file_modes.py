# -*- coding: utf-8 -*-
"""Secrets stay private: the prefix is 0700 (0710 with qemu's search-only ACL entry), its keys, seeds,
spec and state 0600, nothing world-writable."""

from __future__ import absolute_import, division, print_function

import os
import stat

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_access
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import connect
from labrun import playbook

pytestmark = [pytest.mark.lab]

ONE_VM = '''
    domains:
      vm01:
        memory: 512
        root-password: secret-of-vm01
        nics: [{net: lan}]
        disks: [{template_name: debian12, type: template, name: root, dev: vda, format: qcow2}]
    nets:
      lan: {type: nat, management: true}
'''

# Files that hold a secret: the prefix's SSH private key, the VMs' host private
# keys (inside the seeds), the root password (spec.json, the seeds).
SECRET = ('id_rsa', 'spec.json', 'state.json', 'seeds/vm01.iso')


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_prefix_files_are_private(prefix_vars, write_init_file):
    extra = dict(prefix_vars, lago_init_file=write_init_file(ONE_VM))
    path = prefix_vars['lago_prefix_path']
    try:
        playbook('init', extra).check()
        # 0700, plus one POSIX ACL entry giving qemu's user (libvirt-qemu with a stock libvirt) search
        # only: ls then shows 0710, the group bits being the ACL mask (the owning group still gets nothing).
        identity = qemu_access.connection_identity(connect('qemu:///system'))
        assert mode(path) == (0o700 if identity is None else 0o710), oct(mode(path))
        acl = qemu_access.read_acl(path)
        assert [(perm, ident) for tag, perm, ident in acl if tag == qemu_access.USER] == \
            ([] if identity is None else [(qemu_access.SEARCH, identity[0])]), acl
        assert [perm for tag, perm, _id in acl if tag in (qemu_access.GROUP_OBJ, qemu_access.OTHER)] == [0, 0], acl
        for name in SECRET:
            assert mode(os.path.join(path, name)) == 0o600, '%s is %s' % (name, oct(mode(os.path.join(path, name))))
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                item = os.path.join(root, name)
                assert not mode(item) & stat.S_IWOTH, '%s is world-writable' % item
    finally:
        playbook('destroy', extra).check()
