# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The init file's ``root-password`` turned into a SHA-512 crypt hash before a spec is
saved, compared or shown: spec.json, the seeds, diffs and results only ever hold the hash.

A clear password whose hash in the prefix's current spec matches keeps that hash (so an
unchanged init file is no change); otherwise it gets a new hash with a new random salt.
A value that already is a crypt hash (``$6$``, ``$5$``, ``$y$``) is kept as given.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

from ansible_collections.lago.lago.plugins.module_utils import passwords

SECRET_KEY = 'root-password'


def seal_passwords(new_spec, old_spec=None):
    """A copy of ``new_spec`` whose root passwords are crypt hashes (see above)."""
    sealed = copy.deepcopy(new_spec)
    old_domains = (old_spec or {}).get('domains') or {}
    for name, vm in sealed['domains'].items():
        password = (vm or {}).get(SECRET_KEY)
        if password is None or passwords.is_crypt_hash(password):
            continue
        old_hash = (old_domains.get(name) or {}).get(SECRET_KEY)
        vm[SECRET_KEY] = old_hash if passwords.verify(password, old_hash) else passwords.sha512_crypt(password)
    return sealed
