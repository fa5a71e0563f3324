# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt networks from a plain description, and back.

A *description* is a plain dict (what ``describe`` returns and
``network_xml.parse_xml`` reads back from libvirt), so "wanted versus
actual" is a dict comparison::

    name        libvirt network name (carries the owner's short id)
    bridge      Linux bridge name (at most 15 characters)
    type        nat | isolated | bridge
    subnet      'A.B.C.0/24' (None for type bridge)
    gateway     the host's address on the bridge, always the subnet's .1
    dhcp        {'start': ip, 'end': ip} or None (no dynamic range)
    hosts       [{'mac', 'ip', 'name'}] static DHCP reservations, sorted by ip
    dns         False turns libvirt's DNS server off for the network
    dns_domain  local DNS domain (answered by the network, never forwarded)
    dns_hosts   {hostname: ip} DNS host records
    mtu         int or None (libvirt's default)

Types: ``nat`` forwards to the host's routes with NAT; ``isolated`` has the
gateway address, DHCP and DNS but no forward; ``bridge`` is Lago's bridge
network: a plain layer-2 bridge libvirt creates and owns, with no address on
the host, no DHCP and no DNS (guests configure their own addresses).
Attaching to an existing host bridge is not what ``bridge`` means here.

DHCP and DNS host entries of a running network change live through
``virNetworkUpdate``; every other change redefines the network and, when it
is running, restarts it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

from ansible_collections.lago.lago.plugins.module_utils.errors import NetworkError, SpecError
from ansible_collections.lago.lago.plugins.module_utils import libvirt_conn, network_xml, values
from ansible_collections.lago.lago.plugins.module_utils.rollback import Rollback
from ansible_collections.lago.lago.plugins.module_utils.values import HOSTNAME_RE, MAC_RE, check_bridge_name

TYPES = ('nat', 'isolated', 'bridge')
STATES = ('present', 'started', 'stopped')
# Parts of a description libvirt can change on a running network.
LIVE_KEYS = ('hosts', 'dns_hosts')


# --- names and addresses (the rules are in values.py) -------------------------

# For lago_network and prefix_build, which name these through this module.
short_id = values.short_id
derive_names = values.derive_names
mac_for_ip = values.mac_for_ip

# --- descriptions ------------------------------------------------------------

_UNLEASED = values.UNLEASED


def _address(value, net, where):
    """The address ``value`` (a last octet or a full address) names inside ``net``."""
    return values.host_address(value, net, where)


def _subnet(subnet):
    return values.subnet(subnet)


def _dhcp(dhcp, net):
    if not dhcp:
        return None
    start, end = values.dhcp_range(dhcp, net, 'dhcp')
    return dict(start=str(start), end=str(end))


def _unique(seen, value, where):
    if value in seen:
        raise SpecError('%s %s is used twice (%s and %s)' % (where, value, seen[value], where.split('.')[0]))
    seen[value] = where.split('.')[0]


def _hosts(hosts, net):
    """Static DHCP reservations, checked: MAC and IP valid, in the subnet, each used once."""
    result, macs, ips, names = [], {}, {}, {}
    for index, host in enumerate(hosts or []):
        where = 'hosts[%d]' % index
        if not isinstance(host, dict) or not host.get('mac') or host.get('ip') in (None, ''):
            raise SpecError('%s needs mac and ip' % where)
        unknown = set(host) - {'mac', 'ip', 'name'}
        if unknown:
            raise SpecError('%s has unknown keys: %s' % (where, ', '.join(sorted(unknown))))
        mac = str(host['mac']).strip().lower()
        if not MAC_RE.match(mac):
            raise SpecError('%s.mac %r is not a MAC address' % (where, host['mac']))
        ip = _address(host['ip'], net, where + '.ip')
        name = host.get('name')
        if name is not None and not HOSTNAME_RE.match(str(name)):
            raise SpecError('%s.name %r is not a valid host name' % (where, name))
        _unique(macs, mac, where + '.mac')
        _unique(ips, ip, where + '.ip')
        if name is not None:
            _unique(names, name, where + '.name')
        result.append(dict(mac=mac, ip=str(ip), name=name))
    return network_xml.by_address(result)


def _dns_hosts(records, net):
    result = {}
    for hostname, ip in sorted((records or {}).items()):
        if not HOSTNAME_RE.match(str(hostname)):
            raise SpecError('dns_hosts: %r is not a valid host name' % hostname)
        result[str(hostname)] = str(_address(ip, net, 'dns_hosts.%s' % hostname))
    return result


def _check_type(net_type):
    if net_type not in TYPES:
        raise SpecError('type %r is unknown: use one of %s' % (net_type, ', '.join(TYPES)))


def _bridge_only(net_type, options):
    """A bridge network carries no address: refuse options that would need one."""
    given = sorted(key for key, value in options.items() if value)
    if given:
        raise SpecError('type %s has no IP configuration; remove %s' % (net_type, ', '.join(given)))


def _mtu(mtu):
    if mtu is None:
        return None
    if not 68 <= int(mtu) <= 65535:
        raise SpecError('mtu %s is out of range (68 to 65535)' % mtu)
    return int(mtu)


def describe(name, bridge, net_type='nat', subnet=None, dhcp=None, hosts=None, dns=True,
             dns_domain=None, dns_hosts=None, mtu=None):
    """Validate a wanted network and return its description (see the module doc).

    Addresses in ``dhcp``, ``hosts`` and ``dns_hosts`` are last octets or full
    addresses. Raises SpecError naming the bad option before anything is touched.
    """
    _check_type(net_type)
    if not name or '/' in name:
        raise SpecError('network name %r is not valid: it must be non-empty, without /' % name)
    check_bridge_name(bridge)
    desc = dict(name=name, bridge=bridge, type=net_type, subnet=None, gateway=None, dhcp=None,
                hosts=[], dns=False, dns_domain=None, dns_hosts={}, mtu=_mtu(mtu))
    if net_type == 'bridge':
        _bridge_only(net_type, dict(subnet=subnet, dhcp=dhcp, hosts=hosts,
                                    dns_domain=dns_domain, dns_hosts=dns_hosts))
        return desc
    if subnet is None:
        raise SpecError('type %s needs a subnet' % net_type)
    net = subnet if subnet is _UNLEASED else _subnet(subnet)
    if not dns and (dns_domain or dns_hosts):
        raise SpecError('dns_domain and dns_hosts need dns enabled')
    if dns_domain is not None and not HOSTNAME_RE.match(dns_domain):
        raise SpecError('dns_domain %r is not a valid domain name' % dns_domain)
    desc.update(subnet=str(net), gateway=str(net.network_address + 1), dhcp=_dhcp(dhcp, net),
                hosts=_hosts(hosts, net), dns=bool(dns), dns_domain=dns_domain or None,
                dns_hosts=_dns_hosts(dns_hosts, net))
    return desc


def check(**spec):
    """Validate ``spec`` (describe's arguments) before a subnet is leased.

    Without a subnet, addresses must be last octets: they are checked against
    a stand-in /24, which is exact for octets.
    """
    if spec.get('net_type', 'nat') != 'bridge':
        spec['subnet'] = spec.get('subnet') or _UNLEASED
    describe(**spec)


# --- live updates of DHCP and DNS host entries ------------------------------

def _update_args(command, section):
    lv = libvirt_conn.libvirt
    commands = {'delete': lv.VIR_NETWORK_UPDATE_COMMAND_DELETE,
                'modify': lv.VIR_NETWORK_UPDATE_COMMAND_MODIFY,
                'add-last': lv.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST}
    sections = {'ip-dhcp-host': lv.VIR_NETWORK_SECTION_IP_DHCP_HOST,
                'dns-host': lv.VIR_NETWORK_SECTION_DNS_HOST}
    return commands[command], sections[section]


def apply_updates(net, calls, live=True, config=True):
    """Run network_xml.host_updates() calls on a libvirt network object (no restart)."""
    lv = libvirt_conn.libvirt
    flags = ((lv.VIR_NETWORK_UPDATE_AFFECT_LIVE if live else 0)
             | (lv.VIR_NETWORK_UPDATE_AFFECT_CONFIG if config else 0))
    for command, section, xml in calls:
        cmd, sec = _update_args(command, section)
        _libvirt('cannot %s %s %s on network %s' % (command, section, xml.strip(), net.name()),
                 net.update, cmd, sec, -1, xml, flags)


# --- libvirt -----------------------------------------------------------------

def _libvirt(what, func, *args):
    """Call ``func``; a libvirtError becomes a NetworkError saying ``what`` failed."""
    try:
        return func(*args)
    except libvirt_conn.libvirt.libvirtError as err:
        raise NetworkError('%s: %s' % (what, err.get_error_message()))


def read_network(conn, name):
    """What libvirt has for network ``name``, or None.

    dict(net, uuid, active, persistent, config, live): ``config`` is the
    persistent definition (None for a transient network), ``live`` the
    running one (None when inactive).
    """
    net = libvirt_conn.lookup_network(conn, name)
    if net is None:
        return None

    def read(what, func, *args):
        return _libvirt('cannot read network %s (%s)' % (name, what), func, *args)
    active = bool(read('whether it runs', net.isActive))
    persistent = bool(read('whether it is persistent', net.isPersistent))
    inactive_flag = libvirt_conn.libvirt.VIR_NETWORK_XML_INACTIVE
    return dict(net=net, uuid=read('its uuid', net.UUIDString), active=active, persistent=persistent,
                config=network_xml.parse_xml(read('its definition', net.XMLDesc, inactive_flag)) if persistent else None,
                live=network_xml.parse_xml(read('its running XML', net.XMLDesc, 0)) if active else None)


def _static(desc):
    """A description without what can change live."""
    return {key: value for key, value in (desc or {}).items() if key not in LIVE_KEYS}


def _with_hosts(desc, source):
    """``desc`` with the live-changeable parts of ``source``."""
    merged = dict(desc)
    merged.update({key: source[key] for key in LIVE_KEYS})
    return merged


def plan(current, wanted, state):
    """The steps turning ``current`` (read_network() or None) into ``wanted`` in ``state``.

    Steps: ('define',), ('start',), ('stop',), ('restart',), ('update', calls, config)
    where ``config`` says the update also changes the persistent definition.
    """
    if state not in STATES:
        raise SpecError('state %r is unknown: use one of %s' % (state, ', '.join(STATES)))
    if current is None:
        return [('define',)] + ([('start',)] if state == 'started' else [])
    config, live = current['config'], current['live']
    if not current['active'] or state == 'stopped':
        steps = [('stop',)] if current['active'] else []
        steps += [('define',)] if config != wanted else []
        return steps + ([('start',)] if state == 'started' else [])
    if _static(live) != _static(wanted):
        return [('define',), ('restart',)]
    steps = []
    calls = network_xml.host_updates(live, wanted)
    # The update can change the definition too only when it has the same entries.
    both = config is not None and _with_hosts(config, live) == config
    if calls:
        steps.append(('update', calls, both))
    if config is None or (_with_hosts(config, wanted) if both else config) != wanted:
        steps.append(('define',))
    return steps


def _define(conn, desc, uuid):
    return _libvirt('cannot define network %s' % desc['name'], conn.networkDefineXML,
                    network_xml.build_xml(desc, uuid))


def apply_steps(conn, current, wanted, steps, undo):
    """Carry out plan() ``steps``; a network they define anew is undefined by ``undo`` (a Rollback)."""
    net = current['net'] if current else None
    uuid = current['uuid'] if current else None
    for step in steps:
        if step[0] == 'define':
            created = net is None
            net = _define(conn, wanted, uuid)
            if created:  # before anything else is asked of libvirt: a failure now must undefine it
                undo.push('network %s defined' % wanted['name'], lambda net=net, name=wanted['name']: _forget(net, name))
            uuid = _libvirt('cannot read the uuid of network %s' % wanted['name'], net.UUIDString)
        elif step[0] in ('stop', 'restart'):
            _libvirt('cannot stop network %s' % wanted['name'], net.destroy)
        if step[0] in ('start', 'restart'):
            _libvirt('cannot start network %s' % wanted['name'], net.create)
        elif step[0] == 'update':
            apply_updates(net, step[1], live=True, config=step[2])
    return net


def _forget(net, name):
    """Stop and undefine a network this run defined."""
    if _libvirt('cannot read network %s (whether it runs)' % name, net.isActive):
        _libvirt('cannot stop network %s' % name, net.destroy)
    _libvirt('cannot undefine network %s' % name, net.undefine)


def view(desc, active):
    """A description with its running state, as shown in diffs and results."""
    return dict(desc, active=active) if desc else {}


def actual(current):
    """The description of a read_network() result as it runs (else as defined); None for no network."""
    return (current['live'] or current['config']) if current else None


def views(current, wanted, state):
    """(before, after) view()s of a network going from ``current`` to ``wanted`` in ``state``."""
    was_active = bool(current and current['active'])
    active = state == 'started' or (state == 'present' and was_active)
    return view(actual(current), was_active), view(wanted, active)


def reconcile(conn, wanted, state='present', check_mode=False):
    """Make libvirt's network match the description ``wanted`` in ``state``.

    Returns dict(changed, steps, before, after); before/after are view()s.
    """
    current = read_network(conn, wanted['name'])
    steps = plan(current, wanted, state)
    before, after = views(current, wanted, state)
    if steps and not check_mode:
        with Rollback() as undo:
            apply_steps(conn, current, wanted, steps, undo)
            undo.commit()
    return dict(changed=bool(steps), steps=[step[0] for step in steps], before=before, after=after)


def remove(conn, name, check_mode=False):
    """Stop and undefine network ``name``. Returns dict(changed, before)."""
    current = read_network(conn, name)
    if current is None:
        return dict(changed=False, before={})
    before = view(actual(current), current['active'])
    if not check_mode:
        if current['active']:
            _libvirt('cannot stop network %s' % name, current['net'].destroy)
        if current['persistent']:
            _libvirt('cannot undefine network %s' % name, current['net'].undefine)
    return dict(changed=True, before=before)


def set_host(conn, name, mac, ip, hostname=None):
    """Reserve ``ip`` for ``mac`` on network ``name`` (live when it runs). True if changed.

    For callers that add a VM to an existing network: the entry with the same
    MAC is replaced, the network is not restarted.
    """
    current = read_network(conn, name)
    if current is None:
        raise NetworkError('network %s does not exist' % name)
    running = actual(current)
    hosts = [host for host in running['hosts'] if host['mac'] != mac.lower()]
    hosts.append(dict(mac=mac, ip=ip, name=hostname))
    net = ipaddress.IPv4Network(running['subnet'])
    wanted = dict(running, hosts=_hosts(hosts, net))
    return reconcile(conn, wanted, 'present')['changed']
