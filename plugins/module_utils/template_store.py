# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local template store, in Lago's layout.

``<store>/<repo>:<template>:<version>`` is the image, with ``.hash``,
``.metadata``, ``.users`` (the prefixes using it) and ``.verified`` beside it,
and ``.tmp`` and ``.progress`` (template_progress.py) while downloading. The
image appears last, once verified: a present entry is a complete one. Per-entry locks live in ``<store>/.locks/``.

A stored image is never trusted blindly: ``.verified`` records its sha256 with
its size and mtime when it was checked. Every use compares size and mtime
(cheap); when they differ the whole image is hashed again. A damaged entry
nobody uses is fetched again; one that prefixes use is an error.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible_collections.lago.lago.plugins.module_utils import qemu_img
from ansible_collections.lago.lago.plugins.module_utils.errors import LagoError, TemplateError
from ansible_collections.lago.lago.plugins.module_utils.files import (
    atomic_write, file_lock, hash_file, read_json, remove_path, sha256_of, write_json)
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.template_progress import SUFFIX as PROGRESS, Reporter
from ansible_collections.lago.lago.plugins.module_utils.template_repo import (
    SIDECARS, format_hash, parse_hash, safe_name, split_store_name, store_name)
from ansible_collections.lago.lago.plugins.module_utils.transfer import stream_to_file

DEFAULT_LOCK_TIMEOUT = 3600.0


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
               if split_store_name(name) and not name.endswith(('.tmp', PROGRESS) + SIDECARS)
               and os.path.isfile(entry_path(store, name))]
    partial = [name[:-len('.tmp')] for name in names if name.endswith('.tmp') and split_store_name(name)]
    return dict(entries=entries, downloading=partial)


def check_template_image(path, name):
    """A template must be one self-contained qcow2 or raw image: a backing file would chain
    every VM made from it to a file of whatever host it runs on."""
    try:
        image = qemu_img.info(path, backing_chain=False, force_share=False)[0]
    except (LagoError, ValueError) as err:
        raise TemplateError('template %s is not an image qemu-img can read: %s' % (name, err))
    if image.get('format') not in ('qcow2', 'raw'):
        raise TemplateError('template %s is a %s image; templates must be qcow2 or raw' % (name, image.get('format')))
    if image.get('backing-filename'):
        raise TemplateError('template %s has a backing file (%s); a template must be self-contained: '
                            'flatten it first (qemu-img convert -O qcow2 in out)' % (name, image['backing-filename']))


def _stat_key(path):
    """What says an image is the one hashed last: the same file (inode), size and mtime."""
    stat = os.stat(path)
    return dict(ino=stat.st_ino, size=stat.st_size, mtime_ns=stat.st_mtime_ns)


def _record_verified(path, sha256):
    write_json(path + '.verified', dict(sha256=sha256, **_stat_key(path)))


def damage(store, name, pinned_sha256=None):
    """None when the entry ``name`` is intact (and has the pinned sha256, if any), else what is wrong.

    Cheap when the image's inode, size and mtime are the ones recorded at its
    last check; otherwise the whole image is hashed against its ``.hash`` again.
    """
    path = entry_path(store, name)
    record = read_json(path + '.verified', {})
    record = record if isinstance(record, dict) else {}
    if record.get('sha256') and all(record.get(key) == value for key, value in _stat_key(path).items()):
        sha256 = record['sha256']
    else:
        try:
            algorithm, expected = parse_hash(_read_text(path + '.hash') or '', path + '.hash')
        except TemplateError as err:
            return 'its hash file is damaged (%s)' % err
        digest = hash_file(path, algorithm)
        if digest != expected:
            return ('its content changed since it was fetched: its %s is %s, the store recorded %s'
                    % (algorithm, digest, expected))
        sha256 = digest if algorithm == 'sha256' else sha256_of(path)
        _record_verified(path, sha256)
    if pinned_sha256 and sha256 != pinned_sha256:
        return 'its sha256 is %s, not the pinned %s' % (sha256, pinned_sha256)
    return None


def _download_into_store(version, path):
    reporter = Reporter(path, version.name)
    try:
        _download_verified(version, path, reporter)
    finally:
        reporter.done()  # stored or failed: the store keeps nothing of the download


def _download_verified(version, path, progress):
    algorithm, expected = version.expected_hash()
    metadata = version.metadata()
    tmp = path + '.tmp'
    try:
        digest = stream_to_file(version.provider.open_image(version.handle), tmp, algorithm, progress)
        if digest != expected:
            raise TemplateError('template %s failed its hash check: %s %s expected (%s) but the '
                                'image has %s; the store keeps nothing of it'
                                % (version.name, algorithm, expected,
                                   'pinned' if version.pinned_sha256 else 'from the repository', digest))
        check_template_image(tmp, version.name)
        write_json(path + '.metadata', metadata)
        atomic_write(path + '.hash', format_hash(algorithm, digest))
        if not os.path.exists(path + '.users'):
            write_json(path + '.users', dict(users={}, last_access=int(time.time())))
        # Last: the image appears only once it is verified and described.
        os.rename(tmp, path)
        _record_verified(path, digest if algorithm == 'sha256' else sha256_of(path))
    except BaseException:
        remove_path(tmp)
        if not os.path.exists(path):
            for suffix in SIDECARS:
                remove_path(path + suffix)
        raise


