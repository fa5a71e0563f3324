# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Template repositories (Lago's JSON format, file and http providers) and the local store.

A repository JSON looks like Lago's::

    {"name": "lab",
     "sources": {"local": {"type": "file", "args": {"root": "$HOME/images"}},
                 "web": {"type": "http", "args": {"baseurl": "http://host/repo"}}},
     "templates": {"debian12": {"versions": {
         "v1": {"source": "web", "handle": "debian12/v1.qcow2", "timestamp": 1700000000}}}}}

Beside each image a provider serves ``<handle>.hash`` (sha1 hex, or
``sha256:<hex>``) and ``<handle>.metadata`` (JSON); the image itself may be
served as ``<handle>.xz``, which is tried first and decompressed while it streams.

The store keeps Lago's layout: ``<store>/<repo>:<template>:<version>`` with
``.hash``, ``.metadata``, ``.users`` beside it and ``.tmp`` while downloading.
Per-entry locks live in ``<store>/.locks/``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import hashlib
import http.client
import json
import lzma
import os
import posixpath
import queue
import re
import threading
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url
from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError
from ansible_collections.lago.lago.plugins.module_utils.files import (
    atomic_write, file_lock, hash_file, read_json, remove_path, write_json)
from ansible_collections.lago.lago.plugins.module_utils.runner import run

SOURCE_TYPES = {'file': 'root', 'http': 'baseurl'}
HASH_ALGORITHMS = {'sha1': 40, 'sha256': 64}
SIDECARS = ('.hash', '.metadata', '.users')
# Files beside a store entry: a name ending like one would be mistaken for it.
STORE_SUFFIXES = SIDECARS + ('.tmp', '.lock', '.xz')
CHUNK = 1 << 20
# Lets one compressed chunk of zeros inflate without taking all memory at once.
INFLATE_LIMIT = 16 * CHUNK
DEFAULT_LOCK_TIMEOUT = 3600.0
HTTP_TIMEOUT = 60.0

_HEX_RE = re.compile(r'^[0-9a-fA-F]+$')


# ---------------------------------------------------------------- pure checks

def safe_name(value, what):
    """``value`` when it can be one component of a store entry name, else TemplateError.

    Names end up in ``<repo>:<template>:<version>`` file names, so they may not
    hold a path separator or a colon, nor start with a dot.
    """
    if (not isinstance(value, str) or not value or value.startswith('.')
            or any(char in value for char in '/\\:\0') or value.endswith(STORE_SUFFIXES)):
        raise TemplateError('%s %r is not allowed: it would escape the store or be ambiguous (a name may '
                            'not contain "/", "\\" or ":", start with "." nor end like a store file, e.g. .hash)'
                            % (what, value))
    return value


def safe_handle(handle, what='handle'):
    """``handle`` normalized as a relative path that stays below its root, else TemplateError."""
    if not isinstance(handle, str) or not handle or '\0' in handle or '\\' in handle:
        raise TemplateError('%s %r is not a relative path' % (what, handle))
    normal = posixpath.normpath(handle)
    if normal.startswith('/') or normal == '..' or normal.startswith('../') or normal == '.':
        raise TemplateError('%s %r escapes the root of its source' % (what, handle))
    return normal


def parse_hash(text, where):
    """``(algorithm, hexdigest)`` from a hash file: Lago's plain sha1 hex or ``<algo>:<hex>``.

    A trailing file name (``sha1sum`` output) is ignored.
    """
    words = text.split() if isinstance(text, str) else []
    token = words[0] if words else ''
    algorithm, _sep, digest = token.rpartition(':')
    algorithm = algorithm.lower() or 'sha1'
    length = HASH_ALGORITHMS.get(algorithm)
    if length is None or len(digest) != length or not _HEX_RE.match(digest):
        raise TemplateError('%s does not hold a hash: %r (expected sha1 hex or sha256:<hex>)'
                            % (where, (text or '')[:100]))
    return algorithm, digest.lower()


