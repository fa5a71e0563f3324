# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SSH keys: the prefix's login key pair, per-VM host keys, known_hosts lines."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import shutil
import tempfile

from ansible_collections.lago.lago.plugins.module_utils.runner import run


try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
except ImportError:  # ssh-keygen makes them instead
    serialization = None


def generate_keypair(private_path, key_type='rsa', comment='lago', bits=None):
    """Write a new passphrase-less key pair at ``private_path`` (+ ``.pub``).

    The private key is 0600 and the public one 0644, as ssh expects.
    """
    made = _in_process(key_type, comment, bits)
    if made is None:
        argv = ['ssh-keygen', '-q', '-t', key_type, '-N', '', '-C', comment, '-f', private_path]
        if bits:
            argv += ['-b', str(bits)]
        run(argv)
    else:
        for path, text in ((private_path, made[0]), (private_path + '.pub', made[1] + '\n')):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(text)
    os.chmod(private_path, 0o600)
    os.chmod(private_path + '.pub', 0o644)
    return read_public_key(private_path + '.pub')


def _in_process(key_type, comment, bits):
    """(private OpenSSH text, public line) made with cryptography, without a process per key; None
    when cryptography is missing or does not make this type (ssh-keygen does then)."""
    if serialization is None or key_type not in ('rsa', 'ed25519'):
        return None
    if key_type == 'rsa':
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits or 3072)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode('ascii')
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, '%s %s' % (public.decode('ascii'), comment)


def make_host_key(key_type='ed25519', comment='lago-host'):
    """A fresh host key as a (private, public) pair of strings, nothing kept on disk."""
    made = _in_process(key_type, comment, None)
    if made is not None:
        return made
    workdir = tempfile.mkdtemp(prefix='lago-hostkey-')
    try:
        path = os.path.join(workdir, 'key')
        public = generate_keypair(path, key_type=key_type, comment=comment)
        with open(path) as handle:
            private = handle.read()
        return private, public
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def read_public_key(path):
    with open(path) as handle:
        return handle.read().strip()


def known_hosts_line(names, public_key):
    """A known_hosts line for ``names`` (list of host names / addresses).

    ``public_key`` is "type base64 [comment]"; the comment is dropped.
    """
    key_type, key_data = public_key.split()[:2]
    return '%s %s %s' % (','.join(names), key_type, key_data)
