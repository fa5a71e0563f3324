# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records of a prefix's state (VMs, NICs, disks, layers, snapshots, nets).

Each wraps its dict inside state.json (the dict is the record's storage, so a
change through a record is a change of the state); only prefix_state.PrefixState
hands them out, loads and saves them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy


def _field(key, default=None, doc=None):
    """A record attribute stored under ``key`` of the record's dict."""
    def getter(self):
        return self.data.get(key, default)

    def setter(self, value):
        self.data[key] = value
    return property(getter, setter, doc=doc or key)


class Record(object):
    """A view over one dict of state.json: changes go straight into the state."""

    def __init__(self, data, name=None):
        self.data = data
        self.name = name

    def update(self, **values):
        self.data.update(values)

    def to_dict(self):
        return copy.deepcopy(self.data)

    def __eq__(self, other):
        return type(self) is type(other) and self.data is other.data

    def __hash__(self):
        return id(self.data)


class Nic(Record):
    net = _field('net')
    mac = _field('mac')
    ip = _field('ip')


class Layer(Record):
    """One frozen layer of a disk's chain (path is the record's name)."""
    backing = _field('backing')
    owned = _field('owned', True)
    format = _field('format')
    sha256 = _field('sha256', doc='its sha256 when it was frozen')
    size = _field('size')
    frozen = _field('frozen', doc='when it was frozen')
    immutable = _field('immutable', False, 'never to be written (the user\'s own file disk)')


class Disk(Record):
    dev = _field('dev')
    type = _field('type')
    format = _field('format')
    path = _field('path')
    owned = _field('owned', True, 'whether the prefix made the image (a Lago file disk is the user\'s)')
    store_entry = _field('store_entry')
    backing = _field('backing')
    template = _field('template')
    template_version = _field('template_version')
    pool_state = _field('pool_state')

    def __init__(self, data):
        super(Disk, self).__init__(data, data.get('name'))

    @property
    def parent(self):
        """The image the running image sits on: a frozen layer, the base, or None."""
        return self.data.get('parent', self.data.get('backing'))

    @parent.setter
    def parent(self, value):
        self.data['parent'] = value

    def layer(self, path):
        """The frozen layer ``path``, or None."""
        record = self.data.setdefault('layers', {}).get(path)
        return Layer(record, path) if record is not None else None

    @property
    def layers(self):
        """{path: Layer} of the disk's frozen layers (snapshots, pool imports)."""
        return {path: Layer(layer, path) for path, layer in self.data.setdefault('layers', {}).items()}

    def add_layer(self, path, **values):
        self.data.setdefault('layers', {})[path] = dict(values)
        return Layer(self.data['layers'][path], path)

    def remove_layer(self, path):
        self.data.setdefault('layers', {}).pop(path, None)

    @property
    def base_files(self):
        return list(self.data.get('base_files', []))


class Snapshot(Record):
    taken = _field('taken')
    running = _field('running', False)
    consistency = _field('consistency')
    memory = _field('memory')
    memory_sha256 = _field('memory_sha256')

    @property
    def disks(self):
        """{disk name: the path of its layer}"""
        return self.data.setdefault('disks', {})


class Vm(Record):
    libvirt_name = _field('libvirt_name')
    address = _field('address', doc='the address on the management net')
    management_net = _field('management_net')
    vm_type = _field('vm_type')
    groups = _field('groups', ())
    memory = _field('memory')
    vcpu = _field('vcpu')
    ssh_user = _field('ssh_user')
    seed = _field('seed')
    host_key = _field('host_key')
    artifacts = _field('artifacts', ())
    metadata = _field('metadata')
    cpu_model = _field('cpu_model', doc="the init file's cpu_model, or None")
    cpu_custom = _field('cpu_custom', doc="the init file's cpu_custom (the <cpu> element as a mapping), or None")
    boot_time_sec = _field('boot_time_sec', doc='its own budget for the SSH wait of start, or None (the module\'s)')
    distro = _field('distro', doc="the init file's distro, or None")
    hypervisor = _field('hypervisor', doc='the inventory name of the hypervisor the VM runs on; None: the '
                                          'controller itself (a single-host prefix, and every state file '
                                          'from before multi-host prefixes)')

    @property
    def nics(self):
        return [Nic(nic) for nic in self.data.get('nics', [])]

    @property
    def disks(self):
        return [Disk(disk) for disk in self.data.setdefault('disks', [])]

    def disk(self, name):
        """The disk ``name``, or None."""
        return next((d for d in self.disks if d.name == name), None)

    def add_disk(self, data):
        self.data.setdefault('disks', []).append(data)
        return Disk(data)

    @property
    def snapshots(self):
        """{name: Snapshot}, in the order they were recorded."""
        return {name: Snapshot(record, name) for name, record in self.data.setdefault('snapshots', {}).items()}

    def snapshot(self, name):
        record = self.data.setdefault('snapshots', {}).get(name)
        return Snapshot(record, name) if record is not None else None

    def set_snapshot(self, name, data):
        self.data.setdefault('snapshots', {})[name] = data
        return Snapshot(data, name)

    def remove_snapshot(self, name):
        return self.data.setdefault('snapshots', {}).pop(name, None)


class Net(Record):
    libvirt_name = _field('libvirt_name')
    bridge = _field('bridge')
    type = _field('type')
    management = _field('management', False)
    mtu = _field('mtu')
    dns_domain = _field('dns_domain')
    leased = _field('leased', False, 'whether a lease was (or was about to be) taken for the subnet')
    subnet = _field('subnet')
    gateway = _field('gateway')
    dhcp = _field('dhcp')

    @property
    def hypervisors(self):
        """A multi-host prefix's controller: the hypervisors (inventory names) with a VM on the net,
        the first holding its gateway, DHCP and DNS (the others have no address on it); [] for a
        single-host net."""
        return list(self.data.get('hypervisors') or [])

    @hypervisors.setter
    def hypervisors(self, value):
        self.data['hypervisors'] = list(value)

    bridge_only = _field('bridge_only', False, 'a part of a multi-host prefix: the net is a plain bridge here, '
                                               'its gateway, DHCP and DNS are on another hypervisor')
    remote_hosts = _field('remote_hosts', (), 'a part of a multi-host prefix: the DHCP reservations and DNS '
                                              'names ({mac, ip, name}) of the net\'s VMs on other hypervisors')


class Hypervisor(Record):
    """How the controller reaches one hypervisor of a multi-host prefix over SSH (the name is
    its inventory name). The key and known_hosts files as recorded; PrefixState.hypervisor
    resolves them."""
    ssh_host = _field('ssh_host', doc='its address (or a name the controller resolves)')
    ssh_user = _field('ssh_user', 'root')
    ssh_port = _field('ssh_port', 22)
    ssh_key = _field('ssh_key', doc='the private key file the controller logs in with')
    known_hosts = _field('known_hosts', doc='the known_hosts file holding its host key')
    path = _field('path', doc='where its part of the prefix is, on the hypervisor')
