# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt side of snapshots of running VMs: external snapshots, block
jobs that merge layers under a running guest, and restoring saved RAM.

libvirt keeps no snapshot metadata for us (NO_METADATA): the records live in
the prefix's state.json (see snapshot.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.lago.lago.plugins.module_utils.domain import GUEST_AGENT_CHANNEL
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError
from ansible_collections.lago.lago.plugins.module_utils.libvirt_conn import libvirt

try:
    from lxml import etree
except ImportError:  # reported by the modules (run_module checks the libraries)
    etree = None

POLL = 0.05


def _call(what, func, *args):
    try:
        return func(*args)
    except libvirt.libvirtError as err:
        raise SnapshotError('%s failed: %s' % (what, err.get_error_message()))


def _live_xml(dom):
    return etree.fromstring(_call('reading domain %s' % dom.name(), dom.XMLDesc, 0).encode('utf-8'))


def disk_devs(dom):
    """Target devs of every disk of the running domain (the seed included)."""
    return [node.find('target').get('dev') for node in _live_xml(dom).findall('devices/disk')]


def agent_connected(dom):
    """True when a guest agent is listening in the guest (libvirt shows the channel connected)."""
    for target in _live_xml(dom).iterfind('devices/channel/target'):
        if target.get('name') == GUEST_AGENT_CHANNEL:
            return target.get('state') == 'connected'
    return False


def snapshot_xml(name, new_images, devs, memory_file=None):
    """An external snapshot: each dev in ``new_images`` ({dev: path}) moves onto a new
    qcow2 overlay at ``path``; the other ``devs`` are left out. With ``memory_file``
    the RAM is saved there too."""
    root = etree.Element('domainsnapshot')
    etree.SubElement(root, 'name').text = name
    if memory_file:
        etree.SubElement(root, 'memory', snapshot='external', file=memory_file)
    else:
        etree.SubElement(root, 'memory', snapshot='no')
    disks = etree.SubElement(root, 'disks')
    for dev in devs:
        if dev in new_images:
            node = etree.SubElement(disks, 'disk', name=dev, snapshot='external')
            etree.SubElement(node, 'driver', type='qcow2')
            etree.SubElement(node, 'source', file=new_images[dev])
        else:
            etree.SubElement(disks, 'disk', name=dev, snapshot='no')
    return etree.tostring(root, pretty_print=True).decode('utf-8')


def create(dom, xml, memory=False, quiesce=False):
    """Take the external snapshot ``xml``; returns the seconds the guest was held.

    Disk-only snapshots hold the guest only while qemu switches images; a
    memory snapshot pauses it while its RAM is written.
    """
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
    if not memory:
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
    if quiesce:
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE
    started = time.monotonic()
    _call('live snapshot of domain %s' % dom.name(), dom.snapshotCreateXML, xml, flags)
    return time.monotonic() - started


def _wait_for_job(dom, dev, what, timeout, pivot=False):
    """Wait for the block job on ``dev``; with ``pivot`` switch to its result once it is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _call('%s on %s of domain %s' % (what, dev, dom.name()), dom.blockJobInfo, dev, 0)
        if not info:
            return
        if pivot and info.get('end') and info['cur'] == info['end']:
            try:
                dom.blockJobAbort(dev, libvirt.VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT)
                pivot = False
            except libvirt.libvirtError:
                pass  # not ready to pivot yet
        time.sleep(POLL)
    raise SnapshotError('%s on %s of domain %s did not finish within %ss'
                        % (what, dev, dom.name(), timeout))


def pull(dom, dev, base, timeout=3600):
    """Copy into the running image of ``dev`` what its chain holds above ``base``
    (None: everything); the image then sits on ``base``."""
    _call('block pull on %s of domain %s' % (dev, dom.name()), dom.blockRebase, dev, base, 0, 0)
    _wait_for_job(dom, dev, 'block pull', timeout)


def commit(dom, dev, top, base, active=False, timeout=3600):
    """Merge the layer ``top`` of ``dev``'s chain into ``base`` below it while the guest runs.

    ``active``: ``top`` is the running image; the guest then switches to ``base``.
    """
    flags = libvirt.VIR_DOMAIN_BLOCK_COMMIT_ACTIVE if active else 0
    _call('block commit on %s of domain %s' % (dev, dom.name()), dom.blockCommit,
          dev, base, None if active else top, 0, flags)
    _wait_for_job(dom, dev, 'block commit', timeout, pivot=active)


def saved_definition(conn, memory_file):
    """The domain XML inside a saved RAM image."""
    return _call('reading the saved state %s' % memory_file, conn.saveImageGetXMLDesc, memory_file, 0)


def restore(conn, memory_file, xml):
    """Resume a guest from its saved RAM, with the definition ``xml`` (e.g. new disk images)."""
    _call('restoring %s' % memory_file, conn.restoreFlags, memory_file, xml, libvirt.VIR_DOMAIN_SAVE_RUNNING)
