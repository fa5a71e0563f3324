# -*- coding: utf-8 -*-
"""A stand-in libvirt connection for unit tests of network and prefix code (real libvirt is for lab tests).

It keeps each network's persistent and running XML, as libvirt does, and
fails a define or a start on request. Live host updates are only recorded:
what they do to dnsmasq is tested in the lab.
"""

from __future__ import absolute_import, division, print_function

import uuid

import pytest

libvirt = pytest.importorskip('libvirt')
etree = pytest.importorskip('lxml.etree')


class FakeLibvirtError(libvirt.libvirtError):
    def __init__(self, message, code=libvirt.VIR_ERR_INTERNAL_ERROR):
        super(FakeLibvirtError, self).__init__(message)
        self.message, self.code = message, code

    def get_error_code(self):
        return self.code

    def get_error_message(self):
        return self.message


class FakeNetwork(object):
    def __init__(self, conn, name, xml):
        self.conn, self._name, self.config, self.live = conn, name, xml, None
        self.uuid = str(uuid.uuid4())
        self.updates = []

    def name(self):
        return self._name

    def UUIDString(self):  # noqa: N802 (libvirt's name)
        self.conn.maybe_fail('UUIDString')
        return self.uuid

    def isActive(self):  # noqa: N802
        self.conn.maybe_fail('isActive')
        return self.live is not None

    def isPersistent(self):  # noqa: N802
        self.conn.maybe_fail('isPersistent')
        return True

    def XMLDesc(self, flags=0):  # noqa: N802
        self.conn.maybe_fail('XMLDesc')
        if self.live is not None and not flags & libvirt.VIR_NETWORK_XML_INACTIVE:
            return self.live
        return self.config

    def create(self):
        self.conn.calls.append(('start', self._name))
        if self.conn.fail_start:
            raise FakeLibvirtError(self.conn.fail_start)
        self.live = self.config

    def destroy(self):
        self.conn.calls.append(('stop', self._name))
        self.live = None

    def undefine(self):
        self.conn.calls.append(('undefine', self._name))
        del self.conn.networks[self._name]

    def update(self, command, section, index, xml, flags):
        self.updates.append((command, section, index, xml, flags))


class FakeDomain(object):
    """A persistent domain: its XML, whether it runs."""

    def __init__(self, conn, name, xml):
        self.conn, self._name, self.xml, self.running = conn, name, xml, False
        self.uuid = str(uuid.uuid4())

    def name(self):
        return self._name

    def UUIDString(self):  # noqa: N802
        return self.uuid

    def isActive(self):  # noqa: N802
        return self.running

    def isPersistent(self):  # noqa: N802
        return True

    def XMLDesc(self, flags=0):  # noqa: N802
        return self.xml

    def state(self):
        return [libvirt.VIR_DOMAIN_RUNNING if self.running else libvirt.VIR_DOMAIN_SHUTOFF, 0]

    def create(self):
        self.conn.calls.append(('start domain', self._name))
        self.running = True

    def shutdown(self):
        self.conn.calls.append(('shutdown', self._name))
        self.running = False

    def destroy(self):
        self.conn.calls.append(('destroy', self._name))
        self.running = False

    def undefineFlags(self, flags=0):  # noqa: N802
        self.conn.calls.append(('undefine domain', self._name))
        del self.conn.domains[self._name]


# The CPU part of what a TCG libvirt (virt_type qemu) answers to getDomainCapabilities,
# trimmed from the lab's libvirt 9.0.
TCG_DOMAIN_CAPABILITIES = """<domainCapabilities>
  <domain>qemu</domain>
  <cpu>
    <mode name='host-passthrough' supported='no'/>
    <mode name='maximum' supported='yes'/>
    <mode name='host-model' supported='yes'><model fallback='forbid'>EPYC</model></mode>
    <mode name='custom' supported='yes'>
      <model usable='yes' vendor='unknown'>qemu64</model>
      <model usable='yes' vendor='Intel'>Westmere</model>
      <model usable='no' vendor='Intel'>Skylake-Client</model>
      <model usable='yes' vendor='Intel'>Nehalem</model>
    </mode>
  </cpu>
</domainCapabilities>
"""


class FakeConn(object):
    """``networks``: name -> FakeNetwork; ``calls``: what was done, in order; ``fail_define`` /
    ``fail_start``: the error message of the next define / start, which then fails;
    ``fail_calls``: {method name (networkLookupByName, isActive, XMLDesc, UUIDString, ...):
    message}, those calls raise a libvirtError (VIR_ERR_INTERNAL_ERROR) with that message."""

    def __init__(self):
        self.networks = {}
        self.domains = {}
        self.calls = []
        self.fail_define = None
        self.fail_start = None
        self.fail_calls = {}

    # qemu runs as root here: nothing for qemu_access to grant (its own tests cover libvirt-qemu).
    capabilities = ("<capabilities><host><secmodel><model>dac</model><doi>0</doi>"
                    "<baselabel type='qemu'>+0:+0</baselabel></secmodel></host></capabilities>")

    def getCapabilities(self):  # noqa: N802
        return self.capabilities

    def maybe_fail(self, method):
        if method in self.fail_calls:
            raise FakeLibvirtError(self.fail_calls[method])

    def networkLookupByName(self, name):  # noqa: N802
        self.maybe_fail('networkLookupByName')
        if name not in self.networks:
            raise FakeLibvirtError("Network not found: no network with matching name '%s'" % name,
                                   libvirt.VIR_ERR_NO_NETWORK)
        return self.networks[name]

    def networkDefineXML(self, xml):  # noqa: N802
        name = etree.fromstring(xml.encode('utf-8')).findtext('name')
        self.calls.append(('define', name))
        if self.fail_define:
            raise FakeLibvirtError(self.fail_define)
        net = self.networks.get(name)
        if net is None:
            net = self.networks[name] = FakeNetwork(self, name, xml)
        net.config = xml
        return net

    def listAllNetworks(self):  # noqa: N802
        return list(self.networks.values())

    def getDomainCapabilities(self, emulator, arch, machine, virt_type):  # noqa: N802
        self.calls.append(('domain capabilities', virt_type))
        return TCG_DOMAIN_CAPABILITIES.replace('>qemu<', '>%s<' % virt_type)

    def listAllDomains(self):  # noqa: N802
        return list(self.domains.values())

    def lookupByName(self, name):  # noqa: N802
        if name not in self.domains:
            raise FakeLibvirtError("Domain not found: no domain with matching name '%s'" % name,
                                   libvirt.VIR_ERR_NO_DOMAIN)
        return self.domains[name]

    def defineXML(self, xml):  # noqa: N802
        name = etree.fromstring(xml.encode('utf-8')).findtext('name')
        self.calls.append(('define domain', name))
        dom = self.domains.get(name)
        if dom is None:
            dom = self.domains[name] = FakeDomain(self, name, xml)
        dom.xml = xml
        return dom
