# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``dnf reposync`` of ``.repo`` sections into the download cache shared by every prefix on the host.

Sections are downloaded (newest versions only) into
``<reposync_dir>/<section>-<hash>/``, one flock per section, as Lago's
reposync directory was shared. dnf runs from a generated ``dnf.conf`` (its
own ``reposdir``, cache and log directories), so it needs no system yum
configuration and works as root on Debian.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import configparser
import hashlib
import os
import re
import shutil
import tempfile

from ansible_collections.lago.lago.plugins.module_utils.errors import CommandError, RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock
from ansible_collections.lago.lago.plugins.module_utils.yum_repo import choose_sections, parse_repo_file
from ansible_collections.lago.lago.plugins.module_utils.repo_packages import find_packages
from ansible_collections.lago.lago.plugins.module_utils.runner import run

DEFAULT_REPOSYNC_DIR = '/var/lib/lago/reposync'
# dnf on Debian cannot guess $releasever and says so on every run; it is noise.
_DNF_NOISE = ('Unable to detect release version',)


def sync_path(reposync_dir, section, repo, releasever=None, arch=None):
    """The cache directory of one section: ``<reposync_dir>/<section>-<hash>``.

    The hash covers the section's URLs, releasever and arch, so two .repo files
    that reuse a section name for different repositories never share a cache.
    """
    key = '\n'.join(repo['baseurl'] + [repo['mirrorlist'] or '', repo['metalink'] or '',
                                       releasever or '', arch or ''])
    safe = re.sub(r'[^A-Za-z0-9._-]', '_', section)
    return os.path.join(reposync_dir, '%s-%s' % (safe, hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]))


def sync_lock_path(path):
    """The lock of a section's cache directory: ``<reposync_dir>/.locks/<section>-<hash>.lock``."""
    return os.path.join(os.path.dirname(path), '.locks', os.path.basename(path) + '.lock')


def _plan_sync(repo_file, sections, reposync_dir, releasever, arch):
    repos = parse_repo_file(repo_file)
    chosen = choose_sections(repos, sections, repo_file, releasever)
    return [(section, sync_path(reposync_dir, section, repos[section], releasever, arch))
            for section in chosen]


def _write_dnf_conf(workdir, repo_file, cachedir):
    repos_d = os.path.join(workdir, 'repos.d')
    os.makedirs(repos_d)
    shutil.copyfile(repo_file, os.path.join(repos_d, 'lago.repo'))
    conf = configparser.ConfigParser(interpolation=None)
    conf['main'] = {
        'reposdir': repos_d,
        'cachedir': cachedir,
        'logdir': os.path.join(workdir, 'log'),
        'persistdir': os.path.join(workdir, 'persist'),
        'varsdir': os.path.join(workdir, 'vars'),
        'skip_if_unavailable': 'False',
        'keepcache': 'False',
    }
    path = os.path.join(workdir, 'dnf.conf')
    with open(path, 'w') as handle:
        conf.write(handle)
    return path


def _dnf_message(err):
    lines = [line for line in (err.stderr or err.stdout or '').splitlines()
             if line.strip() and not line.startswith(_DNF_NOISE)]
    return '\n'.join(lines) or 'exit %s, no output' % err.rc


def reposync(repo_file, sections=None, reposync_dir=DEFAULT_REPOSYNC_DIR, releasever=None,
             arch=None, timeout=None, lock_timeout=3600):
    """Download the newest packages of the chosen sections into the shared cache.

    Each section is synchronized under its own lock; packages no longer in
    the repository are deleted from its cache directory (prefixes that
    linked them keep their copy). Returns ``{section: {'path', 'packages':
    {file name: path}}}``.
    """
    result = {}
    for section, path in _plan_sync(repo_file, sections, reposync_dir, releasever, arch):
        key = os.path.basename(path)
        with file_lock(sync_lock_path(path), timeout=lock_timeout, what='reposync of [%s]' % section):
            workdir = tempfile.mkdtemp(prefix='lago-reposync-')
            try:
                conf = _write_dnf_conf(workdir, repo_file, os.path.join(reposync_dir, '.dnf', key))
                argv = ['dnf', '--config', conf, '--assumeyes', '--quiet', '--refresh',
                        '--repo', section]
                if releasever:
                    argv += ['--releasever', releasever]
                if arch:
                    argv += ['--forcearch', arch]
                argv += ['reposync', '--newest-only', '--delete', '--norepopath',
                         '--download-path', path]
                run(argv, timeout=timeout)
            except CommandError as err:
                raise RepoError('reposync of section [%s] from %s failed: %s'
                                % (section, repo_file, _dnf_message(err)))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
            result[section] = {'path': path, 'packages': find_packages(path, '.rpm')}
    return result


def cached_sync(repo_file, sections=None, reposync_dir=DEFAULT_REPOSYNC_DIR, releasever=None,
                arch=None):
    """What the cache holds for the chosen sections, downloading nothing (check mode)."""
    return dict((section, {'path': path, 'packages': find_packages(path, '.rpm')})
                for section, path in _plan_sync(repo_file, sections, reposync_dir, releasever, arch))