def _discard_damaged(store, name, why):
    """Drop a damaged entry so it is fetched again; an error while prefixes use it."""
    live = live_users(store, name)
    if live:
        raise TemplateError('store entry %s is damaged: %s; it is used by the prefix(es) of %s, so it is '
                            'left as it is: destroy them and remove it (lago_template state=absent force=true)'
                            % (entry_path(store, name), why, ', '.join(live)))
    for item in (entry_path(store, name),) + tuple(entry_path(store, name) + suffix for suffix in SIDECARS):
        if not item.endswith('.users'):
            remove_path(item)


def fetch(store, version, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Make sure the store holds an intact ``version`` (a TemplateVersion); return its entry.

    Concurrent callers (threads or processes) download it once: the others
    wait on the entry's lock and find it there. ``entry['downloaded']`` tells
    whether this call fetched it; ``entry['replaced']`` says why a damaged
    entry was fetched again.
    """
    path = entry_path(store, version.name)
    downloaded, replaced = False, None
    try:
        os.makedirs(store, exist_ok=True)
        with _lock(store, version.name, lock_timeout):
            if os.path.isfile(path):
                replaced = damage(store, version.name, version.pinned_sha256)
                if replaced:
                    _discard_damaged(store, version.name, replaced)
            if not os.path.isfile(path):
                _download_into_store(version, path)
                downloaded = True
    except OSError as err:
        raise TemplateError('cannot store template %s in %s: %s' % (version.name, store, err))
    entry = stored_entry(store, version.name)
    entry.update(downloaded=downloaded, replaced=replaced)
    return entry


def remove_entry(store, name, force=False, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Remove ``name`` from the store; refuse while a live prefix uses it, unless ``force``.

    Returns True when something was removed.
    """
    path = entry_path(store, name)
    leftovers = [path + suffix for suffix in ('',) + SIDECARS + ('.tmp', PROGRESS)]
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


# --------------------------------------------------------------------- plans

def view(store, name):
    """The one view of a store entry, for every diff about it: present, its hash and live users."""
    if not os.path.isfile(entry_path(store, name)):
        return dict(present=False)
    return dict(present=True, hash=_read_text(entry_path(store, name) + '.hash'), users=live_users(store, name))


def plan_use(store, version, owner=None, undo=None, lock_timeout=DEFAULT_LOCK_TIMEOUT):
    """Plan: the store holds ``version`` (a TemplateVersion; fetched when missing) and, with
    ``owner`` (a prefix's uuid file), records that prefix as one of its users.

    A bad owner fails here, before anything is fetched. With ``undo`` (a
    Rollback) a newly recorded user is forgotten again when a later step fails.
    Values: name, version, path, hash, metadata, downloaded.
    """
    name = version.name
    if owner:
        owner = os.path.abspath(owner)
        owner_uuid(owner)
    before = view(store, name)
    entry = stored_entry(store, name)
    steps = []
    why = damage(store, name, version.pinned_sha256) if entry is not None else None
    if why and live_users(store, name):
        _discard_damaged(store, name, why)  # raises, naming the users
    if entry is None or why:
        steps.append('fetch %s' % name if entry is None else 'fetch %s again: %s' % (name, why))
        digest = format_hash(*version.expected_hash())
        if why:
            before['damaged'] = why
        entry = None
    else:
        digest = entry['hash']
    users = list(before.get('users', []))
    if owner and owner not in users:
        steps.append('record %s as a user of %s' % (owner, name))
        users = sorted(users + [owner])
    values = dict(name=name, version=version.version, path=entry_path(store, name), hash=digest,
                  metadata=entry['metadata'] if entry else None, downloaded=False, replaced=None)

    def apply():
        fetched = fetch(store, version, lock_timeout)
        if owner and add_user(store, name, owner) and undo is not None:
            undo.push('user %s of template %s' % (owner, name), lambda: remove_user(store, name, owner))
        return dict(after=view(store, name), hash=fetched['hash'], metadata=fetched['metadata'],
                    downloaded=fetched['downloaded'], replaced=fetched['replaced'])
    return Plan(name, before, dict(present=True, hash=digest, users=users), steps, apply, values)


def plan_removal(store, repo, template, version=None, force=False):
    """Plans removing ``template`` of repository ``repo`` from the store: ``version``, or
    every stored version when None. Refuses, before removing any, while live prefixes
    use one of them, unless ``force``."""
    if version is not None:
        names = [store_name(repo, template, safe_name(version, 'template_version'))]
    else:
        names = [entry['name'] for entry in list_store(store)['entries']
                 if (entry['repo'], entry['template']) == (repo, template)]
    names = [name for name in names if os.path.isfile(entry_path(store, name))]
    users = dict((name, live_users(store, name)) for name in names)
    in_use = ['%s (used by %s)' % (name, ', '.join(users[name])) for name in names if users[name]]
    if in_use and not force:
        raise TemplateError('refusing to remove %s: live prefixes use them; use force to remove anyway'
                            % '; '.join(in_use))

    def removal(name):
        def apply():
            remove_entry(store, name, force=force)
            return {}
        return apply
    return [Plan(name, view(store, name), dict(present=False), ['remove %s' % name], removal(name))
            for name in names]
