# -*- coding: utf-8 -*-
"""Unit-test helpers of the snapshot and pool engines: a prefix in a tmp dir whose VMs
have real qcow2 images (made with qemu-img), and a stand-in for libvirt that knows
only which domains run and what disks their definitions use."""

from __future__ import absolute_import, division, print_function

import os

from ansible_collections.lago.lago.plugins.module_utils import domain, qemu_img, snapshot
from ansible_collections.lago.lago.plugins.module_utils.prefix_state import Layout, PrefixState


class FakeDomain(object):
    def __init__(self, name, running=False):
        self._name = name
        self.running = running
        self.sources = None

    def name(self):
        return self._name

    def isActive(self):
        return self.running

    def state(self):
        return [1 if self.running else 5, 0]


class FakeLibvirt(object):
    """Domains by libvirt name; ``sources`` of the persistent definitions as set_disk_sources set them."""

    def __init__(self):
        self.domains = {}

    def add(self, name, running=False):
        self.domains[name] = FakeDomain(name, running)

    def lookup(self, _conn, name):
        return self.domains.get(name)

    def set_disk_sources(self, _conn, name, sources):
        self.domains[name].sources = dict(sources)


def fake_libvirt(monkeypatch):
    """Replace the libvirt lookups of the snapshot engine with a FakeLibvirt."""
    virt = FakeLibvirt()
    monkeypatch.setattr(snapshot, 'lookup_domain', virt.lookup)
    monkeypatch.setattr(domain, 'set_disk_sources', virt.set_disk_sources)
    return virt


def make_prefix(path, virt, vms=('vm01',), data=True):
    """A saved prefix at ``path``: per VM a root overlay on a template in ``<path>/../store``
    (and, with ``data``, a raw data disk), each domain defined and off."""
    layout = Layout(str(path))
    os.makedirs(os.path.join(layout.path, 'images'))
    store = os.path.join(os.path.dirname(layout.path), 'store')
    template = os.path.join(store, 'lab:debian12:r1')
    if not os.path.exists(template):
        os.makedirs(store)
        qemu_img.create(template, size=64 << 20, fmt='qcow2')
    state = PrefixState.new(layout, uuid='0' * 32, short_id='00000000')
    for name in vms:
        root = layout.image(name, 'root', 'qcow2')
        qemu_img.create(root, fmt='qcow2', backing_file=template, backing_format='qcow2')
        disks = [dict(name='root', dev='vda', type='template', format='qcow2', path=root, backing=template)]
        if data:
            image = layout.image(name, 'data', 'raw')
            qemu_img.create(image, size=1 << 20, fmt='raw')
            disks.append(dict(name='data', dev='vdb', type='empty', format='raw', path=image))
        state.add_vm(name, dict(libvirt_name='00000000-' + name, disks=disks, ssh_user='root', address='10.0.0.2'))
        virt.add('00000000-' + name)
    state.status = 'ready'
    state.save()
    return state
