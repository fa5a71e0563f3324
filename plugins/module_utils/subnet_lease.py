# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""/24 subnet leases shared by every prefix on a host (Lago's scheme, crash-safe).

A lease directory holds one file per leased /24, named by its third octet
(``<N>.lease``) and holding JSON ``[<owner uuid file path>, <uuid>]``, exactly
as Lago wrote them. An owner is a uuid file (a prefix's ``uuid``); a lease is
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
overlaps an address or route of the host (host_in_use) or, given a libvirt
connection, a libvirt network's subnet is in use: skipped when choosing, an
error when asked for. release_all takes back every lease of one owner.

A lease directory hands out third octets: pools with different bases that
share a directory share the octets too (never a double lease, at worst a
subnet left unused). Give each base its own directory to avoid that.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import contextlib
import errno
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import uuid as uuidlib

try:
    from lxml import etree
except ImportError:  # reported by the modules (_runtime.missing_libraries)
    etree = None

from ansible_collections.lago.lago.plugins.module_utils import libvirt_conn
from ansible_collections.lago.lago.plugins.module_utils.errors import LeaseError
from ansible_collections.lago.lago.plugins.module_utils.files import (
    file_lock, read_json, remove_path, write_json)

DEFAULT_LEASE_DIR = '/var/lib/lago/subnets'
DEFAULT_POOL = '192.168.200.0/24-192.168.255.0/24'
LOCK_NAME = 'leases.lock'
LEASE_SUFFIX = '.lease'
LOCK_TIMEOUT = 30.0
UUID_RE = re.compile(r'^[0-9a-f]{32}$')

Owner = collections.namedtuple('Owner', 'path uuid')


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


# --- pools and subnets -------------------------------------------------------

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


# --- owners ------------------------------------------------------------------

def _read_uuid(path):
    """The stripped content of a uuid file, or None when it cannot be read."""
    try:
        with open(path, 'r') as handle:
            return handle.read(256).strip()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def read_owner(uuid_path):
    """The Owner whose uuid file is ``uuid_path``; a clear error when it is missing or bad."""
    path = os.path.abspath(uuid_path)
    value = _read_uuid(path)
    if value is None:
        raise LeaseError('owner uuid file %s does not exist or cannot be read' % path)
    if not UUID_RE.match(value):
        raise LeaseError('owner uuid file %s does not hold a 32-character hex uuid' % path)
    return Owner(path, value)


def _publish_uuid(path, value):
    """Create the uuid file ``path`` holding ``value`` unless it exists; True when we made it.

    The whole file is written under a temporary name and hard-linked into
    place: link() fails when ``path`` exists, so of several processes creating
    one owner at once exactly one wins and the others read its uuid; nobody
    ever sees a half-written file. Filesystems without hard links fall back to
    an O_EXCL create (losers then wait for the winner's content, see ensure_owner).
    """
    directory = os.path.dirname(path)
    data = (value + '\n').encode('ascii')
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.uuid.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
                raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, 'wb') as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _read_winner(path, deadline=2.0):
    """read_owner of a uuid file another process has just created (and may still be writing)."""
    give_up = time.monotonic() + deadline
    while True:
        try:
            return read_owner(path)
        except LeaseError:
            if time.monotonic() >= give_up or _read_uuid(path) not in ('', None):
                raise
        time.sleep(0.01)


def ensure_owner(uuid_path, uuid=None):
    """Read the owner at ``uuid_path``, creating its uuid file first when it is missing.

    Returns (Owner, created). Safe when several processes create the same
    owner at once: exactly one creates the file (``created`` True), every
    other one returns the uuid it wrote.
    """
    path = os.path.abspath(uuid_path)
    if os.path.lexists(path):
        return read_owner(path), False
    value = uuid or uuidlib.uuid4().hex
    if not UUID_RE.match(value):
        raise LeaseError('owner uuid %r is not 32 hex characters' % value)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        created = _publish_uuid(path, value)
    except OSError as err:
        raise LeaseError('cannot create owner uuid file %s: %s' % (path, err.strerror or err))
    if not created:
        return _read_winner(path), False
    return Owner(path, value), True


