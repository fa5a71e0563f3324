# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value rules of the engine, one implementation each: sizes, IPv4
addresses and DHCP ranges, MACs, names (VMs, nets, disks, snapshots, libvirt
objects, bridges), disk device names and remote locations.

Every check raises SpecError whose message starts with the ``place`` the
caller gives (an init-file key such as ``domains.vm01.nics[0].ip``, or an
option such as ``hosts[0].ip``); without a place the message stands alone.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import decimal
import hashlib
import ipaddress
import re

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError


def fail(place, message):
    """Raise SpecError for ``place`` (None: the message alone)."""
    raise SpecError('%s: %s' % (place, message) if place else message)


# --- sizes ---------------------------------------------------------------------

_SIZE_RE = re.compile(r'^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$')
# Binary units as qemu-img reads them: K = 1024; "G", "GB" and "GiB" are the same.
_SIZE_UNITS = {'': 1, 'B': 1}
for _power, _letter in enumerate('KMGTPE', start=1):
    for _suffix in (_letter, _letter + 'B', _letter + 'IB'):
        _SIZE_UNITS[_suffix] = 1024 ** _power
# qemu-img reads a bare number as bytes: a disk this small is surely a forgotten unit.
MIN_DISK_BYTES = 1024 * 1024


def parse_size(value, place='size'):
    """Bytes in ``value``: an int, or a number with a binary unit (``10G``,
    ``512M``, ``1.5T``, ``10GiB``; no unit: bytes). A fraction of a byte is
    rounded up (``0.3K`` is 308)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            fail(place, '%r: a size cannot be negative' % (value,))
        return value
    match = _SIZE_RE.match(value) if isinstance(value, str) else None
    unit = _SIZE_UNITS.get(match.group(2).upper()) if match else None
    if unit is None:
        fail(place, '%r is not a size: give bytes or a number with a K, M, G or T suffix (10G, 512M, 1.5T)'
             % (value,))
    exact = decimal.Decimal(match.group(1)) * unit
    return int(exact.to_integral_value(rounding=decimal.ROUND_CEILING))


def round_up(size, unit):
    """``size`` rounded up to a whole number of ``unit`` (e.g. 512-byte sectors)."""
    return -(-size // unit) * unit


def check_disk_size(size, value, place):
    """The init file's floor on a disk's ``size`` (bytes, parsed from ``value``)."""
    if size < MIN_DISK_BYTES:
        fail(place, '%r is less than 1 MiB; a bare number means bytes, as in qemu-img (write 10G)' % (value,))
    return size


# --- IPv4 addresses and DHCP ranges --------------------------------------------

# The /24 of a net whose subnet is leased later: only last octets mean something in it.
UNLEASED = ipaddress.IPv4Network('0.0.0.0/24')
_OCTET_ROLES = {0: 'the network address', 1: 'the gateway', 255: 'the broadcast address'}


def ipv4(value, place):
    """An IPv4 address written as text."""
    if isinstance(value, str):
        try:
            return ipaddress.IPv4Address(value.strip())
        except ValueError:
            pass
    fail(place, '%r is not an IPv4 address' % (value,))


def subnet(value, place='subnet'):
    """An IPv4 network of at least four addresses (up to /30), e.g. ``192.168.200.0/24``."""
    try:
        net = ipaddress.IPv4Network(str(value))
    except ValueError as err:
        fail(place, '%r is not an IPv4 network: %s' % (value, err))
    if net.prefixlen > 30:
        fail(place, '%s is too small: at most /30' % net)
    return net


def subnet_of_gateway(value, place):
    """The /24 a net's ``gw`` fixes. The gateway of a lab net is always the .1
    of its /24 (the lease and the libvirt network put it there)."""
    address = ipv4(value, place)
    net = ipaddress.IPv4Network('%s/24' % address, strict=False)
    if address != net.network_address + 1:
        fail(place, '%s cannot be the gateway: the gateway of a net is the .1 of its /24 (%s)'
             % (address, net.network_address + 1))
    return net


def _octet_or_address(value, place, octets):
    if isinstance(value, int) and not isinstance(value, bool) and octets:
        return value
    if isinstance(value, str) and value.strip().isdigit() and octets:
        return int(value)
    if isinstance(value, str):
        try:
            return ipaddress.IPv4Address(value.strip())
        except ValueError:
            pass
    fail(place, '%r is not an IPv4 address%s' % (value, ' or a last octet' if octets else ''))


def host_address(value, net, place, move=False, octets=True):
    """The address ``value`` names in ``net`` (an IPv4Network, or UNLEASED).

    ``value`` is a full address or, with ``octets``, a last octet (an offset
    into ``net``). With ``move``, a full address is moved into ``net`` by its
    last octet, as Lago did with static addresses of leased subnets; without
    it, a full address must lie in ``net``, which then cannot be UNLEASED.
    Refused: the network address, the gateway (its .1) and the broadcast address.
    """
    given = _octet_or_address(value, place, octets)
    if isinstance(given, int):
        octet = given
    elif move:
        octet = given.packed[3]
    elif net is UNLEASED:
        fail(place, '%s is a full address but the subnet is leased: give its last octet, or set subnet' % given)
    else:
        octet = None
    if octet is not None:
        if not 0 <= octet <= 255:
            fail(place, '%s is not a last octet: use 2 to 254' % octet)
        if net is UNLEASED and octet in _OCTET_ROLES:
            fail(place, '%s: .%d is %s of the leased subnet; use 2 to 254' % (value, octet, _OCTET_ROLES[octet]))
        given = net.network_address + octet
    if given not in net:
        fail(place, '%s is outside the subnet %s' % (given, net))
    roles = {net.network_address: 'the network address', net.network_address + 1: 'the gateway',
             net.broadcast_address: 'the broadcast address'}
    if given in roles:
        fail(place, '%s is %s of %s' % (given, roles[given], net))
    return given


def dhcp_range(value, net, place, move=False):
    """(start, end) of a DHCP range ``{start, end}`` in ``net``: each end a last
    octet or an address as host_address reads it, start <= end. Neither end
    can be the gateway (the subnet's .1) and start <= end, so the range never
    covers it."""
    if not isinstance(value, dict):
        fail(place, 'must be a mapping {start, end}, not %r' % (value,))
    for key in sorted(set(value) - {'start', 'end'}, key=str):
        fail('%s.%s' % (place, key), 'unknown key: a DHCP range has start and end')
    missing = [key for key in ('start', 'end') if value.get(key) in (None, '')]
    if missing:
        fail(place, 'needs start and end, last octets or addresses (missing: %s)' % ', '.join(missing))
    start = host_address(value['start'], net, place + '.start', move=move)
    end = host_address(value['end'], net, place + '.end', move=move)
    if start > end:
        shown = (('.%d' % start.packed[3], '.%d' % end.packed[3]) if net is UNLEASED else (start, end))
        fail(place, 'the range %s-%s ends before it starts' % shown)
    return start, end


# --- MACs ------------------------------------------------------------------------

MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z')


def mac_for_ip(ip):
    """Lago's MAC for a NIC with address ``ip``: 54:52 followed by the four octets."""
    return '54:52:' + ':'.join('%02x' % octet for octet in ipaddress.IPv4Address(ip).packed)


def mac_without_ip(owner_uuid, vm_name, index):
    """The MAC of NIC ``index`` of a VM on a net without addresses (a bridge net):
    54:53 and four bytes of a hash, stable for the prefix, VM and NIC."""
    digest = hashlib.sha1(('%s/%s/%d' % (owner_uuid, vm_name, index)).encode()).digest()
    return '54:53:' + ':'.join('%02x' % byte for byte in digest[:4])


# --- names -----------------------------------------------------------------------

# An RFC 1123 host label.
HOST_LABEL = r'[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
# \Z, not $: these are also used with match(), and $ would let a trailing newline through.
HOSTNAME_RE = re.compile(r'^(?=.{1,253}\Z)%s(\.%s)*\Z' % (HOST_LABEL, HOST_LABEL))
_VM_NAME_RE = re.compile(HOST_LABEL)
# A net's name goes into its libvirt name and (see derive_names) its bridge name.
_NET_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]{0,62}')
# Disk and snapshot names become parts of file names: a disk's image is
# images/<vm>_<disk>.<format> and its layer of snapshot s is images/<vm>_<disk>.<s>.qcow2
# (prefix_state.Layout). With a "." in either name two of them could be the same file
# (disk "root.s1" and the overlay of disk "root" at snapshot "s1"), so neither takes one.
_DISK_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]{0,63}')
_SNAPSHOT_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_+-]{0,63}')
# A state of a state pool is a directory of its own in the pool: a "." cannot clash there.
_POOL_STATE_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}')
_BRIDGE_RE = re.compile(r'[A-Za-z0-9_.-]+')
BRIDGE_MAX_LEN = 15


