# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``nets:`` of an init file, validated and normalized (see docs/INIT_FILE.md)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.lago.lago.plugins.module_utils import values
from ansible_collections.lago.lago.plugins.module_utils.spec_checks import (
    Problems, boolean, check_keys, check_own_name, integer, mapping)
from ansible_collections.lago.lago.plugins.module_utils.values import fail

DEFAULT_DNS_DOMAIN = 'lago.local'
DEFAULT_DHCP = {'start': 100, 'end': 254}
DEFAULT_MTU = 1500
NET_KEYS = ('type', 'dhcp', 'management', 'gw', 'mtu', 'dns_domain_name', 'name', 'comment')
NET_TYPES = ('nat', 'bridge')


def net_subnet(net):
    """The subnet a normalized nat net's addresses are checked in: its gw's /24, else
    values.UNLEASED (the /24 is leased at init; only last octets count)."""
    return values.subnet_of_gateway(net['gw'], 'gw') if net.get('gw') else values.UNLEASED


def _normalize_net(name, raw, place):
    values.net_name(name, place)
    raw = mapping(raw, place)
    problems = Problems()
    problems.check(check_keys, raw, place, NET_KEYS, 'net')
    problems.check(check_own_name, raw, name, place)
    net_type = raw.get('type', 'nat')
    if net_type not in NET_TYPES:
        fail(place + '.type', 'must be one of %s, not %r' % (', '.join(NET_TYPES), net_type))
    net = {
        'type': net_type,
        'management': problems.check(boolean, raw.get('management', False), place + '.management'),
        'mtu': problems.check(integer, raw.get('mtu', DEFAULT_MTU), place + '.mtu', 68, 65535),
    }
    if net_type == 'bridge':
        # Lago's bridge nets are plain L2 bridges: no address, no DHCP, no DNS.
        for key in ('gw', 'dhcp', 'dns_domain_name'):
            if key in raw:
                problems.check(fail, '%s.%s' % (place, key), 'a bridge net has no addresses; only nat nets take %s'
                               % key)
        problems.raise_found()
        return net
    subnet = values.UNLEASED
    net['gw'] = None
    if 'gw' in raw:
        subnet = problems.check(values.subnet_of_gateway, raw['gw'], place + '.gw')
        net['gw'] = str(values.ipv4(raw['gw'], place + '.gw')) if subnet else None
    if subnet is not None:
        net['dhcp'] = problems.check(_dhcp, raw.get('dhcp', DEFAULT_DHCP), place + '.dhcp', subnet)
    if 'dns_domain_name' in raw:
        net['dns_domain_name'] = problems.check(values.dns_domain, raw['dns_domain_name'], place + '.dns_domain_name')
    problems.raise_found()
    return net


def _dhcp(value, place, subnet):
    """A DHCP range, normalized to last octets (the /24 may be leased later)."""
    start, end = values.dhcp_range(mapping(value, place), subnet, place, move=subnet is values.UNLEASED)
    return {'start': start.packed[3], 'end': end.packed[3]}


def normalize_nets(value, problems):
    """(nets, management): every net by name, normalized (None for a net with
    problems, which go to ``problems``), and the management net's name (None
    when it cannot be told)."""
    raw_nets = problems.check(mapping, value, 'nets')
    if raw_nets is None:
        return None, None
    if not raw_nets:
        problems.check(fail, 'nets', 'at least one net is needed')
        return None, None
    nets = dict((name, problems.check(_normalize_net, name, raw_nets[name], 'nets.%s' % name))
                for name in sorted(raw_nets))
    management = problems.check(_management_net, nets, raw_nets)
    if management is not None:
        nets[management]['management'] = True
        nets[management].setdefault('dns_domain_name', DEFAULT_DNS_DOMAIN)
        for name, net in sorted(nets.items()):
            if name != management and net is not None and 'dns_domain_name' in net:
                problems.check(fail, 'nets.%s.dns_domain_name' % name,
                               'DNS is served only on the management net (%s)' % management)
    problems.check(_refuse_shared_subnets, nets)
    return nets, management


def _management_net(nets, raw_nets):
    """The one management net: the one marked, else the first by name (as Lago did).
    None, without a problem of its own, when that net has problems."""
    marked = [name for name in sorted(nets) if isinstance(raw_nets[name], dict)
              and raw_nets[name].get('management') is True]
    if len(marked) > 1:
        fail('nets', 'more than one net is marked management: %s; mark exactly one' % ', '.join(marked))
    name = marked[0] if marked else sorted(nets)[0]
    if nets[name] is None:
        return None
    if nets[name]['type'] != 'nat':
        why = '' if marked else ' (the first net by name, as none is marked management: true)'
        fail('nets.%s' % name, 'the management net%s must be a nat net: VMs are reached through it' % why)
    return name


def _refuse_shared_subnets(nets):
    problems = Problems()
    owners = {}
    for name in sorted(nets):
        if nets[name] is None or not nets[name].get('gw'):
            continue
        subnet = str(net_subnet(nets[name]))
        if subnet in owners:
            problems.check(fail, 'nets.%s.gw' % name, 'subnet %s is already used by net %s' % (subnet, owners[subnet]))
        else:
            owners[subnet] = name
    problems.raise_found()
