# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt domains: XML built with lxml from a plain description, and the calls
that define, start, stop and remove them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
import time

from ansible_collections.lago.lago.plugins.module_utils.domain_cpu import cpu_element
from ansible_collections.lago.lago.plugins.module_utils.errors import DomainError
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import libvirt, lookup_domain

try:
    from lxml import etree
except ImportError:  # reported by the modules (the runtime checks libraries)
    etree = None

VIRT_TYPES = ('kvm', 'qemu')
GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0'

# virDomainState -> the words users know from virsh
STATE_NAMES = {
    0: 'no state', 1: 'running', 2: 'blocked', 3: 'paused', 4: 'shutdown',
    5: 'shut off', 6: 'crashed', 7: 'pmsuspended',
}


def _sub(parent, tag, text=None, **attrs):
    node = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        node.text = str(text)
    return node


def build_domain_xml(name, memory_mib, vcpus, disks, nics, virt_type='kvm',
                     console_log=None, description=None, cpu_model=None, cpu_custom=None):
    """The domain XML for a lab VM.

    ``disks``: dicts with ``path``, ``format`` (qcow2/raw), ``dev`` (vda...),
    optional ``bus`` (virtio) and ``readonly``. ``nics``: dicts with
    ``network`` (libvirt network name) and ``mac``. The serial console is
    logged to ``console_log`` (through virtlogd) so a failed boot can be read.
    ``cpu_model`` / ``cpu_custom``: the init file's choice of CPU (domain_cpu.cpu_element).
    """
    if virt_type not in VIRT_TYPES:
        raise DomainError('virt_type must be one of %s, got %r' % (', '.join(VIRT_TYPES), virt_type))
    root = etree.Element('domain', type=virt_type)
    _sub(root, 'name', name)
    if description:
        _sub(root, 'description', description)
    _sub(root, 'memory', int(memory_mib), unit='MiB')
    _sub(root, 'vcpu', int(vcpus))
    os_node = _sub(root, 'os')
    _sub(os_node, 'type', 'hvm', arch='x86_64', machine='pc')
    _sub(os_node, 'boot', dev='hd')
    features = _sub(root, 'features')
    _sub(features, 'acpi')
    _sub(features, 'apic')
    cpu = cpu_element(cpu_model, cpu_custom, virt_type)
    if cpu is not None:
        root.append(cpu)
    _sub(root, 'clock', offset='utc')
    _sub(root, 'on_poweroff', 'destroy')
    _sub(root, 'on_reboot', 'restart')
    _sub(root, 'on_crash', 'destroy')
    devices = _sub(root, 'devices')
    for disk in disks:
        node = _sub(devices, 'disk', type='file', device='disk')
        _sub(node, 'driver', name='qemu', type=disk.get('format', 'qcow2'),
             cache=disk.get('cache', 'unsafe' if virt_type == 'qemu' else 'none'),
             discard='unmap')
        _sub(node, 'source', file=disk['path'])
        _sub(node, 'target', dev=disk['dev'], bus=disk.get('bus', 'virtio'))
        if disk.get('readonly'):
            _sub(node, 'readonly')
        if disk.get('serial'):
            _sub(node, 'serial', disk['serial'])
    for nic in nics:
        node = _sub(devices, 'interface', type='network')
        _sub(node, 'source', network=nic['network'])
        _sub(node, 'mac', address=nic['mac'])
        _sub(node, 'model', type=nic.get('model', 'virtio'))
    serial = _sub(devices, 'serial', type='pty')
    _sub(serial, 'target', port=0)
    if console_log:
        _sub(serial, 'log', file=console_log, append='on')
    console = _sub(devices, 'console', type='pty')
    _sub(console, 'target', type='serial', port=0)
    channel = _sub(devices, 'channel', type='unix')
    _sub(channel, 'target', type='virtio', name=GUEST_AGENT_CHANNEL)
    # Entropy for early boot (sshd, key generation) under slow emulation.
    rng = _sub(devices, 'rng', model='virtio')
    _sub(rng, 'backend', '/dev/urandom', model='random')
    _sub(devices, 'memballoon', model='none')
    return etree.tostring(root, pretty_print=True).decode('utf-8')


