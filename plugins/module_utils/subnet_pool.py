# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Subnet pools of the /24 leases: which /24s a pool spans and which /24 a value names.

A pool is a range of /24s inside one /16 (``A.B.C.0/24-A.B.D.0/24``, or a
CIDR of /16 to /24); leases are named by the third octet (see subnet_lease).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import ipaddress

from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError

DEFAULT_POOL = '192.168.200.0/24-192.168.255.0/24'


class Pool(collections.namedtuple('Pool', 'base first last')):
    """The /24s ``<base>.<first>.0/24`` .. ``<base>.<last>.0/24`` (base = first two octets)."""

    def octets(self):
        return range(self.first, self.last + 1)

    def cidr(self, octet):
        return '%s.%d.0/24' % (self.base, octet)

    def __contains__(self, octet):
        return self.first <= octet <= self.last

    def __str__(self):
        return '%s-%s' % (self.cidr(self.first), self.cidr(self.last))


def _slash24(text, what):
    """The /24 network ``text`` names (``a.b.c.0`` or ``a.b.c.0/24``)."""
    try:
        net = ipaddress.IPv4Network(text if '/' in text else text + '/24')
    except ValueError as err:
        raise LeaseError('%s %r is not a /24 network: %s' % (what, text, err))
    if net.prefixlen != 24:
        raise LeaseError('%s %r is not a /24 network' % (what, text))
    return net


def parse_pool(spec=None):
    """A Pool from ``'A.B.C.0/24-A.B.D.0/24'`` or a CIDR of /16 to /24; None gives the default."""
    if isinstance(spec, Pool):
        return spec
    spec = (spec or DEFAULT_POOL).strip()
    if '-' in spec:
        first_text, last_text = (part.strip() for part in spec.split('-', 1))
        first = _slash24(first_text, 'pool start').network_address.packed
        last = _slash24(last_text, 'pool end').network_address.packed
    else:
        try:
            whole = ipaddress.IPv4Network(spec)
        except ValueError as err:
            raise LeaseError('pool %r is neither a range of /24s nor a CIDR: %s' % (spec, err))
        if not 16 <= whole.prefixlen <= 24:
            raise LeaseError('pool %r must span /24s inside one /16 (prefix length 16 to 24)' % spec)
        first, last = whole.network_address.packed, whole.broadcast_address.packed
    if first[:2] != last[:2]:
        raise LeaseError('pool %r must stay inside one /16: leases are named by the third octet' % spec)
    if first[2] > last[2]:
        raise LeaseError('pool %r ends before it starts' % spec)
    return Pool('%d.%d' % (first[0], first[1]), first[2], last[2])


def subnet_octet(value):
    """(base or None, third octet) of the /24 ``value`` names.

    ``value`` may be the octet (``201``), the network (``192.168.201.0/24``)
    or an address in it such as Lago's gateway (``192.168.201.1``).
    """
    text = str(value).strip()
    if text.isdigit():
        if int(text) > 255:
            raise LeaseError('subnet %r is not a third octet (0 to 255)' % text)
        return None, int(text)
    try:
        net = ipaddress.IPv4Network(text if '/' in text else text + '/24', strict=False)
    except ValueError as err:
        raise LeaseError('subnet %r is neither a third octet nor an IPv4 /24: %s' % (text, err))
    if net.prefixlen != 24:
        raise LeaseError('subnet %r must be a /24' % text)
    packed = net.network_address.packed
    return '%d.%d' % (packed[0], packed[1]), packed[2]


def parse_subnet(value, pool=None):
    """The third octet of the /24 ``value`` names (see subnet_octet), which must be in ``pool``."""
    pool = parse_pool(pool)
    base, octet = subnet_octet(value)
    if (base or pool.base) != pool.base or octet not in pool:
        raise LeaseError('subnet %s.%d.0/24 is outside the pool %s' % (base or pool.base, octet, pool))
    return octet
