# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lago's ``ovirt reposetup``: the prefix's internal package repository from its sources, in one step.

Sources:

- sections of a yum ``.repo`` file, downloaded with ``dnf reposync`` into
  the download cache shared by every prefix on the host (repo_sync);
- local directories of ``.rpm`` and ``.deb`` files given by the user
  (repo_packages).

Everything is merged into ``<prefix>/internal_repo/<name>/`` and indexed
there for dnf/yum and apt guests (repos).

Synchronizing apt sources (a Debian mirror) is not done: give the ``.deb``
files in a local directory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os

from ansible_collections.lago.lago.plugins.module_utils.errors import RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock
from ansible_collections.lago.lago.plugins.module_utils.repo_packages import FLAVOURS, find_packages, local_packages, merge_sources
from ansible_collections.lago.lago.plugins.module_utils.repo_sync import DEFAULT_REPOSYNC_DIR, cached_sync, reposync, sync_lock_path
from ansible_collections.lago.lago.plugins.module_utils.repos import DEFAULT_REPO_NAME, build_repo, repo_path


def resolve_flavours(flavour, rpm_sources, deb_sources):
    """The flavours to index: ``auto`` follows the sources; ``both`` is rpm and deb."""
    if flavour == 'auto':
        flavours = [f for f, given in (('rpm', rpm_sources), ('deb', deb_sources)) if given]
        if not flavours:
            raise RepoError('nothing to build: give repo_file, local_rpm_dirs or local_deb_dirs')
        return flavours
    if flavour == 'both':
        return list(FLAVOURS)
    if flavour not in FLAVOURS:
        raise RepoError('flavour %r is not one of auto, rpm, deb, both' % flavour)
    return [flavour]


def reposetup(prefix, name=DEFAULT_REPO_NAME, repo_file=None, sections=None, local_rpm_dirs=None,
              local_deb_dirs=None, reposync_dir=DEFAULT_REPOSYNC_DIR, flavour='auto',
              releasever=None, arch=None, sync_timeout=None, lock_timeout=3600, check_mode=False):
    """Build ``<prefix>/internal_repo/<name>``: sync, merge, index (Lago's ``ovirt reposetup``).

    In check mode nothing is downloaded: the prediction uses what the sync
    cache already holds. Returns ``build_repo``'s result plus ``name`` and
    ``synced`` (``{section: {'path', 'packages': [names]}}``).
    """
    if not os.path.isdir(prefix):
        raise RepoError('prefix %s does not exist' % prefix)
    dest = repo_path(prefix, name)
    flavours = resolve_flavours(flavour, repo_file or local_rpm_dirs, local_deb_dirs)
    rpm_local = local_packages(local_rpm_dirs, 'rpm')
    deb_local = local_packages(local_deb_dirs, 'deb')
    synced = {}
    with contextlib.ExitStack() as held:
        if repo_file and check_mode:
            synced = cached_sync(repo_file, sections, reposync_dir, releasever, arch)
        elif repo_file:
            synced = reposync(repo_file, sections, reposync_dir, releasever, arch, timeout=sync_timeout,
                              lock_timeout=lock_timeout)
            # Another prefix's sync of a section may delete an outdated package: hold the
            # sections (shared) while linking from them, and list them again under the lock.
            for section, sync in synced.items():
                held.enter_context(file_lock(sync_lock_path(sync['path']), shared=True, timeout=lock_timeout,
                                             what='reading the reposync of [%s]' % section))
                sync['packages'] = find_packages(sync['path'], '.rpm')
        rpm_files = merge_sources(*([s['packages'] for s in synced.values()] + [rpm_local]))
        result = build_repo(dest, rpm_files, deb_local, flavours, check_mode=check_mode)
    result['name'] = name
    result['warnings'] = ['section [%s] of %s has no packages' % (section, repo_file)
                          for section, s in sorted(synced.items()) if not s['packages']]
    result['synced'] = dict((section, {'path': s['path'], 'packages': sorted(s['packages'])})
                            for section, s in synced.items())
    return result
