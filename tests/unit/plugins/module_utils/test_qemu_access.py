# -*- coding: utf-8 -*-
"""qemu_access: search permission for the qemu user, checked against the kernel itself."""

from __future__ import absolute_import, division, print_function

import os
import pathlib
import shutil
import stat
import tempfile

import pytest

from ansible_collections.lago.lago.plugins.module_utils import qemu_access
from ansible_collections.lago.lago.plugins.module_utils.errors import PrefixError

QEMU = (64055, 64055)
NOBODY = 65534

CAPS = '''<capabilities><host>
  <secmodel><model>none</model><doi>0</doi></secmodel>
  <secmodel><model>dac</model><doi>0</doi><baselabel type='kvm'>+64055:+64055</baselabel>
  <baselabel type='qemu'>+64055:+64055</baselabel></secmodel>
</host></capabilities>'''


def _kernel_lets(uid, path):
    """Whether uid can stat ``path``: asked of the kernel in a child that becomes uid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.stat(path)
            os._exit(0)
        except OSError:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


@pytest.fixture
def prefix():
    if os.getuid() != 0:
        pytest.skip('needs root to ask the kernel as another user')
    # Under /var/tmp (1777): pytest's own tmp dirs are 0700 all the way up.
    scratch = pathlib.Path(tempfile.mkdtemp(dir='/var/tmp', prefix='lago-qemu-access-'))
    os.chmod(str(scratch), 0o755)
    top = scratch / 'top'
    images = top / 'prefix' / 'images'
    images.mkdir(parents=True)
    for path in (top, top / 'prefix', images):
        os.chmod(str(path), 0o700)
    disk = images / 'vm01_root.qcow2'
    disk.write_bytes(b'x')
    yield dict(top=str(top), prefix=str(top / 'prefix'), images=str(images), disk=str(disk))
    shutil.rmtree(str(scratch))


def test_identity_from_capabilities():
    assert qemu_access.qemu_identity(CAPS) == QEMU
    assert qemu_access.qemu_identity(CAPS.replace('+64055:+64055', '+0:+0')) is None
    assert qemu_access.qemu_identity('<capabilities><host/></capabilities>') is None


def test_owned_directories_get_search_for_qemu_only(prefix):
    assert not _kernel_lets(QEMU[0], prefix['disk'])
    owned = [prefix['top'], prefix['prefix'], prefix['images']]
    changed = qemu_access.make_reachable([prefix['disk']], QEMU, owned_dirs=owned)
    assert changed == [prefix['top'], prefix['prefix'], prefix['images']]
    assert _kernel_lets(QEMU[0], prefix['disk'])
    assert not _kernel_lets(NOBODY, prefix['disk'])
    # Owner keeps rwx, the owning group and others still get nothing.
    acl = qemu_access.read_acl(prefix['prefix'])
    assert (qemu_access.GROUP_OBJ, 0, 0xFFFFFFFF) in acl and (qemu_access.OTHER, 0, 0xFFFFFFFF) in acl
    assert (qemu_access.USER, 1, QEMU[0]) in acl
    assert stat.S_IMODE(os.stat(prefix['prefix']).st_mode) == 0o710  # the group bits show the ACL mask
    assert qemu_access.make_reachable([prefix['disk']], QEMU, owned_dirs=[prefix['prefix']]) == []


def test_a_directory_not_ours_is_named_and_left_alone(prefix):
    with pytest.raises(PrefixError) as caught:
        qemu_access.make_reachable([prefix['disk']], QEMU, owned_dirs=[prefix['prefix'], prefix['images']])
    message = str(caught.value)
    assert 'cannot reach %s: directory %s (mode 0700' % (prefix['disk'], prefix['top']) in message
    assert 'setfacl -m u:libvirt-qemu:x %s' % prefix['top'] in message
    assert stat.S_IMODE(os.stat(prefix['top']).st_mode) == 0o700
    assert not any(tag == qemu_access.USER for tag, _perm, _id in qemu_access.read_acl(prefix['top']))


def test_root_qemu_needs_nothing(prefix):
    assert qemu_access.make_reachable([prefix['disk']], None) == []


def test_existing_acl_entries_are_kept(prefix):
    qemu_access.grant_search(prefix['prefix'], NOBODY)
    qemu_access.grant_search(prefix['prefix'], QEMU[0])
    users = sorted(ident for tag, _perm, ident in qemu_access.read_acl(prefix['prefix']) if tag == qemu_access.USER)
    assert users == [QEMU[0], NOBODY]


def test_owned_trees_cover_every_directory_below_them(prefix):
    """The prefix (and the template store) are the collection's: each directory under them gets the entry,
    the one above them is named in the error and left alone."""
    with pytest.raises(PrefixError) as caught:
        qemu_access.make_reachable([prefix['disk']], QEMU, owned_trees=[prefix['prefix'], None])
    assert 'directory %s (mode 0700' % prefix['top'] in str(caught.value)
    assert not any(tag == qemu_access.USER for tag, _perm, _id in qemu_access.read_acl(prefix['top']))
    qemu_access.grant_search(prefix['top'], QEMU[0])  # what the message says to run
    assert qemu_access.make_reachable([prefix['disk']], QEMU, owned_trees=[prefix['prefix']]) \
        == [prefix['prefix'], prefix['images']]
    assert _kernel_lets(QEMU[0], prefix['disk'])


def test_a_sibling_with_a_common_name_start_is_not_owned(prefix):
    with pytest.raises(PrefixError):
        qemu_access.make_reachable([prefix['disk']], QEMU, owned_trees=[prefix['top'][:-1]])


def test_give_back_returns_what_qemu_was_left_to_the_owner(prefix):
    os.chown(prefix['disk'], QEMU[0], QEMU[1])
    mine = os.path.join(prefix['images'], 'other')
    open(mine, 'w').close()
    missing = os.path.join(prefix['images'], 'gone')
    assert qemu_access.give_back([prefix['disk'], mine, missing], (0, 0), QEMU) == [prefix['disk']]
    assert (os.stat(prefix['disk']).st_uid, os.stat(prefix['disk']).st_gid) == (0, 0)
    assert qemu_access.give_back([prefix['disk']], (0, 0), QEMU) == []
    assert qemu_access.give_back([prefix['disk']], (0, 0), None) == []