def _name(regex, name, place, message):
    if not isinstance(name, str) or not regex.fullmatch(name):
        fail(place, message % (name,))
    return name


def vm_name(name, place=None):
    """A VM's name: its host name inside the DNS domain and part of file names, so no dots."""
    return _name(_VM_NAME_RE, name, place, 'invalid VM name %r: it must be a valid host name (letters, digits '
                                           'and "-", at most 63, not starting or ending with "-")')


def hypervisor_name(name, place=None):
    """A hypervisor's name: the inventory host name the modules run on (a host name, dots allowed)."""
    return _name(HOSTNAME_RE, name, place, 'invalid hypervisor name %r: it must be an inventory host name '
                                           '(letters, digits, "-" and ".")')


def net_name(name, place=None):
    return _name(_NET_NAME_RE, name, place, "net name %r cannot make a valid bridge name: use 1 to 63 letters, "
                                            "digits, '-', '_' or '.', starting with a letter or digit")


def _no_dot(name):
    return ' ("." is refused: images/<vm>_<disk>.<snapshot>.qcow2 would clash)' if isinstance(name, str) and '.' in name else ''


def disk_name(name, place=None):
    """A disk's name: part of its image's and its overlays' file names, so no dots."""
    return _name(_DISK_NAME_RE, name, place, 'invalid disk name %%r: use letters, digits, "_" and "-" '
                                             '(at most 64, starting with a letter or digit)%s' % _no_dot(name))


