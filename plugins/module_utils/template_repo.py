# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Template repositories in Lago's JSON format: names, hash files, the file and http providers.

A repository JSON looks like Lago's::

    {"name": "lab",
     "sources": {"local": {"type": "file", "args": {"root": "$HOME/images"}},
                 "web": {"type": "http", "args": {"baseurl": "http://host/repo"}}},
     "templates": {"debian12": {"versions": {
         "v1": {"source": "web", "handle": "debian12/v1.qcow2", "timestamp": 1700000000}}}}}

Beside each image a provider serves ``<handle>.hash`` (sha1 hex, or
``sha256:<hex>``) and ``<handle>.metadata`` (JSON); the image itself may be
served as ``<handle>.xz``, which is tried first (transfer.py decompresses it
while it streams). A version is stored as ``<repo>:<template>:<version>``
(template_store.py), which is why names are checked here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import http.client
import json
import os
import posixpath
import re
import urllib.error
import urllib.parse

from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError, TransferError
from ansible_collections.lago.lago.plugins.module_utils.transfer import Download, retrying

SOURCE_TYPES = {'file': 'root', 'http': 'baseurl'}
HASH_ALGORITHMS = {'sha1': 40, 'sha256': 64}
SIDECARS = ('.hash', '.metadata', '.users', '.verified')
# Files beside a store entry: a name ending like one would be mistaken for it.
STORE_SUFFIXES = SIDECARS + ('.tmp', '.lock', '.xz', '.progress')
HTTP_TIMEOUT = 60.0
CONTENT_RANGE_RE = re.compile(r'^bytes (\d+)-')

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


def parse_sha256(value, what):
    """``value`` as a lowercase sha256 hex digest (a ``sha256:`` prefix is allowed); TemplateError naming ``what``."""
    text = value.strip().lower() if isinstance(value, str) else ''
    if text.startswith('sha256:'):
        text = text[len('sha256:'):]
    if len(text) != HASH_ALGORITHMS['sha256'] or any(char not in '0123456789abcdef' for char in text):
        raise TemplateError('%s must be a sha256 hex digest (64 hex digits), not %r' % (what, value))
    return text


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


def split_store_name(name):
    """``(repo, template, version)`` of a store entry name, or None if it is not one."""
    parts = name.split(':')
    return tuple(parts) if len(parts) == 3 and all(parts) else None


# ------------------------------------------------------------------ providers

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
        """A transfer.Download of ``<handle>.xz`` or else ``<handle>``; TemplateError naming what was tried."""
        tried = []
        for name, compressed in ((handle + '.xz', True), (handle, False)):
            tried.append(self.location(name))
            opened = self._open(name)
            if opened is not None:
                reader, length, reopen = opened
                return Download(reader, tried[-1], length, compressed, reopen)
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
        return open(path, 'rb'), os.path.getsize(path), None


class HttpProvider(_Provider):
    """Templates below a base URL (``args.baseurl``)."""

    kind = 'http'

    def __init__(self, baseurl, base_dir=None):
        self.baseurl = baseurl.rstrip('/')

    def location(self, handle):
        return '%s/%s' % (self.baseurl, urllib.parse.quote(handle))

    @staticmethod
    def get(url):
        """The response for ``url``, None on 404/410; failures that may pass (no connection, HTTP 5xx)
        are tried again with backoff (transfer.retrying), the others raise TemplateError at once."""
        return retrying('GET %s' % url, lambda: _get_once(url))

    def _read(self, name):
        url = self.location(name)
        response = self.get(url)
        if response is None:
            return None
        with contextlib.closing(response):
            return _read_all(response, url)

    def _open(self, name):
        url = self.location(name)
        response = self.get(url)
        if response is None:
            return None
        length = response.headers.get('Content-Length')
        # If-Range: a resumed download gets the rest of the same file, or (200) the whole new one.
        validator = response.headers.get('ETag') or response.headers.get('Last-Modified')

        def reopen(offset):
            headers = {'Range': 'bytes=%d-' % offset}
            if validator:
                headers['If-Range'] = validator
            again = _get_once(url, headers)
            if again is None:
                raise TemplateError('%s disappeared while it was being downloaded' % url)
            if again.getcode() != 206:
                return again, 0
            start = CONTENT_RANGE_RE.match(again.headers.get('Content-Range') or '')
            if not start or int(start.group(1)) != offset:
                again.close()
                raise TemplateError('%s answered a request for bytes %d- with Content-Range %r'
                                    % (url, offset, again.headers.get('Content-Range')))
            return again, offset
        return response, int(length) if length else None, reopen


