# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of template downloads, for playbooks to show while the downloads run.

A module cannot print while it runs, so a fetch (template_store.fetch) writes
``<store>/<entry>.progress`` as it goes: its pid, bytes received and expected,
the attempt and the last retry note. The file goes away when the fetch ends,
stored or failed (the store keeps nothing of a failed one).
The playbooks fetch in the background (``async``) and poll ``downloads``
through lago_template_info (see docs/FLOW.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import time

from ansible_collections.lago.lago.plugins.module_utils.files import read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.template_repo import store_name

SUFFIX = '.progress'
# How often wait() looks at the files.
POLL = 0.5


def progress_path(entry_path):
    return entry_path + SUFFIX


class Reporter:
    """Writes the progress file of one fetch; a transfer.stream_to_file ``progress`` callback."""

    def __init__(self, entry_path, name):
        self.path = progress_path(entry_path)
        self.record = dict(name=name, pid=os.getpid(), received=0, total=None, attempt=1, note=None)

    def _write(self, **changes):
        self.record.update(changes, updated=time.time())
        write_json(self.path, self.record)

    def __call__(self, received, total, attempt, note=None):
        self._write(state='downloading', received=received, total=total, attempt=attempt,
                    note=note or self.record['note'])

    def done(self):
        remove_path(self.path)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _percent(record):
    total = record.get('total')
    return int(100 * record['received'] / total) if total else None


def status(store, name):
    """Where the fetch of store entry ``name`` is: a dict with ``state`` - stored,
    downloading, killed (its process is gone) or missing (no download running: not
    started yet, or failed) - and, while downloading, received, total, percent,
    attempt and note."""
    entry = os.path.join(os.path.abspath(store), name)
    record = read_json(progress_path(entry), {})
    if not isinstance(record, dict) or not record:
        return dict(name=name, state='stored' if os.path.isfile(entry) else 'missing')
    view = dict((key, record.get(key)) for key in ('received', 'total', 'attempt', 'note'))
    view.update(name=name, state=record.get('state'), percent=_percent(record) if 'received' in record else None)
    if view['state'] == 'downloading' and not _alive(record.get('pid', 0)):
        view['state'] = 'killed'
    return view


def running(view):
    return view['state'] == 'downloading'


def downloads(store, names, wait=0.0):
    """The status of each of ``names``; with ``wait``, first wait up to that many seconds
    while one of them is still running (returning as soon as none is)."""
    end = time.monotonic() + wait
    views = [status(store, name) for name in names]
    while time.monotonic() < end and any(running(view) or view['state'] == 'missing' for view in views):
        time.sleep(POLL)
        views = [status(store, name) for name in names]
    return views


def templates_needed(spec, repository, store):
    """The store entries the disks of ``spec`` (a normalized init spec) take from ``repository``
    (a template_repo.Repository): ``[{name, template, version, stored}]``, each once, in the spec's
    order; ``stored`` tells whether ``store`` holds it already."""
    needed = []
    for domain in spec['domains'].values():
        for disk in domain['disks']:
            if disk['type'] != 'template' or disk.get('template_type', 'lago') != 'lago':
                continue
            version = repository.version(disk['template_name'], disk.get('template_version'))
            item = dict(name=store_name(repository.name, version.template, version.version),
                        template=version.template, version=version.version)
            item['stored'] = os.path.isfile(os.path.join(os.path.abspath(store), item['name']))
            if item not in needed:
                needed.append(item)
    return needed
