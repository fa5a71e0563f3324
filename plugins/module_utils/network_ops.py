# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One network with its owner and its subnet lease, as a Plan (what lago_network does).

``NetworkRequest`` checks what is asked before anything is touched;
``plan_network`` reads the owner, the leases and libvirt and answers with a
Plan whose before/after are ``network.view()``s of the libvirt network and
whose steps are the module's ``actions`` (lease, define, start, stop,
restart, update, release, remove, remove owner).

Applying a plan runs under one Rollback: a standalone owner file it made, a
lease it took and a network it defined are taken back, newest first, when a
later step fails, so a failed run leaves nothing behind.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.lago.lago.plugins.module_utils import lease_owner, network, subnet_lease, subnet_pool
from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError
from ansible_collections.lago.lago.plugins.module_utils.plan import Plan
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback

STATES = ('present', 'started', 'stopped', 'absent')
# Any valid bridge name: checking the options must not depend on the owner's names.
_SOME_UUID = '0' * 32
_SOME_BRIDGE = 'placeholder'


class NetworkRequest(object):
    """A network wanted in ``state``; raises SpecError/LeaseError naming the bad option.

    ``owner`` is the path of the owning prefix's uuid file; without it the
    network owns itself through ``<lease_dir>/owners/<name>/uuid``.
    ``subnet`` (octet, CIDR or an address in it) must lie in ``pool``.
    """

    def __init__(self, name, state='present', net_type='nat', owner=None, subnet=None, pool=None,
                 bridge=None, dhcp=None, hosts=(), dns=True, dns_domain=None, dns_hosts=None, mtu=None,
                 lease_dir=subnet_lease.DEFAULT_LEASE_DIR):
        if state not in STATES:
            raise SpecError('state %r is unknown: use one of %s' % (state, ', '.join(STATES)))
        self.name, self.state, self.net_type = name, state, net_type
        self.owner_path, self.bridge, self.lease_dir = owner, bridge, lease_dir
        self.pool = subnet_pool.parse_pool(pool)
        self.subnet = None
        if subnet is not None:
            self.subnet = self.pool.cidr(subnet_pool.parse_subnet(subnet, self.pool))
        # A host entry without a name comes as name=None from the module: not an unknown key.
        self.options = dict(net_type=net_type, dhcp=dhcp, dns=dns, dns_domain=dns_domain,
                            dns_hosts=dns_hosts, mtu=mtu,
                            hosts=[dict((key, value) for key, value in host.items() if value is not None)
                                   if isinstance(host, dict) else host for host in hosts or ()])
        network.derive_names(_SOME_UUID, name, bridge)
        if state != 'absent':
            network.check(name=name, bridge=bridge or _SOME_BRIDGE, subnet=self.subnet, **self.options)

    @property
    def standalone(self):
        return not self.owner_path

    def describe(self, names, lease):
        """The network.describe() of this request on ``lease`` (None for type bridge)."""
        return network.describe(names[0], names[1], subnet=lease and lease['subnet'], **self.options)


def _owner(req):
    """The Owner of the request's network; a standalone one need not exist yet."""
    if not req.standalone:
        return lease_owner.read_owner(req.owner_path)
    owner = lease_owner.standalone_owner(req.lease_dir, req.name, create=False)[0]
    return lease_owner.read_owner(owner.path) if os.path.exists(owner.path) else owner


def _subnet_to_ask(req, owner, actual):
    """The subnet to lease: the one asked for, else the one the network has, else None (first free)."""
    wanted = req.subnet or (actual and actual['subnet'])
    if wanted is None and req.standalone:
        # A standalone owner has this one network: a lease it holds is this network's.
        held = subnet_lease.leases_of(req.lease_dir, owner, req.pool)
        wanted = held[0]['subnet'] if held else None
    return wanted


def _held(req, owner, subnets):
    """Those of ``subnets`` whose lease ``owner`` holds."""
    held = set(lease['octet'] for lease in subnet_lease.leases_of(req.lease_dir, owner))
    wanted = dict((subnet_pool.subnet_octet(subnet)[1], subnet) for subnet in subnets if subnet)
    return [wanted[octet] for octet in sorted(set(wanted) & held)]


def _release(req, owner, subnets):
    for subnet in subnets:
        subnet_lease.release(req.lease_dir, owner, subnet)


