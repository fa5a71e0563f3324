# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The prefix's internal package repository: ``<prefix>/internal_repo/<name>/``, its indexes and URLs.

Packages are merged, flat, into ``<prefix>/internal_repo/<name>/`` (hard
links where the file system allows, copies elsewhere) and indexed there:
``repodata/`` by ``createrepo_c`` for dnf/yum guests; ``Packages``,
``Packages.gz`` and ``Release`` by ``dpkg-scanpackages`` for apt guests, a
flat repository (``deb [trusted=yes] http://<gw>:8585/<name>/ ./``). Both
flavours may share the directory: each tool indexes only its own packages.

A manifest (``.lago-repo.json``) records what the indexes were built from
(file names, sha256, size, mtime), so rebuilding with the same inputs
changes nothing and says so.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import gzip
import hashlib
import ipaddress
import os
import re
import shutil
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import CommandError, RepoError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write, file_lock, read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.repo_packages import FLAVOURS, SUFFIX, sha256
from ansible_collections.lago.lago.plugins.module_utils.runner import run

DEFAULT_REPO_NAME = 'internal'
DEFAULT_PORT = 8585
REPO_DIR = 'internal_repo'
MANIFEST = '.lago-repo.json'
RPM_INDEX = ('repodata',)
DEB_INDEX = ('Packages', 'Packages.gz', 'Release')

_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')


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
        desired[name] = {'sha256': entry['sha256'] if same else sha256(source),
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

def check_port(port):
    """``port`` if it is a TCP port number; RepoError naming it otherwise."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise RepoError('port %r is not a TCP port (1-65535)' % (port,))
    return port


def check_gateway(gateway, port):
    """RepoError naming ``gateway`` or ``port`` when they cannot make the guests' URL."""
    try:
        ipaddress.ip_address(gateway)
    except ValueError:
        raise RepoError('gateway %r is not an IP address (the address the VMs reach the repository server at)'
                        % (gateway,))
    check_port(port)


def repo_urls(gateway, name=DEFAULT_REPO_NAME, port=DEFAULT_PORT, flavours=FLAVOURS):
    """The URL guests use, with a ready ``.repo`` text and an apt source line."""
    check_gateway(gateway, port)
    host = '[%s]' % gateway if ':' in gateway else gateway
    url = 'http://%s:%d/%s/' % (host, port, name)
    urls = {'url': url}
    if 'rpm' in flavours:
        urls['yum_repo'] = ('[lago-%s]\nname=lago %s repository\nbaseurl=%s\nenabled=1\ngpgcheck=0\n'
                            % (name, name, url))
    if 'deb' in flavours:
        urls['apt_source'] = 'deb [trusted=yes] %s ./' % url
    return urls
