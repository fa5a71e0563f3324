# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt save images: the header read and rewritten around an untouched migration stream;
a saved definition moved to another prefix's domain."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os

import pytest

from ansible_collections.lago.lago.plugins.module_utils import saved_memory
from ansible_collections.lago.lago.plugins.module_utils.errors import SnapshotError

SAVED = '''<domain type="qemu">
  <name>aaaa1111-vm01</name>
  <uuid>11111111-1111-1111-1111-111111111111</uuid>
  <description>lago prefix /old, vm vm01</description>
  <devices>
    <disk type="file" device="disk"><source file="/old/images/vm01_root.qcow2"/><backingStore type="file">
      <source file="/old/base"/></backingStore><target dev="vda" bus="virtio"/>
      <address type="pci" slot="0x04"/></disk>
    <disk type="file" device="disk"><source file="/old/seeds/vm01.iso"/><target dev="vdb" bus="virtio"/></disk>
    <interface type="network"><mac address="54:52:C0:A8:C8:02"/><source network="aaaa1111-lan"/>
      <address type="pci" slot="0x02"/></interface>
    <serial type="pty"><log file="/old/logs/vm01.console.log" append="on"/></serial>
    <console type="pty"><log file="/old/logs/vm01.console.log" append="on"/></console>
  </devices>
</domain>'''
TARGET = '''<domain type="qemu">
  <name>bbbb2222-vm01</name>
  <uuid>22222222-2222-2222-2222-222222222222</uuid>
  <description>lago prefix /new, vm vm01</description>
  <devices>
    <disk type="file" device="disk"><source file="/new/images/vm01_root.qcow2"/><target dev="vda" bus="virtio"/></disk>
    <disk type="file" device="disk"><source file="/new/seeds/vm01.iso"/><target dev="vdb" bus="virtio"/></disk>
    <interface type="network"><mac address="54:52:c0:a8:c8:02"/><source network="bbbb2222-lan"/></interface>
    <serial type="pty"><log file="/new/logs/vm01.console.log" append="on"/></serial>
    <console type="pty"><log file="/new/logs/vm01.console.log" append="on"/></console>
  </devices>
</domain>'''
STREAM = bytes(range(256)) * 1000


def save_image(path, xml, cookie='<cookie/>', data_len=None):
    xml_bytes = xml.encode('utf-8') + b'\0'
    cookie_bytes = cookie.encode('utf-8') + b'\0'
    data_len = data_len or len(xml_bytes) + len(cookie_bytes) + 65536
    head = saved_memory.HEADER.pack(saved_memory.MAGIC, 2, data_len, 1, 0, len(xml_bytes))
    with open(path, 'wb') as handle:
        handle.write(head + xml_bytes + cookie_bytes + b'\0' * (data_len - len(xml_bytes) - len(cookie_bytes)) + STREAM)
    return path


def test_a_new_definition_is_written_around_the_same_stream(tmp_path):
    source = save_image(str(tmp_path / 'vm01.mem'), SAVED)
    before = saved_memory.read_header(source)
    assert (before['xml'], before['cookie'], before['was_running']) == (SAVED, '<cookie/>', 1)
    longer = SAVED.replace('aaaa1111', 'a-much-longer-name-than-before')
    target = saved_memory.write_with_definition(source, str(tmp_path / 'moved.mem'), longer)
    after = saved_memory.read_header(target)
    assert (after['xml'], after['cookie'], after['data_len']) == (longer, '<cookie/>', before['data_len'])
    assert os.path.getsize(target) == os.path.getsize(source)
    with open(target, 'rb') as handle:
        handle.seek(saved_memory.HEADER.size + after['data_len'])
        assert handle.read() == STREAM
    assert os.stat(target).st_mode & 0o777 == 0o600


@pytest.mark.parametrize('refusal', [errno.EXDEV, errno.ENOSYS])
def test_the_stream_is_copied_through_the_process_where_the_kernel_will_not(tmp_path, monkeypatch, refusal):
    """copy_file_range refused part way (other file systems, old kernels): the rest is read and written."""
    calls = []

    def refuse_after_one(src, dst, count):
        calls.append(count)
        if len(calls) > 1:
            raise OSError(refusal, os.strerror(refusal))
        return os.write(dst, os.read(src, 1000))
    monkeypatch.setattr(os, 'copy_file_range', refuse_after_one, raising=False)
    source = save_image(str(tmp_path / 'vm01.mem'), SAVED)
    target = saved_memory.write_with_definition(source, str(tmp_path / 'moved.mem'), SAVED)
    header = saved_memory.read_header(target)
    with open(target, 'rb') as handle:
        handle.seek(saved_memory.HEADER.size + header['data_len'])
        assert handle.read() == STREAM
    assert len(calls) == 2


def test_a_definition_that_does_not_fit_leaves_no_file(tmp_path):
    source = save_image(str(tmp_path / 'vm01.mem'), SAVED, data_len=len(SAVED) + 20)
    with pytest.raises(SnapshotError) as err:
        saved_memory.write_with_definition(source, str(tmp_path / 'moved.mem'), SAVED + ' ' * 100)
    assert 'does not fit saved memory' in str(err.value)
    assert not os.path.exists(str(tmp_path / 'moved.mem'))


@pytest.mark.parametrize('damage, expected', [
    (lambda raw: b'LibvirtQemudPart' + raw[16:], 'is not a complete libvirt save image'),
    (lambda raw: raw[:50], 'is too short to be a libvirt save image'),
    (lambda raw: raw[:200], 'is cut short'),
])
def test_damaged_images_are_named(tmp_path, damage, expected):
    path = save_image(str(tmp_path / 'vm01.mem'), SAVED)
    with open(path, 'rb') as handle:
        raw = handle.read()
    with open(path, 'wb') as handle:
        handle.write(damage(raw))
    with pytest.raises(SnapshotError) as err:
        saved_memory.read_header(path)
    assert expected in str(err.value) and path in str(err.value)


def test_the_saved_definition_moves_to_the_new_prefix():
    moved = saved_memory.moved_definition(SAVED, TARGET)
    assert '/old' not in moved and 'aaaa1111' not in moved and '1111-1111' not in moved
    for text in ('<name>bbbb2222-vm01</name>', '22222222-2222-2222-2222-222222222222', 'network="bbbb2222-lan"',
                 '/new/images/vm01_root.qcow2', '/new/seeds/vm01.iso', '/new/logs/vm01.console.log',
                 'slot="0x04"', 'slot="0x02"', '54:52:C0:A8:C8:02'):
        assert text in moved, text
    assert 'backingStore' not in moved
    assert saved_memory.macs(moved) == ['54:52:c0:a8:c8:02']


def test_a_target_without_the_saved_devices_is_refused():
    other = TARGET.replace('54:52:c0:a8:c8:02', '54:52:c0:a8:c8:03').replace('dev="vdb"', 'dev="vdc"')
    with pytest.raises(SnapshotError) as err:
        saved_memory.moved_definition(SAVED, other)
    assert str(err.value) == 'the new domain bbbb2222-vm01 lacks what the saved guest has: disk vdb, NIC 54:52:c0:a8:c8:02'
