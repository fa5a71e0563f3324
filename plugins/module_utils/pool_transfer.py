# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pools themselves: a directory on this host, or ``[user@]host:/path`` reached with
ssh (small commands, locks) and rsync (layers). Both offer the same methods."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile

from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, LockTimeout, SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock, read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.pool_manifest import MANIFEST, VERIFIED, Verified
from ansible_collections.lago.lago.plugins.module_utils.runner import run
from ansible_collections.lago.lago.plugins.module_utils import values
from ansible_collections.lago.lago.plugins.module_utils.values import REMOTE_LOCATION_RE, is_remote_location

STAGING = '.staging'
DEFAULT_SSH = 'ssh'
SSH_ENV = 'LAGO_POOL_SSH'


def open_pool(location, ssh=None):
    """The pool at ``location``: a local directory or ``[user@]host:/path``. One that
    ssh or rsync would read as an option is refused (values.location), naming it."""
    try:
        values.location(location, what='pool location')
    except LagoError as err:
        raise SnapshotError(str(err))
    if is_remote_location(location):
        match = REMOTE_LOCATION_RE.match(location)
        return RemotePool(match.group('host'), match.group('path'), ssh or os.environ.get(SSH_ENV) or DEFAULT_SSH)
    return LocalPool(location)


class LocalPool(object):
    """A pool directory on this host (or on storage mounted here)."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))
        self.remote = False

    def __str__(self):
        return self.root

    def state_dir(self, name):
        return os.path.join(self.root, name)

    @contextlib.contextmanager
    def lock(self, name, shared=False, timeout=300.0):
        path = os.path.join(self.root, '.locks', name + '.lock')
        held = contextlib.ExitStack()
        try:
            held.enter_context(file_lock(path, timeout=timeout, shared=shared, what='pool state %s' % name))
        except OSError as err:
            # A pool location that is a file, or a directory this user may not write.
            raise SnapshotError('cannot lock pool state %s in pool %s: %s (%s)'
                                % (name, self.root, err.strerror or err, getattr(err, 'filename', None) or path))
        with held:
            yield

    def read_manifest(self, name):
        path = os.path.join(self.state_dir(name), MANIFEST)
        if not os.path.exists(path):
            return None
        try:
            return read_json(path)
        except ValueError as err:
            raise SnapshotError('pool state %s: %s is not JSON: %s' % (name, path, err))

    def verified(self, name):
        """The record of the state's files already hashed (pool_manifest.Verified)."""
        return Verified(os.path.join(self.state_dir(name), VERIFIED))

    def sizes(self, name):
        directory = self.state_dir(name)
        if not os.path.isdir(directory):
            return {}
        return {entry.name: entry.stat().st_size for entry in os.scandir(directory)
                if entry.is_file() and not entry.name.startswith('.') and entry.name != MANIFEST}

    def staging_dir(self, name, near=None):
        path = os.path.join(self.state_dir(name), STAGING)
        shutil.rmtree(path, ignore_errors=True)  # what a cut-short export left
        os.makedirs(path)
        return path

    def put(self, name, staged, files):
        for file_name in files:
            os.rename(os.path.join(staged, file_name), os.path.join(self.state_dir(name), file_name))
        shutil.rmtree(staged, ignore_errors=True)

    def get(self, name, files, dest):
        """Link (or copy) ``files`` of the state into the directory ``dest``; bytes copied."""
        copied = 0
        for file_name in files:
            source = os.path.join(self.state_dir(name), file_name)
            target = os.path.join(dest, file_name)
            remove_path(target)
            try:
                os.link(source, target)
            except OSError:  # another file system, or links not allowed: copy
                shutil.copyfile(source, target)
                copied += os.path.getsize(target)
        return copied

    def write_manifest(self, name, manifest):
        write_json(os.path.join(self.state_dir(name), MANIFEST), manifest)

    def remove_files(self, name, files):
        for file_name in files:
            remove_path(os.path.join(self.state_dir(name), file_name))

    def remove_state(self, name):
        shutil.rmtree(self.state_dir(name), ignore_errors=True)


