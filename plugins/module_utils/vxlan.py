# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One layer-2 lab net across several hypervisors (docs/MULTIHOST.md).

On each hypervisor with a VM on the net, a libvirt network with the net's
bridge; the first of them (in the order given, the prefix's) is the net as on
a single host (gateway, NAT, the one DHCP/DNS server holding every VM's
reservation), the others a plain bridge without an address (type ``bridge``).
The bridges are joined by a Linux vxlan device on each (unicast: no multicast
group; one all-zeros forwarding entry per peer, ``bridge fdb append``, so
broadcasts reach every peer and the bridges learn the rest), and the net's MTU
is lowered by the encapsulation's 50 bytes on every host.

The device is found by its name (``device_name``); its VNI is derived from the
prefix and the net, so every host computes the same one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import hashlib
import json

from ansible_collections.lago.lago.plugins.module_utils import network
from ansible_collections.lago.lago.plugins.module_utils.errors import NetworkError
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.runner import run

DSTPORT = 4789
# Outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8.
OVERHEAD = 50
DEFAULT_MTU = 1500
ALL_ZEROS = '00:00:00:00:00:00'
MAX_VNI = 2 ** 24 - 1


# --- pure: names and the per-host networks -----------------------------------

def device_name(bridge):
    """The vxlan device of ``bridge`` (a Linux name: at most 15 characters)."""
    name = 'vx' + bridge
    if len(name) <= 15:
        return name
    return 'vx' + hashlib.sha1(bridge.encode()).hexdigest()[:13]


def vni(owner_uuid, net_name):
    """The VXLAN network identifier of net ``net_name`` of the prefix ``owner_uuid`` (1 .. 2**24-1)."""
    digest = hashlib.sha1(('%s/%s' % (owner_uuid, net_name)).encode()).hexdigest()
    return 1 + int(digest[:8], 16) % MAX_VNI


def tunnel_mtu(mtu):
    """The MTU of a net whose frames cross a tunnel: the net's (default 1500) less the encapsulation."""
    return (mtu or DEFAULT_MTU) - OVERHEAD


def host_networks(desc, hosts):
    """{host: the network description it gets} for a net (``desc``, as on one host) spread over ``hosts``.

    The first host keeps the net's address, DHCP and DNS; the others get a
    plain bridge of the same name. Every host's MTU is ``tunnel_mtu``. One host
    only: the description unchanged (no tunnel, nothing lowered).
    """
    hosts = list(hosts)
    if len(set(hosts)) != len(hosts) or not hosts:
        raise NetworkError('net %s: hypervisors must be given once each, not %r' % (desc['name'], hosts))
    if len(hosts) == 1:
        return {hosts[0]: copy.deepcopy(desc)}
    mtu = tunnel_mtu(desc['mtu'])
    first = dict(copy.deepcopy(desc), mtu=mtu)
    result = {hosts[0]: first}
    for host in hosts[1:]:
        result[host] = network.describe(desc['name'], desc['bridge'], 'bridge', mtu=mtu)
    return result


def wanted(bridge, vni_id, local, peers, mtu):
    """The description of the vxlan device of ``bridge``: what ``read`` returns when it is as wanted."""
    peers = sorted(set(peers) - {local})
    if not 1 <= int(vni_id) <= MAX_VNI:
        raise NetworkError('vni %s is out of range (1 to %d)' % (vni_id, MAX_VNI))
    return dict(device=device_name(bridge), vni=int(vni_id), local=local, port=DSTPORT, bridge=bridge,
                mtu=int(mtu), peers=peers, up=True)


def steps(current, want):
    """What turns ``current`` (``read``'s answer, None: no device) into ``want`` (None: no device)."""
    if want is None:
        return [] if current is None else ['delete %s' % current['device']]
    result = []
    fixed = ('vni', 'local', 'port')
    if current is not None and any(current[key] != want[key] for key in fixed):
        result.append('delete %s' % want['device'])
        current = None
    if current is None:
        result.append('create %s (vni %d, local %s, port %d)' % (want['device'], want['vni'], want['local'], DSTPORT))
        current = dict(peers=[], mtu=None, bridge=None, up=False)
    result += ['add peer %s' % peer for peer in want['peers'] if peer not in current['peers']]
    result += ['remove peer %s' % peer for peer in current['peers'] if peer not in want['peers']]
    if current['mtu'] != want['mtu']:
        result.append('set mtu %d' % want['mtu'])
    if current['bridge'] != want['bridge']:
        result.append('attach to %s' % want['bridge'])
    if not current['up']:
        result.append('set up')
    return result


# --- the host: read and change with ip(8) and bridge(8) ----------------------

def _json(argv):
    _rc, out, _err = run(argv)
    return json.loads(out or '[]')


def _exists(device):
    rc, _out, _err = run(['ip', 'link', 'show', 'dev', device], check=False)
    return rc == 0


def read(device):
    """The vxlan device ``device`` as ``wanted`` describes one, or None when there is none."""
    if not _exists(device):
        return None
    link = _json(['ip', '-j', '-d', 'link', 'show', 'dev', device])[0]
    info = link.get('linkinfo') or {}
    if info.get('info_kind') != 'vxlan':
        raise NetworkError('%s exists and is not a vxlan device (%s): not ours to change'
                           % (device, info.get('info_kind') or 'no kind'))
    data = info.get('info_data') or {}
    peers = sorted(entry['dst'] for entry in _json(['bridge', '-j', 'fdb', 'show', 'dev', device])
                   if entry.get('mac') == ALL_ZEROS and entry.get('dst'))
    return dict(device=device, vni=data.get('id'), local=data.get('local'), port=data.get('port'),
                bridge=link.get('master'), mtu=link.get('mtu'), peers=peers, up='UP' in (link.get('flags') or []))


def _bridge_exists(bridge):
    rc, _out, _err = run(['ip', 'link', 'show', 'dev', bridge, 'type', 'bridge'], check=False)
    return rc == 0


def plan_tunnel(bridge, vni_id=None, local=None, peers=(), mtu=None, state='present'):
    """The vxlan device of ``bridge`` made to match (``state`` present) or removed (absent), as a Plan ``vxlan``."""
    device = device_name(bridge)
    current = read(device)
    want = wanted(bridge, vni_id, local, peers, mtu) if state == 'present' else None
    todo = steps(current, want)
    if want is not None and todo and not _bridge_exists(bridge):
        raise NetworkError('bridge %s does not exist on this host: start its libvirt network first' % bridge)

    def apply():
        _apply(device, current, want)
        after = read(device)
        return dict(after=after, vxlan=after)
    return Plan('vxlan', current, want, todo, apply, values=dict(device=device, vxlan=want if todo else current))


def _apply(device, current, want):
    if current is not None and (want is None or any(current[key] != want[key] for key in ('vni', 'local', 'port'))):
        run(['ip', 'link', 'del', 'dev', device])
        current = None
    if want is None:
        return
    if current is None:
        run(['ip', 'link', 'add', device, 'type', 'vxlan', 'id', want['vni'], 'local', want['local'],
             'dstport', DSTPORT])
        current = dict(peers=[])
    try:
        for peer in want['peers']:
            if peer not in current['peers']:
                run(['bridge', 'fdb', 'append', ALL_ZEROS, 'dev', device, 'dst', peer])
        for peer in current['peers']:
            if peer not in want['peers']:
                run(['bridge', 'fdb', 'del', ALL_ZEROS, 'dev', device, 'dst', peer])
        run(['ip', 'link', 'set', 'dev', device, 'mtu', want['mtu']])
        run(['ip', 'link', 'set', 'dev', device, 'master', want['bridge']])
        run(['ip', 'link', 'set', 'dev', device, 'up'])
    except Exception:
        if 'vni' not in current:  # made by this run: take it away again
            run(['ip', 'link', 'del', 'dev', device], check=False)
        raise