def format_hash(algorithm, digest):
    """The hash file text: plain hex for sha1 (as Lago writes it), ``<algo>:<hex>`` otherwise."""
    return digest if algorithm == 'sha1' else '%s:%s' % (algorithm, digest)


def latest_version(versions):
    """Name of the version with the greatest timestamp (ties: the greatest name)."""
    if not versions:
        return None
    return max(versions, key=lambda name: (versions[name]['timestamp'], name))


def store_name(repo, template, version):
    """Lago's store entry name ``<repo>:<template>:<version>``."""
    return '%s:%s:%s' % (repo, template, version)


# ------------------------------------------------------------------ providers

class _Download:
    """An open image stream: ``reader`` (has readinto), ``length`` (or None), ``compressed``."""

    def __init__(self, reader, where, length=None, compressed=False):
        self.reader = reader
        self.where = where
        self.length = length
        self.compressed = compressed


class _Provider:
    """What both providers share: Lago's order of names to try for an image and its sidecars."""

    def read_sidecar(self, handle, suffix):
        """``(bytes, where)`` of ``<handle><suffix>`` (or ``<handle>.xz<suffix>``), or ``(None, tried)``."""
        tried = []
        for name in (handle + suffix, handle + '.xz' + suffix):
            tried.append(self.location(name))
            data = self._read(name)
            if data is not None:
                return data, tried[-1]
        return None, tried

    def open_image(self, handle):
        """A _Download of ``<handle>.xz`` or else ``<handle>``; TemplateError naming what was tried."""
        tried = []
        for name, compressed in ((handle + '.xz', True), (handle, False)):
            tried.append(self.location(name))
            opened = self._open(name)
            if opened is not None:
                reader, length = opened
                return _Download(reader, tried[-1], length, compressed)
        raise TemplateError('image not found: tried %s' % ', '.join(tried))


class FileProvider(_Provider):
    """Templates below a local directory (``args.root``; env vars and ~ expanded)."""

    kind = 'file'

    def __init__(self, root, base_dir=None):
        root = os.path.expanduser(os.path.expandvars(root))
        self.root = os.path.normpath(os.path.join(base_dir or os.getcwd(), root))

    def location(self, handle):
        return os.path.join(self.root, handle)

    def _read(self, name):
        path = self.location(name)
        if not os.path.isfile(path):
            return None
        with open(path, 'rb') as handle:
            return handle.read()

    def _open(self, name):
        path = self.location(name)
        if not os.path.isfile(path):
            return None
        return open(path, 'rb'), os.path.getsize(path)


class HttpProvider(_Provider):
    """Templates below a base URL (``args.baseurl``)."""

    kind = 'http'

    def __init__(self, baseurl, base_dir=None):
        self.baseurl = baseurl.rstrip('/')

    def location(self, handle):
        return '%s/%s' % (self.baseurl, urllib.parse.quote(handle))

    @staticmethod
    def get(url):
        """The response for ``url``, None on 404/410; other failures raise TemplateError."""
        try:
            return open_url(url, timeout=HTTP_TIMEOUT)
        except urllib.error.HTTPError as err:
            err.close()
            if err.code in (404, 410):
                return None
            raise TemplateError('%s: HTTP %s %s' % (url, err.code, err.reason))
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            raise TemplateError('cannot reach %s: %s' % (url, getattr(err, 'reason', err)))

    def _read(self, name):
        url = self.location(name)
        response = self.get(url)
        if response is None:
            return None
        with contextlib.closing(response):
            return _read_all(response, url)

    def _open(self, name):
        response = self.get(self.location(name))
        if response is None:
            return None
        length = response.headers.get('Content-Length')
        return response, int(length) if length else None


PROVIDERS = {'file': FileProvider, 'http': HttpProvider}


def _read_all(response, url):
    try:
        return response.read()
    except (OSError, http.client.HTTPException) as err:
        raise TemplateError('reading %s failed: %s' % (url, err))


# ---------------------------------------------------------------- repository

