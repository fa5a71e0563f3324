# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package files for the internal repository: ``.rpm`` and ``.deb`` files found in directories, merged by name.

The same file name with other content in two places is an error.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os

from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError

FLAVOURS = ('rpm', 'deb')
SUFFIX = {'rpm': '.rpm', 'deb': '.deb'}


def find_packages(directory, suffix):
    """{file name: real path} of the ``suffix`` files below ``directory`` (recursive)."""
    found = {}
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(suffix) and not name.startswith('.'):
                _add_package(found, name, os.path.realpath(os.path.join(root, name)))
    return found


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _add_package(packages, name, path):
    """Add one file; the same name with other content in two places is an error."""
    other = packages.get(name)
    if other is not None and other != path and sha256(other) != sha256(path):
        raise RepoError('two different packages are named %s: %s and %s' % (name, other, path))
    packages.setdefault(name, path)


def local_packages(directories, flavour, option=None):
    """{file name: path} of the ``flavour`` packages in the user's directories.

    A missing directory, or one holding no such package, is an error that
    names the option and the directory.
    """
    option = option or 'local_%s_dirs' % flavour
    suffix = SUFFIX[flavour]
    packages = {}
    for directory in directories or ():
        if not os.path.isdir(directory):
            why = 'is not a directory' if os.path.exists(directory) else 'does not exist'
            raise RepoError('%s: %s %s' % (option, directory, why))
        found = find_packages(directory, suffix)
        if not found:
            raise RepoError('%s: %s holds no %s packages' % (option, directory, suffix))
        for name, path in found.items():
            _add_package(packages, name, path)
    return packages


def merge_sources(*sources):
    """One {file name: path} from several, refusing the same name with other content."""
    merged = {}
    for source in sources:
        for name, path in sorted(source.items()):
            _add_package(merged, name, path)
    return merged
