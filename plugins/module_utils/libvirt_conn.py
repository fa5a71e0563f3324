# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the engine talks to libvirt: a cached connection per URI."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
from urllib.parse import urlsplit

from ansible_collections.lago.lago.plugins.module_utils.errors import DomainError, LagoError, NetworkError

try:
    import libvirt
    HAS_LIBVIRT = True
    LIBVIRT_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - depends on the host
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = _err

DEFAULT_URI = 'qemu:///system'

_connections = {}


def _silence(_ctx, _err):
    """libvirt prints every error to stderr by default; we raise them instead."""


def default_uri():
    return os.environ.get('LIBVIRT_DEFAULT_URI') or DEFAULT_URI


def connect(uri=None):
    """Return an open libvirt connection for ``uri`` (cached for this process)."""
    uri = uri or default_uri()
    refuse_session(uri)
    if not HAS_LIBVIRT:
        raise LagoError('libvirt-python is required: pip install libvirt-python (%s)'
                        % LIBVIRT_IMPORT_ERROR)
    conn = _connections.get(uri)
    if conn is not None:
        # isAlive() stays true after libvirtd restarts; a real call tells.
        try:
            conn.getLibVersion()
            return conn
        except libvirt.libvirtError:
            _connections.pop(uri, None)
    libvirt.registerErrorHandler(_silence, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as err:
        raise LagoError('cannot connect to libvirt at %s: %s' % (uri, err.get_error_message()))
    _connections[uri] = conn
    return conn


def refuse_session(uri):
    """LagoError for a per-user (``qemu:///session``) libvirtd: prefixes need what only the system one has."""
    if urlsplit(uri).path.rstrip('/') != '/session':
        return
    raise LagoError(
        'libvirt URI %s is a per-user (session) libvirtd, which lago.lago does not support: a prefix\'s nets '
        'are libvirt virtual networks (a bridge with NAT, and dnsmasq giving each VM its reserved address and '
        'a DNS name), and a session libvirtd can define none of them. Debian ships no replacement that joins '
        'several VMs on one routed subnet without root: passt and slirp give each VM a private user-mode '
        'link only, and qemu-bridge-helper only plugs VMs into a bridge that root has made beforehand. Use '
        'qemu:///system as a member of the libvirt group (see docs/LIBVIRT.md)' % uri)


def is_no_such(err):
    """True when a libvirtError means the object does not exist."""
    return err.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK,
                                    libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT)


def lookup_domain(conn, name):
    """The domain called ``name`` or None; DomainError naming it when libvirt fails otherwise."""
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if is_no_such(err):
            return None
        raise DomainError('cannot look up domain %s: %s' % (name, err.get_error_message()))


def lookup_network(conn, name):
    """The network called ``name`` or None; NetworkError naming it when libvirt fails otherwise."""
    try:
        return conn.networkLookupByName(name)
    except libvirt.libvirtError as err:
        if is_no_such(err):
            return None
        raise NetworkError('cannot look up network %s: %s' % (name, err.get_error_message()))
