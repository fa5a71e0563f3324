# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prefix's internal package repository (Lago's ``ovirt reposetup``).

Sources:

- sections of a yum ``.repo`` file, downloaded with ``dnf reposync``
  (newest versions only) into a download cache shared by every prefix on the
  host, ``<reposync_dir>/<section>-<hash>/``, one flock per section, as
  Lago's reposync directory was shared. dnf runs from a generated
  ``dnf.conf`` (its own ``reposdir``, cache and log directories), so it needs
  no system yum configuration and works as root on Debian;
- local directories of ``.rpm`` and ``.deb`` files given by the user.

Everything is merged, flat, into ``<prefix>/internal_repo/<name>/`` (hard
links where the file system allows, copies elsewhere) and indexed there:
``repodata/`` by ``createrepo_c`` for dnf/yum guests; ``Packages``,
``Packages.gz`` and ``Release`` by ``dpkg-scanpackages`` for apt guests, a
flat repository (``deb [trusted=yes] http://<gw>:8585/<name>/ ./``). Both
flavours may share the directory: each tool indexes only its own packages.

A manifest (``.lago-repo.json``) records what the indexes were built from
(file names, sha256, size, mtime), so rebuilding with the same inputs
changes nothing and says so.

Synchronizing apt sources (a Debian mirror) is not done: give the ``.deb``
files in a local directory.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import configparser
import contextlib
import errno
import gzip
import hashlib
import os
import re
import shutil
import tempfile
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import CommandError, RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import (
    atomic_write, file_lock, read_json, remove_path, write_json)
from ansible_collections.lago.lago.plugins.module_utils.runner import run

DEFAULT_REPOSYNC_DIR = '/var/lib/lago/reposync'
DEFAULT_REPO_NAME = 'internal'
DEFAULT_PORT = 8585
REPO_DIR = 'internal_repo'
MANIFEST = '.lago-repo.json'
FLAVOURS = ('rpm', 'deb')
SUFFIX = {'rpm': '.rpm', 'deb': '.deb'}
RPM_INDEX = ('repodata',)
DEB_INDEX = ('Packages', 'Packages.gz', 'Release')

_URL_KEYS = ('baseurl', 'mirrorlist', 'metalink')
_BOOL = {'1': True, 'yes': True, 'true': True, 'on': True,
         '0': False, 'no': False, 'false': False, 'off': False}
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
# dnf on Debian cannot guess $releasever and says so on every run; it is noise.
_DNF_NOISE = ('Unable to detect release version',)


# --- the .repo file ------------------------------------------------------------------------

def parse_repo_file(path):
    """Sections of a yum ``.repo`` file, in file order.

    Returns ``{section: {'name', 'baseurl' (list), 'mirrorlist', 'metalink',
    'enabled' (bool), 'options' (every key, as written)}}``.
    """
    if not os.path.isfile(path):
        raise RepoError('repo_file %s does not exist' % path)
    # No interpolation: URLs carry '%' escapes. No DEFAULT magic: yum has none.
    parser = configparser.ConfigParser(interpolation=None, strict=True,
                                       default_section='\x00lago-none')
    try:
        with open(path) as handle:
            parser.read_file(handle, source=path)
    except (configparser.Error, UnicodeDecodeError) as err:
        raise RepoError('repo_file %s cannot be read: %s' % (path, str(err).strip()))
    repos = {}
    for section in parser.sections():
        options = dict(parser.items(section))
        enabled = options.get('enabled', '1').strip().lower()
        if enabled not in _BOOL:
            raise RepoError('repo_file %s: section [%s]: enabled=%r is not a boolean'
                            % (path, section, options['enabled']))
        repos[section] = {
            'name': options.get('name', section),
            'baseurl': [url for url in re.split(r'[\s,]+', options.get('baseurl', '')) if url],
            'mirrorlist': options.get('mirrorlist', '').strip() or None,
            'metalink': options.get('metalink', '').strip() or None,
            'enabled': _BOOL[enabled],
            'options': options,
        }
    return repos


def choose_sections(repos, sections=None, repo_file='the repo file', releasever=None):
    """The sections to synchronize: ``sections`` (checked), or every enabled one."""
    if sections:
        unknown = [s for s in sections if s not in repos]
        if unknown:
            raise RepoError('repo_file %s has no section %s (it has: %s)'
                            % (repo_file, ', '.join(repr(s) for s in unknown),
                               ', '.join(repos) or 'none'))
        chosen = list(dict.fromkeys(sections))
    else:
        chosen = [s for s, repo in repos.items() if repo['enabled']]
        if not chosen:
            raise RepoError('repo_file %s has no enabled section; name the sections to synchronize'
                            % repo_file)
    for section in chosen:
        repo = repos[section]
        urls = repo['baseurl'] + [u for u in (repo['mirrorlist'], repo['metalink']) if u]
        if not urls:
            raise RepoError('repo_file %s: section [%s] has no baseurl, mirrorlist or metalink'
                            % (repo_file, section))
        if releasever is None and any('$releasever' in url for url in urls):
            raise RepoError('repo_file %s: section [%s] uses $releasever: set releasever'
                            % (repo_file, section))
    return chosen


# --- dnf reposync into the shared cache ------------------------------------------------------

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
            result[section] = {'path': path, 'packages': _find_packages(path, '.rpm')}
    return result


def cached_sync(repo_file, sections=None, reposync_dir=DEFAULT_REPOSYNC_DIR, releasever=None,
                arch=None):
    """What the cache holds for the chosen sections, downloading nothing (check mode)."""
    return dict((section, {'path': path, 'packages': _find_packages(path, '.rpm')})
                for section, path in _plan_sync(repo_file, sections, reposync_dir, releasever, arch))


# --- package files ------------------------------------------------------------------------------

def _find_packages(directory, suffix):
    """{file name: real path} of the ``suffix`` files below ``directory`` (recursive)."""
    found = {}
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(suffix) and not name.startswith('.'):
                _add_package(found, name, os.path.realpath(os.path.join(root, name)))
    return found


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _add_package(packages, name, path):
    """Add one file; the same name with other content in two places is an error."""
    other = packages.get(name)
    if other is not None and other != path and _sha256(other) != _sha256(path):
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
        found = _find_packages(directory, suffix)
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


# --- the repository in the prefix --------------------------------------------------------------

def repo_path(prefix, name=DEFAULT_REPO_NAME):
    """``<prefix>/internal_repo/<name>``; the name must be a plain directory name."""
    if not _NAME_RE.match(name or ''):
        raise RepoError('name %r is not a valid repository name (letters, digits, ., _, -)' % name)
    return os.path.join(os.path.abspath(prefix), REPO_DIR, name)


def _flavour_of(name):
    for flavour, suffix in SUFFIX.items():
        if name.endswith(suffix):
            return flavour
    return None


def _index_present(dest, flavour):
    if flavour == 'rpm':
        return os.path.isfile(os.path.join(dest, 'repodata', 'repomd.xml'))
    return all(os.path.isfile(os.path.join(dest, name)) for name in DEB_INDEX)


def _stat_matches(entry, path):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return bool(entry) and entry['size'] == st.st_size and entry['mtime_ns'] == st.st_mtime_ns


def plan_repo(dest, rpm_files, deb_files, flavours):
    """Compare what ``dest`` holds with what it should hold; changes nothing.

    Returns a plan: ``desired`` ({name: {sha256, size, mtime_ns, source}}),
    ``added``, ``removed``, ``updated`` (names) and ``reindex`` (flavours whose
    index must be rebuilt or removed).
    """
    flavours = sorted(set(flavours))
    try:
        manifest = read_json(os.path.join(dest, MANIFEST), default={}) if os.path.isdir(dest) else {}
    except ValueError:
        manifest = {}  # unreadable: rebuild everything
    old = manifest.get('packages', {})
    desired = {}
    for name, source in list(rpm_files.items()) + list(deb_files.items()):
        st = os.stat(source)
        entry = old.get(name)
        same = entry and entry['size'] == st.st_size and entry['mtime_ns'] == st.st_mtime_ns
        desired[name] = {'sha256': entry['sha256'] if same else _sha256(source),
                         'size': st.st_size, 'mtime_ns': st.st_mtime_ns, 'source': source}
    present = set()
    if os.path.isdir(dest):
        present = set(n for n in os.listdir(dest)
                      if _flavour_of(n) and os.path.isfile(os.path.join(dest, n)))
    added = sorted(set(desired) - present)
    removed = sorted(present - set(desired))
    updated = sorted(n for n in set(desired) & present
                     if not _stat_matches(old.get(n), os.path.join(dest, n))
                     or old[n]['sha256'] != desired[n]['sha256'])
    touched = set(added) | set(removed) | set(updated) | (set(old) ^ set(desired))
    reindex = []
    for flavour in FLAVOURS:
        wanted = flavour in flavours
        if (wanted != (flavour in manifest.get('flavours', [])) or wanted != _index_present(dest, flavour)
                or (wanted and any(_flavour_of(n) == flavour for n in touched))):
            reindex.append(flavour)
    return {'dest': dest, 'flavours': flavours, 'desired': desired, 'old': old,
            'added': added, 'removed': removed, 'updated': updated, 'reindex': reindex,
            'changed': bool(added or removed or updated or reindex)}


def _place(source, target):
    """Hard-link ``source`` to ``target`` (a copy across file systems), atomically."""
    if os.path.exists(target) and os.path.samefile(source, target):
        return
    tmp = os.path.join(os.path.dirname(target), '.%s.tmp' % os.path.basename(target))
    remove_path(tmp)
    try:
        os.link(source, tmp)
    except OSError as err:
        if err.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, tmp)
    os.rename(tmp, target)


