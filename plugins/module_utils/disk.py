# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disks of a prefix: compare what is on disk with what is asked, then create, grow or remove.

The answer to "what must change?" comes from here as Plans, so that modules
only report it (check mode) or carry it out. Exports are in disk_export.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import qemu_img, template_repo, template_store
from ansible_collections.lago.lago.plugins.module_utils.errors import DiskError
from ansible_collections.lago.lago.plugins.module_utils.files import read_json, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, read_state_file

DISK_TYPES = ('empty', 'template', 'file')
ACTIONS = dict(create='created', replace='replaced', grow='grown')
# Beside each image lago_disk makes: the record that it made it (state=absent removes only such images).
OWNERSHIP_SUFFIX = '.lago_disk'
MADE_BY = 'lago.lago.lago_disk'


# ------------------------------------------------------------- ownership

def ownership_file(path):
    return path + OWNERSHIP_SUFFIX


def record_ownership(path, kind='disk', sidecars=()):
    """Record beside ``path`` that lago_disk made the image there (``kind`` disk or export;
    ``sidecars``: suffixes of the files made with it, removed with it)."""
    stat = os.stat(path)
    write_json(ownership_file(path), dict(made_by=MADE_BY, kind=kind, path=os.path.abspath(path),
                                          device=stat.st_dev, inode=stat.st_ino, sidecars=list(sidecars)))


def ownership(path):
    """The ownership record of the image at ``path`` when lago_disk made this very file, else None.

    The record names the file by device and inode: a file put at the path
    since (a user's image moved or copied there) is not ours.
    """
    try:
        record = read_json(ownership_file(path))
        stat = os.lstat(path)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get('made_by') != MADE_BY:
        return None
    if (record.get('device'), record.get('inode')) != (stat.st_dev, stat.st_ino):
        return None
    return record


def remove_owned(path):
    """Remove the image at ``path``, its ownership record and what was made with it."""
    record = ownership(path) or {}
    remove_path(path)
    for suffix in record.get('sidecars') or ():
        if suffix in ('.hash', '.metadata'):
            remove_path(path + suffix)
    remove_path(ownership_file(path))


def _images_dir_of(real):
    """The prefix whose images/ directory holds ``real``, or None."""
    ancestor = os.path.dirname(real)
    while ancestor != os.path.dirname(ancestor):
        if os.path.basename(ancestor) == 'images' and os.path.isfile(Layout(os.path.dirname(ancestor)).state_file):
            return Layout(os.path.dirname(ancestor))
        ancestor = os.path.dirname(ancestor)
    return None


def prefix_owner(path):
    """(prefix path, what) when ``path`` is a file a lago prefix records in its images/
    (a VM's disk, a snapshot layer or memory state, a pool import), else None: those
    change through the prefix's modules, never through lago_disk."""
    real = os.path.realpath(path)
    layout = _images_dir_of(real)
    if layout is None:
        return None
    for vm_name, vm in sorted((read_state_file(layout).get('vms') or {}).items()):
        for disk in vm.get('disks') or []:
            files = [disk.get('path')] + list(disk.get('layers') or {}) + list(disk.get('base_files') or [])
            if real in [os.path.realpath(item) for item in files if isinstance(item, str)]:
                return layout.path, 'VM %s disk %s' % (vm_name, disk.get('name'))
        for snapshot, record in sorted((vm.get('snapshots') or {}).items()):
            memory = record.get('memory') if isinstance(record, dict) else None
            if isinstance(memory, str) and os.path.realpath(memory) == real:
                return layout.path, 'VM %s memory of snapshot %s' % (vm_name, snapshot)
    return None


def _refuse_prefix_image(path):
    owner = prefix_owner(path)
    if owner:
        raise DiskError('%s belongs to lago prefix %s (%s): lago_disk leaves it alone; change it with '
                        'lago_prefix or lago_snapshot' % (path, owner[0], owner[1]))


def inspect(path):
    """What is at ``path``: format, virtual size and backing file, or None when nothing is there."""
    if not os.path.lexists(path):
        return None
    info = qemu_img.info(path, backing_chain=False)[0]
    return dict(path=path, format=info['format'], size=info['virtual-size'],
                backing_file=qemu_img.backing_path(info, path),
                backing_format=info.get('backing-filename-format'))


def summary(info):
    """The one view of a disk (diffs and results): format, size, backing_file; {} when there is none."""
    if not info:
        return {}
    return dict(format=info['format'], size=info['size'], backing_file=info['backing_file'])


def view(path):
    return summary(inspect(path))


