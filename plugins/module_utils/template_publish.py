# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing a local image as a version of a ``file`` template repository."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import posixpath
import time

from ansible_collections.lago.lago.plugins.module_utils.errors import TemplateError
from ansible_collections.lago.lago.plugins.module_utils.files import atomic_write, file_lock, hash_file, sha256_of, write_json
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.template_repo import (
    HASH_ALGORITHMS, FileProvider, format_hash, is_url, listing, load_repository, parse_repository, safe_name)
from ansible_collections.lago.lago.plugins.module_utils.template_store import DEFAULT_LOCK_TIMEOUT, check_template_image
from ansible_collections.lago.lago.plugins.module_utils.transfer import write_copy


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
                                % (source, repo_path, listing(sources)))
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
    """The view of an already published version (None when new)."""
    if current is None:
        return None
    spec, current_hash, current_metadata = current
    return _version_view(spec, format_hash(*current_hash) if current_hash else None, current_metadata)


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


def _decide(request, digest, what):
    """Read the repository (under its lock) and decide: ``(data, spec, action, target, compress, current)``."""
    repo_path, repo_dir = request['repo_path'], request['repo_dir']
    name, version, timestamp = request['name'], request['version'], request['timestamp']
    data = _repository_data(repo_path, repo_dir, request['repo_name'])
    source_name = _publish_source(data, repo_path, repo_dir, request['source'])
    current = _published(repo_path, data, name, version)
    action = _publish_action(current, request['image'], digest, request['hash_algorithm'], request['metadata'],
                             timestamp, request['force'], what)
    spec = dict(source=source_name, handle=posixpath.join(name, version), sha256=request['sha256'],
                timestamp=int(time.time()) if timestamp is None else timestamp)
    if current is not None:
        if current[0]['source'] == source_name:
            spec['handle'] = current[0]['handle']  # keep it where it already is
        elif action == 'updated':
            action = 'replaced'  # its files live in another source: publish a copy here
        if timestamp is None and action in ('updated', 'unchanged'):
            spec['timestamp'] = current[0]['timestamp']
    target = FileProvider(repo_dir).location(spec['handle'])
    compress = request['compress']
    if action in ('updated', 'unchanged'):
        compress = os.path.exists(target + '.xz')  # it stays as it was published
    return data, spec, action, target, compress, current


def _version_view(spec, hash_text, metadata):
    """The one view of a published version: its handle, timestamp, hash and metadata."""
    return dict(handle=spec['handle'], timestamp=spec['timestamp'], hash=hash_text, metadata=metadata)


def plan_publish(repo_path, image, name, version, metadata, timestamp=None, compress=False,
                 repo_dir=None, repo_name=None, source=None, hash_algorithm='sha256', force=False,
                 lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Plan publishing the local ``image`` as ``name`` ``version`` in the file repository ``repo_path``.

    The image goes to ``<repo_dir>/<name>/<version>`` (``.xz`` with
    ``compress``) with ``.hash`` and ``.metadata`` beside it; the repository
    JSON (created when missing, with a ``file`` source rooted at ``repo_dir``,
    by default the JSON's directory) is rewritten atomically under a lock,
    last, so readers never see a version whose files are not there yet.

    Publishing the same image again changes nothing; another image under an
    existing version is an error unless ``force``. The plan is named
    ``<repo>:<name>:<version>``; its values say the ``action`` and where the image goes.
    """
    _check_publish_request(repo_path, image, name, version, metadata, timestamp, hash_algorithm)
    repo_path = os.path.abspath(repo_path)
    request = dict(repo_path=repo_path, repo_dir=os.path.abspath(repo_dir or os.path.dirname(repo_path)),
                   repo_name=repo_name, source=source, image=image, name=name, version=version,
                   metadata=metadata, timestamp=timestamp, compress=compress, hash_algorithm=hash_algorithm,
                   force=force)
    if os.path.exists(repo_path):
        load_repository(repo_path)  # a broken repository fails before anything is written
    check_template_image(image, '%s %s (%s)' % (name, version, image))
    digest = hash_file(image, hash_algorithm)
    # The repository JSON pins the sha256 too: a reader then trusts the JSON it
    # was pointed at, not a .hash served beside the image by the same server.
    request['sha256'] = digest if hash_algorithm == 'sha256' else sha256_of(image)
    hash_text = format_hash(hash_algorithm, digest)
    what = 'version %r of template %r in %s' % (version, name, repo_path)
    lock_path = os.path.join(os.path.dirname(repo_path), '.%s.lock' % os.path.basename(repo_path))

    def locked():
        return file_lock(lock_path, timeout=lock_timeout, what='repository %s' % repo_path)

    with locked():
        data, spec, action, target, compress, current = _decide(request, digest, what)

    def values_of(spec, action, target, compress):
        return dict(action=action, repository=repo_path, name=name, version=version, hash=hash_text,
                    metadata=metadata, path=target + ('.xz' if compress else ''), **spec)

    def apply():
        with locked():  # decided again: another publisher may have come in between
            data, spec, action, target, compress, _current = _decide(request, digest, what)
            if action != 'unchanged':
                try:
                    _write_published(image, target, action, compress, hash_text, metadata)
                    data['templates'].setdefault(name, dict(versions={}))['versions'][version] = spec
                    write_json(repo_path, data)
                except OSError as err:
                    raise TemplateError('cannot publish %s: %s' % (what, err))
        return dict(values_of(spec, action, target, compress), after=_version_view(spec, hash_text, metadata))

    steps = [] if action == 'unchanged' else ['%s %s' % (action, what)]
    return Plan('%s:%s:%s' % (data['name'], name, version), _previous(current) or {},
                _version_view(spec, hash_text, metadata), steps, apply, values_of(spec, action, target, compress))


def _write_published(image, target, action, compress, hash_text, metadata):
    """The files of a published version; the image only when it is new or replaced."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if action != 'updated':
        write_copy(image, target, compress)
        atomic_write(target + '.hash', hash_text)
    write_json(target + '.metadata', metadata)