class TemplateVersion:
    """One version of one template of a repository, and how to get it."""

    def __init__(self, repo, template, version, spec, provider):
        self.repo = repo
        self.template = template
        self.version = version
        self.source = spec['source']
        self.handle = safe_handle(spec['handle'])
        self.timestamp = spec['timestamp']
        self.provider = provider

    @property
    def name(self):
        return store_name(self.repo, self.template, self.version)

    def expected_hash(self):
        data, where = self.provider.read_sidecar(self.handle, '.hash')
        if data is None:
            raise TemplateError('template %s has no hash file: tried %s' % (self.name, ', '.join(where)))
        return parse_hash(data.decode('utf-8', 'replace'), where)

    def metadata(self):
        """The ``.metadata`` JSON beside the image; ``{}`` when the repository has none."""
        data, where = self.provider.read_sidecar(self.handle, '.metadata')
        if data is None:
            return {}
        try:
            metadata = json.loads(data.decode('utf-8'))
        except ValueError as err:
            raise TemplateError('%s is not valid JSON: %s' % (where, err))
        if not isinstance(metadata, dict):
            raise TemplateError('%s must hold a JSON object' % where)
        return metadata


class Repository:
    """A parsed and validated template repository."""

    def __init__(self, data, where, base_dir=None):
        self.where = where
        self.data = data
        self.name = data['name']
        self.sources = data['sources']
        self.templates = data['templates']
        self._providers = dict(
            (name, PROVIDERS[spec['type']](spec['args'][SOURCE_TYPES[spec['type']]], base_dir))
            for name, spec in self.sources.items())

    def provider(self, source):
        return self._providers[source]

    def versions(self, template):
        """``{version: spec}`` of ``template``; TemplateError listing the templates there are."""
        spec = self.templates.get(template)
        if spec is None:
            raise TemplateError('template %r is not in repository %r (%s); it has: %s'
                                % (template, self.name, self.where, _listing(self.templates)))
        return spec['versions']

    def version(self, template, version=None):
        """The TemplateVersion asked for; ``version=None`` means the latest."""
        versions = self.versions(template)
        if version is None:
            version = latest_version(versions)
            if version is None:
                raise TemplateError('template %r of repository %r has no versions' % (template, self.name))
        elif version not in versions:
            raise TemplateError('version %r of template %r is not in repository %r; it has: %s'
                                % (version, template, self.name, _listing(versions)))
        spec = versions[version]
        return TemplateVersion(self.name, template, version, spec, self.provider(spec['source']))

    def describe(self):
        """Plain data for the info module: templates, their versions and the latest."""
        return dict(
            name=self.name, location=self.where, sources=self.sources,
            templates=dict(
                (name, dict(versions=spec['versions'], latest=latest_version(spec['versions'])))
                for name, spec in self.templates.items()))


def _listing(names):
    return ', '.join(sorted(names)) or '(nothing)'