class DiskRequest:
    """The disk a task asks for. ``size`` in bytes (or None); ``backing_file`` absolute or None."""

    def __init__(self, path, fmt='qcow2', size=None, backing_file=None, backing_format=None,
                 preallocation=None):
        self.path = path
        self.format = fmt
        self.size = qemu_img.round_to_sector(qemu_img.parse_size(size)) if size is not None else None
        if self.size == 0:
            raise DiskError('size %r of disk %s is zero: give it a size (10G, 512M)' % (size, path))
        self.backing_file = backing_file
        self.backing_format = backing_format
        self.preallocation = preallocation

    def describe(self):
        """The disk as the diff's ``after`` shows it."""
        return dict(path=self.path, format=self.format, size=self.size, backing_file=self.backing_file)


def conflicts(current, request):
    """Why the existing disk ``current`` is not the one ``request`` asks for (list of reasons)."""
    found = []
    if current['format'] != request.format:
        found.append('its format is %s, not %s' % (current['format'], request.format))
    have, want = current['backing_file'], request.backing_file
    if want and not have:
        found.append('it has no backing file, not %s' % want)
    elif have and not want:
        found.append('it is an overlay on %s, not a standalone disk' % have)
    elif have and os.path.realpath(have) != os.path.realpath(want):
        found.append('its backing file is %s, not %s' % (have, want))
    return found


def action_for(current, request, force=False):
    """What to do: 'create', 'replace', 'grow' or None (the disk is as asked).

    A conflicting disk is a DiskError naming each difference unless ``force``;
    shrinking is always refused (it would cut off data).
    """
    if current is None:
        return 'create'
    found = conflicts(current, request)
    if found:
        if not force:
            raise DiskError('disk %s exists but %s; use force to replace it' % (request.path, '; '.join(found)))
        return 'replace'
    if request.size is None or request.size == current['size']:
        return None
    if request.size < current['size']:
        raise DiskError('disk %s is %d bytes; shrinking it to %d bytes is refused (it would cut off data): '
                        'remove the disk first if that is meant' % (request.path, current['size'], request.size))
    return 'grow'


def check_request(request, backing_pending=False):
    """Refuse what qemu-img would refuse later, or worse, accept: before anything is written.

    ``backing_pending``: the backing file is a template not fetched yet (check mode).
    """
    parent = os.path.dirname(os.path.abspath(request.path))
    if not os.path.isdir(parent):
        raise DiskError('directory %s of disk %s does not exist' % (parent, request.path))
    if not request.backing_file:
        if request.size is None:
            raise DiskError('disk %s needs a size' % request.path)
        return
    if backing_pending or qemu_img.is_protocol(request.backing_file):
        return
    if not os.path.isfile(request.backing_file):
        raise DiskError('backing file %s of disk %s does not exist' % (request.backing_file, request.path))
    backing = qemu_img.info(request.backing_file, backing_chain=False)[0]
    if request.backing_format and backing['format'] != request.backing_format:
        # qemu-img's own message would name the new disk, not the backing file.
        raise DiskError('backing file %s of disk %s is a %s image, not %s (backing_format)'
                        % (request.backing_file, request.path, backing['format'], request.backing_format))
    backing_size = backing['virtual-size']
    if request.size is not None and request.size < backing_size:
        raise DiskError('size %d of disk %s is smaller than its backing file %s (%d bytes)'
                        % (request.size, request.path, request.backing_file, backing_size))


def carry_out(action, request, undo=None):
    """Carry out ``action`` (from ``action_for``); with ``undo`` (a Rollback) a disk made here
    is removed again when a later step fails."""
    if action == 'grow':
        qemu_img.resize(request.path, request.size, fmt=request.format)
        return
    if action == 'replace':
        remove_path(request.path)
        remove_path(ownership_file(request.path))
    try:
        qemu_img.create(request.path, size=request.size, fmt=request.format,
                        backing_file=request.backing_file, backing_format=request.backing_format,
                        preallocation=request.preallocation)
        record_ownership(request.path)
    except BaseException:
        remove_path(request.path)  # qemu-img may leave a half-made image
        remove_path(ownership_file(request.path))
        raise
    if undo is not None:
        undo.push('disk %s' % request.path, lambda: remove_owned(request.path))


def template_backing(repo, store, template, version=None):
    """The store entry a template disk sits on, fetched: dict(name, path, format, entry)."""
    wanted = template_repo.load_repository(repo).version(template, version)
    entry = template_store.fetch(store, wanted)
    return dict(name=wanted.name, path=entry['path'], format=qemu_img.image_format(entry['path']), entry=entry)


# ------------------------------------------------------------- present, absent

def disk_type(options):
    """Lago's disk type: the ``type`` option, else template/file/empty from what else is given."""
    if options.get('type'):
        return options['type']
    if options.get('template'):
        return 'template'
    return 'file' if options.get('backing_file') else 'empty'


def check_options(options, kind):
    """Option combinations an argument spec cannot express, refused before anything happens."""
    if kind == 'template':
        missing = [name for name in ('template', 'template_repo') if not options.get(name)]
        if missing:
            raise DiskError('a template disk needs %s' % ' and '.join(missing))
    elif options.get('template'):
        raise DiskError('template is only for type=template, not type=%s' % kind)
    if options.get('backing_file') and kind != 'file':
        raise DiskError('backing_file is only for type=file, not type=%s' % kind)
    if kind != 'empty' and options.get('format') == 'raw' and (kind == 'template' or options.get('backing_file')):
        raise DiskError('an overlay disk is always qcow2, not raw')