def _index_rpm(dest):
    try:
        run(['createrepo_c', '--quiet', dest])
    except CommandError as err:
        raise RepoError('createrepo_c failed in %s: %s' % (dest, (err.stderr or err.stdout).strip()))


def _release_text(name, files):
    # apt wants a Date; the build time only moves forward between rebuilds.
    lines = ['Origin: lago', 'Label: lago %s' % name,
             'Date: %s' % time.strftime('%a, %d %b %Y %H:%M:%S UTC', time.gmtime()),
             'Description: lago.lago internal repository %s' % name]
    for field, algo in (('MD5Sum', 'md5'), ('SHA256', 'sha256')):
        lines.append('%s:' % field)
        for fname, data in files:
            digest = hashlib.new(algo, data, usedforsecurity=False).hexdigest()
            lines.append(' %s %d %s' % (digest, len(data), fname))
    return '\n'.join(lines) + '\n'


def _index_deb(dest):
    try:
        _rc, out, _err = run(['dpkg-scanpackages', '--multiversion', '.'], cwd=dest)
    except CommandError as err:
        raise RepoError('dpkg-scanpackages failed in %s: %s' % (dest, (err.stderr or err.stdout).strip()))
    packages = out.encode('utf-8')
    packages_gz = gzip.compress(packages, mtime=0)
    atomic_write(os.path.join(dest, 'Packages'), packages)
    atomic_write(os.path.join(dest, 'Packages.gz'), packages_gz)
    atomic_write(os.path.join(dest, 'Release'),
                 _release_text(os.path.basename(dest), [('Packages', packages), ('Packages.gz', packages_gz)]))


