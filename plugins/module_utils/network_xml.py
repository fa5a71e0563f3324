# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt network XML from a network description, and back (see network.py for descriptions).

Also the XML of the live DHCP and DNS host updates (``host_updates``), so
that every piece of network XML is built in one place, with lxml.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress

try:
    from lxml import etree
except ImportError:  # reported by the modules (_runtime.missing_libraries)
    etree = None


def by_address(hosts):
    """Host entries sorted by address (an entry without one first)."""
    return sorted(hosts, key=lambda host: ipaddress.IPv4Address(host['ip'] or 0))


def _sub(parent, tag, text=None, **attrs):
    node = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        node.text = text
    return node


def _by_ip(records):
    """{hostname: ip} as [(ip, [hostnames])] sorted by address."""
    grouped = {}
    for hostname, ip in records.items():
        grouped.setdefault(ip, []).append(hostname)
    return [(ip, sorted(grouped[ip])) for ip in sorted(grouped, key=ipaddress.IPv4Address)]


def _dns_host_xml(parent, ip, names):
    node = _sub(parent, 'host', ip=ip)
    for hostname in names:
        _sub(node, 'hostname', hostname)
    return node


def _dhcp_host_xml(parent, host):
    return _sub(parent, 'host', mac=host['mac'], name=host.get('name'), ip=host['ip'])


def _dns_xml(root, desc):
    if not desc['dns']:
        _sub(root, 'dns', enable='no')
        return
    if desc['dns_domain']:
        _sub(root, 'domain', name=desc['dns_domain'], localOnly='yes')
    if desc['dns_hosts']:
        dns = _sub(root, 'dns')
        for ip, names in _by_ip(desc['dns_hosts']):
            _dns_host_xml(dns, ip, names)


def build_xml(desc, uuid=None):
    """libvirt network XML (a str) for a description; ``uuid`` keeps an existing network's."""
    root = etree.Element('network')
    _sub(root, 'name', desc['name'])
    if uuid:
        _sub(root, 'uuid', uuid)
    if desc['type'] == 'nat':
        _sub(root, 'forward', mode='nat')
    # No spanning tree: a lab net is one bridge (joined to others by one vxlan port at most, see vxlan.py), so
    # it has no loop to break, and with STP on the kernel holds each new port 2 x 2 s (its least forward delay)
    # in listening and learning: a resumed VM would be cut off for 4 s, a booted one for its first 4 s.
    _sub(root, 'bridge', name=desc['bridge'], stp='off', delay='0')
    if desc['mtu']:
        _sub(root, 'mtu', size=desc['mtu'])
    _dns_xml(root, desc)
    if desc['subnet']:
        net = ipaddress.IPv4Network(desc['subnet'])
        ip = _sub(root, 'ip', address=desc['gateway'], prefix=net.prefixlen)
        if desc['dhcp'] or desc['hosts']:
            dhcp = _sub(ip, 'dhcp')
            if desc['dhcp']:
                _sub(dhcp, 'range', start=desc['dhcp']['start'], end=desc['dhcp']['end'])
            for host in desc['hosts']:
                _dhcp_host_xml(dhcp, host)
    return etree.tostring(root, pretty_print=True, encoding='unicode')


def _ipv4(root):
    for node in root.findall('ip'):
        if node.get('family', 'ipv4') == 'ipv4' and node.get('address'):
            return node
    return None


def _parse_ip(root, desc):
    node = _ipv4(root)
    if node is None:
        return
    mask = node.get('prefix') or node.get('netmask') or '24'
    net = ipaddress.IPv4Interface('%s/%s' % (node.get('address'), mask)).network
    desc.update(subnet=str(net), gateway=node.get('address'))
    rng = node.find('dhcp/range')
    if rng is not None:
        desc['dhcp'] = dict(start=rng.get('start'), end=rng.get('end'))
    hosts = [dict(mac=(h.get('mac') or '').lower(), ip=h.get('ip'), name=h.get('name'))
             for h in node.findall('dhcp/host')]
    desc['hosts'] = by_address(hosts)


def _parse_type(root, has_ip):
    forward = root.find('forward')
    if forward is None:
        return 'isolated' if has_ip else 'bridge'
    mode = forward.get('mode', 'nat')
    return 'nat' if mode == 'nat' else 'forward-%s' % mode


def parse_xml(xml):
    """The description of libvirt's network XML (the inverse of build_xml)."""
    root = etree.fromstring(xml.encode('utf-8') if isinstance(xml, str) else xml)
    bridge = root.find('bridge')
    mtu = root.find('mtu')
    domain = root.find('domain')
    dns = root.find('dns')
    desc = dict(name=root.findtext('name'), bridge=bridge.get('name') if bridge is not None else None,
                type=None, subnet=None, gateway=None, dhcp=None, hosts=[],
                dns=dns is None or dns.get('enable', 'yes') == 'yes',
                dns_domain=domain.get('name') if domain is not None else None,
                dns_hosts={}, mtu=int(mtu.get('size')) if mtu is not None else None)
    _parse_ip(root, desc)
    desc['type'] = _parse_type(root, desc['subnet'] is not None)
    if desc['type'] == 'bridge':
        desc['dns'] = False  # no address, so no DNS server whatever the XML says
    for host in (dns.findall('host') if dns is not None else []):
        for hostname in host.findall('hostname'):
            if hostname.text:
                desc['dns_hosts'][hostname.text] = host.get('ip')
    return desc


# --- live updates of DHCP and DNS host entries ------------------------------

def _xml_of(builder, *args):
    holder = etree.Element('holder')
    return etree.tostring(builder(holder, *args), encoding='unicode')


def host_updates(before, after):
    """The virNetworkUpdate calls that turn ``before``'s host entries into ``after``'s.

    A list of (command, section, xml) with command in delete|modify|add-last
    and section in ip-dhcp-host|dns-host: deletions first so that an address
    freed by one entry can be taken by another.
    """
    old = {host['mac']: host for host in before['hosts']}
    new = {host['mac']: host for host in after['hosts']}
    calls = [('delete', 'ip-dhcp-host', _xml_of(_dhcp_host_xml, old[mac]))
             for mac in sorted(old) if mac not in new]
    calls += [('modify', 'ip-dhcp-host', _xml_of(_dhcp_host_xml, new[mac]))
              for mac in sorted(new) if mac in old and old[mac] != new[mac]]
    calls += [('add-last', 'ip-dhcp-host', _xml_of(_dhcp_host_xml, new[mac]))
              for mac in sorted(new) if mac not in old]
    old_dns, new_dns = dict(_by_ip(before['dns_hosts'])), dict(_by_ip(after['dns_hosts']))
    calls += [('delete', 'dns-host', _xml_of(_dns_host_xml, ip, names))
              for ip, names in sorted(old_dns.items()) if new_dns.get(ip) != names]
    calls += [('add-last', 'dns-host', _xml_of(_dns_host_xml, ip, names))
              for ip, names in sorted(new_dns.items()) if old_dns.get(ip) != names]
    return calls