def _plan_disk(current, request, force=False, resolve=None, undo=None):
    """The Plan named ``disk`` that brings the disk at ``request.path`` to ``request``.

    ``resolve()``, when given, returns the request as it really is once the
    steps before this plan ran (a template fetched only then): it is checked
    and carried out instead. Values: path, action, disk (the disk's view).
    """
    action = action_for(current, request, force)
    if action in ('create', 'replace'):
        check_request(request, backing_pending=resolve is not None)
    before = summary(current)
    after = dict(before, **request.describe()) if action else before
    after.pop('path', None)

    def apply():
        real = resolve() if resolve is not None else request
        if resolve is not None and action in ('create', 'replace'):
            check_request(real)
        carry_out(action, real, undo)
        done = view(real.path)
        return dict(after=done, disk=done)
    return Plan('disk', before, after, [action] if action else [], apply,
                dict(path=request.path, action=ACTIONS.get(action, 'none'), disk=after))


def _template_plans(options, current, undo):
    """The store plan (fetch, record the owner) and the disk plan of a template disk."""
    store = options['template_store']
    wanted = template_repo.load_repository(options['template_repo']).version(
        options['template'], options.get('template_version'))
    use = template_store.plan_use(store, wanted, owner=options.get('owner'), undo=undo)
    path = template_store.entry_path(store, wanted.name)

    def request():
        fmt = qemu_img.image_format(path) if os.path.isfile(path) else 'qcow2'
        return DiskRequest(options['path'], 'qcow2', options.get('size'), backing_file=path,
                           backing_format=fmt, preallocation=options.get('preallocation'))
    pending = not os.path.isfile(path)  # its format is known once fetched
    return use, _plan_disk(current, request(), options.get('force'), resolve=request if pending else None, undo=undo)


def plan_present(options, undo=None, warn=None):
    """``(store plan or None, disk plan)`` for lago_disk's state=present; ``options`` has its option
    names (path, type, size, format, preallocation, template, template_version, template_repo,
    template_store, backing_file, backing_format, owner, force).

    Carry out the store plan first: a template disk sits on what it fetches.
    With ``undo`` (a Rollback) whatever the plans made is taken back when a
    later step fails: the owner recorded as a user, the new disk.
    """
    kind = disk_type(options)
    check_options(options, kind)
    if options.get('owner') and kind != 'template' and warn:
        warn('owner is only recorded for template disks; ignored for type=%s' % kind)
    path, force = options['path'], options.get('force', False)
    if os.path.lexists(path):
        _refuse_prefix_image(path)
    current = inspect(path)
    if kind == 'template':
        return _template_plans(options, current, undo)
    size, preallocation = options.get('size'), options.get('preallocation')
    if kind == 'file' and options.get('backing_file'):
        backing = os.path.abspath(options['backing_file'])
        backing_format = options.get('backing_format')
        if not backing_format and os.path.isfile(backing):
            backing_format = qemu_img.image_format(backing)
        request = DiskRequest(path, 'qcow2', size, backing_file=backing, backing_format=backing_format,
                              preallocation=preallocation)
    elif kind == 'file':  # the image at path is used as it is (only grown)
        if current is None:
            raise DiskError('disk %s of type file does not exist (give backing_file to make an overlay '
                            'on another image)' % path)
        request = DiskRequest(path, options.get('format') or current['format'], size,
                              backing_file=current['backing_file'])
    else:
        request = DiskRequest(path, options.get('format') or 'qcow2', size, preallocation=preallocation)
    return None, _plan_disk(current, request, force, undo=undo)


def plan_absent(path):
    """The Plan named ``disk`` that removes the image at ``path`` (an unreadable one too),
    with its ownership record: only an image lago_disk made (its ownership record names
    this very file) is removed; any other file there is refused, naming the path."""
    if not os.path.lexists(path):
        return Plan('disk', {}, {}, values=dict(path=path, action='none', disk={}))
    _refuse_prefix_image(path)
    if ownership(path) is None:
        why = ('its ownership record %s names another file' % ownership_file(path)
               if os.path.lexists(ownership_file(path)) else 'there is no ownership record %s' % ownership_file(path))
        raise DiskError('%s was not made by lago_disk (%s); it is left alone: remove it yourself '
                        '(e.g. ansible.builtin.file state=absent) if it is meant to go' % (path, why))
    try:
        before = view(path)
    except DiskError:
        before = {}  # not a readable image: it goes all the same

    def apply():
        remove_owned(path)
        return {}
    return Plan('disk', before, {}, ['remove'], apply, dict(path=path, action='removed', disk={}))
