# -*- coding: utf-8 -*-
"""sshkeys: key pairs and host keys that ssh itself reads, made in-process when cryptography is there."""

from __future__ import absolute_import, division, print_function

import os
import stat
import subprocess

import pytest

from ansible_collections.lago.lago.plugins.module_utils import sshkeys


def _public_of(private_path):
    """What ssh-keygen derives from the private key: it must read the file."""
    return subprocess.run(['ssh-keygen', '-y', '-f', private_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=True).stdout.split()[:2]


@pytest.mark.parametrize('in_process', [True, False])
def test_keypair_is_read_by_ssh_keygen_with_ssh_s_modes(tmp_path, monkeypatch, in_process):
    if not in_process:
        monkeypatch.setattr(sshkeys, 'serialization', None)
    elif sshkeys.serialization is None:
        pytest.skip('cryptography is not installed')
    path = str(tmp_path / 'id_rsa')
    public = sshkeys.generate_keypair(path, key_type='rsa', bits=2048, comment='lago')
    assert public.split()[0] == 'ssh-rsa' and public.endswith(' lago')
    assert _public_of(path) == public.split()[:2]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path + '.pub').st_mode) == 0o644


@pytest.mark.parametrize('in_process', [True, False])
def test_host_key_is_a_matching_ed25519_pair_and_nothing_stays_on_disk(tmp_path, monkeypatch, in_process):
    if not in_process:
        monkeypatch.setattr(sshkeys, 'serialization', None)
    elif sshkeys.serialization is None:
        pytest.skip('cryptography is not installed')
    monkeypatch.setenv('TMPDIR', str(tmp_path / 'tmp'))
    os.mkdir(str(tmp_path / 'tmp'))
    private, public = sshkeys.make_host_key(comment='vm01')
    assert public.split()[0] == 'ssh-ed25519' and public.endswith(' vm01')
    key = tmp_path / 'host_key'
    key.write_text(private)
    key.chmod(0o600)
    assert _public_of(str(key)) == public.split()[:2]
    assert os.listdir(str(tmp_path / 'tmp')) == []


def test_an_existing_key_file_is_not_overwritten(tmp_path):
    path = tmp_path / 'id_rsa'
    path.write_text('mine')
    with pytest.raises(Exception):
        sshkeys.generate_keypair(str(path), key_type='ed25519')
    assert path.read_text() == 'mine'
