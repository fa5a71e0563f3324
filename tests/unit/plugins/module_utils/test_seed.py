# -*- coding: utf-8 -*-
"""seed: the NoCloud seed image (a real genisoimage run)."""

from __future__ import absolute_import, division, print_function

import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import seed

pytestmark = pytest.mark.skipif(not shutil.which('genisoimage'), reason='genisoimage is not installed')


def _files():
    return seed.render_seed(hostname='vm01', instance_id='abc-vm01', authorized_keys=['ssh-rsa AAAA x'],
                            nics=[dict(mac='54:52:c0:a8:c8:02', address='192.168.200.2/24',
                                       gateway='192.168.200.1', dns=['192.168.200.1'], search=[])],
                            host_key=('ed25519', '-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n', 'ssh-ed25519 AAAA'))


def test_seed_holding_the_host_key_is_private_and_complete(tmp_path):
    path = str(tmp_path / 'vm01.iso')
    os.umask(0o022)
    seed.write_seed_image(path, _files())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ['vm01.iso']
    with open(path, 'rb') as handle:
        image = handle.read()
    assert b'CIDATA' in image.upper() and b'secret' in image


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    def broken(argv, **kwargs):
        raise subprocess.CalledProcessError(1, argv)
    monkeypatch.setattr(seed, 'run', broken)
    with pytest.raises(subprocess.CalledProcessError):
        seed.write_seed_image(str(tmp_path / 'vm01.iso'), _files())
    assert os.listdir(str(tmp_path)) == []
