# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt errors of the engine are LagoErrors naming the object and the operation, never raw libvirtErrors."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.lago.lago.plugins.module_utils import domain, libvirt_conn, snapshot
from ansible_collections.lago.lago.plugins.module_utils.errors import DomainError, LagoError, NetworkError
from ansible_collections.lago.lago.tests.unit.plugins.fake_libvirt import FakeConn, FakeLibvirtError, libvirt


class BrokenDomain(object):
    """A domain whose every state query fails as when libvirtd goes away."""

    def name(self):
        return 'abcd1234-vm01'

    def _fail(self, *_args):
        raise FakeLibvirtError('internal error: client socket is closed')
    isActive = isPersistent = state = UUIDString = XMLDesc = _fail  # noqa: N815 (libvirt's names)


class Conn(object):
    def __init__(self, error=None, dom=None):
        self.error, self.dom = error, dom

    def lookupByName(self, name):  # noqa: N802
        if self.error:
            raise self.error
        return self.dom


def test_a_missing_domain_or_network_is_none():
    missing = Conn(FakeLibvirtError('Domain not found', libvirt.VIR_ERR_NO_DOMAIN))
    assert libvirt_conn.lookup_domain(missing, 'x-vm01') is None
    assert libvirt_conn.lookup_network(FakeConn(), 'x-lan') is None


def test_any_other_lookup_error_names_the_domain():
    with pytest.raises(DomainError) as err:
        libvirt_conn.lookup_domain(Conn(FakeLibvirtError('internal error: cannot read')), 'abcd1234-vm01')
    assert str(err.value) == 'cannot look up domain abcd1234-vm01: internal error: cannot read'


def test_any_other_network_lookup_error_names_the_network():
    conn = FakeConn()
    conn.fail_calls['networkLookupByName'] = 'internal error: cannot read'
    with pytest.raises(NetworkError) as err:
        libvirt_conn.lookup_network(conn, 'abcd1234-lan')
    assert str(err.value) == 'cannot look up network abcd1234-lan: internal error: cannot read'


@pytest.mark.parametrize('call, operation', [
    (domain.start, 'reading the state'),
    (domain.stop, 'reading the state'),
    (domain.destroy, 'reading the state'),
    (domain.state_name, 'reading the state'),
    (lambda dom: domain.remove(Conn(dom=dom), 'abcd1234-vm01'), 'reading whether it is persistent'),
    (lambda dom: domain.define(Conn(dom=dom), '<domain><name>abcd1234-vm01</name></domain>'), 'reading the uuid'),
])
def test_domain_calls_wrap_libvirt_errors_naming_the_domain_and_the_operation(call, operation):
    with pytest.raises(DomainError) as err:
        call(BrokenDomain())
    assert str(err.value) == ('%s of domain abcd1234-vm01 failed: internal error: client socket is closed' % operation)


def test_running_domain_of_a_snapshot_is_a_lago_error_too():
    class Vm(object):
        libvirt_name = 'abcd1234-vm01'
    with pytest.raises(LagoError) as err:
        snapshot.running_domain(Conn(dom=BrokenDomain()), Vm())
    assert 'reading the state of domain abcd1234-vm01 failed' in str(err.value)


@pytest.mark.parametrize('uri', ['qemu:///session', 'qemu+ssh://alice@host/session', 'qemu+unix:///session?socket=/x'])
def test_a_session_libvirtd_is_refused_saying_what_is_missing(uri):
    with pytest.raises(LagoError) as caught:
        libvirt_conn.connect(uri)
    message = str(caught.value)
    assert uri in message and 'session' in message and 'virtual networks' in message
    assert 'passt' in message and 'qemu-bridge-helper' in message and 'qemu:///system' in message


def test_the_system_libvirtd_is_not_refused():
    libvirt_conn.refuse_session('qemu:///system')
    libvirt_conn.refuse_session('qemu+ssh://host/system')
