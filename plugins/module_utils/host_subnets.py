# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Subnets the host already uses: its IPv4 addresses and routes, and libvirt networks' subnets.

A /24 that overlaps one of these is in use: subnet_lease skips it when
choosing a subnet and refuses it when asked for it. Entries of the caller's
own interfaces or libvirt networks do not count (see subnets_in_use).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import ipaddress
import json
import os
import shutil
import subprocess

try:
    from lxml import etree
except ImportError:  # reported by the modules (_runtime.missing_libraries)
    etree = None

from ansible_collections.lago.lago.plugins.module_utils import libvirt_conn
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError

# A network something on the host holds: ``network`` an IPv4Network, ``holder``
# what holds it in words (for errors), ``names`` the interface or libvirt
# network names behind it (a caller's own ones do not count, see acquire).
InUse = collections.namedtuple('InUse', 'network holder names')


def _ipv4_network(text, prefix=None):
    """The IPv4Network of ``text`` ('a.b.c.d', 'a.b.c.d/len', or with ``prefix``: a length or a netmask); None if not IPv4."""
    if prefix is not None:
        text = '%s/%s' % (text, prefix)
    try:
        return ipaddress.IPv4Interface(text).network
    except ValueError:
        return None


def addresses_in_use(links):
    """InUse for each IPv4 address in ``links``, the JSON of ``ip -j -4 addr show`` (up or down)."""
    found = []
    for link in links or ():
        name = link.get('ifname') or '?'
        for addr in link.get('addr_info') or ():
            if addr.get('family', 'inet') != 'inet' or not addr.get('local'):
                continue
            prefix = addr.get('prefixlen', 32)
            for field in ('local', 'address'):  # 'address' is the peer of a point-to-point link
                if addr.get(field) and _ipv4_network(addr[field], prefix):
                    found.append(InUse(_ipv4_network(addr[field], prefix),
                                       'address %s/%s on interface %s' % (addr[field], prefix, name), (name,)))
    return found


def routes_in_use(routes):
    """InUse for each IPv4 route in ``routes``, the JSON of ``ip -j -4 route show table all``.

    A default route (0.0.0.0/0) is no claim on any subnet and is left out.
    """
    found = []
    for route in routes or ():
        dst = route.get('dst')
        if not dst or dst == 'default':
            continue
        net = _ipv4_network(dst)
        if net is None or net.prefixlen == 0:
            continue
        devs = [route['dev']] if route.get('dev') else []
        devs += [hop['dev'] for hop in route.get('nexthops') or () if hop.get('dev')]
        words = ['route %s' % dst]
        if route.get('type') not in (None, 'unicast'):
            words.insert(0, route['type'])
        words += ['dev %s' % dev for dev in devs]
        if route.get('gateway'):
            words.append('via %s' % route['gateway'])
        if route.get('table') not in (None, 'main'):
            words.append('table %s' % route['table'])
        found.append(InUse(net, ' '.join(words), tuple(devs)))
    return found


def proc_routes_in_use(text):
    """InUse for each route of ``/proc/net/route`` (the main table; libvirt checks the same)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            dest, mask = (ipaddress.IPv4Address(bytes.fromhex(value)[::-1]) for value in (fields[1], fields[7]))
            net = ipaddress.IPv4Network('%s/%s' % (dest, mask), strict=False)
        except ValueError:  # the header, or a line we do not understand
            continue
        if net.prefixlen:
            found.append(InUse(net, 'route %s dev %s' % (net, fields[0]), (fields[0],)))
    return found


def _ip_json(args):
    """The parsed JSON ``ip -j <args>`` prints, or None when ``ip`` is missing or fails."""
    ip = shutil.which('ip') or next((path for path in ('/usr/sbin/ip', '/sbin/ip') if os.path.exists(path)), None)
    if ip is None:
        return None
    try:
        proc = subprocess.run([ip, '-j'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=30, check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


def _read_proc_route():
    try:
        with open('/proc/net/route') as handle:
            return handle.read()
    except (IOError, OSError):
        return ''


def host_in_use():
    """InUse for every IPv4 address (any interface, up or down) and route (any table) of this host.

    Read from the kernel with ``ip -j``; without a working ``ip`` only the
    routes of ``/proc/net/route`` (what libvirt itself checks) are seen.
    """
    found = addresses_in_use(_ip_json(['-4', 'addr', 'show']))
    routes = _ip_json(['-4', 'route', 'show', 'table', 'all'])
    return found + (routes_in_use(routes) if routes is not None else proc_routes_in_use(_read_proc_route()))


def _xml_networks(xml):
    """(name, bridge, [IPv4Network]) of one libvirt network XML."""
    root = etree.fromstring(xml.encode('utf-8') if isinstance(xml, str) else xml)
    bridge = root.find('bridge')
    nets = []
    for ip in root.findall('ip'):
        if ip.get('family', 'ipv4') != 'ipv4' or not ip.get('address'):
            continue
        net = _ipv4_network(ip.get('address'), ip.get('prefix') or ip.get('netmask') or '24')
        if net is not None:
            nets.append(net)
    return root.findtext('name'), bridge.get('name') if bridge is not None else None, nets


def libvirt_in_use(conn):
    """InUse for the IPv4 subnet of every libvirt network on ``conn``, running or only defined."""
    found = []
    try:
        for net in conn.listAllNetworks():
            descs = [net.XMLDesc(0)]
            if net.isActive() and net.isPersistent():
                descs.append(net.XMLDesc(libvirt_conn.libvirt.VIR_NETWORK_XML_INACTIVE))
            for xml in descs:
                name, bridge, nets = _xml_networks(xml)
                holder = 'libvirt network %s%s' % (name, ' (bridge %s)' % bridge if bridge else '')
                found += [InUse(subnet, holder, tuple(item for item in (name, bridge) if item)) for subnet in nets]
    except libvirt_conn.libvirt.libvirtError as err:
        raise LeaseError('cannot list the libvirt networks to check which subnets are in use: %s'
                         % err.get_error_message())
    return found


def subnets_in_use(conn, own, host):
    """The InUse entries that count: host (when ``host``) and ``conn``'s, minus those named in ``own``."""
    found = (host_in_use() if host else []) + (libvirt_in_use(conn) if conn is not None else [])
    own = set(own or ())
    return [entry for entry in found if not own.intersection(entry.names)]


def colliding(in_use, cidr):
    """The holders (deduplicated, in order) of what in ``in_use`` overlaps the /24 ``cidr``."""
    net = ipaddress.IPv4Network(cidr)
    holders = []
    for entry in in_use:
        if entry.network.overlaps(net) and entry.holder not in holders:
            holders.append(entry.holder)
    return holders