def _given_up(req, owner, actual, wanted):
    """The subnet the network leaves for another (or for type bridge): back to the pool."""
    if actual and actual['subnet'] and actual['subnet'] != wanted['subnet']:
        return _held(req, owner, [actual['subnet']])
    return []


def _ensure_owner(req, owner, undo):
    """Make the standalone owner's uuid file if missing; True when made (``undo`` removes it)."""
    if not req.standalone:
        return False
    made = lease_owner.ensure_owner(owner.path, owner.uuid)[1]
    if made:
        undo.push('owner %s' % owner.path, lambda: lease_owner.remove_owner(owner))
    return made


def _actions(lease_taken, net_steps, given_up):
    return ((['lease'] if lease_taken else []) + [step[0] for step in net_steps]
            + (['release'] if given_up else []))


def _network_value(after, owner, lease):
    return dict(after, owner=owner.path, lease=lease and lease['path'])


def _plan_present(conn, req, owner, names):
    current = network.read_network(conn, names[0])
    actual = network.actual(current)
    asked = None
    lease = None
    if req.net_type != 'bridge':
        asked = _subnet_to_ask(req, owner, actual)
        # Subnets other networks of the host and of libvirt hold are skipped; this network's own are not.
        lease = subnet_lease.acquire(req.lease_dir, owner, asked, req.pool, dry_run=True, conn=conn, own=names)
    wanted = req.describe(names, lease)
    net_steps = network.plan(current, wanted, req.state)
    given_up = _given_up(req, owner, actual, wanted)
    before, after = network.views(current, wanted, req.state)
    # A lease whose owner file is gone is stale: taking it again makes the file.
    lease_taken = bool(lease) and (lease['new'] or not lease_owner.owner_alive(owner))
    steps = _actions(lease_taken, net_steps, given_up)

    def apply():
        target, todo, taken = wanted, net_steps, None
        with Rollback() as undo:
            made_owner = _ensure_owner(req, owner, undo)
            if lease is not None:
                taken = subnet_lease.acquire(req.lease_dir, owner, asked, req.pool, conn=conn, own=names)
                if taken['new']:
                    undo.push('lease %s' % taken['subnet'],
                              lambda: subnet_lease.release(req.lease_dir, owner, taken['subnet']))
                if taken['subnet'] != lease['subnet']:  # another run took the predicted one meanwhile
                    target = req.describe(names, taken)
                    todo = network.plan(current, target, req.state)
            network.apply_steps(conn, current, target, todo, undo)
            undo.commit()  # the network stands on its lease now: both stay whatever follows
        released = _given_up(req, owner, actual, target)
        _release(req, owner, released)
        real_after = network.views(current, target, req.state)[1]
        return dict(after=real_after, network=_network_value(real_after, owner, taken),
                    actions=_actions(bool(taken) and (taken['new'] or made_owner), todo, released))

    return Plan(names[0], before, after, steps, apply,
                values=dict(network=_network_value(after, owner, lease), actions=steps))


def _plan_absent(conn, req, owner, names):
    current = network.read_network(conn, names[0])
    actual = network.actual(current)
    subnets = [actual and actual['subnet'], req.subnet]
    if req.standalone:
        subnets += [lease['subnet'] for lease in subnet_lease.leases_of(req.lease_dir, owner, req.pool)]
    to_release = _held(req, owner, subnets)
    remove_owner = req.standalone and os.path.exists(owner.path)
    steps = ((['remove'] if current else []) + (['release'] if to_release else [])
             + (['remove owner'] if remove_owner else []))
    before = network.view(actual, current['active']) if current else {}

    def apply():
        network.remove(conn, names[0])
        _release(req, owner, to_release)
        if remove_owner:
            lease_owner.remove_owner(owner)

    return Plan(names[0], before, {}, steps, apply,
                values=dict(network=dict(name=names[0], bridge=names[1]), actions=steps))


def plan_network(conn, req):
    """The Plan bringing network ``req`` (a NetworkRequest) to its state on libvirt connection ``conn``.

    Planning makes nothing (no owner file, no lease, no libvirt object): check
    mode is the plan's prediction. In check mode on a network that does not
    exist yet, the predicted subnet is the first one free now.
    """
    owner = _owner(req)
    names = network.derive_names(owner.uuid, req.name, req.bridge)
    if req.state == 'absent':
        return _plan_absent(conn, req, owner, names)
    return _plan_present(conn, req, owner, names)
