# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RAM saved by libvirt (a memory snapshot), moved to another prefix.

libvirt restores a saved guest only under the name and uuid it was saved with
(``restoreFlags`` with an updated XML refuses another name or uuid). A guest
saved in one prefix and restored in another must carry the new prefix's
domain name, uuid, disks, networks and log files, so the definition inside
the file is rewritten: libvirt's save image starts with a header (magic,
version, the length of the data area, the offset of a cookie), then the domain
XML, the cookie and zero padding fill the data area (libvirt pads it by 64 KiB
so the XML may grow), then qemu's migration stream. The stream is copied as it
is; only the data area changes, in a new file.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import struct

from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError

try:
    from lxml import etree
except ImportError:  # reported by the modules (run_module checks the libraries)
    etree = None

MAGIC = b'LibvirtQemudSave'
HEADER = struct.Struct('<16s5I56x')  # magic, version, data_len, was_running, format, cookie_offset, unused[14]
VERSION = 2
CHUNK = 4 * 1024 * 1024


def read_header(path):
    """dict(version, data_len, was_running, format, cookie_offset, xml, cookie) of a save image."""
    try:
        with open(path, 'rb') as handle:
            raw = handle.read(HEADER.size)
            if len(raw) < HEADER.size:
                raise SnapshotError('saved memory %s is too short to be a libvirt save image' % path)
            magic, version, data_len, was_running, fmt, cookie_offset = HEADER.unpack(raw)
            if magic != MAGIC:
                raise SnapshotError('saved memory %s is not a complete libvirt save image (magic %r)' % (path, magic))
            if version != VERSION or fmt != 0:
                raise SnapshotError('saved memory %s: save image version %d, format %d is not supported '
                                    '(version %d, uncompressed)' % (path, version, fmt, VERSION))
            data = handle.read(data_len)
    except (IOError, OSError) as err:
        raise SnapshotError('cannot read saved memory %s: %s' % (path, err))
    if len(data) < data_len or (cookie_offset and cookie_offset > data_len):
        raise SnapshotError('saved memory %s is cut short' % path)
    xml_area = data[:cookie_offset] if cookie_offset else data
    cookie = data[cookie_offset:].split(b'\0', 1)[0] if cookie_offset else b''
    return dict(version=version, data_len=data_len, was_running=was_running, format=fmt,
                cookie_offset=cookie_offset, xml=xml_area.split(b'\0', 1)[0].decode('utf-8'),
                cookie=cookie.decode('utf-8'))


def write_with_definition(source, target, xml):
    """Copy the save image ``source`` to ``target`` (a new file, 0600) with the domain XML ``xml``.

    The migration stream is copied by the kernel (copy_file_range: no pass through this
    process, a reflink where the file system shares blocks), and ``target`` is not fsynced:
    it is a scratch copy that libvirt reads at once and that is removed after the restore
    (a crash leaves it in the resume's scratch directory, which goes with it).
    SnapshotError when the XML does not fit the data area; ``target`` is then not left behind.
    """
    header = read_header(source)
    xml_bytes = xml.encode('utf-8') + b'\0'
    cookie = header['cookie'].encode('utf-8') + b'\0' if header['cookie_offset'] else b''
    used = len(xml_bytes) + len(cookie)
    if used > header['data_len']:
        raise SnapshotError('the rewritten definition does not fit saved memory %s (%d bytes, room for %d)'
                            % (source, used, header['data_len']))
    head = HEADER.pack(MAGIC, header['version'], header['data_len'], header['was_running'], header['format'],
                       len(xml_bytes) if cookie else 0)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, 'wb') as out, open(source, 'rb') as src:
            out.write(head + xml_bytes + cookie + b'\0' * (header['data_len'] - used))
            out.flush()
            _copy_rest(src, out, HEADER.size + header['data_len'])
    except BaseException:
        try:
            os.unlink(target)
        except OSError:
            pass
        raise
    return target


def _copy_rest(src, out, offset):
    """Copy ``src`` from ``offset`` to its end into ``out`` (both positioned at ``offset``)."""
    src.seek(offset)
    copy_range = getattr(os, 'copy_file_range', None)
    while copy_range is not None:
        try:
            if not copy_range(src.fileno(), out.fileno(), CHUNK * 16):
                return
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            break  # not between these files: copy through this process
    src.seek(out.tell())
    while True:
        block = src.read(CHUNK)
        if not block:
            return
        out.write(block)


def _parse(xml):
    return etree.fromstring(xml.encode('utf-8'))


def macs(xml):
    """The MAC addresses of a domain XML's interfaces, in order."""
    return [node.get('address').lower() for node in _parse(xml).iterfind('devices/interface/mac')]


def moved_definition(saved, target):
    """The saved domain XML ``saved`` with what belongs to the prefix taken from ``target``
    (the new prefix's definition of the VM): name, uuid, description, each disk's source
    (by target dev), each interface's source (by MAC), the log files of serial ports and
    consoles. The devices and their addresses stay the saved ones (the guest knows them).

    SnapshotError naming a disk or NIC of the saved guest that ``target`` lacks.
    """
    root, new = _parse(saved), _parse(target)
    for tag in ('name', 'uuid', 'description'):
        _replace(root, new, tag)
    disks = dict((node.find('target').get('dev'), node) for node in new.iterfind('devices/disk'))
    nics = dict((node.find('mac').get('address').lower(), node) for node in new.iterfind('devices/interface'))
    missing = []
    for node in root.iterfind('devices/disk'):
        dev = node.find('target').get('dev')
        if dev not in disks:
            missing.append('disk %s' % dev)
            continue
        _replace(node, disks[dev], 'source')
        for backing in node.findall('backingStore'):
            node.remove(backing)
    for node in root.iterfind('devices/interface'):
        mac = node.find('mac').get('address').lower()
        if mac not in nics:
            missing.append('NIC %s' % mac)
            continue
        _replace(node, nics[mac], 'source')
    for tag in ('serial', 'console'):
        for old, fresh in zip(root.iterfind('devices/' + tag), new.iterfind('devices/' + tag)):
            _replace(old, fresh, 'log')
    if missing:
        raise SnapshotError('the new domain %s lacks what the saved guest has: %s'
                            % (new.findtext('name'), ', '.join(missing)))
    return etree.tostring(root, pretty_print=True).decode('utf-8')


def _replace(node, source, tag):
    """``node``'s child ``tag`` replaced by a copy of ``source``'s (removed when it has none)."""
    old, fresh = node.find(tag), source.find(tag)
    if fresh is None:
        if old is not None:
            node.remove(old)
        return
    fresh = etree.fromstring(etree.tostring(fresh))
    fresh.tail = old.tail if old is not None else None
    if old is not None:
        node.replace(old, fresh)
    else:
        node.append(fresh)
