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


def generate_keypair(private_path, key_type='rsa', comment='lago', bits=None):
    """Write a new passphrase-less key pair at ``private_path`` (+ ``.pub``).

    The private key is 0600 and the public one 0644, as ssh expects.
    """
    argv = ['ssh-keygen', '-q', '-t', key_type, '-N', '', '-C', comment, '-f', private_path]
    if bits:
        argv += ['-b', str(bits)]
    run(argv)
    os.chmod(private_path, 0o600)
    os.chmod(private_path + '.pub', 0o644)
    return read_public_key(private_path + '.pub')


def make_host_key(key_type='ed25519', comment='lago-host'):
    """A fresh host key as a (private, public) pair of strings, nothing kept on disk."""
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
