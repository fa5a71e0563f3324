# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``disks:`` of a VM in an init file, validated and normalized (see docs/INIT_FILE.md)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.lago.lago.plugins.module_utils import values
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import (
    Problems, boolean, check_keys, mapping, plain_mapping, required_list, text)
from ansible_collections.lago.lago.plugins.module_utils.values import fail

DISK_KEYS = (
    'type', 'name', 'dev', 'format', 'size', 'path', 'template_name',
    'template_version', 'template_type', 'make_a_copy', 'metadata', 'comment',
)
DISK_TYPES = ('template', 'empty', 'file')
DISK_FORMATS = ('qcow2', 'raw', 'iso')
TEMPLATE_TYPES = ('lago', 'qcow2', 'pool')
DISK_TYPE_KEYS = {
    'template': ('template_name', 'template_version', 'template_type', 'path'),
    'empty': ('size',),
    'file': ('path', 'make_a_copy'),
}
POOL_DISK_RE = re.compile(r'[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?')


def normalize_disks(value, place, paths):
    value = required_list(value, place, 'a VM needs at least one disk (the first one boots)', 'disks')
    problems = Problems()
    raws = [problems.check(mapping, raw, '%s[%d]' % (place, index)) for index, raw in enumerate(value)]
    devs = _disk_devs(raws, place, problems)
    disks = [problems.check(_normalize_disk, raw, '%s[%d]' % (place, index), devs[index], paths)
             if raw is not None else None for index, raw in enumerate(raws)]
    problems.check(_refuse_duplicate_disk_names, disks, place)
    problems.raise_found()
    return disks


def _disk_devs(raws, place, problems):
    """Every disk's dev: the given one, else the next free vda, vdb, ... in order
    (None for a dev with a problem)."""
    given = {}
    for index, raw in enumerate(raws):
        if raw is None or 'dev' not in raw:
            continue
        dev_place = '%s[%d].dev' % (place, index)
        dev = problems.check(values.disk_dev, raw['dev'], dev_place)
        if dev in given.values():
            first = [other for other, name in given.items() if name == dev][0]
            dev = problems.check(fail, dev_place, '%s is already used by disks[%d]' % (dev, first))
        given[index] = dev
    devs = []
    for index in range(len(raws)):
        if index in given:
            devs.append(given[index])
            continue
        # None: no name left (the problem names this disk's dev).
        devs.append(problems.check(values.next_free_dev, list(given.values()) + devs, '%s[%d].dev' % (place, index)))
    return devs


def _normalize_disk(raw, place, dev, paths):
    disk_type = raw.get('type')
    if disk_type not in DISK_TYPES:
        fail(place + '.type', 'must be one of %s, not %r' % (', '.join(DISK_TYPES), disk_type))
    problems = Problems()
    problems.check(check_keys, raw, place, DISK_KEYS, 'disk')
    name = raw.get('name', dev)
    if name is not None:  # a dev with a problem names no disk
        name = problems.check(values.disk_name, name, place + '.name')
    disk = {'name': name, 'dev': dev, 'type': disk_type}
    problems.check(_refuse_keys_of_other_types, raw, place, disk_type)
    builders = {'template': _template_disk, 'empty': _empty_disk, 'file': _file_disk}
    disk.update(problems.check(builders[disk_type], raw, place, paths) or {})
    if 'metadata' in raw:
        disk['metadata'] = problems.check(plain_mapping, raw['metadata'], place + '.metadata')
    problems.raise_found()
    return disk


def _refuse_keys_of_other_types(raw, place, disk_type):
    own = DISK_TYPE_KEYS[disk_type]
    problems = Problems()
    for key in sorted(raw):
        owners = [kind for kind, keys in DISK_TYPE_KEYS.items() if key in keys and key not in own]
        if owners:
            problems.check(fail, '%s.%s' % (place, key), 'applies to %s disks only, not to %s disks'
                           % (' and '.join(sorted(owners)), disk_type))
    problems.raise_found()


def _disk_format(raw, place, allowed, default):
    disk_format = raw.get('format', default)
    if disk_format not in allowed:
        fail(place + '.format', 'must be %s for this disk, not %r' % (' or '.join(allowed), disk_format))
    return disk_format