def _require(mapping, key, place, kind=dict):
    """``mapping[key]`` checked to be a ``kind``; TemplateError naming the key and its place."""
    label = '%s.%s' % (place, key) if place else key
    if not isinstance(mapping, dict) or key not in mapping:
        raise TemplateError("not in Lago's format: missing key %r" % label)
    value = mapping[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or isinstance(value, bool):
        wanted = 'a number' if int in kinds else 'a mapping' if dict in kinds else 'a string'
        raise TemplateError("not in Lago's format: %r must be %s, not %r" % (label, wanted, value))
    return value


def _validate_source(name, spec):
    place = 'sources.%s' % name
    kind = _require(spec, 'type', place, str)
    if kind not in SOURCE_TYPES:
        raise TemplateError('%s.type %r is not one of %s' % (place, kind, ', '.join(sorted(SOURCE_TYPES))))
    _require(_require(spec, 'args', place), SOURCE_TYPES[kind], place + '.args', str)


def _validate_version(template, version, spec, sources):
    place = 'templates.%s.versions.%s' % (template, version)
    safe_name(version, 'version of template %r' % template)
    source = _require(spec, 'source', place, str)
    safe_handle(_require(spec, 'handle', place, str), '%s.handle' % place)
    _require(spec, 'timestamp', place, (int, float))
    if source not in sources:
        raise TemplateError('%s.source %r is not one of its sources (%s)' % (place, source, _listing(sources)))


def _validate_repository(data):
    if not isinstance(data, dict):
        raise TemplateError("not in Lago's format: expected a JSON object with name, sources and templates")
    safe_name(_require(data, 'name', '', str), 'repository name')
    sources = _require(data, 'sources', '')
    for name, spec in sources.items():
        _validate_source(name, spec)
    for template, spec in _require(data, 'templates', '').items():
        safe_name(template, 'template name')
        for version, version_spec in _require(spec, 'versions', 'templates.%s' % template).items():
            _validate_version(template, version, version_spec, sources)


def parse_repository(data, where, base_dir=None):
    """A Repository from decoded JSON ``data``; TemplateError naming the first bad key.

    ``base_dir`` anchors relative ``file`` roots (the JSON's own directory).
    """
    try:
        _validate_repository(data)
    except TemplateError as err:
        raise TemplateError('template repository %s: %s' % (where, err))
    return Repository(data, where, base_dir)


def is_url(location):
    return urllib.parse.urlparse(location).scheme in ('http', 'https', 'file')


def load_repository(location):
    """Load and validate the repository JSON at a path or an http(s) URL."""
    if not location:
        raise TemplateError('no template repository given (template_repo)')
    if is_url(location):
        response = HttpProvider.get(location)
        if response is None:
            raise TemplateError('template repository %s does not exist (HTTP 404)' % location)
        with contextlib.closing(response):
            raw = _read_all(response, location)
        base_dir = None
    else:
        path = os.path.abspath(os.path.expanduser(location))
        try:
            with open(path, 'rb') as handle:
                raw = handle.read()
        except (IOError, OSError) as err:
            raise TemplateError('cannot read template repository %s: %s' % (location, err.strerror or err))
        base_dir = os.path.dirname(path)
    try:
        data = json.loads(raw.decode('utf-8'))
    except ValueError as err:
        raise TemplateError('template repository %s is not valid JSON: %s' % (location, err))
    return parse_repository(data, location, base_dir)


# ----------------------------------------------------------------- streaming

class _Inflater:
    """Decompresses an xz stream fed in pieces (concatenated streams included)."""

    def __init__(self):
        self._decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)

    @property
    def complete(self):
        return self._decompressor.eof

    # (pylint takes LZMADecompressor's eof and needs_input for constants: hence the disables)
    def feed(self, data):
        """Yield the decompressed pieces of ``data``, at most INFLATE_LIMIT bytes each."""
        if self._decompressor.eof:  # pylint: disable=using-constant-test
            data = bytes(data).lstrip(b'\0')  # stream padding between streams
            if not data:
                return
            self._decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        while True:
            piece = self._decompressor.decompress(data, max_length=INFLATE_LIMIT)
            data = b''
            if piece:
                yield piece
            if self._decompressor.eof:  # pylint: disable=using-constant-test
                data = self._decompressor.unused_data.lstrip(b'\0')
                if not data:
                    return
                self._decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
            elif self._decompressor.needs_input:  # pylint: disable=using-constant-test
                return


