# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A VM's artifacts as one gzip tarball (Lago's ``collect``), built on the VM.

Every collected path becomes one top-level member named as Lago named it on the
host: the path with each ``/`` replaced by ``_`` (``/var/log`` -> ``_var_log``,
``/var/log/x.log`` -> ``_var_log_x.log``). Extracting the tarball into
``<output>/<vm>/`` gives Lago's layout. Runs on the VM, so it needs nothing
but the Python standard library.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import tarfile

from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError


class ArtifactError(LagoError):
    """An artifact path is wrong, or the archive cannot be written."""


def artifact_name(path):
    """Lago's name of a collected path: ``/`` replaced by ``_``."""
    return os.path.normpath(path).replace('/', '_')


def plan(paths):
    """``(entries, missing)``: [(path, name)] of the paths that exist, in order, each once; the others."""
    entries = []
    missing = []
    seen = set()
    for path in paths:
        if not os.path.isabs(path):
            raise ArtifactError('artifact path %r is not absolute' % (path,))
        path = os.path.normpath(path)
        if path in seen:
            continue
        seen.add(path)
        if os.path.lexists(path):
            entries.append((path, artifact_name(path)))
        else:
            missing.append(path)
    return entries, missing


class _ExactReader(object):
    """Reads exactly ``size`` bytes: a file that shrank meanwhile is padded with zeros.

    tarfile has already written the member's header with the size it saw, so
    the data must match it or the rest of the archive is unreadable.
    """

    def __init__(self, handle, size):
        self.handle = handle
        self.left = size
        self.short = False

    def read(self, count=-1):
        if count is None or count < 0 or count > self.left:
            count = self.left
        data = self.handle.read(count)
        if len(data) < count:
            self.short = True
            data += b'\0' * (count - len(data))
        self.left -= len(data)
        return data


class _Writer(object):
    def __init__(self, tar, exclude):
        self.tar = tar
        self.exclude = exclude
        self.issues = []

    def add(self, path, arcname):
        """Add one file system object (not recursing); problems are recorded, not raised."""
        try:
            if os.path.realpath(path) in self.exclude:
                return
            info = self.tar.gettarinfo(path, arcname)
            if info is None:  # a socket: nothing to archive
                return
            if info.isreg():
                with open(path, 'rb') as handle:
                    reader = _ExactReader(handle, info.size)
                    self.tar.addfile(info, reader)
                if reader.short:
                    self.issues.append(dict(path=path, issue='shrank while being read; the rest is zeros'))
            else:
                self.tar.addfile(info)
        except (IOError, OSError) as err:
            self.issues.append(dict(path=path, issue='not archived: %s' % (err.strerror or err)))

    def add_tree(self, path, name):
        """``path`` as ``name``, a directory with all it holds; a link given as an artifact is followed."""
        top = os.path.realpath(path)
        self.add(top, name)
        if not os.path.isdir(top):
            return

        def walk_error(err):
            self.issues.append(dict(path=err.filename or top, issue='not archived: %s' % (err.strerror or err)))

        for root, dirs, files in os.walk(top, onerror=walk_error):
            dirs.sort()
            relative = os.path.relpath(root, top)
            base = name if relative == '.' else os.path.join(name, relative)
            for entry in dirs + sorted(files):
                self.add(os.path.join(root, entry), os.path.join(base, entry))


def write_archive(dest, entries):
    """Write ``entries`` ([(path, name)]) into the gzip tarball ``dest``; the problems met ([{path, issue}])."""
    try:
        with tarfile.open(dest, 'w:gz', format=tarfile.GNU_FORMAT) as tar:
            writer = _Writer(tar, exclude=set([os.path.realpath(dest)]))
            for path, name in entries:
                writer.add_tree(path, name)
    except (IOError, OSError) as err:
        if os.path.exists(dest):
            os.unlink(dest)
        raise ArtifactError('cannot write the artifacts archive %s: %s' % (dest, err))
    os.chmod(dest, stat.S_IRUSR | stat.S_IWUSR)
    return writer.issues