def standalone_owner(lease_dir, key, create=True):
    """(Owner, created) for something that leases on its own (e.g. a lone network ``key``).

    Its uuid file is ``<lease_dir>/owners/<key>/uuid`` and its uuid is derived
    from the lease directory and ``key``, so it is known before the file
    exists (check mode) and stays the same when the file is recreated.
    """
    lease_dir = os.path.abspath(lease_dir)
    path = os.path.join(lease_dir, 'owners', key, 'uuid')
    value = uuidlib.uuid5(uuidlib.NAMESPACE_URL, 'lago-lease-owner:%s:%s' % (lease_dir, key)).hex
    if create:
        return ensure_owner(path, value)
    return Owner(path, value), False


def remove_owner(owner):
    """Remove an owner's uuid file and its directory when that is left empty."""
    removed = remove_path(owner.path)
    try:
        remove_path(os.path.dirname(owner.path))
    except OSError:
        pass  # the directory holds more than the uuid file: not ours to remove
    return removed


def owner_alive(owner):
    """True while the owner's uuid file exists and still holds its uuid."""
    return owner is not None and _read_uuid(owner.path) == owner.uuid


def _owner_problem(owner):
    """Why ``owner``'s uuid file cannot tell whether it is alive, or None when it can.

    A uuid file that is gone (or whose directory is) means a dead owner; one
    that exists but cannot be read (permissions, I/O error) may well belong to
    a live owner, so its leases count as taken.
    """
    try:
        with open(owner.path, 'rb') as handle:
            handle.read(256)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (IOError, OSError) as err:
        return 'its owner file %s cannot be read (%s)' % (owner.path, err.strerror or err)
    return None


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
    problem = _owner_problem(holder)
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


# --- subnets the host already uses --------------------------------------------

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


def _in_use(conn, own, host):
    """The InUse entries that count: host (when ``host``) and ``conn``'s, minus those named in ``own``."""
    found = (host_in_use() if host else []) + (libvirt_in_use(conn) if conn is not None else [])
    own = set(own or ())
    return [entry for entry in found if not own.intersection(entry.names)]


def _colliding(in_use, cidr):
    """The holders (deduplicated, in order) of what in ``in_use`` overlaps the /24 ``cidr``."""
    net = ipaddress.IPv4Network(cidr)
    holders = []
    for entry in in_use:
        if entry.network.overlaps(net) and entry.holder not in holders:
            holders.append(entry.holder)
    return holders


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
        holders = _colliding(in_use(), pool.cidr(wanted))
        if holders:
            raise LeaseError('subnet %s is already in use on this host: %s; ask for another subnet or remove that first'
                             % (pool.cidr(wanted), '; '.join(holders)))
        return wanted, False
    busy, seen = collections.OrderedDict(), None
    for octet in pool.octets():
        if octet in present and _lease_state(lease_path(lease_dir, octet))[1]:
            continue
        seen = in_use() if seen is None else seen
        holders = _colliding(seen, pool.cidr(octet))
        if not holders:
            return octet, False
        busy[octet] = holders
    raise _exhausted(lease_dir, pool, busy)


def _lease_result(lease_dir, pool, owner, octet, new):
    net = ipaddress.IPv4Network(pool.cidr(octet))
    return dict(octet=octet, subnet=str(net), gateway=str(net.network_address + 1),
                path=lease_path(lease_dir, octet), owner=owner.path, uuid=owner.uuid, new=new)


def acquire(lease_dir, owner, subnet=None, pool=None, timeout=LOCK_TIMEOUT, dry_run=False,
            conn=None, own=(), host=True):
    """Lease a /24 for ``owner`` (an Owner) and return it as a dict.

    ``subnet`` asks for one /24 (see parse_subnet); held by the same owner it
    is simply returned (``new`` False); taken (see list_leases), in use on the
    host or outside the pool it is an error. Without ``subnet`` the first /24
    of ``pool`` that is neither taken nor in use is leased.

    In use: an address or route of this host's kernel that overlaps the /24
    (``host``; see host_in_use) or the subnet of a libvirt network on
    ``conn`` (when given). Entries of the interfaces or libvirt networks
    named in ``own`` (the caller's own network and bridge) do not count.
    ``dry_run`` only says what would be leased.
    Keys: octet, subnet (CIDR), gateway, path, owner, uuid, new.
    """
    owner = Owner(*owner)
    pool = parse_pool(pool)
    wanted = None if subnet is None else parse_subnet(subnet, pool)

    def in_use():
        return _in_use(conn, own, host)
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
    if not os.path.lexists(lease_dir):
        return []
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