class _BackgroundHash:
    """Hashes on a second thread what the caller writes (hashlib releases the GIL).

    Hashing then overlaps receiving and writing instead of adding to them;
    buffers come from a small pool and go back to it once hashed.
    """

    def __init__(self, algorithm, buffers=4):
        self._digest = hashlib.new(algorithm)
        self._free = queue.Queue()
        for _unused in range(buffers):
            self._free.put(bytearray(CHUNK))
        self._todo = queue.Queue()
        self._thread = threading.Thread(target=self._run, name='lago-hash', daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            item = self._todo.get()
            if item is None:
                return
            data, recycled = item
            self._digest.update(data)
            if recycled is not None:
                self._free.put(recycled)

    def buffer(self):
        """A free buffer to read into (waits while all are being hashed)."""
        return self._free.get()

    def add(self, data, recycled=None):
        """Hash ``data`` (bytes-like); ``recycled`` goes back to the pool afterwards."""
        self._todo.put((data, recycled))

    def recycle(self, buf):
        self._free.put(buf)

    def hexdigest(self):
        """Wait for what is queued; the hasher stops."""
        self.stop()
        return self._digest.hexdigest()

    def stop(self):
        if self._thread.is_alive():
            self._todo.put(None)
            self._thread.join()


def _copy_hashed(download, out, hasher):
    """Copy ``download`` to ``out`` (decompressing an xz one) while ``hasher`` hashes it; bytes received."""
    inflater = _Inflater() if download.compressed else None
    received = 0
    while True:
        buf = hasher.buffer()
        size = download.reader.readinto(buf)
        if not size:
            hasher.recycle(buf)
            return received, inflater
        received += size
        data = memoryview(buf)[:size]
        if inflater is None:
            out.write(data)
            hasher.add(data, buf)
            continue
        for piece in inflater.feed(data):
            out.write(piece)
            hasher.add(piece)
        hasher.recycle(buf)


def _stream_to_file(download, path, algorithm):
    """Write ``download`` (decompressed) to ``path``; return the hex digest of what was written."""
    hasher = _BackgroundHash(algorithm)
    try:
        with contextlib.closing(download.reader), open(path, 'wb') as out:
            received, inflater = _copy_hashed(download, out, hasher)
    except lzma.LZMAError as err:
        raise TemplateError('%s is not a valid xz stream: %s' % (download.where, err))
    except (OSError, http.client.HTTPException) as err:
        raise TemplateError('download of %s failed: %s' % (download.where, err))
    finally:
        hasher.stop()
    if download.length is not None and received < download.length:
        raise TemplateError('download of %s was cut short: got %d of %d bytes'
                            % (download.where, received, download.length))
    if inflater and not inflater.complete:
        raise TemplateError('download of %s was cut short: the xz stream ends early (%d bytes received)'
                            % (download.where, received))
    return hasher.hexdigest()


# --------------------------------------------------------------------- store

def entry_path(store, name):
    return os.path.join(os.path.abspath(store), name)


def _lock(store, name, timeout):
    return file_lock(os.path.join(store, '.locks', name + '.lock'), timeout=timeout,
                     what='template %s' % name)


def _read_text(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def split_store_name(name):
    """``(repo, template, version)`` of a store entry name, or None if it is not one."""
    parts = name.split(':')
    return tuple(parts) if len(parts) == 3 and all(parts) else None


def stored_entry(store, name):
    """What the store holds for ``name`` (path, hash, metadata, users), or None."""
    path = entry_path(store, name)
    if not os.path.isfile(path):
        return None
    repo, template, version = split_store_name(name) or (None, None, None)
    users = users_of(store, name)
    return dict(name=name, repo=repo, template=template, version=version, path=path,
                hash=_read_text(path + '.hash'), metadata=read_json(path + '.metadata', {}),
                size=os.path.getsize(path), users=users, in_use=any(user['live'] for user in users))


def list_store(store):
    """Every complete entry of the store, and the names still downloading (``.tmp``)."""
    names = sorted(os.listdir(store)) if os.path.isdir(store) else []
    entries = [stored_entry(store, name) for name in names
               if split_store_name(name) and not name.endswith(('.tmp',) + SIDECARS)
               and os.path.isfile(entry_path(store, name))]
    partial = [name[:-len('.tmp')] for name in names if name.endswith('.tmp') and split_store_name(name)]
    return dict(entries=entries, downloading=partial)


def _download_into_store(version, path):
    algorithm, expected = version.expected_hash()
    metadata = version.metadata()
    tmp = path + '.tmp'
    try:
        digest = _stream_to_file(version.provider.open_image(version.handle), tmp, algorithm)
        if digest != expected:
            raise TemplateError('template %s failed its hash check: the repository says %s %s but the '
                                'image has %s; the store keeps nothing of it'
                                % (version.name, algorithm, expected, digest))
        write_json(path + '.metadata', metadata)
        atomic_write(path + '.hash', format_hash(algorithm, digest))
        if not os.path.exists(path + '.users'):
            write_json(path + '.users', dict(users={}, last_access=int(time.time())))
        # Last: the image appears only once it is verified and described.
        os.rename(tmp, path)
    except BaseException:
        remove_path(tmp)
        if not os.path.exists(path):
            for suffix in SIDECARS:
                remove_path(path + suffix)
        raise


def fetch(store, version, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Make sure the store holds ``version`` (a TemplateVersion); return its entry.

    Concurrent callers (threads or processes) download it once: the others
    wait on the entry's lock and find it there. ``entry['downloaded']`` tells
    whether this call fetched it.
    """
    path = entry_path(store, version.name)
    downloaded = False
    try:
        if not os.path.isfile(path):
            os.makedirs(store, exist_ok=True)
            with _lock(store, version.name, lock_timeout):
                if not os.path.isfile(path):
                    _download_into_store(version, path)
                    downloaded = True
    except OSError as err:
        raise TemplateError('cannot store template %s in %s: %s' % (version.name, store, err))
    entry = stored_entry(store, version.name)
    entry['downloaded'] = downloaded
    return entry


def remove_entry(store, name, force=False, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Remove ``name`` from the store; refuse while a live prefix uses it, unless ``force``.

    Returns True when something was removed.
    """
    path = entry_path(store, name)
    leftovers = [path + suffix for suffix in ('',) + SIDECARS + ('.tmp',)]
    if not any(os.path.exists(item) for item in leftovers):
        return False
    with _lock(store, name, lock_timeout):
        live = live_users(store, name)
        if live and not force:
            raise TemplateError('template %s is still used by the prefix(es) of %s; remove them first '
                                'or use force' % (name, ', '.join(live)))
        # The image first: without it the entry no longer counts as present.
        removed = [remove_path(item) for item in leftovers]  # every one, not only up to the first
        return any(removed)


# --------------------------------------------------------------------- users

def _users_path(store, name):
    return entry_path(store, name) + '.users'


def _recorded_users(store, name):
    data = read_json(_users_path(store, name), {})
    users = data.get('users') if isinstance(data, dict) else None
    return users if isinstance(users, dict) else {}


def users_of(store, name):
    """The prefixes recorded as users of ``name``: dicts with path, uuid and live."""
    return [dict(path=path, uuid=uuid, live=_read_text(path) == uuid)
            for path, uuid in sorted(_recorded_users(store, name).items())]


def live_users(store, name):
    """Uuid-file paths of the users of ``name`` that still exist and hold the recorded uuid."""
    return [user['path'] for user in users_of(store, name) if user['live']]


def _write_users(store, name, change):
    with _lock(store, name, DEFAULT_LOCK_TIMEOUT):
        users = dict((path, uuid) for path, uuid in _recorded_users(store, name).items()
                     if _read_text(path) == uuid)  # forget dead prefixes while at it
        changed = change(users)
        write_json(_users_path(store, name), dict(users=users, last_access=int(time.time())))
        return changed


def owner_uuid(uuid_path):
    """The uuid a prefix's uuid file holds; TemplateError when it is missing or empty."""
    uuid = _read_text(uuid_path)
    if not uuid:
        raise TemplateError('owner %s is not a prefix uuid file (missing or empty)' % uuid_path)
    return uuid


def add_user(store, name, uuid_path):
    """Record the prefix whose uuid file is ``uuid_path`` as a user of ``name``.

    Returns True when it was not recorded yet.
    """
    uuid_path = os.path.abspath(uuid_path)
    uuid = owner_uuid(uuid_path)
    if not os.path.isfile(entry_path(store, name)):
        raise TemplateError('template %s is not in the store %s' % (name, store))

    def change(users):
        known = users.get(uuid_path) == uuid
        users[uuid_path] = uuid
        return not known
    return _write_users(store, name, change)


def remove_user(store, name, uuid_path):
    """Forget ``uuid_path`` as a user of ``name``; True when it was recorded."""
    uuid_path = os.path.abspath(uuid_path)
    if not os.path.isfile(_users_path(store, name)):
        return False
    return _write_users(store, name, lambda users: users.pop(uuid_path, None) is not None)


def user_is_recorded(store, name, uuid_path):
    """True when ``uuid_path`` is a live recorded user of ``name``."""
    return os.path.abspath(uuid_path) in live_users(store, name)


# ------------------------------------------------------------------- publish

def _check_publish_request(repo_path, image, name, version, metadata, timestamp, hash_algorithm):
    if not repo_path or is_url(repo_path):
        raise TemplateError('publishing needs a local repository JSON path, not %r' % (repo_path,))
    safe_name(name, 'template name')
    safe_name(version, 'version of template %r' % name)
    if not isinstance(metadata, dict) or not metadata.get('distro'):
        raise TemplateError('metadata of a published template must be a mapping with a "distro" key, not %r'
                            % (metadata,))
    if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, (int, float))):
        raise TemplateError('timestamp must be a number of seconds since the epoch, not %r' % (timestamp,))
    if hash_algorithm not in HASH_ALGORITHMS:
        raise TemplateError('hash algorithm %r is not one of %s' % (hash_algorithm, ', '.join(HASH_ALGORITHMS)))
    if not os.path.isfile(image):
        raise TemplateError('image %s does not exist' % image)


def _repository_data(repo_path, repo_dir, repo_name):
    """The repository JSON to publish into: the existing one (validated) or a new one."""
    if os.path.exists(repo_path):
        return load_repository(repo_path).data
    name = safe_name(repo_name or os.path.basename(repo_dir.rstrip('/')), 'repository name')
    return dict(name=name, sources={}, templates={})


def _publish_source(data, repo_path, repo_dir, source):
    """Name of the source published versions use; adds a ``file`` source for ``repo_dir`` if needed."""
    base_dir = os.path.dirname(os.path.abspath(repo_path))
    sources = data['sources']

    def root_of(spec):
        if spec['type'] != 'file':
            return None
        return os.path.realpath(FileProvider(spec['args']['root'], base_dir).root)

    if source:
        if source not in sources:
            raise TemplateError('source %r is not in repository %s (sources: %s)'
                                % (source, repo_path, _listing(sources)))
        root = root_of(sources[source])
        if root not in (None, os.path.realpath(repo_dir)):
            raise TemplateError('source %r of %s is rooted at %s, not at %s' % (source, repo_path, root, repo_dir))
        return source
    for name in sorted(sources):
        if root_of(sources[name]) == os.path.realpath(repo_dir):
            return name
    name, count = 'local', 1
    while name in sources:
        count += 1
        name = 'local%d' % count
    sources[name] = dict(type='file', args=dict(root=repo_dir))
    return name


def _published(repo_path, data, name, version):
    """``(spec, (algorithm, hash) or None, metadata)`` of an already published version, or None."""
    spec = data['templates'].get(name, {}).get('versions', {}).get(version)
    if spec is None:
        return None
    published = parse_repository(data, repo_path, os.path.dirname(os.path.abspath(repo_path)))
    entry = published.version(name, version)
    try:
        current_hash = entry.expected_hash()
    except TemplateError:
        current_hash = None  # a version without hash counts as another image
    return spec, current_hash, entry.metadata()


def _previous(current):
    """What an already published version was, for the diff (None when new)."""
    if current is None:
        return None
    spec, current_hash, current_metadata = current
    return dict(handle=spec['handle'], timestamp=spec['timestamp'], metadata=current_metadata,
                hash=format_hash(*current_hash) if current_hash else None)


def _publish_action(current, image, digest, hash_algorithm, metadata, timestamp, force, what):
    """'created', 'replaced', 'updated' (metadata or timestamp only) or 'unchanged'."""
    if current is None:
        return 'created'
    spec, current_hash, current_metadata = current
    same_image = False
    if current_hash is not None:
        algorithm, expected = current_hash
        same_image = expected == (digest if algorithm == hash_algorithm else hash_file(image, algorithm))
    if not same_image:
        if not force:
            raise TemplateError('%s is already published with another image (%s); use force to replace it'
                                % (what, format_hash(*current_hash) if current_hash else 'no hash'))
        return 'replaced'
    if metadata != current_metadata or (timestamp is not None and timestamp != spec['timestamp']):
        return 'updated'
    return 'unchanged'


def _write_published_image(image, target, compress):
    """Copy ``image`` to ``target`` (``target.xz`` with ``compress``) through a temp file."""
    final = target + '.xz' if compress else target
    tmp = final + '.tmp'
    try:
        if compress:
            with open(tmp, 'wb') as out:
                run(['xz', '--threads=0', '--stdout', '--', image], stdout=out)
        else:
            run(['cp', '--sparse=always', '--reflink=auto', '--', image, tmp])
        os.rename(tmp, final)
    except BaseException:
        remove_path(tmp)
        raise
    # Providers try <handle>.xz first: an older variant must not shadow this one.
    remove_path(target if compress else target + '.xz')
    return final


def publish(repo_path, image, name, version, metadata, timestamp=None, compress=False,
            repo_dir=None, repo_name=None, source=None, hash_algorithm='sha1', force=False,
            check_mode=False, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Publish the local ``image`` as ``name`` ``version`` in the file repository ``repo_path``.

    The image goes to ``<repo_dir>/<name>/<version>`` (``.xz`` with
    ``compress``) with ``.hash`` and ``.metadata`` beside it; the repository
    JSON (created when missing, with a ``file`` source rooted at ``repo_dir``,
    by default the JSON's directory) is rewritten atomically under a lock,
    last, so readers never see a version whose files are not there yet.

    Publishing the same image again changes nothing; another image under an
    existing version is an error unless ``force``. Returns a dict with
    ``changed``, ``action`` and where the image went.
    """
    _check_publish_request(repo_path, image, name, version, metadata, timestamp, hash_algorithm)
    repo_path = os.path.abspath(repo_path)
    repo_dir = os.path.abspath(repo_dir or os.path.dirname(repo_path))
    if os.path.exists(repo_path):
        load_repository(repo_path)  # a broken repository fails before anything is written
    digest = hash_file(image, hash_algorithm)
    what = 'version %r of template %r in %s' % (version, name, repo_path)
    lock_path = os.path.join(os.path.dirname(repo_path), '.%s.lock' % os.path.basename(repo_path))
    with file_lock(lock_path, timeout=lock_timeout, what='repository %s' % repo_path):
        data = _repository_data(repo_path, repo_dir, repo_name)
        source_name = _publish_source(data, repo_path, repo_dir, source)
        current = _published(repo_path, data, name, version)
        action = _publish_action(current, image, digest, hash_algorithm, metadata, timestamp, force, what)
        spec = dict(source=source_name, handle=posixpath.join(name, version),
                    timestamp=int(time.time()) if timestamp is None else timestamp)
        if current is not None:
            if current[0]['source'] == source_name:
                spec['handle'] = current[0]['handle']  # keep it where it already is
            elif action == 'updated':
                action = 'replaced'  # its files live in another source: publish a copy here
            if timestamp is None and action in ('updated', 'unchanged'):
                spec['timestamp'] = current[0]['timestamp']
        target = FileProvider(repo_dir).location(spec['handle'])
        if action in ('updated', 'unchanged'):
            compress = os.path.exists(target + '.xz')  # it stays as it was published
        result = dict(changed=action != 'unchanged', action=action, repository=repo_path, name=name,
                      version=version, hash=format_hash(hash_algorithm, digest), metadata=metadata,
                      path=target + ('.xz' if compress else ''), previous=_previous(current), **spec)
        if action == 'unchanged' or check_mode:
            return result
        try:
            _write_published(image, target, action, compress, format_hash(hash_algorithm, digest), metadata)
            data['templates'].setdefault(name, dict(versions={}))['versions'][version] = spec
            write_json(repo_path, data)
        except OSError as err:
            raise TemplateError('cannot publish %s: %s' % (what, err))
        return result


def _write_published(image, target, action, compress, hash_text, metadata):
    """The files of a published version; the image only when it is new or replaced."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if action != 'updated':
        _write_published_image(image, target, compress)
        atomic_write(target + '.hash', hash_text)
    write_json(target + '.metadata', metadata)