def _drop_index(dest, flavour):
    for name in (RPM_INDEX if flavour == 'rpm' else DEB_INDEX):
        path = os.path.join(dest, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            remove_path(path)


def apply_plan(plan):
    """Carry out a plan from ``plan_repo``: place, remove, reindex, record."""
    dest = plan['dest']
    os.makedirs(dest, exist_ok=True)
    for name in plan['added'] + plan['updated']:
        _place(plan['desired'][name]['source'], os.path.join(dest, name))
    for name in plan['removed']:
        remove_path(os.path.join(dest, name))
    for flavour in plan['reindex']:
        if flavour not in plan['flavours']:
            _drop_index(dest, flavour)
        elif flavour == 'rpm':
            _index_rpm(dest)
        else:
            _index_deb(dest)
    packages = {}
    for name, want in plan['desired'].items():
        st = os.stat(os.path.join(dest, name))
        packages[name] = {'sha256': want['sha256'], 'size': st.st_size, 'mtime_ns': st.st_mtime_ns}
    write_json(os.path.join(dest, MANIFEST), {'version': 1, 'flavours': plan['flavours'],
                                              'packages': packages})


def package_lines(packages):
    """Diff-friendly text: one ``name sha256:<12 hex>`` line per package."""
    return ''.join('%s sha256:%s\n' % (name, packages[name]['sha256'][:12]) for name in sorted(packages))


def build_repo(dest, rpm_files, deb_files, flavours, check_mode=False):
    """Make ``dest`` hold exactly ``rpm_files`` and ``deb_files``, indexed for ``flavours``.

    ``rpm_files`` / ``deb_files`` are ``{file name: source path}``. Packages of
    a flavour that is not asked for are an error. Returns ``changed``,
    ``added``, ``removed``, ``updated``, ``reindexed``, ``rpm_packages``,
    ``deb_packages``, ``checksums`` and ``diff`` (before/after package lines).
    """
    flavours = sorted(set(flavours))
    for flavour, files in (('rpm', rpm_files), ('deb', deb_files)):
        if files and flavour not in flavours:
            raise RepoError('%s packages were given but the repository is built for %s only'
                            % (SUFFIX[flavour], ' and '.join(flavours) or 'no flavour'))
    if check_mode:
        plan = plan_repo(dest, rpm_files, deb_files, flavours)
    else:
        with file_lock(os.path.join(os.path.dirname(dest), '.%s.lock' % os.path.basename(dest)),
                       what='building %s' % dest):
            plan = plan_repo(dest, rpm_files, deb_files, flavours)
            if plan['changed']:
                apply_plan(plan)
    desired = plan['desired']
    return {
        'changed': plan['changed'],
        'path': dest,
        'flavours': flavours,
        'added': plan['added'],
        'removed': plan['removed'],
        'updated': plan['updated'],
        'reindexed': plan['reindex'],
        'rpm_packages': sorted(rpm_files),
        'deb_packages': sorted(deb_files),
        'checksums': dict((name, want['sha256']) for name, want in desired.items()),
        'diff': {'before': package_lines(plan['old']), 'after': package_lines(desired)},
    }


# --- what guests use ------------------------------------------------------------------------------

def repo_urls(gateway, name=DEFAULT_REPO_NAME, port=DEFAULT_PORT, flavours=FLAVOURS):
    """The URL guests use, with a ready ``.repo`` text and an apt source line."""
    host = '[%s]' % gateway if ':' in gateway else gateway
    url = 'http://%s:%d/%s/' % (host, port, name)
    urls = {'url': url}
    if 'rpm' in flavours:
        urls['yum_repo'] = ('[lago-%s]\nname=lago %s repository\nbaseurl=%s\nenabled=1\ngpgcheck=0\n'
                            % (name, name, url))
    if 'deb' in flavours:
        urls['apt_source'] = 'deb [trusted=yes] %s ./' % url
    return urls


# --- the whole step -------------------------------------------------------------------------------

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
                sync['packages'] = _find_packages(sync['path'], '.rpm')
        rpm_files = merge_sources(*([s['packages'] for s in synced.values()] + [rpm_local]))
        result = build_repo(dest, rpm_files, deb_local, flavours, check_mode=check_mode)
    result['name'] = name
    result['warnings'] = ['section [%s] of %s has no packages' % (section, repo_file)
                          for section, s in sorted(synced.items()) if not s['packages']]
    result['synced'] = dict((section, {'path': s['path'], 'packages': sorted(s['packages'])})
                            for section, s in synced.items())
    return result