def _call(what, name, func, *args):
    try:
        return func(*args)
    except libvirt.libvirtError as err:
        raise DomainError('%s of domain %s failed: %s' % (what, name, err.get_error_message()))


def define(conn, xml):
    """Define (persistently) the domain described by ``xml``; returns it.

    Redefining an existing domain keeps its uuid (libvirt refuses another).
    """
    root = etree.fromstring(xml.encode('utf-8'))
    name = root.findtext('name')
    existing = lookup_domain(conn, name)
    if existing is not None and root.find('uuid') is None:
        uuid = etree.Element('uuid')
        uuid.text = _call('reading the uuid', name, existing.UUIDString)
        root.insert(1, uuid)
        xml = etree.tostring(root, pretty_print=True).decode('utf-8')
    return _call('define', name, conn.defineXML, xml)


def with_disk_sources(xml, sources):
    """``xml`` with the disks named in ``sources`` ({dev: (path, format)}) on new images.

    Their recorded backing chains are dropped: libvirt probes the new ones.
    """
    root = etree.fromstring(xml.encode('utf-8'))
    for node in root.findall('devices/disk'):
        target = node.find('target')
        if target is None or target.get('dev') not in sources:
            continue
        path, fmt = sources[target.get('dev')]
        node.find('source').set('file', path)
        node.find('driver').set('type', fmt)
        for backing in node.findall('backingStore'):
            node.remove(backing)
    return etree.tostring(root, pretty_print=True).decode('utf-8')


def set_disk_sources(conn, name, sources):
    """Point the persistent definition of domain ``name`` at new disk images (see with_disk_sources)."""
    dom = lookup_domain(conn, name)
    if dom is None:
        raise DomainError('domain %s is missing from libvirt: run lago_prefix with state=present '
                          'to define it again' % name)
    xml = _call('reading the definition', name, dom.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE)
    return define(conn, with_disk_sources(xml, sources))


def is_active(dom):
    """Whether the domain runs; DomainError naming it when libvirt cannot tell."""
    return bool(_call('reading the state', dom.name(), dom.isActive))


def start(dom):
    if not is_active(dom):
        _call('start', dom.name(), dom.create)


def state_name(dom):
    return STATE_NAMES.get(_call('reading the state', dom.name(), dom.state)[0], 'unknown')


def stop(dom, timeout=60.0):
    """Ask the guest to shut down; pull the plug after ``timeout`` seconds."""
    if not is_active(dom):
        return False
    try:
        dom.shutdown()
    except libvirt.libvirtError:
        pass  # no ACPI listener yet: fall through to destroy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_active(dom):
            return True
        time.sleep(0.5)
    destroy(dom)
    return True


def destroy(dom):
    """Hard stop; a domain that is already off is fine."""
    if is_active(dom):
        try:
            dom.destroy()
        except libvirt.libvirtError as err:
            if is_active(dom):
                raise DomainError('destroy of domain %s failed: %s' % (dom.name(), err.get_error_message()))


def in_parallel(func, doms):
    """``func(dom)`` for every domain at once, one thread each: a start or a hard stop waits on
    qemu (libvirt releases the GIL), not on the other domains. Raises the first error once all
    have ended."""
    errors = []

    def one(dom):
        try:
            func(dom)
        except Exception as err:  # pylint: disable=broad-except  # raised below, in the caller's thread
            errors.append(err)
    threads = [threading.Thread(target=one, args=(dom,)) for dom in doms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def remove(conn, name):
    """Stop and undefine ``name`` with its snapshot metadata and nvram. True if it existed."""
    dom = lookup_domain(conn, name)
    if dom is None:
        return False
    persistent = _call('reading whether it is persistent', name, dom.isPersistent)
    destroy(dom)
    if not persistent:
        return True  # a transient domain is gone once it stops
    flags = (libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
             | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    _call('undefine', name, dom.undefineFlags, flags)
    return True
