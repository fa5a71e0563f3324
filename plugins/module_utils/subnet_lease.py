# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""/24 subnet leases shared by every prefix on a host (Lago's scheme, crash-safe):
the lease directory, its lease files, acquire and release.

A lease directory holds one file per leased /24, named by its third octet
(``<N>.lease``) and holding JSON ``[<owner uuid file path>, <uuid>]``, exactly
as Lago wrote them. An owner is a uuid file (a prefix's ``uuid``, see lease_owner); a lease is
stale once that file is gone or holds another uuid, and a stale lease is taken
over by the next caller that needs a subnet.

Every change happens under one exclusive flock on ``leases.lock`` in the lease
directory (the kernel drops it when its holder dies) and every lease file is
written to a temporary name and renamed, so a crash leaves either no lease or
a whole one.

Taken, stale and in use (the rules, also in docs/PREFIX.md): a /24 is taken
while its lease names a live owner, or its lease file or its owner's uuid
file exists but cannot be read (never handed out nor overwritten); it is
stale once the owner's uuid file is gone or holds another uuid. A /24 that
overlaps an address or route of the host (host_subnets.host_in_use) or, given a libvirt
connection, a libvirt network's subnet is in use: skipped when choosing, an
error when asked for. release_all takes back every lease of one owner.

A lease directory hands out third octets: pools with different bases that
share a directory share the octets too (never a double lease, at worst a
subnet left unused). Give each base its own directory to avoid that.
Pools and the values that name a /24 are subnet_pool's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import contextlib
import ipaddress
import os
import stat

from ansible_collections.lago.lago.plugins.module_utils import host_subnets
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError
from ansible_collections.lago.lago.plugins.module_utils.files import (
    file_lock, read_json, remove_path, write_json)
from ansible_collections.lago.lago.plugins.module_utils.lease_owner import Owner, owner_alive, owner_problem
from ansible_collections.lago.lago.plugins.module_utils.subnet_pool import parse_pool, parse_subnet, subnet_octet

DEFAULT_LEASE_DIR = '/var/lib/lago/subnets'
LOCK_NAME = 'leases.lock'
LEASE_SUFFIX = '.lease'
LOCK_TIMEOUT = 30.0


# --- the lease directory ------------------------------------------------------

def _what_is(path):
    """What is at ``path`` instead of a directory, in words."""
    if os.path.islink(path) and not os.path.exists(path):
        return 'a dangling symlink to %s' % os.readlink(path)
    mode = os.stat(path).st_mode
    return 'a regular file' if stat.S_ISREG(mode) else 'a special file, mode %s' % stat.filemode(mode)


def _may(path, mode):
    if os.access in os.supports_effective_ids:
        return os.access(path, mode, effective_ids=True)
    return os.access(path, mode)


def _check_lease_dir(lease_dir, write):
    """Raise a LeaseError naming ``lease_dir`` and what is wrong with it, before anything is touched.

    It must be a directory the caller may read (and write, for ``write``),
    or be missing: then reading finds no leases and writing creates it,
    which its nearest existing parent must allow.
    """
    path = os.path.abspath(lease_dir)
    uid = os.geteuid()
    if os.path.isdir(path):
        if not _may(path, os.R_OK | os.X_OK | (os.W_OK if write else 0)):
            raise LeaseError('lease directory %s is not %s by uid %d: fix its permissions or use another lease_dir'
                             % (path, 'writable' if write else 'readable', uid))
        return
    if os.path.lexists(path):
        raise LeaseError('lease directory %s is not a directory but %s: remove it or use another lease_dir'
                         % (path, _what_is(path)))
    if not write:
        return
    parent = os.path.dirname(path)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise LeaseError('lease directory %s cannot be created: %s is not a directory but %s'
                         % (path, parent, _what_is(parent)))
    if not _may(parent, os.W_OK | os.X_OK):
        raise LeaseError('lease directory %s does not exist and cannot be created: %s is not writable by uid %d'
                         % (path, parent, uid))


@contextlib.contextmanager
def _lease_dir_errors(lease_dir, doing):
    """Turn what the checks could not foresee (a read-only filesystem, a lock file of another user) into a LeaseError."""
    try:
        yield
    except OSError as err:
        where = ' (%s)' % err.filename if err.filename else ''
        raise LeaseError('cannot %s in lease directory %s: %s%s'
                         % (doing, os.path.abspath(lease_dir), err.strerror or err, where))


# --- lease files ------------------------------------------------------------

def lease_path(lease_dir, octet):
    return os.path.join(lease_dir, '%d%s' % (octet, LEASE_SUFFIX))


def _read_lease(path):
    """(Owner, None) for a lease file, (None, None) without one, (None, why) for an unreadable one."""
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None, None
    except (IOError, OSError) as err:
        return None, 'cannot be read (%s)' % (err.strerror or err)
    except ValueError:  # also bad UTF-8
        return None, 'is not JSON (truncated or garbage content)'
    if isinstance(data, list) and len(data) == 2 and all(isinstance(item, str) for item in data):
        return Owner(*data), None
    return None, 'does not hold [owner uuid file, uuid]'


def _lease_state(path):
    """(holder Owner or None, taken, problem) of the lease file at ``path``.

    ``taken``: the /24 is in use as far as anyone can tell: its owner is
    alive, or the lease file or the owner's uuid file exists but cannot be
    read (such a lease is never handed to anyone else nor overwritten;
    ``problem`` says what is wrong with it).
    """
    holder, problem = _read_lease(path)
    if holder is None:
        return None, problem is not None, problem
    if owner_alive(holder):
        return holder, True, None
    problem = owner_problem(holder)
    return holder, problem is not None, problem


def _lease_octets(lease_dir):
    """Third octets of the lease files present in ``lease_dir``."""
    try:
        names = os.listdir(lease_dir)
    except FileNotFoundError:
        return []
    octets = []
    for name in names:
        stem = name[:-len(LEASE_SUFFIX)]
        if name.endswith(LEASE_SUFFIX) and stem.isdigit():
            octets.append(int(stem))
    return sorted(octets)


def _sweep_temp_files(lease_dir):
    """Remove temp files of writers that died mid-write (safe: we hold the lock)."""
    for name in os.listdir(lease_dir):
        if name.startswith('.') and name.endswith('.tmp') and LEASE_SUFFIX in name:
            remove_path(os.path.join(lease_dir, name))


def _lease_info(lease_dir, pool, octet):
    holder, taken, problem = _lease_state(lease_path(lease_dir, octet))
    return dict(octet=octet, subnet=pool.cidr(octet), path=lease_path(lease_dir, octet),
                owner=holder.path if holder else None, uuid=holder.uuid if holder else None,
                alive=owner_alive(holder), taken=taken, problem=problem)


def list_leases(lease_dir=DEFAULT_LEASE_DIR, pool=None):
    """Every lease in ``lease_dir``: octet, subnet, path, owner (uuid file), uuid, alive, taken, problem.

    ``alive``: the owner's uuid file holds its uuid. ``taken``: the /24 is not
    free for anyone else (alive, or the lease or owner file cannot be read:
    ``problem`` says which and why; None otherwise).

    ``subnet`` is spelled with ``pool``'s base (the default pool's without one).
    """
    pool = parse_pool(pool)
    _check_lease_dir(lease_dir, write=False)
    with _lease_dir_errors(lease_dir, 'list leases'):
        return [_lease_info(lease_dir, pool, octet) for octet in _lease_octets(lease_dir)]


def _holds(holder, owner):
    """True when lease ``holder`` is ``owner``: the same uuid file and the same uuid.

    The path counts too: a copied prefix directory carries the same uuid,
    and its leases are the copy's, not the original's.
    """
    return (holder is not None and holder.uuid == owner.uuid
            and os.path.abspath(holder.path) == os.path.abspath(owner.path))


def leases_of(lease_dir, owner, pool=None):
    """Every lease in ``lease_dir`` held by ``owner`` (an Owner: same uuid file and uuid), as list_leases gives them.

    This reads the lease directory itself, so it also finds a lease taken by
    a run that died before recording it anywhere (see release_all).
    """
    owner = Owner(*owner)
    return [lease for lease in list_leases(lease_dir, pool)
            if lease['owner'] is not None and _holds(Owner(lease['owner'], lease['uuid']), owner)]


# --- acquire and release ----------------------------------------------------

def _lock(lease_dir, timeout):
    return file_lock(os.path.join(lease_dir, LOCK_NAME), timeout=timeout,
                     what='subnet leases in %s' % lease_dir)


def _some(items, limit=10):
    """``items`` joined by ', ', at most ``limit`` of them and how many more."""
    return ', '.join(items[:limit]) + (' and %d more' % (len(items) - limit) if len(items) > limit else '')


def _exhausted(lease_dir, pool, busy):
    """The error of a pool without a free /24: who holds the leases, which cannot be read, what the host uses."""
    leases = [lease for lease in list_leases(lease_dir, pool) if lease['octet'] in pool and lease['taken']]
    taken = set(lease['octet'] for lease in leases)
    holders = collections.OrderedDict()
    unreadable = []
    for lease in leases:
        if lease['owner'] is None:
            unreadable.append('%s %s' % (lease['path'], lease['problem']))
        else:
            holders.setdefault(lease['owner'], []).append(str(lease['octet']))
    parts = []
    if holders:
        parts.append('held by %s' % '; '.join(
            ['%s: %s' % (owner, ', '.join(octets)) for owner, octets in list(holders.items())[:10]]
            + (['and %d more owners' % (len(holders) - 10)] if len(holders) > 10 else [])))
    if unreadable:
        parts.append('unreadable lease files, counted as taken (fix or remove them): %s' % _some(unreadable))
    used = ['%s (%s)' % (pool.cidr(octet), ', '.join(what)) for octet, what in busy.items() if octet not in taken]
    if used:
        parts.append('in use on this host: %s' % _some(used))
    return LeaseError('no free subnet in pool %s: all %d subnets are leased%s (%d lease files in %s); %s'
                      % (pool, pool.last - pool.first + 1, ' or in use on this host' if used else '',
                         len(leases), lease_dir, '; '.join(parts)))


def _pick(lease_dir, pool, owner, wanted, in_use):
    """(octet, already held by owner) for a wanted octet or the first free/stale one not in use on the host."""
    present = set(_lease_octets(lease_dir))
    if wanted is not None:
        path = lease_path(lease_dir, wanted)
        holder, taken, problem = _lease_state(path) if wanted in present else (None, False, None)
        if _holds(holder, owner):
            return wanted, True
        if holder is None and taken:
            raise LeaseError('subnet %s counts as taken: its lease file %s %s; fix or remove that file'
                             % (pool.cidr(wanted), path, problem))
        if taken:
            raise LeaseError('subnet %s is leased to %s (uuid %s) in %s%s'
                             % (pool.cidr(wanted), holder.path, holder.uuid, lease_dir,
                                ': %s' % problem if problem else ''))
        holders = host_subnets.colliding(in_use(), pool.cidr(wanted))
        if holders:
            raise LeaseError('subnet %s is already in use on this host: %s; ask for another subnet or remove that first'
                             % (pool.cidr(wanted), '; '.join(holders)))
        return wanted, False
    busy, seen = collections.OrderedDict(), None
    for octet in pool.octets():
        if octet in present and _lease_state(lease_path(lease_dir, octet))[1]:
            continue
        seen = in_use() if seen is None else seen
        holders = host_subnets.colliding(seen, pool.cidr(octet))
        if not holders:
            return octet, False
        busy[octet] = holders
    raise _exhausted(lease_dir, pool, busy)


def _lease_result(lease_dir, pool, owner, octet, new):
    net = ipaddress.IPv4Network(pool.cidr(octet))
    return dict(octet=octet, subnet=str(net), gateway=str(net.network_address + 1),
                path=lease_path(lease_dir, octet), owner=owner.path, uuid=owner.uuid, new=new)


def acquire(lease_dir, owner, subnet=None, pool=None, timeout=LOCK_TIMEOUT, dry_run=False,
            conn=None, own=(), host=True, also_in_use=()):
    """Lease a /24 for ``owner`` (an Owner) and return it as a dict.

    ``subnet`` asks for one /24 (see parse_subnet); held by the same owner it
    is simply returned (``new`` False); taken (see list_leases), in use on the
    host or outside the pool it is an error. Without ``subnet`` the first /24
    of ``pool`` that is neither taken nor in use is leased.

    In use: an address or route of this host's kernel that overlaps the /24
    (``host``; see host_subnets.host_in_use) or the subnet of a libvirt network on
    ``conn`` (when given). Entries of the interfaces or libvirt networks
    named in ``own`` (the caller's own network and bridge) do not count.
    ``also_in_use`` (host_subnets.InUse entries) counts too: the routes of
    the other hosts a multi-host prefix spans. ``dry_run`` only says what would be leased.
    Keys: octet, subnet (CIDR), gateway, path, owner, uuid, new.
    """
    owner = Owner(*owner)
    pool = parse_pool(pool)
    wanted = None if subnet is None else parse_subnet(subnet, pool)

    def in_use():
        return host_subnets.subnets_in_use(conn, own, host) + list(also_in_use)
    _check_lease_dir(lease_dir, write=True)  # check mode too: it must predict this failure
    if dry_run:
        with _lease_dir_errors(lease_dir, 'read leases'):
            octet, held = _pick(lease_dir, pool, owner, wanted, in_use)
        return _lease_result(lease_dir, pool, owner, octet, not held)
    with _lease_dir_errors(lease_dir, 'lease a subnet'):
        with _lock(lease_dir, timeout):
            _sweep_temp_files(lease_dir)
            octet, held = _pick(lease_dir, pool, owner, wanted, in_use)
            if not held:
                write_json(lease_path(lease_dir, octet), [owner.path, owner.uuid])
    return _lease_result(lease_dir, pool, owner, octet, not held)


def release_all(lease_dir, owner, pool=None, timeout=LOCK_TIMEOUT):
    """Remove every lease ``owner`` holds in ``lease_dir``; the subnets released, sorted.

    For destroy and re-init: a run killed between leasing a subnet and
    recording it (in the prefix's state.json) leaves a lease only this finds.
    Leases of anyone else, and lease files that cannot be read, stay.
    ``pool`` only spells the subnets (its base; the default pool's without one).
    """
    owner = Owner(*owner)
    pool = parse_pool(pool)
    if not os.path.isdir(lease_dir):
        return []  # missing, or a file (an init refused for that rolls back through here): it holds no lease
    _check_lease_dir(lease_dir, write=True)
    released = []
    with _lease_dir_errors(lease_dir, 'release the leases of %s' % owner.path):
        with _lock(lease_dir, timeout):
            for octet in _lease_octets(lease_dir):
                path = lease_path(lease_dir, octet)
                if _holds(_read_lease(path)[0], owner) and remove_path(path):
                    released.append(pool.cidr(octet))
    return released


def release(lease_dir, owner, subnet, timeout=LOCK_TIMEOUT):
    """Remove the lease of ``subnet`` if ``owner`` holds it; True when a lease was removed.

    A lease held by anyone else (alive or stale) is left alone. The pool does
    not matter here: the owner check alone decides.
    """
    octet = subnet_octet(subnet)[1]
    path = lease_path(lease_dir, octet)
    if not os.path.exists(path):
        return False
    _check_lease_dir(lease_dir, write=True)
    with _lease_dir_errors(lease_dir, 'release %s' % subnet):
        with _lock(lease_dir, timeout):
            if not _holds(_read_lease(path)[0], Owner(*owner)):
                return False
            return remove_path(path)