def snapshot_name(name, what='snapshot', place=None):
    """A snapshot's name: part of the file names of its overlays, so no dots."""
    return _name(_SNAPSHOT_NAME_RE, name, place, 'invalid %s name %%r: use letters, digits, "_", "+" and "-" '
                                                 '(at most 64, starting with a letter or digit)%s' % (what, _no_dot(name)))


def pool_state_name(name, place=None):
    """A state pool's state: a directory of its own in the pool, so dots are fine."""
    return _name(_POOL_STATE_NAME_RE, name, place, 'invalid pool state name %r: use letters, digits, ".", "_", '
                                                   '"+" and "-" (at most 64, starting with a letter or digit)')


def dns_domain(value, place=None):
    """A DNS domain name; a trailing dot is dropped."""
    name = value.rstrip('.') if isinstance(value, str) else value
    if not isinstance(name, str) or not HOSTNAME_RE.match(name):
        fail(place, '%r is not a valid DNS domain name' % (value,))
    return name


def check_bridge_name(bridge, place=None):
    """Linux's rules for an interface name (dev_valid_name), kept to printable ASCII."""
    problem = None
    if not isinstance(bridge, str) or not bridge:
        problem = 'it is empty'
    elif len(bridge) > BRIDGE_MAX_LEN:
        problem = 'it is longer than %d characters' % BRIDGE_MAX_LEN
    elif bridge in ('.', '..'):
        problem = 'it is . or ..'
    elif not _BRIDGE_RE.fullmatch(bridge):
        problem = "only letters, digits, '-', '_' and '.' are allowed"
    if problem:
        fail(place, 'bridge name %r is not valid: %s' % (bridge, problem))
    return bridge