def _template_disk(raw, place, paths):
    template_type = raw.get('template_type', 'lago')
    if template_type not in TEMPLATE_TYPES:
        fail(place + '.template_type', 'must be one of %s, not %r' % (', '.join(TEMPLATE_TYPES), template_type))
    problems = Problems()
    disk = {
        # The VM's disk is always a qcow2 overlay on the template.
        'format': problems.check(_disk_format, raw, place, ('qcow2',), 'qcow2'),
        'template_type': template_type,
        'template_version': None,
    }
    if template_type == 'pool':
        disk.update(problems.check(_pool_disk, raw, place, paths) or {})
    elif template_type == 'qcow2':
        # A plain qcow2 image as the base (Lago's exported init files).
        if 'path' not in raw:
            problems.check(fail, place + '.path', 'missing: a template_type qcow2 disk needs the path of its base image')
        else:
            disk['path'] = problems.check(paths.resolve, raw['path'], place + '.path', what='base image')
        if 'template_name' in raw:
            disk['template_name'] = problems.check(text, raw['template_name'], place + '.template_name', numbers=True)
    else:
        if 'path' in raw:
            problems.check(fail, place + '.path', 'a template disk takes its image from the template store; '
                                                  'path applies to template_type qcow2 only')
        if 'template_name' not in raw:
            problems.check(fail, place + '.template_name', 'missing: a template disk needs template_name')
        else:
            disk['template_name'] = problems.check(text, raw['template_name'], place + '.template_name', numbers=True)
    if 'template_version' in raw and template_type != 'pool':
        disk['template_version'] = problems.check(text, raw['template_version'], place + '.template_version',
                                                  numbers=True)
    problems.raise_found()
    return disk


def _pool_disk(raw, place, paths):
    """A state of a state pool (lago_snapshot_pool) as the base: ``path`` is
    ``<pool>/<state>``, local or ``[user@]host:/path``; ``template_name``, if
    given, picks ``<vm>`` or ``<vm>/<disk>`` of the state (default: this VM and disk)."""
    problems = Problems()
    if 'template_version' in raw:
        problems.check(fail, place + '.template_version',
                       'does not apply to template_type pool: a pool state has one version')
    disk = {}
    if 'path' not in raw:
        problems.check(fail, place + '.path', 'missing: a template_type pool disk needs the pool state as <pool>/<state>')
    else:
        disk['path'] = problems.check(_pool_location, raw['path'], place + '.path', paths)
    if 'template_name' in raw:
        disk['template_name'] = problems.check(_pool_pick, raw['template_name'], place + '.template_name')
    problems.raise_found()
    return disk


def _pool_location(value, place, paths):
    location = values.location(text(value, place).rstrip('/'), place, 'pool state')
    if values.is_remote_location(location):
        return location
    location = paths.local(location, place)
    if paths.hypervisor:
        # A VM pinned to a hypervisor (docs/MULTIHOST.md) takes a local pool state from that
        # hypervisor's disks: its part checks it there.
        return location
    if not os.path.isfile(os.path.join(location, 'manifest.json')):
        problem = 'is incomplete (no manifest.json)' if os.path.isdir(location) else 'does not exist'
        fail(place, 'pool state %s %s' % (location, problem))
    return location


def _pool_pick(value, place):
    picked = text(value, place)
    if not POOL_DISK_RE.fullmatch(picked):
        fail(place, 'for a pool disk give <vm> or <vm>/<disk> of the state, not %r' % picked)
    return picked


def _empty_disk(raw, place, paths):
    problems = Problems()
    disk = {'format': problems.check(_disk_format, raw, place, ('qcow2', 'raw'), 'qcow2')}
    if 'size' not in raw:
        problems.check(fail, place + '.size', 'missing: an empty disk needs a size (e.g. 10G)')
    else:
        disk['size'] = problems.check(_disk_size, raw['size'], place + '.size')
    problems.raise_found()
    return disk


def _disk_size(value, place):
    return values.check_disk_size(values.parse_size(value, place), value, place)


def _file_disk(raw, place, paths):
    problems = Problems()
    disk = {'make_a_copy': problems.check(boolean, raw.get('make_a_copy', False), place + '.make_a_copy')}
    if 'path' not in raw:
        problems.check(fail, place + '.path', 'missing: a file disk needs the path of its image')
    else:
        disk['path'] = problems.check(paths.resolve, raw['path'], place + '.path', what='disk image')
        if disk['path'] is not None:
            disk['format'] = problems.check(_disk_format, raw, place, DISK_FORMATS, _format_from_extension(disk['path']))
    problems.raise_found()
    return disk


def _format_from_extension(path):
    extension = os.path.splitext(path)[1].lower()
    return {'.qcow2': 'qcow2', '.qcow': 'qcow2', '.iso': 'iso'}.get(extension, 'raw')


def _refuse_duplicate_disk_names(disks, place):
    problems = Problems()
    first_index = {}
    for index, disk in enumerate(disks):
        if disk is None or disk['name'] is None:
            continue
        if disk['name'] in first_index:
            problems.check(fail, '%s[%d].name' % (place, index), 'disk name %r is already used by disks[%d]'
                           % (disk['name'], first_index[disk['name']]))
        else:
            first_index[disk['name']] = index
    problems.raise_found()