def _get_once(url, headers=None):
    """One GET of ``url``: the response, None on 404/410, TransferError when it may pass, else TemplateError."""
    # Imported here: ansible's urls (and the cryptography it loads) costs a module that never
    # downloads (destroy, a store entry already there) a tenth of a second of every run.
    from ansible.module_utils.urls import open_url
    try:
        return open_url(url, timeout=HTTP_TIMEOUT, headers=headers)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code in (404, 410):
            return None
        failure = TransferError if err.code >= 500 else TemplateError
        raise failure('%s: HTTP %s %s' % (url, err.code, err.reason))
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise TransferError('cannot reach %s: %s' % (url, getattr(err, 'reason', err)))


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
        # A sha256 pinned in the repository's JSON (or by the user, see pin):
        # it then decides, not the .hash file served beside the image.
        self.pinned_sha256 = spec.get('sha256')

    def pin(self, sha256, what='sha256'):
        """Pin the image to ``sha256`` (64 hex digits); TemplateError naming ``what`` when it is not one,
        or when the repository pins another."""
        sha256 = parse_sha256(sha256, what)
        if self.pinned_sha256 and self.pinned_sha256 != sha256:
            raise TemplateError('%s %s of template %s differs from the sha256 %s its repository pins'
                                % (what, sha256, self.name, self.pinned_sha256))
        self.pinned_sha256 = sha256
        return self

    @property
    def name(self):
        return store_name(self.repo, self.template, self.version)

    def expected_hash(self):
        """(algorithm, hex digest) the image must have: the pinned sha256, else the served .hash."""
        if self.pinned_sha256:
            return 'sha256', self.pinned_sha256
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
                                % (template, self.name, self.where, listing(self.templates)))
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
                                % (version, template, self.name, listing(versions)))
        spec = versions[version]
        return TemplateVersion(self.name, template, version, spec, self.provider(spec['source']))

    def describe(self, template=None):
        """Plain data for the info module: templates (only ``template`` if given), their versions and the latest."""
        return dict(
            name=self.name, location=self.where, sources=self.sources,
            templates=dict(
                (name, dict(versions=spec['versions'], latest=latest_version(spec['versions'])))
                for name, spec in self.templates.items() if not template or name == template))


def listing(names):
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
    value = _require(_require(spec, 'args', place), SOURCE_TYPES[kind], place + '.args', str)
    if kind == 'http':
        url = urllib.parse.urlparse(value)
        if url.scheme not in ('http', 'https') or not url.netloc:
            raise TemplateError('%s.args.%s %r is not an http(s) URL (http://host/path)' % (place, SOURCE_TYPES[kind], value))


def _validate_version(template, version, spec, sources):
    place = 'templates.%s.versions.%s' % (template, version)
    safe_name(version, 'version of template %r' % template)
    source = _require(spec, 'source', place, str)
    safe_handle(_require(spec, 'handle', place, str), '%s.handle' % place)
    _require(spec, 'timestamp', place, (int, float))
    if 'sha256' in spec:
        spec['sha256'] = parse_sha256(spec['sha256'], '%s.sha256' % place)
    if source not in sources:
        raise TemplateError('%s.source %r is not one of its sources (%s)' % (place, source, listing(sources)))


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
