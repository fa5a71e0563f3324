# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one owner of a prefix's state: where its files live, state.json, the
per-prefix lock; the records (VMs, NICs, disks, snapshots, nets) it hands out
are in prefix_records.

No other file reads or writes state.json or indexes its dicts: everything goes
through ``PrefixState`` and its records, and every state-changing step holds
``lock`` (the module runtime takes it through ``open_prefix``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import copy
import datetime
import errno
import json
import os

from ansible_collections.lago.lago.plugins.module_utils.errors import LockTimeout, PrefixBusy, PrefixDamaged, PrefixError, PrefixGone
from ansible_collections.lago.lago.plugins.module_utils.files import file_lock, remove_path, write_json
from ansible_collections.lago.lago.plugins.module_utils.prefix_records import Hypervisor, Net, Vm
from ansible_collections.lago.lago.plugins.module_utils.ssh import Jump

STATE_VERSION = 1
STATE_FILE = 'state.json'
LOCK_FILE = '.lock'
DEFAULT_LOCK_TIMEOUT = 60.0
# state.json holds no secret, but what it names (keys, seeds) is the prefix's own business.
STATE_MODE = 0o600
PREFIX_MODE = 0o700


class Layout(object):
    """Where each file of a prefix lives."""

    def __init__(self, path):
        self.path = os.path.abspath(os.path.expanduser(path))

    def _join(self, *parts):
        return os.path.join(self.path, *parts)

    @property
    def uuid_file(self):
        return self._join('uuid')

    @property
    def private_key(self):
        return self._join('id_rsa')

    @property
    def public_key(self):
        return self._join('id_rsa.pub')

    @property
    def known_hosts(self):
        return self._join('known_hosts')

    @property
    def spec_file(self):
        return self._join('spec.json')

    @property
    def state_file(self):
        return self._join(STATE_FILE)

    @property
    def lock_file(self):
        return self._join(LOCK_FILE)

    def image(self, vm, disk, fmt):
        return self._join('images', '%s_%s.%s' % (vm, disk, fmt))

    def overlay(self, vm, disk, snapshot):
        """The layer a disk gets when snapshot ``snapshot`` is taken or reverted to."""
        return self._join('images', '%s_%s.%s.qcow2' % (vm, disk, snapshot))

    def memory_state(self, vm, snapshot):
        """The RAM of ``vm`` saved by a memory snapshot."""
        return self._join('images', '%s.%s.mem' % (vm, snapshot))

    @property
    def pool_imports(self):
        """Where layers imported from state pools live (shared by the prefix's disks)."""
        return self._join('images', 'pool')

    def seed(self, vm):
        return self._join('seeds', '%s.iso' % vm)

    def host_key(self, vm):
        return self._join('host_keys', '%s_ed25519' % vm)

    def scripts_dir(self, vm):
        return self._join('scripts', vm)

    def console_log(self, vm):
        return self._join('logs', '%s.console.log' % vm)

    def subdirs(self):
        return [self._join(name) for name in ('images', 'seeds', 'host_keys', 'scripts', 'logs')]

    def own_files(self):
        """The files of the prefix's own that sit directly in its directory (state.json last,
        so a teardown that stops half way can still be finished from it; not the lock file)."""
        return [self.uuid_file, self.private_key, self.public_key, self.known_hosts, self.spec_file,
                self.state_file]

    @property
    def initialized(self):
        """True when the prefix has a state file (complete or not)."""
        return os.path.exists(self.state_file)


# ------------------------------------------------------------------ the state

def _damaged(layout, why):
    return PrefixDamaged('%s is damaged (%s); destroy the prefix (lago_prefix state=absent) and init it again'
                         % (layout.state_file, why))


def read_state_file(layout):
    """The raw dict of state.json; PrefixError when missing, unreadable or of another version."""
    try:
        with open(layout.state_file, 'rb') as handle:
            data = json.loads(handle.read().decode('utf-8'))
    except (IOError, OSError) as err:
        if err.errno == errno.ENOENT:
            raise PrefixError('%s is not an initialized lago prefix (no %s): run lago_prefix with '
                              'state=present (the init playbook) first' % (layout.path, STATE_FILE))
        raise PrefixError('cannot read %s: %s' % (layout.state_file, err.strerror or err))
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise _damaged(layout, 'not valid JSON: %s' % err)
    if not isinstance(data, dict):
        raise _damaged(layout, 'not a JSON object')
    if data.get('version') != STATE_VERSION:
        raise PrefixError('%s: state.json version %r is not supported (expected %d)'
                          % (layout.state_file, data.get('version'), STATE_VERSION))
    for key in ('vms', 'nets'):
        if not isinstance(data.get(key, {}), dict):
            raise _damaged(layout, '%s is not a mapping' % key)
    return data


class PrefixState(object):
    """A prefix's state.json, loaded: read it through the properties and records, change it, save()."""

    def __init__(self, layout, data):
        self.layout = layout
        self._data = data
        self.dir_created_now = False  # set by open_prefix

    # -- loading and saving
    @classmethod
    def load(cls, layout):
        return cls(layout, read_state_file(layout))

    @classmethod
    def new(cls, layout, **fields):
        """A fresh state (status ``initializing``), not saved yet."""
        data = dict(fields, version=STATE_VERSION, status='initializing', path=layout.path)
        data.setdefault('vms', {})
        data.setdefault('nets', {})
        return cls(layout, data)

    def save(self):
        write_json(self.layout.state_file, self._data, mode=STATE_MODE)

    def reset(self, **fields):
        """Start afresh (status ``initializing``, no VMs or nets) with ``fields``, keeping
        ``created_dir``: init does this after taking apart what a killed init left."""
        self._data = dict(fields, version=STATE_VERSION, status='initializing', path=self.layout.path,
                          created_dir=self.created_dir, vms={}, nets={})

    def to_dict(self):
        """A deep copy of the whole state (for plans and unit tests)."""
        return copy.deepcopy(self._data)

    def get(self, key, default=None):
        """A top-level value not covered by a property (e.g. a record a later version adds)."""
        return self._data.get(key, default)

    def set(self, key, value):
        self._data[key] = value

    # -- the prefix
    path = property(lambda self: self.layout.path)
    uuid = property(lambda self: self._data.get('uuid'))
    short_id = property(lambda self: self._data.get('short_id'))
    libvirt_uri = property(lambda self: self._data.get('libvirt_uri'))
    virt_type = property(lambda self: self._data.get('virt_type', 'kvm'))
    template_repo = property(lambda self: self._data.get('template_repo'))
    template_store = property(lambda self: self._data.get('template_store'))
    lease_dir = property(lambda self: self._data.get('lease_dir'))
    created_dir = property(lambda self: bool(self._data.get('created_dir')),
                           doc='whether init made the prefix directory (destroy removes only such a one)')

    @property
    def hypervisors(self):
        """A multi-host prefix's controller: {inventory name: {ssh_host, ssh_user, ssh_port, ssh_key,
        known_hosts, path}} (how to reach each hypervisor, where its part is); empty: a single-host prefix."""
        return copy.deepcopy(self._data.get('hypervisors') or {})

    @hypervisors.setter
    def hypervisors(self, value):
        self._data['hypervisors'] = copy.deepcopy(dict(value))

    @property
    def part_of(self):
        """A part of a multi-host prefix (built on one hypervisor): the hypervisor's name; else None."""
        return self._data.get('part_of')

    @part_of.setter
    def part_of(self, value):
        self._data['part_of'] = value

    @property
    def status(self):
        return self._data.get('status')

    @status.setter
    def status(self, value):
        self._data['status'] = value

    @property
    def ready(self):
        return self._data.get('status') == 'ready'

    @property
    def owner(self):
        """The lease owner: the prefix's uuid file and uuid."""
        from ansible_collections.lago.lago.plugins.module_utils.lease_owner import Owner
        return Owner(self.layout.uuid_file, self.uuid)

    # -- VMs
    @property
    def vm_names(self):
        return sorted(self._data['vms'])

    @property
    def vms(self):
        """{name: Vm}, sorted by name."""
        return dict((name, Vm(self._data['vms'][name], name)) for name in self.vm_names)

    def vm(self, name):
        if name not in self._data['vms']:
            raise PrefixError('vm %s is not in prefix %s (it has: %s)'
                              % (name, self.path, ', '.join(self.vm_names) or 'no VMs'))
        return Vm(self._data['vms'][name], name)

    def has_vm(self, name):
        return name in self._data['vms']

    def add_vm(self, name, data):
        self._data['vms'][name] = data
        return Vm(data, name)

    def remove_vm(self, name):
        return self._data['vms'].pop(name, None)

    def chosen_vms(self, names=None):
        """The VM names to act on: all, or the given subset (each must exist)."""
        if not names:
            return self.vm_names
        unknown = sorted(set(names) - set(self._data['vms']))
        if unknown:
            raise PrefixError('vms %s are not in the prefix (it has: %s)'
                              % (', '.join(unknown), ', '.join(self.vm_names)))
        return sorted(set(names))

    # -- nets
    @property
    def net_names(self):
        return sorted(self._data['nets'])

    @property
    def nets(self):
        """{name: Net}, sorted by name."""
        return dict((name, Net(self._data['nets'][name], name)) for name in self.net_names)

    def net(self, name):
        if name not in self._data['nets']:
            raise PrefixError('net %s is not in prefix %s (it has: %s)'
                              % (name, self.path, ', '.join(self.net_names) or 'no nets'))
        return Net(self._data['nets'][name], name)

    def add_net(self, name, data):
        self._data['nets'][name] = data
        return Net(data, name)

    def management_net(self, vm):
        return self.net(vm.management_net)

    # -- hypervisors (a multi-host prefix, docs/MULTIHOST.md)
    def hypervisor(self, name):
        recorded = self._data.get('hypervisors') or {}
        if name not in recorded:
            raise PrefixError('hypervisor %s is not in %s (it has: %s)'
                              % (name, self.layout.state_file, ', '.join(sorted(recorded)) or 'no hypervisors'))
        return Hypervisor(recorded[name], name)

    def jump_for(self, vm):
        """How the controller reaches VM ``vm`` (a Vm or its name) over SSH: None directly (a
        single-host VM), else an ssh.Jump through the first hypervisor of its management net
        (the one with the net's gateway), or through its own when the net records none.

        Relative key and known_hosts paths are taken relative to the prefix directory. A
        hypervisor the state does not describe is a PrefixError naming the VM and the key.
        """
        vm = vm if isinstance(vm, Vm) else self.vm(vm)
        if not vm.hypervisor:
            return None
        through = (self.management_net(vm).hypervisors or [vm.hypervisor])[0]
        return self.jump_to(through, 'VM %s is reached through hypervisor %s' % (vm.name, through))

    def jump_to(self, name, why=None):
        """How the controller logs in to hypervisor ``name`` (an ssh.Jump), ``why`` saying what for
        (it starts each error: a hypervisor the state does not describe, a missing ssh_host,
        ssh_key or known_hosts, a port that is not a number). Relative key and known_hosts paths
        are taken relative to the prefix directory."""
        why = why or 'the controller logs in to hypervisor %s' % name
        place = '%s: hypervisors.%s' % (self.layout.state_file, name)
        try:
            hv = self.hypervisor(name)
        except PrefixError as err:
            raise PrefixError('%s: %s' % (why, err))
        for key in ('ssh_host', 'ssh_key', 'known_hosts'):
            if not getattr(hv, key):
                raise PrefixError('%s, but %s has no %s' % (why, place, key))
        try:
            port = int(hv.ssh_port)
        except (TypeError, ValueError):
            raise PrefixError('%s.ssh_port must be a port number, not %r' % (place, hv.ssh_port))
        return Jump(name, hv.ssh_host, port, hv.ssh_user or 'root', self._own_path(hv.ssh_key),
                    self._own_path(hv.known_hosts))

    def _own_path(self, path):
        return os.path.join(self.path, os.path.expanduser(path))


# ------------------------------------------------------------------ the lock

# Prefixes this process holds the lock of (path -> depth): nested steps of one
# run share the lock instead of waiting for themselves.
_HELD = {}
# Prefixes whose lock file the holding call made (path -> bool).
_MADE = {}


def _holder(layout):
    """Who holds the lock, as its holder wrote it; '' when unknown."""
    try:
        with open(layout.lock_file) as handle:
            record = json.loads(handle.read() or '{}')
        what = ' (%s)' % record['what'] if record.get('what') else ''
        return ': held by pid %s since %s%s' % (record.get('pid'), record.get('since'), what)
    except (IOError, OSError, ValueError):
        return ''


def _same_file(fd, path):
    """The flock'ed fd is still the lock file at ``path`` (not one a teardown unlinked)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@contextlib.contextmanager
def lock(layout, timeout=DEFAULT_LOCK_TIMEOUT, what=None):
    """Hold the prefix's exclusive lock (an flock the kernel drops when the holder dies).

    The directory must exist. PrefixBusy after ``timeout`` seconds names the holder.
    While held, ``_MADE[path]`` tells whether this call made the lock file.
    """
    if _HELD.get(layout.path):
        _HELD[layout.path] += 1
        try:
            yield
        finally:
            _HELD[layout.path] -= 1
        return
    while True:
        if not os.path.isdir(layout.path):
            # file_lock would make the directory again: it is not this run's to make.
            raise PrefixGone('prefix %s was removed by another run while this one waited for its '
                             'lock; nothing was changed' % layout.path)
        made = not os.path.exists(layout.lock_file)
        try:
            with file_lock(layout.lock_file, timeout=timeout) as fd:
                if not _same_file(fd, layout.lock_file):
                    continue  # destroyed and made again while we waited: wait for the new lock
                os.ftruncate(fd, 0)
                os.write(fd, json.dumps(dict(pid=os.getpid(), what=what, since=datetime.datetime.now(
                    datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))).encode())
                _HELD[layout.path] = 1
                _MADE[layout.path] = made
                try:
                    yield
                finally:
                    _HELD.pop(layout.path, None)
                    _MADE.pop(layout.path, None)
                return
        except LockTimeout:
            raise PrefixBusy('prefix %s is busy%s; nothing was changed (waited %ss)'
                             % (layout.path, _holder(layout), timeout))


@contextlib.contextmanager
def open_prefix(path, locked=True, must_exist=True, timeout=DEFAULT_LOCK_TIMEOUT, what=None):
    """The prefix at ``path`` as a PrefixState, under its lock unless ``locked`` is False.

    With ``must_exist`` a missing prefix is an error before anything is made.
    Otherwise the directory is created (0700) when missing and, if the block
    leaves no state behind, removed again; the state is then a ``new`` one
    (``layout.initialized`` is False) and ``created_dir`` tells the block
    whether this call made the directory.
    """
    layout = Layout(path)
    if must_exist:
        read_state_file(layout)  # fails before the lock file is made
    created = False
    if locked and not os.path.isdir(layout.path):
        try:
            os.makedirs(layout.path, mode=PREFIX_MODE)
            created = True
        except FileExistsError:
            pass  # another run made it a moment ago: its lock decides who goes first
    with (lock(layout, timeout, what) if locked else contextlib.nullcontext()):
        made_lock = _MADE.get(layout.path, False) if locked else False
        try:
            state = PrefixState.load(layout) if layout.initialized else PrefixState.new(layout, created_dir=created)
            state.dir_created_now = created
            yield state
        finally:
            # Still under the lock: a run waiting for it then finds the lock file gone
            # (lock() checks the inode) and starts over instead of using a removed directory.
            # A lock file this call made in a directory that holds no prefix goes too
            # (a failed init in the user's own directory leaves only the user's files).
            if not layout.initialized and (created or made_lock):
                remove_path(layout.lock_file)
            if created and not layout.initialized:
                with contextlib.suppress(OSError):
                    os.rmdir(layout.path)
