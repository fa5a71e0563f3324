# -*- coding: utf-8 -*-
# Copyright: lago.lago developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The init file (LagoInitFile): read it, validate it, normalize it, diff two of them.

``load_init_file`` reads YAML (safe loader: anchors and ``<<:`` merge keys
work) or JSON, as Lago did, and returns the normalized spec: a plain,
JSON-serializable dict with every default filled in, so that it can be saved
as ``spec.json`` and compared between runs. ``normalize_spec`` does the same
for a dict (the module's ``spec`` option). ``spec_diff`` tells what changed.

Every problem raises SpecError with a message that starts with the place of
the offending key, e.g. ``domains.vm01.nics[1].net: unknown net 'lan2'``.
docs/INIT_FILE.md lists every key and what this module decided for it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import ipaddress
import json
import os
import re
from decimal import Decimal

try:
    import yaml
    _SafeLoader = yaml.SafeLoader
except ImportError:  # reported by the modules (common.require_libraries)
    yaml = None
    _SafeLoader = object

from ansible_collections.lago.lago.plugins.module_utils.errors import SpecError

DEFAULT_MEMORY_MIB = 1024
DEFAULT_VCPU = 1
DEFAULT_VM_TYPE = 'default'
DEFAULT_SSH_USER = 'root'
DEFAULT_DNS_DOMAIN = 'lago.local'
DEFAULT_DHCP = {'start': 100, 'end': 254}
DEFAULT_MTU = 1500
# qemu-img reads a bare number as bytes; a disk this small is surely meant as GiB.
MIN_DISK_BYTES = 1024 * 1024

TOP_KEYS = ('domains', 'nets')
# Lago ignored other top-level keys; files use them to hold YAML anchors.
TOP_ANCHOR_HOLDERS = ('prototypes',)

DOMAIN_KEYS = (
    'memory', 'vcpu', 'cpu_model', 'cpu_custom', 'nics', 'disks', 'metadata',
    'artifacts', 'groups', 'vm-type', 'vm-provider', 'service_provider',
    'root-password', 'ssh-user', 'ssh-password', 'distro', 'bootstrap',
    'boot_time_sec', 'based-on', 'management_net', 'name', 'comment',
)
NIC_KEYS = ('net', 'ip', 'comment')
DISK_KEYS = (
    'type', 'name', 'dev', 'format', 'size', 'path', 'template_name',
    'template_version', 'template_type', 'make_a_copy', 'metadata', 'comment',
)
NET_KEYS = ('type', 'dhcp', 'management', 'gw', 'mtu', 'dns_domain_name', 'name', 'comment')
DHCP_KEYS = ('start', 'end')

_RUNTIME_STATE = "is Lago's run-time state, not part of an init file"
# Keys Lago knew that this collection refuses, with the reason.
REJECTED_KEYS = {
    'domain': {
        'type': "Lago's OVA import (type: ova) is not supported",
        'url': "Lago's OVA import (url) is not supported",
        'service_class': 'was deprecated by Lago; use service_provider',
        'snapshots': _RUNTIME_STATE,
        'mgmt_net': _RUNTIME_STATE + ' (the management net is chosen from nets)',
    },
    'nic': {
        'mtu': 'set mtu on the net, not on the NIC',
    },
    'disk': {
        'build': "Lago's build step (virt-customize) is not supported; use metadata.deploy-scripts",
        'url': 'downloading disks is not supported; give a local path',
        'skip-export': "Lago's export is not supported",
    },
    'net': {
        'main_dns': 'is not supported; DNS is served on the management net',
        'mapping': _RUNTIME_STATE,
        'dns_records': _RUNTIME_STATE,
        'dns_forward': _RUNTIME_STATE,
    },
}

DISK_TYPES = ('template', 'empty', 'file')
DISK_FORMATS = ('qcow2', 'raw', 'iso')
TEMPLATE_TYPES = ('lago', 'qcow2', 'pool')
NET_TYPES = ('nat', 'bridge')
SUPPORTED_VM_PROVIDER = 'local-libvirt'
PATH_VARIABLES = ('LAGO_PREFIX_PATH', 'LAGO_INITFILE_PATH', 'LAGO_WORKDIR_PATH')

# RFC 1123 host label; dots are refused too: the VM name is its host name
# inside dns_domain_name and part of disk file names.
VM_NAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
NET_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
REMOTE_LOCATION_RE = re.compile(r'^(?P<host>(?:[^@/:\s]+@)?[^@/:\s]+):(?P<path>.+)$')
POOL_DISK_RE = re.compile(r'^[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?$')
DISK_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
DISK_DEV_RE = re.compile(r'^(vd|sd|hd)[a-z]{1,2}$')
DNS_LABEL_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
SIZE_RE = re.compile(r'^(\d+(?:\.\d+)?)\s*([bkmgtpe]?)$', re.IGNORECASE)
SIZE_UNITS = {'': 0, 'b': 0, 'k': 1, 'm': 2, 'g': 3, 't': 4, 'p': 5, 'e': 6}
VARIABLE_RE = re.compile(r'\$(\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))')
MAX_NESTING = 64


# ---------------------------------------------------------------------------
# Reading the file

class _InitFileLoader(_SafeLoader):
    """The safe loader, plus: duplicate keys are errors, anchored nodes are remembered."""

    def __init__(self, stream):
        super(_InitFileLoader, self).__init__(stream)
        self.anchored_nodes = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        anchor = None if isinstance(event, yaml.AliasEvent) else event.anchor
        node = super(_InitFileLoader, self).compose_node(parent, index)
        if anchor is not None:
            self.anchored_nodes.add(id(node))
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicate_keys(node)
        return super(_InitFileLoader, self).construct_mapping(node, deep=deep)


def _refuse_duplicate_keys(node):
    # PyYAML silently keeps the last of two equal keys (a VM would vanish);
    # keys brought in by a '<<:' merge may be overridden, so they do not count.
    seen = {}
    for key_node, _value in node.value:
        if key_node.tag == 'tag:yaml.org,2002:merge' or not isinstance(key_node, yaml.ScalarNode):
            continue
        if key_node.value in seen:
            raise yaml.constructor.ConstructorError(
                'while constructing a mapping', node.start_mark,
                'found duplicate key %r (first at line %d)' % (key_node.value, seen[key_node.value] + 1),
                key_node.start_mark)
        seen[key_node.value] = key_node.start_mark.line


def _json_object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError('duplicate key %r' % key)
        result[key] = value
    return result


def _parse_json(text, path):
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        raise SpecError('%s: not valid JSON (line %d, column %d): %s' % (path, err.lineno, err.colno, err.msg))
    except ValueError as err:
        raise SpecError('%s: not valid JSON: %s' % (path, err))


def _parse_yaml(text, path):
    """Parse YAML; returns the data without top-level anchor holders."""
    loader = _InitFileLoader(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = ' (line %d, column %d)' % (mark.line + 1, mark.column + 1) if mark else ''
        raise SpecError('%s: not valid YAML%s: %s' % (path, where, err.problem or err.context))
    except yaml.YAMLError as err:
        raise SpecError('%s: not valid YAML: %s' % (path, err))
    finally:
        loader.dispose()
    if isinstance(data, dict) and isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            key = key_node.value
            if key not in TOP_KEYS and id(value_node) in loader.anchored_nodes:
                data.pop(key, None)
    return data


def read_init_file(path):
    """The raw content of an init file as a dict (not yet normalized).

    JSON is tried first, as Lago did; a file that does not look like JSON is
    read as YAML. Top-level keys other than domains/nets whose value carries a
    YAML anchor (``vm-common: &vm-common``) only hold shared settings and are
    dropped; any other extra top-level key is left for normalize_spec to refuse.
    """
    try:
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except (IOError, OSError) as err:
        raise SpecError('cannot read init file %s: %s' % (path, err.strerror or err))
    except UnicodeDecodeError as err:
        raise SpecError('%s: not UTF-8 text (byte %d)' % (path, err.start))
    if text.lstrip().startswith('{'):
        try:
            data = _parse_json(text, path)
        except SpecError as json_error:
            # A YAML flow mapping also starts with '{'; the JSON error is the useful one.
            try:
                data = _parse_yaml(text, path)
            except SpecError:
                raise json_error from None
    else:
        data = _parse_yaml(text, path)
    if data is None:
        raise SpecError('%s: the init file is empty; it needs domains: and nets:' % path)
    if not isinstance(data, dict):
        raise SpecError('%s: the init file must be a mapping with domains: and nets:, not a %s'
                        % (path, _type_name(data)))
    return data


def load_init_file(path, prefix_path=None):
    """Read, validate and normalize the init file at ``path``.

    Relative paths and $LAGO_INITFILE_PATH mean the file's directory;
    $LAGO_PREFIX_PATH means ``prefix_path``. Errors name the file.
    """
    path = os.path.abspath(path)
    raw = read_init_file(path)
    try:
        return normalize_spec(raw, base_dir=os.path.dirname(path), prefix_path=prefix_path)
    except SpecError as err:
        raise SpecError('%s: %s' % (path, err))


# ---------------------------------------------------------------------------
# Values

def _fail(place, message):
    raise SpecError('%s: %s' % (place, message))


def _type_name(value):
    names = {dict: 'mapping', list: 'list', str: 'string', bool: 'boolean', int: 'integer', float: 'number',
             type(None): 'null'}
    return names.get(type(value), type(value).__name__)


def _mapping(value, place):
    if not isinstance(value, dict):
        _fail(place, 'must be a mapping, not a %s' % _type_name(value))
    for key in value:
        if not isinstance(key, str):
            _fail(place, 'keys must be strings, not %s %r' % (_type_name(key), key))
    # A key written without a value (YAML 'key:') means "not set".
    return dict((key, item) for key, item in value.items() if item is not None)


def _check_keys(mapping, place, known, kind):
    for key in sorted(mapping):
        if key in known:
            continue
        reason = REJECTED_KEYS.get(kind, {}).get(key)
        if reason:
            _fail('%s.%s' % (place, key), reason)
        close = difflib.get_close_matches(key, known, n=1)
        _fail('%s.%s' % (place, key), 'unknown key' + (" (did you mean '%s'?)" % close[0] if close else ''))


def _integer(value, place, low=None, high=None):
    """An int; digit strings ("1024") count too, as Lago passed them through."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(place, 'must be an integer, not %r' % (value,))
    if low is not None and value < low or high is not None and value > high:
        bounds = 'at least %s' % low if high is None else 'between %s and %s' % (low, high)
        _fail(place, 'must be %s, not %d' % (bounds, value))
    return value


def _text(value, place, numbers=False):
    """A non-empty string; with ``numbers``, YAML numbers (123456) are turned into text."""
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        _fail(place, 'must be a non-empty string, not %r' % (value,))
    return value


def _boolean(value, place):
    if not isinstance(value, bool):
        _fail(place, 'must be true or false, not %r' % (value,))
    return value


def _text_list(value, place, single=False):
    if single and isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        _fail(place, 'must be a list%s, not a %s' % (' or a string' if single else '', _type_name(value)))
    return [_text(item, '%s[%d]' % (place, index)) for index, item in enumerate(value)]


def _plain(value, place, depth=0):
    """A deep copy of ``value`` made of JSON types only (free-form metadata)."""
    if depth > MAX_NESTING:
        _fail(place, 'nested too deeply (a recursive YAML alias?)')
    if isinstance(value, dict):
        return dict((key, _plain(item, '%s.%s' % (place, key), depth + 1))
                    for key, item in _mapping(value, place).items())
    if isinstance(value, list):
        return [_plain(item, '%s[%d]' % (place, index), depth + 1) for index, item in enumerate(value)]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    _fail(place, 'must be plain data (string, number, boolean, list, mapping), not %s %r'
          % (type(value).__name__, value))


def _size_bytes(value, place):
    """A disk size in bytes, read as qemu-img reads it (10G, 512M, 1.5T, or bytes)."""
    if isinstance(value, bool):
        _fail(place, 'must be a size such as 10G, not %r' % (value,))
    match = SIZE_RE.fullmatch(str(value).strip()) if isinstance(value, (str, int)) else None
    if not match:
        _fail(place, 'must be a size such as 10G or 512M (qemu-img units), not %r' % (value,))
    size = Decimal(match.group(1)) * 1024 ** SIZE_UNITS[match.group(2).lower()]
    if size != size.to_integral_value():
        _fail(place, '%r is not a whole number of bytes' % (value,))
    if size < MIN_DISK_BYTES:
        _fail(place, '%r is less than 1 MiB; a bare number means bytes, as in qemu-img (write 10G)' % (value,))
    return int(size)


def _ipv4(value, place):
    try:
        return ipaddress.IPv4Address(_text(value, place))
    except ValueError:
        _fail(place, '%r is not an IPv4 address' % (value,))


def _subnet_of(address):
    return ipaddress.IPv4Network('%s/24' % address, strict=False)


def _dns_domain(value, place):
    name = _text(value, place).rstrip('.')
    if len(name) > 253 or not all(DNS_LABEL_RE.fullmatch(label) for label in name.split('.')):
        _fail(place, '%r is not a valid DNS domain name' % (value,))
    return name


# ---------------------------------------------------------------------------
# Paths

class _Paths(object):
    """Expands Lago's path variables and makes paths absolute against the init file's directory."""

    def __init__(self, base_dir, prefix_path):
        self.base_dir = os.path.abspath(base_dir or os.getcwd())
        prefix = os.path.abspath(prefix_path) if prefix_path else None
        self.variables = {
            'LAGO_INITFILE_PATH': self.base_dir,
            'LAGO_PREFIX_PATH': prefix,
            'LAGO_WORKDIR_PATH': os.path.dirname(prefix) if prefix else None,
        }

    def expand(self, value, place):
        def replace(match):
            name = match.group('braced') or match.group('bare')
            if name not in self.variables:
                _fail(place, '$%s: only %s are expanded in paths (use Ansible templating for the rest)'
                      % (name, ', '.join('$' + known for known in PATH_VARIABLES)))
            if self.variables[name] is None:
                _fail(place, '$%s is used but no prefix path is known' % name)
            return self.variables[name]
        return VARIABLE_RE.sub(replace, value)

    def resolve(self, value, place, what='file'):
        """The absolute, normalized path of an existing file."""
        path = os.path.expanduser(self.expand(_text(value, place), place))
        path = os.path.normpath(os.path.join(self.base_dir, path))
        if not os.path.isfile(path):
            _fail(place, '%s %s %s' % (what, path, 'is not a file' if os.path.exists(path) else 'does not exist'))
        return path


# ---------------------------------------------------------------------------
# Nets

def _normalize_net(name, raw, place):
    if not NET_NAME_RE.fullmatch(name):
        _fail(place, 'invalid net name %r: use letters, digits, ".", "_" and "-" (at most 64)' % name)
    raw = _mapping(raw, place)
    _check_keys(raw, place, NET_KEYS, 'net')
    _check_own_name(raw, name, place)
    net_type = raw.get('type', 'nat')
    if net_type not in NET_TYPES:
        _fail(place + '.type', 'must be one of %s, not %r' % (', '.join(NET_TYPES), net_type))
    net = {
        'type': net_type,
        'management': _boolean(raw.get('management', False), place + '.management'),
        'mtu': _integer(raw.get('mtu', DEFAULT_MTU), place + '.mtu', 68, 65535),
    }
    if net_type == 'bridge':
        # Lago's bridge nets are plain L2 bridges: no address, no DHCP, no DNS.
        for key in ('gw', 'dhcp', 'dns_domain_name'):
            if key in raw:
                _fail('%s.%s' % (place, key), 'a bridge net has no addresses; only nat nets take %s' % key)
        return net
    net['gw'] = _gateway(raw['gw'], place + '.gw') if 'gw' in raw else None
    net['dhcp'] = _dhcp(raw.get('dhcp', DEFAULT_DHCP), place + '.dhcp', net['gw'])
    if 'dns_domain_name' in raw:
        net['dns_domain_name'] = _dns_domain(raw['dns_domain_name'], place + '.dns_domain_name')
    return net


def _check_own_name(raw, name, place):
    # Lago's own dumps carry the name inside; harmless when it agrees.
    if 'name' in raw and raw['name'] != name:
        _fail(place + '.name', '%r differs from the key %r' % (raw['name'], name))


def _gateway(value, place):
    address = _ipv4(value, place)
    if not 1 <= address.packed[3] <= 254:
        _fail(place, '%s cannot be a gateway: its last octet must be 1 to 254' % address)
    return str(address)


def _dhcp(value, place, gateway):
    raw = _mapping(value, place)
    _check_keys(raw, place, DHCP_KEYS, 'dhcp')
    for key in DHCP_KEYS:
        if key not in raw:
            _fail(place, 'needs both start and end (last octets, e.g. start: 100, end: 254)')
    start = _integer(raw['start'], place + '.start', 2, 254)
    end = _integer(raw['end'], place + '.end', 2, 254)
    if start > end:
        _fail(place, 'start %d is after end %d' % (start, end))
    if gateway and start <= ipaddress.IPv4Address(gateway).packed[3] <= end:
        _fail(place, 'the range %d-%d contains the gateway %s' % (start, end, gateway))
    return {'start': start, 'end': end}


def _normalize_nets(raw_nets):
    raw_nets = _mapping(raw_nets, 'nets')
    if not raw_nets:
        _fail('nets', 'at least one net is needed')
    nets = dict((name, _normalize_net(name, raw_nets[name], 'nets.%s' % name)) for name in sorted(raw_nets))
    management = _management_net(nets)
    nets[management]['management'] = True
    nets[management].setdefault('dns_domain_name', DEFAULT_DNS_DOMAIN)
    for name, net in nets.items():
        if name != management and 'dns_domain_name' in net:
            _fail('nets.%s.dns_domain_name' % name, 'DNS is served only on the management net (%s)' % management)
    _refuse_shared_subnets(nets)
    return nets, management


def _management_net(nets):
    """The one management net: the one marked, else the first by name (as Lago did)."""
    marked = [name for name in sorted(nets) if nets[name]['management']]
    if len(marked) > 1:
        _fail('nets', 'more than one net is marked management: %s; mark exactly one' % ', '.join(marked))
    name = marked[0] if marked else sorted(nets)[0]
    if nets[name]['type'] != 'nat':
        why = '' if marked else ' (the first net by name, as none is marked management: true)'
        _fail('nets.%s' % name, 'the management net%s must be a nat net: VMs are reached through it' % why)
    return name


def _refuse_shared_subnets(nets):
    owners = {}
    for name in sorted(nets):
        gateway = nets[name].get('gw')
        if not gateway:
            continue
        subnet = str(_subnet_of(gateway))
        if subnet in owners:
            _fail('nets.%s.gw' % name, 'subnet %s is already used by net %s' % (subnet, owners[subnet]))
        owners[subnet] = name


# ---------------------------------------------------------------------------
# Domains

def _apply_prototype(raw, place):
    """Lago's 'based-on': keys the VM does not set are taken from that mapping."""
    if 'based-on' not in raw:
        return raw
    prototype = _mapping(raw.pop('based-on'), place + '.based-on')
    if 'based-on' in prototype:
        _fail(place + '.based-on.based-on', 'a prototype cannot itself be based on another one')
    merged = dict(prototype)
    merged.update(raw)
    return merged


def _normalize_domain(name, raw, place, nets, management, paths):
    if not VM_NAME_RE.fullmatch(name):
        _fail(place, 'invalid VM name %r: it must be a valid host name (letters, digits and "-", '
                     'at most 63, not starting or ending with "-")' % name)
    raw = _apply_prototype(_mapping(raw, place), place)
    _check_keys(raw, place, DOMAIN_KEYS, 'domain')
    _check_own_name(raw, name, place)
    _check_vm_provider(raw, place)
    domain = {
        'memory': _integer(raw.get('memory', DEFAULT_MEMORY_MIB), place + '.memory', 1),
        'vcpu': _integer(raw.get('vcpu', DEFAULT_VCPU), place + '.vcpu', 1),
        'nics': _normalize_nics(raw.get('nics'), place + '.nics', nets),
    }
    domain['management_net'] = _vm_management_net(domain['nics'], raw, place, management)
    domain.update({
        'disks': _normalize_disks(raw.get('disks'), place + '.disks', paths),
        'metadata': _normalize_metadata(raw.get('metadata', {}), place + '.metadata', paths),
        'artifacts': sorted(set(_text_list(raw.get('artifacts', []), place + '.artifacts'))),
        'groups': sorted(set(_text_list(raw.get('groups', []), place + '.groups', single=True))),
        'vm-type': _text(raw.get('vm-type', DEFAULT_VM_TYPE), place + '.vm-type'),
        'ssh-user': _text(raw.get('ssh-user', DEFAULT_SSH_USER), place + '.ssh-user'),
        'bootstrap': _boolean(raw.get('bootstrap', True), place + '.bootstrap'),
    })
    domain.update(_optional_domain_keys(raw, place))
    return domain


def _check_vm_provider(raw, place):
    provider = raw.get('vm-provider', SUPPORTED_VM_PROVIDER)
    if provider != SUPPORTED_VM_PROVIDER:
        _fail(place + '.vm-provider', 'only %s is supported, not %r' % (SUPPORTED_VM_PROVIDER, provider))


def _optional_domain_keys(raw, place):
    """Lago keys kept as given when set; they have no default here."""
    optional = {}
    for key in ('cpu_model', 'distro', 'service_provider'):
        if key in raw:
            optional[key] = _text(raw[key], '%s.%s' % (place, key))
    for key in ('root-password', 'ssh-password'):
        if key in raw:
            optional[key] = _text(raw[key], '%s.%s' % (place, key), numbers=True)
    if 'cpu_custom' in raw:
        if 'cpu_model' in raw:
            _fail(place + '.cpu_custom', 'cpu_model and cpu_custom cannot both be set (as in Lago)')
        optional['cpu_custom'] = _plain(_mapping(raw['cpu_custom'], place + '.cpu_custom'), place + '.cpu_custom')
    if 'boot_time_sec' in raw:
        optional['boot_time_sec'] = _integer(raw['boot_time_sec'], place + '.boot_time_sec', 1)
    return optional


def _required_list(value, place, why, what):
    if value is None:
        _fail(place, why)
    if not isinstance(value, list) or not value:
        _fail(place, 'must be a non-empty list of %s, not %r' % (what, value))
    return value


def _normalize_nics(value, place, nets):
    value = _required_list(value, place, 'a VM needs at least one NIC, on the management net', '{net, ip}')
    return [_normalize_nic(raw, '%s[%d]' % (place, index), nets) for index, raw in enumerate(value)]


def _normalize_nic(raw, place, nets):
    if isinstance(raw, str):
        _fail(place, 'must be a mapping such as {net: %s}, not a string' % raw)
    raw = _mapping(raw, place)
    _check_keys(raw, place, NIC_KEYS, 'nic')
    if 'net' not in raw:
        _fail(place + '.net', 'missing: every NIC names its net')
    net_name = _text(raw['net'], place + '.net')
    if net_name not in nets:
        _fail(place + '.net', 'unknown net %r (nets: %s)' % (net_name, ', '.join(sorted(nets))))
    nic = {'net': net_name, 'ip': None}
    if 'ip' in raw:
        nic['ip'] = _static_ip(raw['ip'], place + '.ip', net_name, nets[net_name])
    return nic


def _static_ip(value, place, net_name, net):
    """Check a static address. Without a gw only the last octet counts (Lago
    moved it into the leased subnet); with a gw it must lie in the gw's /24."""
    if net['type'] != 'nat':
        _fail(place, 'net %s is a bridge net; its NICs get no address' % net_name)
    address = _ipv4(value, place)
    host = address.packed[3]
    gateway = net.get('gw')
    if gateway:
        subnet = _subnet_of(gateway)
        if address not in subnet:
            _fail(place, '%s is outside net %s (%s, from gw %s)' % (address, net_name, subnet, gateway))
        if str(address) == gateway:
            _fail(place, '%s is the gateway of net %s' % (address, net_name))
    lowest = 1 if gateway else 2
    if not lowest <= host <= 254:
        _fail(place, '%s: the last octet must be %d to 254%s'
              % (address, lowest, '' if gateway else ' (.1 is the gateway of the leased subnet)'))
    return str(address)


def _vm_management_net(nics, raw, place, management):
    on_management = [index for index, nic in enumerate(nics) if nic['net'] == management]
    if not on_management:
        _fail(place + '.nics', 'the VM has no NIC on the management net %s; add one' % management)
    if len(on_management) > 1:
        _fail(place + '.nics', 'two management NICs: nics[%d] and nics[%d] are both on the management net %s'
              % (on_management[0], on_management[1], management))
    if raw.get('management_net', management) != management:
        _fail(place + '.management_net', '%r is not the management net %s' % (raw['management_net'], management))
    return management


def _normalize_metadata(value, place, paths):
    metadata = _plain(_mapping(value, place), place)
    if 'ovirt-scripts' in metadata:
        # Lago's deprecated name for deploy-scripts.
        if 'deploy-scripts' in metadata:
            _fail(place + '.ovirt-scripts', 'set deploy-scripts or its old name ovirt-scripts, not both')
        metadata['deploy-scripts'] = metadata.pop('ovirt-scripts')
        scripts_place = place + '.ovirt-scripts'
    else:
        scripts_place = place + '.deploy-scripts'
    scripts = _text_list(metadata.get('deploy-scripts', []), scripts_place)
    # Order matters: scripts run one after the other.
    metadata['deploy-scripts'] = [paths.resolve(script, '%s[%d]' % (scripts_place, index), what='deploy script')
                                  for index, script in enumerate(scripts)]
    return metadata


# ---------------------------------------------------------------------------
# Disks

def _normalize_disks(value, place, paths):
    value = _required_list(value, place, 'a VM needs at least one disk (the first one boots)', 'disks')
    raws = [_mapping(raw, '%s[%d]' % (place, index)) for index, raw in enumerate(value)]
    devs = _disk_devs(raws, place)
    disks = [_normalize_disk(raw, '%s[%d]' % (place, index), devs[index], paths)
             for index, raw in enumerate(raws)]
    _refuse_duplicate_disk_names(disks, place)
    return disks


def _disk_devs(raws, place):
    """Every disk's dev: the given one, else the next free vda, vdb, ... in order."""
    given = {}
    for index, raw in enumerate(raws):
        if 'dev' not in raw:
            continue
        dev = _text(raw['dev'], '%s[%d].dev' % (place, index))
        if not DISK_DEV_RE.fullmatch(dev):
            _fail('%s[%d].dev' % (place, index), '%r is not a disk device name such as vda or sdb' % dev)
        if dev in given.values():
            first = [other for other, name in given.items() if name == dev][0]
            _fail('%s[%d].dev' % (place, index), '%s is already used by disks[%d]' % (dev, first))
        given[index] = dev
    free = (dev for dev in _virtio_devs() if dev not in given.values())
    return [given[index] if index in given else next(free) for index in range(len(raws))]


def _virtio_devs():
    letters = 'abcdefghijklmnopqrstuvwxyz'
    for first in [''] + list(letters):
        for second in letters:
            yield 'vd' + first + second


def _normalize_disk(raw, place, dev, paths):
    _check_keys(raw, place, DISK_KEYS, 'disk')
    disk_type = raw.get('type')
    if disk_type not in DISK_TYPES:
        _fail(place + '.type', 'must be one of %s, not %r' % (', '.join(DISK_TYPES), disk_type))
    name = _text(raw.get('name', dev), place + '.name')
    if not DISK_NAME_RE.fullmatch(name):
        _fail(place + '.name', 'invalid disk name %r: use letters, digits, ".", "_" and "-"' % name)
    disk = {'name': name, 'dev': dev, 'type': disk_type}
    _refuse_keys_of_other_types(raw, place, disk_type)
    builders = {'template': _template_disk, 'empty': _empty_disk, 'file': _file_disk}
    disk.update(builders[disk_type](raw, place, paths))
    if 'metadata' in raw:
        disk['metadata'] = _plain(_mapping(raw['metadata'], place + '.metadata'), place + '.metadata')
    return disk


DISK_TYPE_KEYS = {
    'template': ('template_name', 'template_version', 'template_type', 'path'),
    'empty': ('size',),
    'file': ('path', 'make_a_copy'),
}


def _refuse_keys_of_other_types(raw, place, disk_type):
    own = DISK_TYPE_KEYS[disk_type]
    for key in sorted(raw):
        owners = [kind for kind, keys in DISK_TYPE_KEYS.items() if key in keys and key not in own]
        if owners:
            _fail('%s.%s' % (place, key), 'applies to %s disks only, not to %s disks'
                  % (' and '.join(sorted(owners)), disk_type))


def _disk_format(raw, place, allowed, default):
    disk_format = raw.get('format', default)
    if disk_format not in allowed:
        _fail(place + '.format', 'must be %s for this disk, not %r' % (' or '.join(allowed), disk_format))
    return disk_format


def _template_disk(raw, place, paths):
    template_type = raw.get('template_type', 'lago')
    if template_type not in TEMPLATE_TYPES:
        _fail(place + '.template_type', 'must be one of %s, not %r' % (', '.join(TEMPLATE_TYPES), template_type))
    disk = {
        # The VM's disk is always a qcow2 overlay on the template.
        'format': _disk_format(raw, place, ('qcow2',), 'qcow2'),
        'template_type': template_type,
        'template_version': None,
    }
    if template_type == 'pool':
        disk.update(_pool_disk(raw, place, paths))
    elif template_type == 'qcow2':
        # A plain qcow2 image as the base (Lago's exported init files).
        if 'path' not in raw:
            _fail(place + '.path', 'missing: a template_type qcow2 disk needs the path of its base image')
        disk['path'] = paths.resolve(raw['path'], place + '.path', what='base image')
        if 'template_name' in raw:
            disk['template_name'] = _text(raw['template_name'], place + '.template_name', numbers=True)
    else:
        if 'path' in raw:
            _fail(place + '.path', 'a template disk takes its image from the template store; '
                                   'path applies to template_type qcow2 only')
        if 'template_name' not in raw:
            _fail(place + '.template_name', 'missing: a template disk needs template_name')
        disk['template_name'] = _text(raw['template_name'], place + '.template_name', numbers=True)
    if 'template_version' in raw:
        disk['template_version'] = _text(raw['template_version'], place + '.template_version', numbers=True)
    return disk


def is_remote_location(location):
    """``[user@]host:path`` rather than a local path (which may hold a colon further on)."""
    return not location.startswith(('/', '.', '~', '$')) and bool(REMOTE_LOCATION_RE.match(location))


def _pool_disk(raw, place, paths):
    """A state of a state pool (lago_snapshot_pool) as the base: ``path`` is
    ``<pool>/<state>``, local or ``[user@]host:/path``; ``template_name``, if
    given, picks ``<vm>`` or ``<vm>/<disk>`` of the state (default: this VM and disk)."""
    if 'path' not in raw:
        _fail(place + '.path', 'missing: a template_type pool disk needs the pool state as <pool>/<state>')
    if 'template_version' in raw:
        _fail(place + '.template_version', 'does not apply to template_type pool: a pool state has one version')
    location = _text(raw['path'], place + '.path').rstrip('/')
    if not is_remote_location(location):
        location = os.path.normpath(os.path.join(paths.base_dir, os.path.expanduser(paths.expand(location, place + '.path'))))
        if not os.path.isfile(os.path.join(location, 'manifest.json')):
            problem = 'is incomplete (no manifest.json)' if os.path.isdir(location) else 'does not exist'
            _fail(place + '.path', 'pool state %s %s' % (location, problem))
    disk = {'path': location}
    if 'template_name' in raw:
        picked = _text(raw['template_name'], place + '.template_name')
        if not POOL_DISK_RE.fullmatch(picked):
            _fail(place + '.template_name', 'for a pool disk give <vm> or <vm>/<disk> of the state, not %r' % picked)
        disk['template_name'] = picked
    return disk


def _empty_disk(raw, place, paths):
    if 'size' not in raw:
        _fail(place + '.size', 'missing: an empty disk needs a size (e.g. 10G)')
    return {
        'format': _disk_format(raw, place, ('qcow2', 'raw'), 'qcow2'),
        'size': _size_bytes(raw['size'], place + '.size'),
    }


def _file_disk(raw, place, paths):
    if 'path' not in raw:
        _fail(place + '.path', 'missing: a file disk needs the path of its image')
    path = paths.resolve(raw['path'], place + '.path', what='disk image')
    return {
        'format': _disk_format(raw, place, DISK_FORMATS, _format_from_extension(path)),
        'path': path,
        'make_a_copy': _boolean(raw.get('make_a_copy', False), place + '.make_a_copy'),
    }


def _format_from_extension(path):
    extension = os.path.splitext(path)[1].lower()
    return {'.qcow2': 'qcow2', '.qcow': 'qcow2', '.iso': 'iso'}.get(extension, 'raw')


def _refuse_duplicate_disk_names(disks, place):
    first_index = {}
    for index, disk in enumerate(disks):
        if disk['name'] in first_index:
            _fail('%s[%d].name' % (place, index), 'disk name %r is already used by disks[%d]'
                  % (disk['name'], first_index[disk['name']]))
        first_index[disk['name']] = index


# ---------------------------------------------------------------------------
# Across VMs

def _refuse_duplicate_static_ips(domains):
    """A static address is taken once per net; the last octet identifies it (see _static_ip)."""
    owners = {}
    for vm_name in sorted(domains):
        for index, nic in enumerate(domains[vm_name]['nics']):
            if nic['ip'] is None:
                continue
            key = (nic['net'], ipaddress.IPv4Address(nic['ip']).packed[3])
            place = 'domains.%s.nics[%d]' % (vm_name, index)
            if key in owners:
                _fail(place + '.ip', 'duplicate static IP %s on net %s: already used by %s (VMs %s and %s)'
                      % (nic['ip'], nic['net'], owners[key][0], owners[key][1], vm_name))
            owners[key] = (place, vm_name)


def _refuse_case_clashes(names):
    # Host names are case-insensitive: vm01 and VM01 would be one host.
    seen = {}
    for name in sorted(names):
        if name.lower() in seen:
            _fail('domains.%s' % name, 'the same host name as domains.%s (host names ignore case)'
                  % seen[name.lower()])
        seen[name.lower()] = name


def normalize_spec(raw, base_dir=None, prefix_path=None):
    """Validate ``raw`` (the content of an init file) and return the normalized spec.

    ``base_dir`` is the init file's directory (relative paths,
    $LAGO_INITFILE_PATH); None means the current directory. ``prefix_path``
    gives $LAGO_PREFIX_PATH. normalize_spec(normalize_spec(x)) == normalize_spec(x).
    """
    raw = _mapping(raw, 'init file')
    for key in sorted(raw):
        if key not in TOP_KEYS + TOP_ANCHOR_HOLDERS:
            _fail(key, 'unknown top-level key (the init file has domains: and nets:; '
                       'a key that only holds shared settings must carry a YAML anchor, e.g. %s: &%s)' % (key, key))
    for key in TOP_KEYS:
        if key not in raw:
            _fail(key, 'missing: the init file needs domains: and nets:')
    nets, management = _normalize_nets(raw['nets'])
    paths = _Paths(base_dir, prefix_path)
    raw_domains = _mapping(raw['domains'], 'domains')
    _refuse_case_clashes(raw_domains)
    domains = dict((name, _normalize_domain(name, raw_domains[name], 'domains.%s' % name, nets, management, paths))
                   for name in sorted(raw_domains))
    _refuse_duplicate_static_ips(domains)
    return {'domains': domains, 'nets': nets}


# ---------------------------------------------------------------------------
# Comparing two specs

def _changed_keys(old, new):
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


def _named_diff(old, new, detail):
    """Added, removed and changed entries of two {name: spec} mappings."""
    return {
        'added': sorted(set(new) - set(old)),
        'removed': sorted(set(old) - set(new)),
        'changed': dict((name, detail(old[name], new[name]))
                        for name in sorted(set(old) & set(new)) if old[name] != new[name]),
    }


def _vm_diff(old, new):
    disks = _named_diff(dict((disk['name'], disk) for disk in old.get('disks', [])),
                        dict((disk['name'], disk) for disk in new.get('disks', [])),
                        _changed_keys)
    return {'keys': _changed_keys(old, new), 'disks': disks}


def spec_diff(old, new):
    """What changed from spec ``old`` (None: nothing yet) to spec ``new``.

    Returns {'changed': bool,
             'vms':  {'added': [...], 'removed': [...],
                      'changed': {vm: {'keys': [...], 'disks': {'added', 'removed', 'changed': {disk: [keys]}}}}},
             'nets': {'added': [...], 'removed': [...], 'changed': {net: [keys]}}}
    with every list sorted, for the prefix module to decide what it can apply.
    """
    old = old or {'domains': {}, 'nets': {}}
    vms = _named_diff(old['domains'], new['domains'], _vm_diff)
    nets = _named_diff(old['nets'], new['nets'], _changed_keys)
    changed = any(section[part] for section in (vms, nets) for part in ('added', 'removed', 'changed'))
    return {'changed': changed, 'vms': vms, 'nets': nets}