def short_id(owner_uuid):
    """The owner's short id carried by every libvirt name (Lago: uuid[:8])."""
    return owner_uuid[:8]


def libvirt_name(owner_short_id, name):
    """The libvirt name of a prefix's VM or net: ``<short id>-<name>``, as in Lago."""
    return '%s-%s' % (owner_short_id, name)


def derive_names(owner_uuid, name, bridge=None):
    """(libvirt network name, bridge name) for net ``name`` of an owner.

    The bridge gets as much of the libvirt name as fits 15 characters:
    ``<short id[:4]>-<name>``, and for a long name its first letters plus 5
    hex of its hash, so long names that start alike still get different
    bridges. A clash that remains (another interface of that name) makes
    libvirt refuse to start the network.
    """
    net_name(name)
    sid = short_id(owner_uuid)
    if bridge is None:
        bridge = libvirt_name(sid, name)
        if len(bridge) > BRIDGE_MAX_LEN:
            room = BRIDGE_MAX_LEN - 5
            tail = name
            if len(name) > room:
                tail = name[:room - 5] + hashlib.sha1(name.encode('utf-8')).hexdigest()[:5]
            bridge = '%s-%s' % (sid[:4], tail)
    check_bridge_name(bridge)
    return libvirt_name(sid, name), bridge


# --- disk device names -----------------------------------------------------------

_DISK_DEV_RE = re.compile(r'(vd|sd|hd)[a-z]{1,2}')
_LETTERS = 'abcdefghijklmnopqrstuvwxyz'


def disk_dev(value, place=None):
    """A disk's target device: virtio (vd*), SCSI (sd*, as in Lago) or IDE (hd*)."""
    return _name(_DISK_DEV_RE, value, place, '%r is not a disk device name such as vda or sdb')


def next_free_dev(used, place=None):
    """The first of vda..vdz, vdaa..vdzz that is not in ``used``."""
    used = set(used)
    for first in [''] + list(_LETTERS):
        for second in _LETTERS:
            if 'vd' + first + second not in used:
                return 'vd' + first + second
    fail(place, 'no virtio device name is left: vda to vdzz are all used')


# --- locations -------------------------------------------------------------------

REMOTE_LOCATION_RE = re.compile(r'^(?P<host>(?:[^@/:\s]+@)?[^@/:\s]+):(?P<path>.+)$')


def is_remote_location(location):
    """``[user@]host:path`` rather than a local path (which may hold a colon further on)."""
    return not location.startswith(('/', '.', '~', '$')) and bool(REMOTE_LOCATION_RE.match(location))


def location(value, place=None, what='location'):
    """A local path or ``[user@]host:path`` that no command reads as an option.

    A location (or its user, host or remote path) starting with ``-`` would
    reach ssh or rsync as an option (``-oProxyCommand=...:/pool`` runs a
    command), so it is refused here, naming it, before any command runs.
    """
    if not isinstance(value, str) or not value.strip():
        fail(place, '%s must be a path or [user@]host:/path, not %r' % (what, value))
    dash = 'starts with "-", which ssh, rsync and other commands would take for an option'
    if value.startswith('-'):
        fail(place, '%s %r %s; write ./%s for a local directory of that name' % (what, value, dash, value))
    if is_remote_location(value):
        match = REMOTE_LOCATION_RE.match(value)
        host = match.group('host').rpartition('@')[2]
        for part, text in (('host', host), ('path', match.group('path'))):
            if text.startswith('-'):
                fail(place, '%s %r: its %s %r %s' % (what, value, part, text, dash))
    return value