class RemotePool(object):
    """A pool directory on another host: small commands over ssh, layers through rsync."""

    def __init__(self, host, root, ssh):
        self.host = host
        self.root = root.rstrip('/') or '/'
        self.ssh = shlex.split(ssh)
        self.remote = True

    def __str__(self):
        return '%s:%s' % (self.host, self.root)

    def state_dir(self, name):
        return '%s/%s' % (self.root, name)

    def _sh(self, command, what):
        try:
            return run(self.ssh + ['--', self.host, command])[1]
        except LagoError as err:  # the command failed, or ssh itself is missing
            raise SnapshotError('pool %s: %s failed: %s' % (self, what, err))

    def _rsync(self, paths, what, options=()):
        """rsync ``options`` then ``--`` then ``paths`` (sources and the destination).

        --perms: every file keeps its mode both ways, so the saved RAM and the
        exported private key stay 0600 in the remote pool and after an import."""
        try:
            run(['rsync', '--times', '--perms', '-e', ' '.join(shlex.quote(arg) for arg in self.ssh)]
                + list(options) + ['--'] + list(paths))
        except LagoError as err:
            raise SnapshotError('pool %s: %s failed: %s' % (self, what, err))

    @contextlib.contextmanager
    def lock(self, name, shared=False, timeout=300.0):
        """flock on the remote host, held as long as our ssh session stays open."""
        lock_dir = '%s/.locks' % self.root
        command = 'mkdir -p -- %s && exec flock %s -w %d %s -c %s' % (
            shlex.quote(lock_dir), '-s' if shared else '-x', max(int(timeout), 1),
            shlex.quote('%s/%s.lock' % (lock_dir, name)), shlex.quote('echo locked; exec cat >/dev/null'))
        proc = subprocess.Popen(self.ssh + ['--', self.host, command], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        try:
            if proc.stdout.readline().strip() != 'locked':
                proc.stdin.close()
                err = proc.stderr.read().strip()
                proc.wait()
                raise LockTimeout('pool %s: could not lock state %s within %ss%s'
                                  % (self, name, timeout, ': %s' % err if err else ''))
            yield
        finally:
            if proc.poll() is None:
                proc.stdin.close()
                proc.wait()

    def read_manifest(self, name):
        path = shlex.quote('%s/%s' % (self.state_dir(name), MANIFEST))
        text = self._sh('if [ -f %s ]; then cat -- %s; fi' % (path, path), 'reading the manifest of %s' % name)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError as err:
            raise SnapshotError('pool %s: the manifest of state %s is not JSON: %s' % (self, name, err))

    @staticmethod
    def verified(_name):
        """Nothing is known of files fetched from another host: each is a fresh copy, hashed."""
        return Verified(None)

    def sizes(self, name):
        directory = shlex.quote(self.state_dir(name))
        out = self._sh('if [ -d %s ]; then find %s -maxdepth 1 -type f -printf "%%s %%f\\n"; fi'
                       % (directory, directory), 'listing state %s' % name)
        found = {}
        for line in out.splitlines():
            size, _sep, file_name = line.partition(' ')
            if file_name and not file_name.startswith('.') and file_name != MANIFEST:
                found[file_name] = int(size)
        return found

    def staging_dir(self, name, near=None):
        return tempfile.mkdtemp(prefix='.lago-pool-', dir=near)

    def put(self, name, staged, files):
        try:
            self._sh('mkdir -p -- %s' % shlex.quote(self.state_dir(name)), 'creating state %s' % name)
            if files:
                self._rsync([os.path.join(staged, file_name) for file_name in files]
                            + ['%s:%s/' % (self.host, self.state_dir(name))], 'sending layers of %s' % name)
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    def get(self, name, files, dest):
        """rsync ``files`` of the state into the directory ``dest``; bytes copied."""
        if files:
            listing = os.path.join(dest, '.files-from')
            with open(listing, 'w') as handle:
                handle.write(''.join(file_name + '\n' for file_name in files))
            try:
                self._rsync(['%s:%s/' % (self.host, self.state_dir(name)), dest + '/'], 'fetching layers of %s' % name,
                            options=['--files-from=%s' % listing])
            finally:
                remove_path(listing)
        return sum(os.path.getsize(os.path.join(dest, file_name)) for file_name in files)

    def write_manifest(self, name, manifest):
        scratch = tempfile.mkdtemp(prefix='.lago-pool-')
        try:
            write_json(os.path.join(scratch, MANIFEST), manifest)
            self._rsync([os.path.join(scratch, MANIFEST), '%s:%s/' % (self.host, self.state_dir(name))],
                        'writing the manifest of %s' % name)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def remove_files(self, name, files):
        if files:
            self._sh('cd %s && rm -f -- %s' % (shlex.quote(self.state_dir(name)),
                                               ' '.join(shlex.quote(file_name) for file_name in files)),
                     'removing files of %s' % name)

    def remove_state(self, name):
        self._sh('rm -rf -- %s' % shlex.quote(self.state_dir(name)), 'removing state %s' % name)
